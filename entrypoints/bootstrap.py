"""The composition root: every bot (console, Telegram, tests, benchmarks, another messenger) is
put together here, from real adapters or fakes.

``assemble`` takes the parts; ``build_bot`` opens the ones the settings name and calls it. The
adapters are imported where they are built, so a messenger that brings its own parts (or a
test on in-memory ones) loads no store, tokenizer or SDK it does not use.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import TYPE_CHECKING

import attrs

from adapters.clock import SystemClock
from core.config import BotConfig
from core.errors import StorageError
from core.ports import (
    AccountStore,
    ChatModel,
    Clock,
    MessageLookup,
    Operator,
    ReplySink,
    ThreadStore,
    TokenCounter,
)
from core.service import BotService
from core.tokens import CharTokenCounter

if TYPE_CHECKING:
    from entrypoints.settings import Settings

log = logging.getLogger(__name__)


@attrs.define
class Bot:
    """A bot and the parts that must be closed when it stops."""

    service: BotService
    accounts: AccountStore
    threads: ThreadStore
    model: ChatModel
    model_name: str

    async def close(self) -> None:
        """Wait for answers in flight, then save everything and release the model."""
        await self.service.drain()
        try:
            await self.accounts.close()
            await self.threads.close()
        finally:
            await self.model.close()


def assemble(
    config: BotConfig,
    *,
    sink: ReplySink,
    accounts: AccountStore,
    threads: ThreadStore,
    model: ChatModel,
    counter: TokenCounter,
    clock: Clock | None = None,
    operator: Operator | None = None,
    lookup: MessageLookup | None = None,
    model_name: str = "model",
) -> Bot:
    """A bot from its parts: what every entrypoint, test and benchmark calls."""
    service = BotService(
        config=config,
        model=model,
        accounts=accounts,
        threads=threads,
        sink=sink,
        counter=counter,
        clock=clock or SystemClock(),
        operator=operator,
        lookup=lookup,
    )
    return Bot(service, accounts, threads, model, model_name)


def build_counter(settings: Settings) -> TokenCounter:
    if settings.token_counter == "tiktoken":
        from adapters.tiktoken_counter import token_counter_for

        return token_counter_for(settings.openai_model)
    return CharTokenCounter()


@attrs.frozen
class ModelChoice:
    model: ChatModel
    name: str  # a phrase saying which model answers


def build_model(settings: Settings, counter: TokenCounter) -> ModelChoice:
    """The chat model for these settings."""
    if settings.openai_api_key is None:
        from adapters.offline_model import OfflineModel

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
        first_token_timeout=settings.openai_first_token_timeout,
        context_window=settings.model_window(),
    )
    where = settings.openai_base_url or "OpenAI"
    return ModelChoice(model, f"model {settings.openai_model} at {where}")


async def open_stores(settings: Settings) -> tuple[AccountStore, ThreadStore]:
    """The account and thread stores the settings name: PostgreSQL when DATABASE_URL is set,
    else data.json and the reply-chain database beside it. StorageError when they cannot be
    used (nothing is left open then)."""
    if settings.database_url is not None:
        try:
            from adapters.storage.postgres.accounts import PostgresAccountStore
            from adapters.storage.postgres.threads import PostgresThreadStore
        except ImportError as exc:
            raise StorageError(
                "DATABASE_URL is set but PostgreSQL support is not installed: "
                "pip install 'gptbot[postgres]'"
            ) from exc
        url = settings.database_url.reveal()
        # A hold outlives the longest request: waiting for the model, then the whole stream.
        lease = dt.timedelta(seconds=settings.openai_first_token_timeout + 15 * 60)
        accounts = await PostgresAccountStore.open(url, lease=lease)
        try:
            threads = await PostgresThreadStore.open(url, retention=settings.thread_retention)
        except BaseException:
            await accounts.close()
            raise
        return accounts, threads
    from adapters.storage.json_accounts import JsonAccounts
    from adapters.storage.sqlite_threads import SqliteThreads

    json_accounts = JsonAccounts.open(settings.data_file)
    try:
        sqlite = SqliteThreads.open(settings.threads_file, settings.thread_retention)
    except BaseException:
        await json_accounts.close()
        raise
    return json_accounts, sqlite


async def build_bot(
    settings: Settings,
    *,
    admin_id: str,
    sink: ReplySink,
    operator: Operator | None = None,
    lookup: MessageLookup | None = None,
    clock: Clock | None = None,
) -> Bot:
    """A bot on the stores and model the settings name; StorageError when the data cannot be
    used."""
    accounts, threads = await open_stores(settings)
    counter = build_counter(settings)
    choice = build_model(settings, counter)
    return assemble(
        settings.bot_config(admin_id),
        sink=sink,
        accounts=accounts,
        threads=threads,
        model=choice.model,
        counter=counter,
        clock=clock,
        operator=operator,
        lookup=lookup,
        model_name=choice.name,
    )
