"""The chat model over OpenAI's Responses API (``POST /v1/responses``), through the official SDK.

What it adds to the chat-completions adapter: the provider's own web search (``web_search``,
with the pages it cites), summaries of a reasoning model's thinking, and prompt caching keyed
by the conversation (``prompt_cache_key``). The conversation stays in the bot's own store: every
request sends the whole thread with ``store=false``, so the provider keeps nothing of it.

Every failure of the SDK, the transport or the stream leaves this module as a
``core.errors.ModelError``: HTTP errors as ``errors.translate`` reads them, a stream's ``error``
event or a failed response as ``errors.from_stream_error`` does. A stream that ends before the
response is complete is never an answer (``TruncatedAnswer``).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import AsyncGenerator
from typing import Any, cast

import openai
from openai.types.responses import (
    Response,
    ResponseCompletedEvent,
    ResponseErrorEvent,
    ResponseFailedEvent,
    ResponseIncompleteEvent,
    ResponseInputItemParam,
    ResponseReasoningSummaryPartAddedEvent,
    ResponseReasoningSummaryTextDeltaEvent,
    ResponseRefusalDeltaEvent,
    ResponseStreamEvent,
    ResponseTextDeltaEvent,
    ToolParam,
)
from openai.types.shared_params import Reasoning

from adapters.models.openai.chat import (
    REASONING_EFFORTS,
    ReasoningEffort,
    SdkFactory,
    data_url,
    sdk_client,
)
from adapters.models.openai.deadlines import Deadlines
from adapters.models.openai.errors import body_of, from_stream_error, provider_message, translate
from core import errors
from core.ports import TokenCounter
from core.tokens import CalibratingCounter, prompt_tokens
from core.values import Chunk, ModelRequest, Role, Source, Turn, Usage

log = logging.getLogger(__name__)


class OpenAIResponsesModel:
    """``core.ports.ChatModel`` over an OpenAI-compatible Responses API."""

    def __init__(
        self,
        client: openai.AsyncOpenAI,
        *,
        model: str,
        counter: TokenCounter,
        stall_timeout: float,
        reasoning_effort: str | None = None,
        first_token_timeout: float | None = None,
        web_search: bool = False,
    ) -> None:
        """Wrap a ready client; ``create`` builds one from plain settings.

        The timeouts mean what they mean for ``OpenAIChatModel``. ``reasoning_effort`` is
        sent with every request unless it is None, with a request for a summary of the
        thinking; ``web_search`` says that the model offers the web search tool (a request
        allows it some searches with ``ModelRequest.searches``).
        """
        first_token_timeout = stall_timeout if first_token_timeout is None else first_token_timeout
        if stall_timeout <= 0 or first_token_timeout <= 0:
            raise ValueError("stall_timeout and first_token_timeout must be positive")
        if reasoning_effort is not None and reasoning_effort not in REASONING_EFFORTS:
            raise ValueError(f"unknown reasoning effort {reasoning_effort!r}")
        self._effort = cast("ReasoningEffort | None", reasoning_effort)
        # Summaries of the thinking are asked for until the provider refuses them (OpenAI
        # gives them only to verified organisations); then the answers come without.
        self._ask_summary = reasoning_effort not in (None, "none")
        self._client = client
        self._model = model
        self._counter = counter
        self._stall_timeout = stall_timeout
        self._first_token_timeout = first_token_timeout
        self._web_search = web_search

    @classmethod
    def create(
        cls,
        *,
        api_key: str,
        model: str,
        counter: TokenCounter,
        base_url: str | None = None,
        timeout: float = 60.0,
        max_retries: int = 2,
        stall_timeout: float | None = None,
        reasoning_effort: str | None = None,
        first_token_timeout: float | None = None,
        web_search: bool = False,
        make_client: SdkFactory = sdk_client,
    ) -> OpenAIResponsesModel:
        """A model on OpenAI's API, or on the compatible server at ``base_url``; the settings
        mean what they mean for ``OpenAIChatModel.create``."""
        first = timeout if first_token_timeout is None else first_token_timeout
        client = make_client(api_key, base_url, timeout, max_retries, first)
        return cls(
            client,
            model=model,
            counter=counter,
            stall_timeout=timeout if stall_timeout is None else stall_timeout,
            reasoning_effort=reasoning_effort,
            first_token_timeout=first,
            web_search=web_search,
        )

    def __repr__(self) -> str:
        # Spelled out so that the client, which holds the key, never shows up in a log line.
        return (
            f"OpenAIResponsesModel(model={self._model!r}, base_url={str(self._client.base_url)!r})"
        )

    async def close(self) -> None:
        """Release the HTTP connections."""
        await self._client.close()

    async def stream(self, request: ModelRequest) -> AsyncGenerator[Chunk, None]:
        """Yield the answer's text and reasoning as they arrive, then one chunk with the usage
        and the sources the answer cites.

        Closing the generator early (``aclose``) closes the HTTP response too.
        """
        log.debug(
            "responses request: model %s, %d turns, cap %d, search %s",
            self._model,
            len(request.turns),
            request.max_tokens,
            self._searches(request),
        )
        calibrating = self._counter if isinstance(self._counter, CalibratingCounter) else None
        if any(turn.images for turn in request.turns) or self._searches(request):
            # Pictures and search results count in the prompt; the counter sees only text.
            calibrating = None
        uncorrected = calibrating.uncorrected(request.turns) if calibrating else 0
        deadlines = Deadlines.from_now(self._first_token_timeout, self._stall_timeout)
        try:
            async with asyncio.timeout_at(deadlines.first):
                events = await self._open(request)
        except TimeoutError as exc:
            raise deadlines.missed(started=False) from exc
        except openai.OpenAIError as exc:
            raise self._translate(exc) from exc

        parts: list[str] = []
        final: Response | None = None
        async with events:  # closes the HTTP response however the loop is left
            while final is None:
                started = bool(parts)
                try:
                    event = await deadlines.next(events, started=started)
                except StopAsyncIteration:
                    break
                except (openai.OpenAIError, TimeoutError, ValueError) as exc:
                    if isinstance(exc, TimeoutError):  # ours, not the SDK's read timeout
                        raise deadlines.missed(started=started) from exc
                    raise self._translate(exc) from exc
                chunk, final = self._read(event)
                if chunk is not None:
                    if chunk.text:
                        parts.append(chunk.text)
                    yield chunk

        if final is None:
            raise errors.TruncatedAnswer(
                f"the stream ended before the response was complete, after {len(parts)} "
                "pieces of text"
            )
        cut_off = final.status == "incomplete"
        reported = _usage(final)
        if reported is None:
            log.info("the server reported no usage; charging an estimate")
            reported = Usage(
                prompt_tokens(self._counter, request.turns),
                self._counter.count("".join(parts)),
                estimated=True,
                searches=_searches(final),
            )
        elif calibrating is not None:
            calibrating.observe(uncorrected, reported.prompt_tokens)
        log.debug("responses answer: status %s, %r", final.status, reported)
        yield Chunk(usage=reported, cut_off=cut_off, sources=_sources(final))

    def _read(self, event: ResponseStreamEvent) -> tuple[Chunk | None, Response | None]:
        """What one event adds: a chunk to pass on, and the response once it is finished."""
        if isinstance(event, ResponseTextDeltaEvent | ResponseRefusalDeltaEvent):
            return (Chunk(text=event.delta) if event.delta else None), None
        if isinstance(event, ResponseReasoningSummaryTextDeltaEvent):
            return (Chunk(reasoning=event.delta) if event.delta else None), None
        if isinstance(event, ResponseReasoningSummaryPartAddedEvent) and event.summary_index:
            return Chunk(reasoning="\n\n"), None  # a new paragraph of the summary
        if isinstance(event, ResponseErrorEvent):
            message = event.message or "the provider reported an error"
            raise from_stream_error({"code": event.code}, message, key=self._client.api_key)
        if isinstance(
            event, ResponseCompletedEvent | ResponseIncompleteEvent | ResponseFailedEvent
        ):
            self._check(event.response)
            return None, event.response
        return None, None

    def _check(self, response: Response) -> None:
        """Raise the core's error for a response that failed or was stopped by a filter."""
        if response.status == "failed" or response.error is not None:
            error = response.error
            body: dict[str, object] = {"code": error.code if error else None}
            message = error.message if error else "the response failed"
            raise from_stream_error(body, message, key=self._client.api_key)
        details = response.incomplete_details
        if response.status == "incomplete" and details and details.reason == "content_filter":
            raise errors.ContentFiltered("the provider's content filter stopped the answer")

    async def _open(self, request: ModelRequest) -> openai.AsyncStream[ResponseStreamEvent]:
        try:
            return await self._create(request)
        except openai.BadRequestError as exc:
            if not (self._ask_summary and _refuses(exc, "reasoning.summary")):
                raise
            log.warning(
                "the provider refuses reasoning summaries (%s); asking without them from now on",
                provider_message(exc),
            )
            self._ask_summary = False
            return await self._create(request)

    async def _create(self, request: ModelRequest) -> openai.AsyncStream[ResponseStreamEvent]:
        searches = self._searches(request)
        tools: list[ToolParam] = [{"type": "web_search"}] if searches else []
        reasoning: Reasoning | openai.Omit = openai.omit
        if self._effort is not None:
            reasoning = {"effort": self._effort}
            if self._ask_summary:
                reasoning["summary"] = "auto"
        return await self._client.responses.create(
            model=self._model,
            input=[_item(turn) for turn in request.turns],
            stream=True,
            # The conversation lives in the bot's own store; the provider keeps none of it.
            store=False,
            max_output_tokens=request.max_tokens,
            # A mode's temperature; None leaves the server's default.
            temperature=request.temperature if request.temperature is not None else openai.omit,
            prompt_cache_key=_cache_key(request.conversation),
            reasoning=reasoning,
            tools=tools if tools else openai.omit,
            # Each search is billed, and the core held the price of this many.
            max_tool_calls=searches if searches else openai.omit,
        )

    def _searches(self, request: ModelRequest) -> int:
        """The web searches ``request`` may run on this model."""
        return max(request.searches, 0) if self._web_search else 0

    def _translate(self, exc: BaseException) -> errors.ModelError:
        return translate(exc, key=self._client.api_key)


def _item(turn: Turn) -> ResponseInputItemParam:
    if turn.role is not Role.USER or not turn.images:
        # The system prompt as a system message (not ``instructions``): it stays the first
        # item of every request of a thread, the start of the prefix the provider caches.
        return {"role": turn.role.value, "content": turn.text}
    content: list[Any] = []
    if turn.text:
        content.append({"type": "input_text", "text": turn.text})
    content.extend(
        {"type": "input_image", "image_url": data_url(image), "detail": "auto"}
        for image in turn.images
    )
    return {"role": "user", "content": content}


def _cache_key(conversation: str | None) -> str | openai.Omit:
    """The prompt cache key of a conversation: a digest, so that no chat or message id of the
    operator's users reaches the provider."""
    if conversation is None:
        return openai.omit
    return hashlib.sha256(conversation.encode()).hexdigest()[:32]


def _usage(response: Response) -> Usage | None:
    usage = response.usage
    # The SDK does not validate streamed events: a server may send a usage object with gaps.
    if usage is None or usage.input_tokens is None or usage.output_tokens is None:
        return None
    cached = getattr(usage.input_tokens_details, "cached_tokens", None)
    reasoning = getattr(usage.output_tokens_details, "reasoning_tokens", None)
    return Usage(
        usage.input_tokens,
        usage.output_tokens,
        cached_tokens=_count(cached),
        reasoning_tokens=_count(reasoning),
        searches=_searches(response),
    )


def _count(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def _searches(response: Response) -> int:
    """Web searches the response ran: the provider bills each call."""
    return sum(1 for item in response.output or () if item.type == "web_search_call")


def _sources(response: Response) -> tuple[Source, ...]:
    """The pages the answer cites (its URL citations), each once, in the order first cited."""
    found: dict[str, Source] = {}
    for item in response.output or ():
        if item.type != "message":
            continue
        for part in item.content or ():
            for note in getattr(part, "annotations", None) or ():
                url = getattr(note, "url", None)
                if note.type == "url_citation" and isinstance(url, str) and url not in found:
                    found[url] = Source(url, str(getattr(note, "title", "") or ""))
    return tuple(found.values())


def _refuses(exc: openai.APIStatusError, parameter: str) -> bool:
    """Whether the server rejected the request for ``parameter``."""
    return body_of(exc.body).get("param") == parameter or parameter in provider_message(exc)
