"""OpenAIChatModel against a local server that answers as llama.cpp's does (tests/adapters/
llama_server.py): overflow as an empty 200 stream, no usage, a slow first token."""

from __future__ import annotations

import time

import pytest

from adapters.models.openai.chat import OpenAIChatModel
from core import errors
from core.ports import TokenCounter
from core.tokens import CalibratingCounter, CharTokenCounter, prompt_tokens
from core.values import Chunk, ModelRequest, Role, Turn, Usage
from tests.adapters.models.openai.llama_server import llama_server, server_tokens

ANSWER = "Hello there, how can I help?"


def model_for(
    base_url: str,
    *,
    counter: TokenCounter | None = None,
    stall: float = 5.0,
    first_token: float | None = None,
) -> OpenAIChatModel:
    return OpenAIChatModel.create(
        api_key="local",
        model="SmolLM2-135M-Instruct",
        counter=counter or CharTokenCounter(),
        base_url=base_url,
        timeout=10,
        max_retries=0,
        stall_timeout=stall,
        first_token_timeout=first_token,
    )


def request(words: int, cap: int = 100) -> ModelRequest:
    history = " ".join(["lorem"] * words)
    turns = (
        Turn(Role.SYSTEM, "You are a helpful assistant"),
        Turn(Role.USER, history),
        Turn(Role.ASSISTANT, "Noted."),
        Turn(Role.USER, "What did I say?"),
    )
    return ModelRequest(turns=turns, max_tokens=cap)


async def answer(model: OpenAIChatModel, req: ModelRequest) -> list[Chunk]:
    try:
        return [chunk async for chunk in model.stream(req)]
    finally:
        await model.close()


# -- overflow ---------------------------------------------------------------------------------


async def test_an_empty_stream_is_an_overflow_whatever_the_window_is_believed() -> None:
    # No window given, and a name that says nothing: the empty answer alone says it all.
    async with llama_server(n_ctx=512) as server:
        big = request(400)  # about 800 of the server's tokens
        with pytest.raises(errors.ContextTooLong, match="empty answer"):
            await answer(model_for(server.base_url), big)

        # The core's retry with the older half left out then gets an answer.
        small = request(100)
        chunks = await answer(model_for(server.base_url), small)

    assert "".join(c.text for c in chunks) == ANSWER
    assert len(server.requests) == 2


async def test_an_empty_stream_is_an_overflow_even_under_an_openai_name() -> None:
    # The README's recipe once left OPENAI_MODEL at gpt-6-luna: a 128 000-token name.
    async with llama_server(n_ctx=512) as server:
        model = OpenAIChatModel.create(
            api_key="anything",
            model="gpt-6-luna",
            counter=CharTokenCounter(),
            base_url=server.base_url,
            timeout=10,
            max_retries=0,
        )
        with pytest.raises(errors.ContextTooLong):
            await answer(model, request(400))


async def test_the_cap_counts_towards_the_window() -> None:
    async with llama_server(n_ctx=400, count_cap=True) as server:
        # The prompt alone is under half the window, prompt and cap are over it.
        req = request(30, cap=350)
        estimate = prompt_tokens(CharTokenCounter(), req.turns)
        assert estimate < 200 < 400 < estimate + req.max_tokens
        with pytest.raises(errors.ContextTooLong):
            await answer(model_for(server.base_url), req)


async def test_a_server_killed_mid_answer_is_a_cut_answer_not_an_overflow() -> None:
    async with llama_server(die_after=3) as server:
        model = model_for(server.base_url)
        pieces: list[str] = []

        async def read() -> None:
            async for chunk in model.stream(request(10)):
                pieces.append(chunk.text)

        with pytest.raises((errors.TruncatedAnswer, errors.ConnectionLost)):
            await read()
        await model.close()

    assert "".join(pieces) == "Hello there, how"


# -- usage ------------------------------------------------------------------------------------


async def test_no_usage_is_charged_as_an_estimate_and_says_so() -> None:
    async with llama_server() as server:
        chunks = await answer(model_for(server.base_url), request(10))

    counter = CharTokenCounter()
    assert chunks[-1].usage == Usage(
        prompt_tokens(counter, request(10).turns), counter.count(ANSWER), estimated=True
    )


async def test_llama_cpp_timings_are_the_servers_own_count() -> None:
    async with llama_server(timings=True) as server:
        chunks = await answer(model_for(server.base_url), request(10))
        expected = Usage(server.prompt_tokens(server.requests[0]), server_tokens(ANSWER))

    assert chunks[-1].usage == expected


async def test_timings_without_the_cached_count_are_not_trusted() -> None:
    # Older builds count only the prompt tokens they did not find in their cache.
    async with llama_server(timings=True, cache_n=False) as server:
        chunks = await answer(model_for(server.base_url), request(10))

    usage = chunks[-1].usage
    assert usage is not None
    assert usage.estimated


async def test_reported_usage_corrects_the_estimate_within_ten_percent_in_twenty_answers() -> None:
    counter = CalibratingCounter(CharTokenCounter())
    probe = request(300)
    async with llama_server(timings=True, n_ctx=100_000) as server:
        truth = server.prompt_tokens({"messages": [{"content": t.text} for t in probe.turns]})
        before = prompt_tokens(counter, probe.turns)
        model = model_for(server.base_url, counter=counter)
        for n in range(20):
            async for _ in model.stream(request(50 + 37 * n)):
                pass
        await model.close()

    assert abs(before - truth) / truth > 0.15
    assert abs(prompt_tokens(counter, probe.turns) - truth) / truth < 0.10


# -- timeouts ---------------------------------------------------------------------------------


async def test_a_slow_first_token_waits_for_the_first_token_timeout() -> None:
    # A CPU server reading a long prompt: nothing for longer than the stall timeout.
    async with llama_server(first_token_delay=1.0) as server:
        chunks = await answer(model_for(server.base_url, stall=0.3, first_token=5.0), request(10))

    assert "".join(c.text for c in chunks) == ANSWER


async def test_no_first_token_in_time_is_a_timeout() -> None:
    async with llama_server(first_token_delay=10.0) as server:
        started = time.monotonic()
        with pytest.raises(errors.ModelTimeout, match="OPENAI_FIRST_TOKEN_TIMEOUT"):
            await answer(model_for(server.base_url, stall=5.0, first_token=0.3), request(10))

    assert time.monotonic() - started < 8  # not waiting for the server's 10 s


# -- errors in the stream ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        ("The model `gpt-9` does not exist", errors.ModelMisconfigured),
        ("model 'llama9' not found", errors.ModelMisconfigured),
        ("Invalid model: llama9", errors.ModelMisconfigured),
        ("upstream overloaded, try later", errors.ModelUnavailable),
        ("the model encountered an unknown error", errors.ModelUnavailable),
        ("the model is not available right now", errors.ModelUnavailable),
    ],
)
async def test_an_error_event_after_a_200_is_told_apart(
    message: str, expected: type[errors.ModelError]
) -> None:
    async with llama_server(error_event={"message": message, "type": "error"}) as server:
        with pytest.raises(expected) as caught:
            await answer(model_for(server.base_url), request(10))

    assert message in str(caught.value)


# -- usage details (vLLM and OpenAI send them; LLMock does not) -------------------------------


async def test_cached_and_reasoning_tokens_are_read_when_the_server_sends_them() -> None:
    usage = {
        "prompt_tokens": 1200,
        "completion_tokens": 90,
        "total_tokens": 1290,
        "prompt_tokens_details": {"cached_tokens": 800},
        "completion_tokens_details": {"reasoning_tokens": 40},
    }
    async with llama_server(usage=usage) as server:
        chunks = await answer(model_for(server.base_url), request(5))
    assert chunks[-1].usage == Usage(1200, 90, cached_tokens=800, reasoning_tokens=40)


async def test_usage_details_left_null_count_nothing() -> None:
    usage = {
        "prompt_tokens": 12,
        "completion_tokens": 9,
        "total_tokens": 21,
        "prompt_tokens_details": None,
        "completion_tokens_details": {"reasoning_tokens": None},
    }
    async with llama_server(usage=usage) as server:
        chunks = await answer(model_for(server.base_url), request(5))
    assert chunks[-1].usage == Usage(12, 9)
