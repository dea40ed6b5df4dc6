"""The chat model: any OpenAI-compatible chat-completions API, through the official SDK.

Every failure of the SDK, the transport or the stream leaves this module as a
``core.errors.ModelError``. A stream that ends without a finish reason is never an answer: cut
after some text, a ``TruncatedAnswer``; empty, a ``ContextTooLong``, since that is how
llama.cpp and llama-cpp-python report a prompt over their window (HTTP 200, and a stream with
no data event: llama.cpp's ``error:`` line is no SSE field the SDK reads). Whatever the model's
name: a local server serves any model under any name.
"""

from __future__ import annotations

import asyncio
import base64
import logging
from collections.abc import AsyncGenerator, Callable, Mapping
from typing import Literal, cast, get_args

import openai
from openai.types.chat import (
    ChatCompletionChunk,
    ChatCompletionContentPartParam,
    ChatCompletionMessageParam,
)

from adapters.models.openai.deadlines import Deadlines
from adapters.models.openai.errors import body_of, provider_message, translate
from adapters.models.openai.facts import on_openai
from adapters.models.openai.thinking import ThinkSplitter, delta_reasoning
from core import errors
from core.ports import TokenCounter
from core.tokens import CalibratingCounter, prompt_tokens
from core.values import Chunk, Image, ModelRequest, Role, Turn, Usage

log = logging.getLogger(__name__)

CapParameter = Literal["max_completion_tokens", "max_tokens"]
# How long a reasoning model thinks before it answers. Its thinking is billed as completion
# tokens and counts against the reply cap, so "none" suits a chat bot best where a model has it.
# Models that do not reason refuse the parameter: for them it must not be sent (None).
ReasoningEffort = Literal["none", "minimal", "low", "medium", "high", "xhigh", "max"]
REASONING_EFFORTS: tuple[str, ...] = get_args(ReasoningEffort)

OPENAI_BASE_URL = "https://api.openai.com/v1"

# A host that does not accept a TCP connection within this long is not going to; waiting the whole
# answer timeout for it would only make the user wait longer for the same error.
CONNECT_TIMEOUT = 10.0


def guess_cap_parameter(base_url: str | None) -> CapParameter:
    """The name under which the server at ``base_url`` expects the reply cap.

    OpenAI's own API (and Azure's deployment of it) rejects ``max_tokens`` for reasoning models
    and wants ``max_completion_tokens``; most other OpenAI-compatible servers (llama.cpp, older
    Ollama, LM Studio, many proxies) only know ``max_tokens`` and silently ignore the newer name,
    which would leave the answer uncapped and the balance check meaningless. So the cap goes
    under the name the server at hand is known to honour; ``cap_parameter`` overrides the guess.
    """
    return "max_completion_tokens" if on_openai(base_url) else "max_tokens"


# What makes an adapter's SDK client: ``sdk_client``, or a bot's ``SdkClients.client``
# (``adapters.models.openai.clients``), which shares one client per server.
SdkFactory = Callable[[str, str | None, float, int, float | None], openai.AsyncOpenAI]


def sdk_client(
    api_key: str,
    base_url: str | None,
    timeout: float,
    max_retries: int,
    first_token: float | None = None,
) -> openai.AsyncOpenAI:
    """The SDK's client for every OpenAI adapter: ``timeout`` bounds each attempt's connect and
    each read; for streamed answers a read may also last ``first_token`` seconds (a server may
    send nothing while it reads the prompt). The SDK retries 408, 409, 429, 5xx and lost
    connections up to ``max_retries`` times."""
    if not api_key:
        raise ValueError("an API key is required")
    if max_retries < 0:
        raise ValueError("max_retries must not be negative")
    return openai.AsyncOpenAI(
        api_key=api_key,
        # Always explicit: with None the SDK would read OPENAI_BASE_URL from the environment.
        base_url=base_url or OPENAI_BASE_URL,
        timeout=sdk_timeout(timeout, first_token),
        max_retries=max_retries,
    )


def sdk_timeout(timeout: float, first_token: float | None = None) -> openai.Timeout:
    """``sdk_client``'s timeouts."""
    if timeout <= 0:
        raise ValueError("timeout must be positive")
    return openai.Timeout(
        timeout, read=max(timeout, first_token or 0), connect=min(timeout, CONNECT_TIMEOUT)
    )


class OpenAIChatModel:
    """``core.ports.ChatModel`` over an OpenAI-compatible chat-completions endpoint."""

    def __init__(
        self,
        client: openai.AsyncOpenAI,
        *,
        model: str,
        counter: TokenCounter,
        stall_timeout: float,
        cap_parameter: CapParameter,
        reasoning_effort: str | None = None,
        first_token_timeout: float | None = None,
    ) -> None:
        """Wrap a ready client; ``create`` builds one from plain settings.

        ``first_token_timeout`` (default: ``stall_timeout``) bounds the wait from the request to
        the first piece of the answer: the server reads the whole prompt first, which on a CPU
        takes many seconds. ``stall_timeout`` bounds each wait for a next piece after that.
        ``reasoning_effort`` is sent with every request unless it is None.
        A ``CalibratingCounter`` learns from every usage the server reports.
        """
        first_token_timeout = stall_timeout if first_token_timeout is None else first_token_timeout
        if stall_timeout <= 0 or first_token_timeout <= 0:
            raise ValueError("stall_timeout and first_token_timeout must be positive")
        if cap_parameter not in get_args(CapParameter):
            raise ValueError(f"unknown cap parameter {cap_parameter!r}")
        if reasoning_effort is not None and reasoning_effort not in REASONING_EFFORTS:
            raise ValueError(f"unknown reasoning effort {reasoning_effort!r}")
        self._effort = cast("ReasoningEffort | None", reasoning_effort)
        # Ask for the usage chunk until the server says it does not know the option (older
        # proxies and Azure API versions refuse it); then answers are charged an estimate.
        self._ask_usage = True
        self._client = client
        self._model = model
        self._counter = counter
        self._stall_timeout = stall_timeout
        self._first_token_timeout = first_token_timeout
        self._cap_parameter: CapParameter = cap_parameter

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
        cap_parameter: CapParameter | None = None,
        reasoning_effort: str | None = None,
        first_token_timeout: float | None = None,
        make_client: SdkFactory = sdk_client,
    ) -> OpenAIChatModel:
        """A model on OpenAI's API, or on the compatible server at ``base_url``.

        ``timeout`` bounds each HTTP attempt's connect and each read (a read may also last
        ``first_token_timeout``, since a server may send nothing while it reads the prompt); the
        SDK retries 408, 409, 429, 5xx and connection failures up to ``max_retries`` times,
        honouring Retry-After. ``stall_timeout`` and ``first_token_timeout`` default to
        ``timeout``. ``cap_parameter`` defaults to ``guess_cap_parameter(base_url)``.
        ``make_client``: where its SDK client comes from (a bot shares one per server).
        """
        first = timeout if first_token_timeout is None else first_token_timeout
        client = make_client(api_key, base_url, timeout, max_retries, first)
        return cls(
            client,
            model=model,
            counter=counter,
            stall_timeout=timeout if stall_timeout is None else stall_timeout,
            cap_parameter=cap_parameter or guess_cap_parameter(base_url),
            reasoning_effort=reasoning_effort,
            first_token_timeout=first,
        )

    def __repr__(self) -> str:
        # Spelled out so that the client, which holds the key, never shows up in a log line.
        return f"OpenAIChatModel(model={self._model!r}, base_url={str(self._client.base_url)!r})"

    async def close(self) -> None:
        """Release the HTTP connections."""
        await self._client.close()

    aclose = close  # the name the entrypoints used before the port had ``close``

    async def stream(self, request: ModelRequest) -> AsyncGenerator[Chunk, None]:
        """Yield the answer's text as it arrives, then one chunk with the usage.

        Closing the generator early (``aclose``) closes the HTTP response too.
        """
        log.debug(
            "chat request: model %s, %d turns, cap %d",
            self._model,
            len(request.turns),
            request.max_tokens,
        )
        # Taken before the request: a calibration sample must compare like with like, and the
        # ratio may move while this answer streams.
        calibrating = self._counter if isinstance(self._counter, CalibratingCounter) else None
        if any(turn.images for turn in request.turns):
            # The server counts the pictures' tokens in the prompt; the counter sees only text,
            # and would learn that all text is dearer than it is.
            calibrating = None
        uncorrected = calibrating.uncorrected(request.turns) if calibrating else 0
        deadlines = Deadlines.from_now(self._first_token_timeout, self._stall_timeout)
        try:
            async with asyncio.timeout_at(deadlines.first):
                response = await self._open(request)
        except TimeoutError as exc:
            raise deadlines.missed(started=False) from exc
        except openai.OpenAIError as exc:
            raise self._translate(exc) from exc

        parts: list[str] = []
        reasoning: list[str] = []
        think = ThinkSplitter()
        finish: str | None = None
        reported: Usage | None = None
        async with response:  # closes the HTTP response however the loop is left
            while True:
                started = bool(parts or reasoning) or finish is not None
                try:
                    chunk = await deadlines.next(response, started=started)
                except StopAsyncIteration:
                    break
                except (openai.OpenAIError, TimeoutError, ValueError) as exc:
                    if finish is not None:
                        # The answer is complete; only the usage or the end marker got lost.
                        log.warning(
                            "stream failed after the finish reason, keeping the answer: %r", exc
                        )
                        break
                    if isinstance(exc, TimeoutError):  # ours, not the SDK's read timeout
                        raise deadlines.missed(started=started) from exc
                    raise self._translate(exc) from exc
                reported = _usage(chunk) or reported
                for choice in chunk.choices:
                    if choice.index != 0:
                        continue
                    thought = delta_reasoning(choice.delta)
                    text, inline = think.feed(choice.delta.content or choice.delta.refusal or "")
                    if thought or inline:
                        reasoning.append(thought + inline)
                        yield Chunk(reasoning=thought + inline)
                    if text:
                        parts.append(text)
                        yield Chunk(text=text)
                    if choice.finish_reason is not None:
                        finish = choice.finish_reason
                if finish == "content_filter":
                    raise errors.ContentFiltered("the provider's content filter stopped the answer")

        text, inline = think.flush()
        if inline:
            reasoning.append(inline)
            yield Chunk(reasoning=inline)
        if text:
            parts.append(text)
            yield Chunk(text=text)
        if finish is None:
            raise self._unfinished(request, parts + reasoning)
        if reported is None:
            log.info("the server reported no usage; charging an estimate")
            reported = Usage(
                prompt_tokens(self._counter, request.turns),
                self._counter.count("".join(reasoning + parts)),  # thinking is billed too
                estimated=True,
            )
        elif calibrating is not None:
            calibrating.observe(uncorrected, reported.prompt_tokens)
        log.debug("chat answer: finish %s, %r", finish, reported)
        yield Chunk(usage=reported, cut_off=finish == "length")

    async def _open(self, request: ModelRequest) -> openai.AsyncStream[ChatCompletionChunk]:
        try:
            return await self._create(request)
        except openai.BadRequestError as exc:
            if not (self._ask_usage and _refuses(exc, "stream_options")):
                raise
            log.warning(
                "the server refuses stream_options (%s); asking without it from now on and "
                "charging estimated usage",
                provider_message(exc),
            )
            self._ask_usage = False
            return await self._create(request)

    def _unfinished(self, request: ModelRequest, parts: list[str]) -> errors.ModelError:
        """The error for a stream that ended without a finish reason."""
        if parts:
            return errors.TruncatedAnswer(
                f"the stream ended without a finish reason after {len(parts)} pieces of text"
            )
        prompt = prompt_tokens(self._counter, request.turns)
        log.warning(
            "the stream ended empty, with a prompt of about %d tokens and a cap of %d: taking it "
            "for an overflow of the server's context",
            prompt,
            request.max_tokens,
        )
        return errors.ContextTooLong(
            f"the server sent an empty answer to a prompt of about {prompt} tokens and a cap of "
            f"{request.max_tokens}: taken for an overflow of its context"
        )

    async def _create(self, request: ModelRequest) -> openai.AsyncStream[ChatCompletionChunk]:
        cap = request.max_tokens
        return await self._client.chat.completions.create(
            model=self._model,
            messages=[_message(turn) for turn in request.turns],
            stream=True,
            stream_options={"include_usage": True} if self._ask_usage else openai.omit,
            max_completion_tokens=cap
            if self._cap_parameter == "max_completion_tokens"
            else openai.omit,
            max_tokens=cap if self._cap_parameter == "max_tokens" else openai.omit,
            reasoning_effort=self._effort if self._effort is not None else openai.omit,
            # A mode's temperature; None leaves the server's default.
            temperature=request.temperature if request.temperature is not None else openai.omit,
        )

    def _translate(self, exc: BaseException) -> errors.ModelError:
        return translate(exc, key=self._client.api_key)


def _message(turn: Turn) -> ChatCompletionMessageParam:
    if turn.role is Role.SYSTEM:
        return {"role": "system", "content": turn.text}
    if turn.role is Role.ASSISTANT:
        # Chat APIs take pictures from the user only: one the bot drew is remembered by its text.
        return {"role": "assistant", "content": turn.text}
    if not turn.images:
        # Plain text stays a string: servers without vision (many local ones) refuse parts.
        return {"role": "user", "content": turn.text}
    parts: list[ChatCompletionContentPartParam] = []
    if turn.text:
        parts.append({"type": "text", "text": turn.text})
    parts.extend(
        {"type": "image_url", "image_url": {"url": data_url(image)}} for image in turn.images
    )
    return {"role": "user", "content": parts}


def data_url(image: Image) -> str:
    """The picture inline, as every OpenAI-compatible vision server accepts it (a link to our
    own files would have to be reachable from the provider)."""
    return f"data:{image.mime};base64,{base64.b64encode(image.data).decode('ascii')}"


def _usage(chunk: ChatCompletionChunk) -> Usage | None:
    usage = chunk.usage
    # The SDK does not validate streamed chunks: a server may send a usage object with gaps.
    if usage is None or usage.prompt_tokens is None or usage.completion_tokens is None:
        return _timings(chunk)
    # OpenAI and vLLM say how much of the prompt came from their cache, and how many tokens a
    # reasoning model thought in; servers that do not leave the details out (or null).
    prompt_details = usage.prompt_tokens_details
    completion_details = usage.completion_tokens_details
    return Usage(
        usage.prompt_tokens,
        usage.completion_tokens,
        cached_tokens=_count(prompt_details.cached_tokens if prompt_details else None),
        reasoning_tokens=_count(
            completion_details.reasoning_tokens if completion_details else None
        ),
    )


def _count(value: object) -> int:
    """A count a server reported in a usage's details; 0 when it sent none or nonsense."""
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def _timings(chunk: ChatCompletionChunk) -> Usage | None:
    """llama.cpp's own count, in the last chunk of a stream that carries no usage.

    ``prompt_n`` counts only the prompt tokens it had to process, ``cache_n`` those it reused
    from an earlier request: without ``cache_n`` (older builds) the prompt is unknown.
    """
    timings = (chunk.model_extra or {}).get("timings")
    if not isinstance(timings, Mapping):
        return None
    numbers = [timings.get(key) for key in ("prompt_n", "cache_n", "predicted_n")]
    if not all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in numbers):
        return None
    prompt, cached, predicted = cast("list[int]", numbers)
    return Usage(prompt + cached, predicted)


def _refuses(exc: openai.APIStatusError, parameter: str) -> bool:
    """Whether the server rejected the request for not knowing ``parameter``."""
    return body_of(exc.body).get("param") == parameter or parameter in provider_message(exc)
