"""The composition root: every bot (console, Telegram, tests, benchmarks, another messenger) is
put together here, from real adapters or fakes.

``assemble`` takes the parts; ``build_bot`` opens the ones the settings name and calls it. The
adapters are imported where they are built, so a messenger that brings its own parts (or a
test on in-memory ones) loads no store, tokenizer or SDK it does not use.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import functools
import importlib.util
import logging
import signal
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING

import attrs

from adapters.clock import SystemClock
from core.config import BotConfig
from core.errors import StorageError
from core.models import ModelOption
from core.ports import (
    AccountStore,
    ChatModel,
    Clock,
    DocumentReader,
    ImageMaker,
    MediaProbe,
    MediaSource,
    MessageLookup,
    Operator,
    Payments,
    ReplySink,
    Speaker,
    ThreadStore,
    TokenCounter,
    Transcriber,
    UsageChart,
)
from core.service import BotService
from core.tokens import CharTokenCounter
from entrypoints import startup

if TYPE_CHECKING:
    from adapters.models.openai.clients import SdkClients
    from adapters.storage.json.preload import Preload
    from entrypoints.model_list import ModelEntry
    from entrypoints.settings import Settings

log = logging.getLogger(__name__)


@attrs.define
class Bot:
    """A bot and the parts that must be closed when it stops."""

    service: BotService
    accounts: AccountStore
    threads: ThreadStore
    models: Mapping[str, ChatModel]
    model_phrase: str  # a phrase saying which model answers by default
    closing: Sequence[Transcriber | ImageMaker | Speaker] = ()

    async def close(self) -> None:
        """Wait for answers in flight, then save everything and release the models."""
        await self.service.drain()
        try:
            await self.accounts.close()
            await self.threads.close()
        finally:
            for part in (*self.models.values(), *self.closing):
                try:
                    await part.close()
                except Exception as exc:  # one that fails to close must not keep others open
                    log.warning("could not close %r: %r", part, exc)


def assemble(
    config: BotConfig,
    *,
    sink: ReplySink,
    accounts: AccountStore,
    threads: ThreadStore,
    model: ChatModel | None = None,
    models: Mapping[str, ChatModel] | None = None,
    counter: TokenCounter,
    clock: Clock | None = None,
    operator: Operator | None = None,
    lookup: MessageLookup | None = None,
    media: MediaSource | None = None,
    transcriber: Transcriber | None = None,
    image_maker: ImageMaker | None = None,
    documents: DocumentReader | None = None,
    probe: MediaProbe | None = None,
    speaker: Speaker | None = None,
    payments: Payments | None = None,
    chart: UsageChart | None = None,
    model_phrase: str = "model",
) -> Bot:
    """A bot from its parts: what every entrypoint, test and benchmark calls.

    ``models`` has one chat model per model the config offers; a bot of one model may pass it
    as ``model`` instead (offered under its config's first name, or as ``model``, price 1)."""
    if models is None:
        if model is None:
            raise ValueError("assemble needs a model or models")
        name = config.models[0].name if config.models else "model"
        models = {name: model}
    if not config.models:
        config = attrs.evolve(config, models=tuple(ModelOption(name) for name in models))
    service = BotService(
        config=config,
        models=models,
        accounts=accounts,
        threads=threads,
        sink=sink,
        counter=counter,
        clock=clock or SystemClock(),
        operator=operator,
        lookup=lookup,
        media=media,
        transcriber=transcriber,
        image_maker=image_maker,
        documents=documents,
        probe=probe,
        speaker=speaker,
        payments=payments,
        chart=chart,
    )
    closing = [part for part in (transcriber, image_maker, speaker) if part is not None]
    return Bot(service, accounts, threads, models, model_phrase, closing)


def build_counter(settings: Settings, model: str | None = None) -> TokenCounter:
    """The token counter for ``model`` (the default model when None)."""
    if settings.token_counter == "tiktoken":
        from adapters.models.openai.tokens import token_counter_for

        return token_counter_for(model or settings.models[0].name)
    return CharTokenCounter()


@attrs.frozen
class ModelChoice:
    models: dict[str, ChatModel]  # one per model offered, by name
    name: str  # a phrase saying which model answers by default


def build_models(
    settings: Settings, counter: TokenCounter, clients: SdkClients | None = None
) -> ModelChoice:
    """A chat model for each model the settings offer; ``counter`` is the default model's.
    ``clients``: the bot's SDK clients, one per server (None: these models' own)."""
    clients = clients or _sdk_clients()
    models: dict[str, ChatModel] = {}
    for index, entry in enumerate(settings.models):
        # Each model estimates with (and calibrates) a counter of its own: tokenizers differ.
        own = counter if index == 0 else build_counter(settings, entry.name)
        if entry.api_key is None:
            from adapters.models.offline.chat import OfflineModel

            models[entry.name] = OfflineModel(own, delay=settings.offline_delay)
            continue
        models[entry.name] = _remote_model(settings, entry, own, clients)
    default = settings.models[0]
    if default.api_key is None:
        name = "offline model (no OPENAI_API_KEY: it describes what it receives)"
    else:
        name = f"model {default.name} at {default.base_url or 'OpenAI'}"
    if len(models) > 1:
        name += f", and {len(models) - 1} more to choose with /model"
    return ModelChoice(models, name)


def _remote_model(
    settings: Settings, entry: ModelEntry, counter: TokenCounter, clients: SdkClients
) -> ChatModel:
    """The model of ``entry`` on its server, through the API the entry says."""
    assert entry.api_key is not None
    # Imported here: the SDK takes a quarter of a second and 25 MB to load, which the
    # offline console, the tests and the benchmarks of start-up do not need to pay.
    from adapters.models.openai.chat import OpenAIChatModel
    from adapters.models.openai.responses import OpenAIResponsesModel

    create: Callable[..., ChatModel] = OpenAIChatModel.create
    if entry.uses_responses:
        create = functools.partial(OpenAIResponsesModel.create, web_search=entry.option.web_search)
    return create(
        api_key=entry.api_key.reveal(),
        model=entry.name,
        counter=counter,
        base_url=entry.base_url,
        timeout=settings.openai_timeout,
        max_retries=settings.openai_max_retries,
        stall_timeout=settings.openai_stall_timeout,
        reasoning_effort=entry.reasoning_effort,
        first_token_timeout=settings.openai_first_token_timeout,
        make_client=clients.client,
    )


def _sdk_clients() -> SdkClients:
    # The module does not load the SDK: only a client made does.
    from adapters.models.openai.clients import SdkClients

    return SdkClients()


@attrs.frozen
class MediaParts:
    transcriber: Transcriber | None  # None: voice messages are refused
    image_maker: ImageMaker | None  # None: /image is refused
    documents: DocumentReader
    probe: MediaProbe  # what pictures and recordings really are, before anything is held
    speaker: Speaker | None = None  # None: /voice on is refused


def build_media(settings: Settings, clients: SdkClients | None = None) -> MediaParts:
    """The transcriber, the image maker and the file reader the settings name (on the bot's
    ``clients``, or on clients of their own).

    A bot with no key at all (the console to try things) gets offline ones that say what they
    received. A bot that answers with real models never gets those, which would charge real
    tokens for a placeholder: without a transcription key or server voice messages are
    refused, and without ``OPENAI_API_KEY`` /image is."""
    from adapters.documents.reader import TextAndPdfReader
    from adapters.media.probe import DecoderProbe

    documents = TextAndPdfReader()
    probe = DecoderProbe()
    clients = clients or _sdk_clients()
    if all(entry.offline for entry in settings.models) and settings.openai_api_key is None:
        from adapters.models.offline.media import OfflineImageMaker, OfflineTranscriber

        offline = MediaParts(OfflineTranscriber(), OfflineImageMaker(), documents, probe)
        return attrs.evolve(offline, speaker=build_speaker(settings, clients))
    transcriber: Transcriber | None = None
    maker: ImageMaker | None = None
    key = settings.transcription_api_key
    if key is not None or settings.transcription_base_url is not None:
        from adapters.models.openai.media import OpenAITranscriber

        transcriber = OpenAITranscriber.create(
            # A local whisper server needs no key; the SDK needs some text.
            api_key=key.reveal() if key is not None else "none",
            base_url=settings.transcription_base_url,
            model=settings.transcription_model,
            max_retries=settings.openai_max_retries,
            make_client=clients.client,
        )
    else:
        log.warning(
            "voice messages are refused: set TRANSCRIPTION_API_KEY or TRANSCRIPTION_BASE_URL"
        )
    if settings.openai_api_key is not None:
        from adapters.models.openai.media import OpenAIImageMaker

        maker = OpenAIImageMaker.create(
            api_key=settings.openai_api_key.reveal(),
            base_url=settings.openai_base_url,
            model=settings.image_model,
            size=settings.image_size,
            max_retries=settings.openai_max_retries,
            make_client=clients.client,
        )
    else:
        log.warning("/image is refused: it needs OPENAI_API_KEY")
    return MediaParts(transcriber, maker, documents, probe, build_speaker(settings, clients))


def build_speaker(settings: Settings, clients: SdkClients | None = None) -> Speaker | None:
    """What reads answers aloud: the speech server the settings name; with no key anywhere
    (the console to try things) espeak-ng and opusenc when both are installed; else none, and
    /voice on is refused."""
    if not settings.tts_enabled:
        return None
    key = settings.tts_api_key
    if key is not None or settings.tts_base_url is not None:
        from adapters.models.openai.speech import SPEECH_VOICE, OpenAISpeaker

        return OpenAISpeaker.create(
            # A local speech server needs no key; the SDK needs some text.
            api_key=key.reveal() if key is not None else "none",
            base_url=settings.tts_base_url,
            model=settings.tts_model,
            voice=settings.tts_voice or SPEECH_VOICE,
            max_retries=settings.openai_max_retries,
            make_client=(clients or _sdk_clients()).client,
        )
    if all(entry.offline for entry in settings.models):
        from adapters.models.offline import speech

        if speech.installed():
            return speech.EspeakSpeaker(settings.tts_voice)
        log.warning("/voice is refused: offline it needs espeak-ng and opusenc (opus-tools)")
        return None
    log.warning("/voice is refused: set TTS_API_KEY or TTS_BASE_URL")
    return None


async def open_stores(
    settings: Settings, preload: Preload | None = None
) -> tuple[AccountStore, ThreadStore]:
    """The account and thread stores the settings name: PostgreSQL when DATABASE_URL is set,
    else data.json (``preload``: being parsed meanwhile) and the reply-chain database beside
    it. StorageError when they cannot be used (nothing is left open then)."""
    if settings.database_url is not None:
        if preload is not None:
            preload.discard()
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
        wait = settings.database_wait
        accounts = await PostgresAccountStore.open(url, lease=lease, wait=wait)
        try:
            threads = await PostgresThreadStore.open(
                url, retention=settings.thread_retention, wait=wait
            )
        except BaseException:
            await accounts.close()
            raise
        return accounts, threads
    from adapters.storage.json.accounts import JsonAccounts
    from adapters.storage.sqlite.threads import SqliteThreads

    json_accounts = JsonAccounts.open(settings.data_file, preload=preload)
    try:
        sqlite = SqliteThreads.open(settings.threads_file, settings.thread_retention)
    except BaseException:
        await json_accounts.close()
        raise
    return json_accounts, sqlite


async def with_reported_windows(settings: Settings) -> Settings:
    """``settings`` with the window each model's server reports, for every model given no
    window on a server other than OpenAI's (a name says nothing of a local server's window); a
    server that says nothing leaves its model at 4 096."""
    asked = [entry for entry in settings.models if entry.asks_its_server]
    if not asked:
        return settings
    from adapters.models.openai.server_facts import reported_window

    async def ask(entry: ModelEntry) -> ModelEntry:
        assert entry.base_url is not None
        assert entry.api_key is not None
        window = await reported_window(entry.base_url, entry.api_key.reveal(), entry.name)
        if window is None:
            log.warning(
                "the server of %s reports no context window: assuming %d tokens (set window= "
                "in MODELS or MODEL_CONTEXT_WINDOW if it has more)",
                entry.name,
                entry.context_window(),
            )
            return entry
        return attrs.evolve(entry, reported_window=window)

    learned = iter(await asyncio.gather(*(ask(entry) for entry in asked)))
    models = tuple(next(learned) if e.asks_its_server else e for e in settings.models)
    return attrs.evolve(settings, models=models)


async def build_bot(
    settings: Settings,
    *,
    admin_id: str,
    sink: ReplySink,
    operator: Operator | None = None,
    lookup: MessageLookup | None = None,
    clock: Clock | None = None,
    media: MediaSource | None = None,
    payments: Payments | None = None,
    preload: Preload | None = None,
) -> Bot:
    """A bot on the stores, models and media parts the settings name; StorageError when the
    data cannot be used. ``media`` and ``payments`` are the messenger's (None: it sends no
    media, takes no payments); ``preload``: data.json being parsed meanwhile
    (``startup.preloaded``)."""
    with startup.unused_kept_out():  # the SDKs load without aiohttp (``entrypoints.startup``)
        settings = await with_reported_windows(settings)
        # With a preload, the models and media parts first: making them imports the SDKs while
        # data.json is parsed in another process. Without, the stores first: data.json's bytes
        # are let go before the SDKs load (the start's peak memory).
        stores = None if preload is not None else await open_stores(settings)
        clients = _sdk_clients()  # one SDK client per server for all the parts
        try:
            counter = build_counter(settings)
            choice = build_models(settings, counter, clients)
            parts = build_media(settings, clients)
            if stores is None:
                stores = await open_stores(settings, preload)
        except BaseException:
            await clients.close()  # nothing has been sent yet: only their pools to let go
            if stores is not None:
                try:
                    await stores[0].close()
                finally:
                    await stores[1].close()
            raise
        accounts, threads = stores
        bot = assemble(
            settings.bot_config(admin_id),
            sink=sink,
            accounts=accounts,
            threads=threads,
            models=choice.models,
            counter=counter,
            clock=clock,
            operator=operator,
            lookup=lookup,
            media=media,
            transcriber=parts.transcriber,
            image_maker=parts.image_maker,
            documents=parts.documents,
            probe=parts.probe,
            speaker=parts.speaker,
            payments=payments,
            chart=build_chart(),
            model_phrase=choice.name,
        )
    startup.loaded()
    return bot


def build_chart() -> UsageChart | None:
    """The /usage chart; None where matplotlib is not installed (the bot works without it)."""
    # Looked for, not imported: importing matplotlib takes a fifth of a second, paid when the
    # first chart is drawn instead of at every start.
    if importlib.util.find_spec("matplotlib") is None:
        log.warning("/usage sends no chart: matplotlib is not installed")
        return None
    from adapters.charts.usage import MatplotlibUsageChart

    return MatplotlibUsageChart()


def describe_store(settings: Settings) -> str:
    """Where the bot keeps its data, for a person: never the database's address, which may
    hold a password."""
    if settings.database_url is not None:
        return "PostgreSQL (DATABASE_URL)"
    return str(settings.data_file)


@contextlib.contextmanager
def stop_on_signals(stop: Callable[[], None], *, enabled: bool = True) -> Iterator[None]:
    """While in the block, SIGINT and SIGTERM call ``stop`` (a clean stop: answers in flight
    are finished) instead of killing the process; what a messenger's entrypoint runs in."""
    loop = asyncio.get_running_loop()
    numbers = (signal.SIGINT, signal.SIGTERM) if enabled else ()
    for number in numbers:
        loop.add_signal_handler(number, stop)
    try:
        yield
    finally:
        for number in numbers:
            loop.remove_signal_handler(number)
