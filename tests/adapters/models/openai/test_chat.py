"""OpenAIChatModel against a real OpenAI-compatible server (LLMock on 127.0.0.1)."""

from __future__ import annotations

import base64
import socket
import time
from collections.abc import AsyncIterator, Callable

import attrs
import pytest
from llmock.pytest_plugin import LLMock
from llmock.scenarios import Reply

from adapters.models.openai.chat import CapParameter, OpenAIChatModel, guess_cap_parameter
from core import errors
from core.ports import ChatModel
from core.tokens import CalibratingCounter, CharTokenCounter, prompt_tokens
from core.values import Chunk, Image, ModelRequest, Role, Turn, Usage
from tests.media import png_bytes

KEY = "sk-test-0123456789abcdef"
MODEL = "gpt-4o-mini"
CAP = 321

TURNS = (
    Turn(Role.SYSTEM, "You are a terse assistant."),
    Turn(Role.USER, "What is the capital of France?"),
    Turn(Role.ASSISTANT, "Paris."),
    Turn(Role.USER, "And of Italy?"),
)
REQUEST = ModelRequest(turns=TURNS, max_tokens=CAP)

# LLMock streams a scripted text one word per chunk, after a first chunk that only carries the
# role; then come the finish-reason chunk, the usage chunk and [DONE].
ANSWER = "Rome is the capital."
ANSWER_PIECES = ["Rome ", "is ", "the ", "capital."]
FINISH_CHUNK = 1 + len(ANSWER_PIECES)
USAGE_CHUNK = FINISH_CHUNK + 1

Factory = Callable[..., OpenAIChatModel]


# A server silent for SLOW seconds; a timeout of 0.3 s gives up long before GIVEN_UP (the margin is
# for a loaded machine: the point is that the client does not wait for the server).
SLOW = 10.0
GIVEN_UP = 8.0


@pytest.fixture
async def make(llm: LLMock) -> AsyncIterator[Factory]:
    """Build models pointed at the test server; fault tests pass short timeouts, no retries."""
    made: list[OpenAIChatModel] = []

    def factory(
        *,
        base_url: str | None = None,
        timeout: float = 5.0,
        max_retries: int = 0,
        stall_timeout: float | None = None,
        cap_parameter: CapParameter | None = None,
        reasoning_effort: str | None = None,
        first_token_timeout: float | None = None,
    ) -> OpenAIChatModel:
        model = OpenAIChatModel.create(
            api_key=KEY,
            model=MODEL,
            counter=CharTokenCounter(),
            base_url=base_url or llm.base_url("openai"),
            timeout=timeout,
            max_retries=max_retries,
            stall_timeout=stall_timeout,
            cap_parameter=cap_parameter,
            reasoning_effort=reasoning_effort,
            first_token_timeout=first_token_timeout,
        )
        made.append(model)
        return model

    yield factory
    for model in made:
        await model.close()


async def drain(model: OpenAIChatModel, into: list[Chunk], request: ModelRequest = REQUEST) -> None:
    """Read the whole stream into ``into``, so that a test still sees what came before an error."""
    async for chunk in model.stream(request):
        into.append(chunk)


def texts(chunks: list[Chunk]) -> list[str]:
    return [c.text for c in chunks if c.text]


def estimate(answer: str) -> Usage:
    counter = CharTokenCounter()
    return Usage(prompt_tokens(counter, TURNS), counter.count(answer), estimated=True)


# -- answers ----------------------------------------------------------------------------------


async def test_answer_streams_in_several_deltas_then_the_reported_usage(
    llm: LLMock, make: Factory
) -> None:
    llm.reply(ANSWER)
    model: ChatModel = make()  # mypy checks here that the adapter fits the port
    chunks = [chunk async for chunk in model.stream(REQUEST)]

    assert texts(chunks) == ANSWER_PIECES
    assert [c.usage is not None for c in chunks] == [False] * len(ANSWER_PIECES) + [True]
    # LLMock counts a token per four characters of the message contents: the usage must be the
    # server's own count, not the adapter's estimate.
    reported = Usage(
        sum(len(t.text) // 4 for t in TURNS),
        len(ANSWER) // 4,
    )
    assert chunks[-1].usage == reported
    assert not reported.estimated
    assert (reported.prompt_tokens, reported.completion_tokens) != (
        estimate(ANSWER).prompt_tokens,
        estimate(ANSWER).completion_tokens,
    )


async def test_request_carries_the_turns_in_order_with_their_roles(
    llm: LLMock, make: Factory
) -> None:
    await drain(make(), [])

    body = llm.last_request.body
    assert body["model"] == MODEL
    assert body["messages"] == [
        {"role": "system", "content": "You are a terse assistant."},
        {"role": "user", "content": "What is the capital of France?"},
        {"role": "assistant", "content": "Paris."},
        {"role": "user", "content": "And of Italy?"},
    ]
    assert body["stream"] is True
    assert body["stream_options"] == {"include_usage": True}


async def test_pictures_go_as_image_parts_after_the_text(llm: LLMock, make: Factory) -> None:
    red, blue = png_bytes(2, 2, (255, 0, 0)), png_bytes(3, 1, (0, 0, 255))
    seeing = Turn(
        Role.USER, "Which is bigger?", images=(Image(red, "image/png"), Image(blue, "image/png"))
    )
    request = ModelRequest(turns=(*TURNS[:3], seeing), max_tokens=CAP)
    await drain(make(), [], request)

    messages = llm.last_request.body["messages"]
    assert messages[:3] == [
        {"role": "system", "content": "You are a terse assistant."},
        {"role": "user", "content": "What is the capital of France?"},  # no pictures: a string
        {"role": "assistant", "content": "Paris."},
    ]
    text, *pictures = messages[3]["content"]
    assert messages[3]["role"] == "user"
    assert text == {"type": "text", "text": "Which is bigger?"}
    assert [part["type"] for part in pictures] == ["image_url", "image_url"]
    received = [part["image_url"]["url"].partition(",") for part in pictures]
    assert [head for head, _, _ in received] == ["data:image/png;base64"] * 2
    assert [base64.b64decode(data) for _, _, data in received] == [red, blue]


async def test_a_picture_without_words_is_only_the_picture(llm: LLMock, make: Factory) -> None:
    jpeg = b"\xff\xd8\xff\xe0 a jpeg, as far as the server can tell"
    request = ModelRequest(
        turns=(Turn(Role.USER, "", images=(Image(jpeg, "image/jpeg"),)),), max_tokens=CAP
    )
    await drain(make(), [], request)

    [message] = llm.last_request.body["messages"]
    url = "data:image/jpeg;base64," + base64.b64encode(jpeg).decode()
    assert message == {
        "role": "user",
        "content": [{"type": "image_url", "image_url": {"url": url}}],
    }


@pytest.mark.parametrize("name", ["max_completion_tokens", "max_tokens"])
async def test_request_carries_the_cap_under_the_chosen_name(
    llm: LLMock, make: Factory, name: CapParameter
) -> None:
    await drain(make(cap_parameter=name), [])

    body = llm.last_request.body
    other = {"max_completion_tokens", "max_tokens"} - {name}
    assert body[name] == CAP
    assert not other & body.keys()


async def test_a_reasoning_effort_is_sent_only_when_set(llm: LLMock, make: Factory) -> None:
    await drain(make(reasoning_effort="none"), [])
    assert llm.last_request.body["reasoning_effort"] == "none"
    await drain(make(), [])
    assert "reasoning_effort" not in llm.last_request.body


async def test_a_temperature_is_sent_only_when_the_request_has_one(
    llm: LLMock, make: Factory
) -> None:
    model = make()
    await drain(model, [], attrs.evolve(REQUEST, temperature=0.2))
    assert llm.last_request.body["temperature"] == 0.2
    await drain(model, [])
    assert "temperature" not in llm.last_request.body


def test_an_unknown_reasoning_effort_is_refused(make: Factory) -> None:
    with pytest.raises(ValueError, match="reasoning effort"):
        make(reasoning_effort="extreme")


async def test_a_local_server_gets_the_cap_as_max_tokens(llm: LLMock, make: Factory) -> None:
    await drain(make(), [])

    assert llm.last_request.body["max_tokens"] == CAP
    assert "max_completion_tokens" not in llm.last_request.body


@pytest.mark.parametrize(
    ("base_url", "expected"),
    [
        (None, "max_completion_tokens"),
        ("https://api.openai.com/v1", "max_completion_tokens"),
        ("https://my-resource.openai.azure.com/openai/v1", "max_completion_tokens"),
        ("http://127.0.0.1:8080/v1", "max_tokens"),
        ("http://localhost:11434/v1", "max_tokens"),
        ("https://openrouter.ai/api/v1", "max_tokens"),
    ],
)
def test_cap_name_guess(base_url: str | None, expected: CapParameter) -> None:
    assert guess_cap_parameter(base_url) == expected


async def test_finish_reason_length_is_a_complete_capped_answer(llm: LLMock, make: Factory) -> None:
    llm.add(Reply(text=ANSWER, finish_reason="length"))
    chunks: list[Chunk] = []
    await drain(make(), chunks)

    assert "".join(texts(chunks)) == ANSWER
    assert chunks[-1].usage is not None
    assert chunks[-1].cut_off


async def test_an_answer_that_stopped_by_itself_is_not_cut_off(llm: LLMock, make: Factory) -> None:
    llm.add(Reply(text=ANSWER, finish_reason="stop"))
    chunks: list[Chunk] = []
    await drain(make(), chunks)
    assert not any(chunk.cut_off for chunk in chunks)


@pytest.mark.parametrize(
    ("kind", "label"),
    [
        # The server ends the stream after the finish reason: no usage, no [DONE].
        ("truncate", f"stream:truncate@{USAGE_CHUNK}"),
        # The connection drops, or hangs, where the usage should come.
        ("disconnect", f"stream:disconnect@{USAGE_CHUNK}"),
        ("stall", f"stream:stall@{USAGE_CHUNK}"),
    ],
)
async def test_no_usage_after_the_finish_reason_gives_the_answer_and_an_estimate(
    llm: LLMock, make: Factory, kind: str, label: str
) -> None:
    llm.reply(ANSWER)
    if kind == "truncate":
        llm.truncate(after_chunks=USAGE_CHUNK)
    elif kind == "disconnect":
        llm.disconnect(after_chunks=USAGE_CHUNK)
    else:
        llm.stall(after_chunks=USAGE_CHUNK, seconds=SLOW)
    chunks: list[Chunk] = []
    started = time.monotonic()
    await drain(make(stall_timeout=0.3), chunks)

    assert texts(chunks) == ANSWER_PIECES
    assert chunks[-1].usage == estimate(ANSWER)
    assert time.monotonic() - started < GIVEN_UP
    assert llm.last_request.fault == label


async def test_a_reader_that_stops_early_closes_the_response(llm: LLMock, make: Factory) -> None:
    llm.reply(ANSWER).pace(100)  # the server is still sending when the reader gives up
    stream = make().stream(REQUEST)
    first = await anext(stream)
    await stream.aclose()

    assert first == Chunk(text=ANSWER_PIECES[0])
    record = llm.last_request
    assert not record.completed
    assert record.chunks_sent < USAGE_CHUNK


# -- failures ---------------------------------------------------------------------------------


async def test_stream_without_finish_reason_is_truncated(llm: LLMock, make: Factory) -> None:
    llm.reply(ANSWER).truncate(after_chunks=3)
    chunks: list[Chunk] = []
    with pytest.raises(errors.TruncatedAnswer):
        await drain(make(), chunks)

    assert texts(chunks) == ANSWER_PIECES[:2]
    assert all(c.usage is None for c in chunks)


async def test_rate_limit_is_retried_by_the_sdk_then_reported(llm: LLMock, make: Factory) -> None:
    llm.rate_limit(times=2, retry_after=0.05)
    with pytest.raises(errors.RateLimited):
        await drain(make(max_retries=1), [])

    assert [r.status for r in llm.requests] == [429, 429]


async def test_a_rate_limit_that_passes_within_the_retries_is_no_error(
    llm: LLMock, make: Factory
) -> None:
    llm.rate_limit(times=1, retry_after=0.05).reply(ANSWER)
    chunks: list[Chunk] = []
    await drain(make(max_retries=1), chunks)

    assert "".join(texts(chunks)) == ANSWER
    assert [r.status for r in llm.requests] == [429, 200]


async def test_exhausted_quota_is_for_the_operator(llm: LLMock, make: Factory) -> None:
    llm.fail(429, code="insufficient_quota", message="You exceeded your current quota.")
    with pytest.raises(errors.AuthFailed, match="quota"):
        await drain(make(), [])


@pytest.mark.parametrize("status", [500, 502, 503, 529])
async def test_server_errors_mean_unavailable(llm: LLMock, make: Factory, status: int) -> None:
    llm.fail(status)
    with pytest.raises(errors.ModelUnavailable):
        await drain(make(), [])


async def test_server_errors_are_retried_before_giving_up(llm: LLMock, make: Factory) -> None:
    llm.fail(503, times=2, retry_after=0.05)
    with pytest.raises(errors.ModelUnavailable):
        await drain(make(max_retries=1), [])

    assert [r.status for r in llm.requests] == [503, 503]


@pytest.mark.parametrize("status", [401, 403])
async def test_refused_credentials(llm: LLMock, make: Factory, status: int) -> None:
    llm.fail(status)
    with pytest.raises(errors.AuthFailed):
        await drain(make(), [])


async def test_a_key_quoted_by_the_server_is_masked(llm: LLMock, make: Factory) -> None:
    llm.fail(401, message=f"Incorrect API key provided: {KEY}.")
    with pytest.raises(errors.AuthFailed) as caught:
        await drain(make(), [])

    assert KEY not in str(caught.value)
    assert "Incorrect API key provided: ***" in str(caught.value)


async def test_no_response_in_time(llm: LLMock, make: Factory) -> None:
    llm.delay(SLOW)
    started = time.monotonic()
    with pytest.raises(errors.ModelTimeout):
        await drain(make(timeout=0.3), [])

    assert time.monotonic() - started < GIVEN_UP


async def test_a_stream_that_stalls_is_given_up_by_the_chunk_timeout(
    llm: LLMock, make: Factory
) -> None:
    # The HTTP read timeout is long here: only the adapter's own per-chunk timeout can fire.
    llm.reply(ANSWER).stall(after_chunks=3, seconds=SLOW)
    chunks: list[Chunk] = []
    started = time.monotonic()
    with pytest.raises(errors.ModelTimeout):
        await drain(make(timeout=10, stall_timeout=0.3), chunks)

    assert time.monotonic() - started < GIVEN_UP
    assert texts(chunks) == ANSWER_PIECES[:2]


async def test_a_stream_that_stalls_is_given_up_by_the_read_timeout(
    llm: LLMock, make: Factory
) -> None:
    llm.reply(ANSWER).stall(after_chunks=3, seconds=SLOW)
    started = time.monotonic()
    with pytest.raises(errors.ModelTimeout):
        await drain(make(timeout=0.3, stall_timeout=10), [])

    assert time.monotonic() - started < GIVEN_UP


async def test_a_connection_dropped_mid_stream_is_lost(llm: LLMock, make: Factory) -> None:
    llm.reply(ANSWER).disconnect(after_chunks=3)
    chunks: list[Chunk] = []
    with pytest.raises(errors.ConnectionLost):
        await drain(make(), chunks)

    assert texts(chunks) == ANSWER_PIECES[:2]


async def test_no_server_at_all_is_a_lost_connection(make: Factory) -> None:
    with socket.socket() as probe:  # a port that was free a moment ago has no listener now
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(errors.ConnectionLost):
        await drain(make(base_url=f"http://127.0.0.1:{port}/v1"), [])


async def test_scripted_context_overflow(llm: LLMock, make: Factory) -> None:
    llm.context_overflow()
    with pytest.raises(errors.ContextTooLong):
        await drain(make(), [])


async def test_prompt_larger_than_the_servers_context_window(llm: LLMock, make: Factory) -> None:
    llm.limits(context_window=10)
    with pytest.raises(errors.ContextTooLong):
        await drain(make(), [])


async def test_answer_stopped_by_the_content_filter(llm: LLMock, make: Factory) -> None:
    llm.add(Reply(text=ANSWER, finish_reason="content_filter"))
    with pytest.raises(errors.ContentFiltered):
        await drain(make(), [])


@pytest.mark.parametrize("code", ["content_filter", "content_policy_violation"])
async def test_request_refused_by_the_content_filter(llm: LLMock, make: Factory, code: str) -> None:
    llm.fail(400, code=code, message="Your request was rejected by the safety system.")
    with pytest.raises(errors.ContentFiltered):
        await drain(make(), [])


@pytest.mark.parametrize(
    ("status", "message"),
    [
        (400, "Unsupported value: 'temperature'."),
        (404, "The model 'gpt-4o-mini' does not exist."),
        (404, 'model "llama3.3" not found, try pulling it first'),  # Ollama
        (422, "Unprocessable."),
        (418, "I'm a teapot"),
    ],
)
async def test_client_errors_the_adapter_does_not_know_are_misconfiguration(
    llm: LLMock, make: Factory, status: int, message: str
) -> None:
    llm.fail(status, message=message)
    with pytest.raises(errors.ModelMisconfigured) as caught:
        await drain(make(), [])

    # The server's own words, for the admin.
    assert f"HTTP {status}" in str(caught.value)
    assert message in str(caught.value)
    assert len(llm.requests) == 1  # not retried: it fails the same way every time


async def test_a_conflict_is_the_providers_failure(llm: LLMock, make: Factory) -> None:
    llm.fail(409, message="Conflict")
    with pytest.raises(errors.ModelUnavailable):
        await drain(make(), [])


async def test_a_slow_first_chunk_waits_for_the_first_token_timeout(
    llm: LLMock, make: Factory
) -> None:
    llm.reply(ANSWER).slow_first_token(1.0)
    chunks: list[Chunk] = []
    await drain(make(timeout=5, stall_timeout=0.3, first_token_timeout=4), chunks)

    assert "".join(texts(chunks)) == ANSWER


async def test_a_stall_after_the_first_token_uses_the_stall_timeout(
    llm: LLMock, make: Factory
) -> None:
    llm.reply(ANSWER).stall(after_chunks=3, seconds=SLOW)
    started = time.monotonic()
    with pytest.raises(errors.ModelTimeout, match="OPENAI_STALL_TIMEOUT"):
        await drain(make(timeout=10, stall_timeout=0.3, first_token_timeout=10), [])

    assert time.monotonic() - started < GIVEN_UP


async def test_reported_usage_teaches_a_calibrating_counter(llm: LLMock) -> None:
    counter = CalibratingCounter(CharTokenCounter())
    model = OpenAIChatModel.create(
        api_key=KEY, model="local", counter=counter, base_url=llm.base_url("openai")
    )
    long = ModelRequest(turns=(Turn(Role.USER, "word " * 2_000),), max_tokens=CAP)
    try:
        for _ in range(20):
            llm.reply(ANSWER)
            await drain(model, [], long)
    finally:
        await model.close()

    # LLMock counts a token per four characters; the heuristic two per five bytes.
    truth = len(long.turns[0].text) // 4
    assert abs(prompt_tokens(counter, long.turns) - truth) / truth < 0.10
    assert abs(prompt_tokens(CharTokenCounter(), long.turns) - truth) / truth > 0.5


async def test_a_request_with_pictures_teaches_the_counter_nothing(llm: LLMock) -> None:
    """The reported prompt includes the pictures' tokens, which the counter never sees."""
    counter = CalibratingCounter(CharTokenCounter())
    model = OpenAIChatModel.create(
        api_key=KEY, model="local", counter=counter, base_url=llm.base_url("openai")
    )
    picture = Image(png_bytes(8, 8), "image/png")
    seeing = ModelRequest(
        turns=(Turn(Role.USER, "word " * 2_000, images=(picture,)),), max_tokens=CAP
    )
    try:
        for _ in range(5):
            llm.reply(ANSWER)
            await drain(model, [], seeing)
    finally:
        await model.close()

    assert counter.observations == 0
    assert counter.ratio == 1.0


async def test_a_chunk_that_is_not_json_is_a_provider_failure(llm: LLMock, make: Factory) -> None:
    llm.reply(ANSWER).corrupt(after_chunks=2)
    with pytest.raises(errors.ModelUnavailable):
        await drain(make(), [])


# -- configuration ----------------------------------------------------------------------------


def test_the_key_stays_out_of_repr() -> None:
    model = OpenAIChatModel.create(api_key=KEY, model=MODEL, counter=CharTokenCounter())

    assert KEY not in repr(model)
    assert MODEL in repr(model)


def test_no_base_url_means_openai_whatever_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    model = OpenAIChatModel.create(api_key=KEY, model=MODEL, counter=CharTokenCounter())

    assert "https://api.openai.com/v1" in repr(model)


@pytest.mark.parametrize(
    "settings",
    [
        {"api_key": ""},
        {"timeout": 0.0},
        {"max_retries": -1},
        {"stall_timeout": 0.0},
    ],
)
def test_nonsense_settings_are_refused(settings: dict[str, object]) -> None:
    values: dict[str, object] = {"api_key": KEY, "model": MODEL, "counter": CharTokenCounter()}
    with pytest.raises(ValueError):  # noqa: PT011 - each case has its own message
        OpenAIChatModel.create(**{**values, **settings})  # type: ignore[arg-type]


async def test_a_server_refusing_stream_options_is_asked_without_them(
    llm: LLMock, make: Factory
) -> None:
    """Older proxies and Azure API versions refuse the usage option: the answer still comes,
    charged an estimate, and later requests do not ask again."""
    llm.fail(400, message="Unrecognized request argument supplied: stream_options")
    model = make()
    chunks: list[Chunk] = []
    await drain(model, chunks)
    assert [r.body.get("stream_options") for r in llm.requests] == [{"include_usage": True}, None]
    assert "".join(texts(chunks))
    assert chunks[-1].usage is not None
    await drain(model, [])
    assert "stream_options" not in llm.last_request.body


async def test_another_bad_request_is_not_retried(llm: LLMock, make: Factory) -> None:
    llm.fail(400, message="Invalid value for 'temperature'")
    with pytest.raises(errors.ModelError, match="temperature"):
        await drain(make(), [])
    assert len(llm.requests) == 1
