"""The SDK clients of one bot: one per server, shared by all its OpenAI adapters."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import openai


class SdkClients:
    """One SDK client per key, server and number of retries; each adapter gets a view of it
    with its own timeouts (``with_options``), sharing its connections.

    A client takes tens of milliseconds to make (its TLS context): a bot with a chat model,
    transcription, pictures and speech on one server made four at every start. The SDK is
    imported when the first client is made, not with this module (the offline console never
    loads it). Closing any of the views closes the shared connections: the bot closes its
    adapters together, when it stops. The parts on one server share the SDK's pool of
    connections too (a thousand at most), which a thousand answers streaming at once would fill.
    """

    def __init__(self) -> None:
        self._made: dict[tuple[str, str, int], openai.AsyncOpenAI] = {}

    def client(
        self,
        api_key: str,
        base_url: str | None,
        timeout: float,
        max_retries: int,
        first_token: float | None = None,
    ) -> openai.AsyncOpenAI:
        """``sdk_client``, made once per key, server and retries (an ``SdkFactory``)."""
        from adapters.models.openai.chat import OPENAI_BASE_URL, sdk_client, sdk_timeout

        key = (api_key, base_url or OPENAI_BASE_URL, max_retries)
        made = self._made.get(key)
        if made is None:
            made = sdk_client(api_key, base_url, timeout, max_retries, first_token)
            self._made[key] = made
            return made
        return made.with_options(timeout=sdk_timeout(timeout, first_token))

    async def close(self) -> None:
        """Close every client made (the bot's adapters close them too when it stops)."""
        for made in self._made.values():
            await made.close()
