"""The composition root shared by the console and Telegram bots: settings in, a bot out."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

import attrs

from adapters.clock import SystemClock
from adapters.offline_model import OfflineModel
from adapters.storage.json_accounts import JsonAccountStore
from adapters.storage.sqlite_threads import SqliteThreadStore
from adapters.tiktoken_counter import token_counter_for
from core.ports import ChatModel, MessageLookup, ReplySink, TokenCounter
from core.service import BotService
from core.tokens import CharTokenCounter
from entrypoints.settings import Settings

log = logging.getLogger(__name__)


@attrs.define
class Bot:
    """A running bot and the parts that must be closed when it stops."""

    service: BotService
    accounts: JsonAccountStore
    threads: SqliteThreadStore
    model: ChatModel
    model_name: str
    release_model: Callable[[], Awaitable[None]] | None = None

    async def close(self) -> None:
        """Wait for answers in flight, then save everything and release the model."""
        await self.service.drain()
        try:
            await self.accounts.close()
            await self.threads.close()
        finally:
            if self.release_model is not None:
                await self.release_model()


def build_counter(settings: Settings) -> TokenCounter:
    if settings.token_counter == "tiktoken":
        return token_counter_for(settings.openai_model)
    return CharTokenCounter()


@attrs.frozen
class ModelChoice:
    model: ChatModel
    name: str  # a phrase saying which model answers
    release: Callable[[], Awaitable[None]] | None = None


def build_model(settings: Settings, counter: TokenCounter) -> ModelChoice:
    """The chat model for these settings."""
    if settings.openai_api_key is None:
        offline = OfflineModel(counter, delay=settings.offline_delay)
        return ModelChoice(
            offline, "offline model (no OPENAI_API_KEY: it describes what it receives)"
        )
    # Imported here: the SDK takes a quarter of a second and 25 MB to load, which the offline
    # console, the tests and the benchmarks of start-up do not need to pay.
    from adapters.openai_model import OpenAIChatModel

    model = OpenAIChatModel.create(
        api_key=settings.openai_api_key.reveal(),
        model=settings.openai_model,
        counter=counter,
        base_url=settings.openai_base_url,
        timeout=settings.openai_timeout,
        max_retries=settings.openai_max_retries,
        stall_timeout=settings.openai_stall_timeout,
        reasoning_effort=settings.openai_reasoning_effort,
    )
    where = settings.openai_base_url or "OpenAI"
    return ModelChoice(model, f"model {settings.openai_model} at {where}", model.aclose)


def build_bot(
    settings: Settings,
    sink: ReplySink,
    *,
    admin_id: int,
    bot_username: str | None,
    lookup: MessageLookup | None = None,
) -> Bot:
    """Open the stores and wire the core; raises StorageError when the data cannot be used."""
    threads = SqliteThreadStore.open(settings.threads_file, settings.thread_retention)
    accounts = JsonAccountStore.open(settings.data_file)
    counter = build_counter(settings)
    choice = build_model(settings, counter)
    service = BotService(
        config=settings.bot_config(admin_id, bot_username),
        model=choice.model,
        accounts=accounts,
        threads=threads,
        sink=sink,
        counter=counter,
        clock=SystemClock(),
        lookup=lookup,
    )
    return Bot(service, accounts, threads, choice.model, choice.name, choice.release)
