"""OpenAIResponsesModel against real local servers: LLMock's ``/v1/responses`` for text, usage
and failures, the tests' own Responses server for what LLMock does not send (URL citations,
web search calls, reasoning summaries, cached tokens) and to read what the adapter sent."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import AsyncIterator, Callable, Iterator

import pytest
from llmock.pytest_plugin import LLMock
from llmock.scenarios import Reply

from adapters.models.openai.responses import OpenAIResponsesModel
from core import errors
from core.ports import ChatModel
from core.tokens import CharTokenCounter, prompt_tokens
from core.values import Chunk, Image, ModelRequest, Role, Source, Turn, Usage
from tests.media import png_bytes
from tests.servers.openai_responses import ResponsesServer

KEY = "sk-test-0123456789abcdef"
MODEL = "gpt-6-luna"
CAP = 321
TURNS = (
    Turn(Role.SYSTEM, "You are a terse assistant."),
    Turn(Role.USER, "What is the capital of France?"),
    Turn(Role.ASSISTANT, "Paris."),
    Turn(Role.USER, "And of Italy?"),
)
REQUEST = ModelRequest(turns=TURNS, max_tokens=CAP, conversation="chat-7:101")
ANSWER = "Rome is the capital."
ANSWER_PIECES = ["Rome ", "is ", "the ", "capital."]

Factory = Callable[..., OpenAIResponsesModel]


@pytest.fixture(scope="module")
def responses_server() -> Iterator[ResponsesServer]:
    with ResponsesServer.running() as server:
        yield server


@pytest.fixture
def own(responses_server: ResponsesServer) -> ResponsesServer:
    return responses_server.reset()


@pytest.fixture
async def make(llm: LLMock) -> AsyncIterator[Factory]:
    """Models pointed at LLMock unless told another ``base_url``; no retries by default."""
    made: list[OpenAIResponsesModel] = []

    def factory(*, base_url: str | None = None, **settings: object) -> OpenAIResponsesModel:
        settings.setdefault("max_retries", 0)
        settings.setdefault("timeout", 5.0)
        model = OpenAIResponsesModel.create(
            api_key=KEY,
            model=MODEL,
            counter=CharTokenCounter(),
            base_url=base_url or llm.base_url("openai"),
            **settings,  # type: ignore[arg-type]
        )
        made.append(model)
        return model

    yield factory
    for model in made:
        await model.close()


async def drain(
    model: OpenAIResponsesModel, into: list[Chunk], request: ModelRequest = REQUEST
) -> None:
    async for chunk in model.stream(request):
        into.append(chunk)


def texts(chunks: list[Chunk]) -> list[str]:
    return [c.text for c in chunks if c.text]


# -- against LLMock ---------------------------------------------------------------------------


async def test_answer_streams_in_several_deltas_then_the_reported_usage(
    llm: LLMock, make: Factory
) -> None:
    llm.reply(ANSWER)
    model: ChatModel = make()  # mypy checks here that the adapter fits the port
    chunks = [chunk async for chunk in model.stream(REQUEST)]

    assert texts(chunks) == ANSWER_PIECES
    assert [c.usage is not None for c in chunks] == [False] * len(ANSWER_PIECES) + [True]
    # LLMock's own count (a token per four characters of each input item), not our estimate.
    assert chunks[-1].usage == Usage(sum(len(t.text) // 4 for t in TURNS), len(ANSWER) // 4)
    assert llm.last_request.path == "/v1/responses"


async def test_request_sends_the_thread_unstored_with_the_cap(llm: LLMock, make: Factory) -> None:
    await drain(make(), [])

    body = llm.last_request.body
    assert body["model"] == MODEL
    assert body["input"] == [
        {"role": "system", "content": "You are a terse assistant."},
        {"role": "user", "content": "What is the capital of France?"},
        {"role": "assistant", "content": "Paris."},
        {"role": "user", "content": "And of Italy?"},
    ]
    assert body["stream"] is True
    assert body["store"] is False
    assert body["max_output_tokens"] == CAP
    assert "tools" not in body  # no search asked for
    assert "reasoning" not in body  # no effort set


async def test_a_cut_answer_is_a_complete_capped_one(llm: LLMock, make: Factory) -> None:
    llm.add(Reply(text=ANSWER, finish_reason="length"))
    chunks: list[Chunk] = []
    await drain(make(), chunks)

    assert "".join(texts(chunks)) == ANSWER
    assert chunks[-1].usage is not None
    assert chunks[-1].cut_off


async def test_a_stream_cut_before_the_response_completed_is_truncated(
    llm: LLMock, make: Factory
) -> None:
    llm.reply(ANSWER).truncate(after_chunks=6)
    chunks: list[Chunk] = []
    with pytest.raises(errors.TruncatedAnswer):
        await drain(make(), chunks)
    assert texts(chunks)
    assert all(c.usage is None for c in chunks)


async def test_a_dropped_connection_is_a_lost_connection(llm: LLMock, make: Factory) -> None:
    llm.reply(ANSWER).disconnect(after_chunks=6)
    with pytest.raises((errors.ConnectionLost, errors.TruncatedAnswer)):
        await drain(make(), [])


async def test_a_stalled_stream_times_out(llm: LLMock, make: Factory) -> None:
    llm.reply(ANSWER).stall(after_chunks=6, seconds=10.0)
    with pytest.raises(errors.ModelTimeout, match="stalled"):
        await drain(make(stall_timeout=0.3), [])


@pytest.mark.parametrize(
    ("status", "code", "expected"),
    [
        (429, None, errors.RateLimited),
        (429, "insufficient_quota", errors.AuthFailed),
        (401, None, errors.AuthFailed),
        (500, None, errors.ModelUnavailable),
        (404, None, errors.ModelMisconfigured),
        (400, "context_length_exceeded", errors.ContextTooLong),
    ],
)
async def test_http_failures_become_the_cores_errors(
    llm: LLMock, make: Factory, status: int, code: str | None, expected: type[Exception]
) -> None:
    llm.fail(status, code=code, retry_after=0.01 if status == 429 else None)
    with pytest.raises(expected):
        await drain(make(), [])


async def test_a_rejected_key_is_not_quoted(llm: LLMock, make: Factory) -> None:
    llm.fail(401, message=f"Incorrect API key provided: {KEY}.")
    with pytest.raises(errors.AuthFailed) as caught:
        await drain(make(), [])
    assert KEY not in str(caught.value)


async def test_a_malformed_event_is_unavailable(llm: LLMock, make: Factory) -> None:
    llm.reply(ANSWER).corrupt(after_chunks=4)
    with pytest.raises(errors.ModelUnavailable):
        await drain(make(), [])


# -- against the tests' own server ------------------------------------------------------------


async def test_cached_and_reasoning_tokens_are_reported(
    own: ResponsesServer, make: Factory
) -> None:
    own.answer(ANSWER, input_tokens=1200, cached=800, output_tokens=90, reasoning_tokens=40)
    chunks: list[Chunk] = []
    await drain(make(base_url=own.base_url), chunks)

    assert chunks[-1].usage == Usage(1200, 90, cached_tokens=800, reasoning_tokens=40)


async def test_the_cache_key_names_the_conversation_not_its_ids(
    own: ResponsesServer, make: Factory
) -> None:
    model = make(base_url=own.base_url)
    await drain(model, [])
    await drain(model, [], ModelRequest(TURNS, CAP, conversation="chat-7:101"))
    await drain(model, [], ModelRequest(TURNS, CAP, conversation="chat-7:202"))
    await drain(model, [], ModelRequest(TURNS, CAP))

    keys = [body.get("prompt_cache_key") for body in own.received]
    assert keys[0] == keys[1] == hashlib.sha256(b"chat-7:101").hexdigest()[:32]
    assert keys[2] not in (keys[0], None)
    assert keys[3] is None  # no conversation: no key
    assert all(body["store"] is False for body in own.received)


async def test_reasoning_summaries_stream_apart_from_the_answer(
    own: ResponsesServer, make: Factory
) -> None:
    own.answer(ANSWER, summary=["Italy's capital.", "It is Rome."], reasoning_tokens=30)
    chunks: list[Chunk] = []
    await drain(make(base_url=own.base_url, reasoning_effort="low"), chunks)

    assert "".join(c.reasoning for c in chunks) == "Italy's capital.\n\nIt is Rome."
    assert "".join(texts(chunks)) == ANSWER
    assert own.received[-1]["reasoning"] == {"effort": "low", "summary": "auto"}


async def test_a_refused_summary_is_asked_no_more(own: ResponsesServer, make: Factory) -> None:
    own.fail(400, message="Your organization must be verified.", param="reasoning.summary")
    model = make(base_url=own.base_url, reasoning_effort="high")
    chunks: list[Chunk] = []
    await drain(model, chunks)
    await drain(model, [])

    assert "".join(texts(chunks)) == "Hello from the responses server."
    assert [body["reasoning"] for body in own.received] == [
        {"effort": "high", "summary": "auto"},
        {"effort": "high"},
        {"effort": "high"},
    ]


async def test_web_search_sends_the_tool_and_returns_sources_and_searches(
    own: ResponsesServer, make: Factory
) -> None:
    pages = [("https://example.org/rome", "Rome"), ("https://example.org/italy", "Italy")]
    chunks: list[Chunk] = []
    model = make(base_url=own.base_url, web_search=True)
    await drain(model, [])  # not asked for: no tool
    own.answer(ANSWER, citations=[*pages, pages[0]], searches=2)
    await drain(model, chunks, ModelRequest(TURNS, CAP, searches=2))

    first, second = own.received
    assert "tools" not in first
    assert second["tools"] == [{"type": "web_search"}]
    assert second["max_tool_calls"] == 2
    last = chunks[-1]
    assert last.sources == (Source(*pages[0]), Source(*pages[1]))  # each page once
    assert last.usage is not None
    assert last.usage.searches == 2


async def test_a_model_without_the_tool_never_sends_it(own: ResponsesServer, make: Factory) -> None:
    await drain(make(base_url=own.base_url), [], ModelRequest(TURNS, CAP, searches=2))
    assert "tools" not in own.received[-1]


async def test_pictures_go_as_input_images(own: ResponsesServer, make: Factory) -> None:
    red = png_bytes(2, 2, (255, 0, 0))
    seeing = Turn(Role.USER, "What colour?", images=(Image(red, "image/png"),))
    await drain(make(base_url=own.base_url), [], ModelRequest((TURNS[0], seeing), CAP))

    text, picture = own.received[-1]["input"][1]["content"]
    assert text == {"type": "input_text", "text": "What colour?"}
    assert picture["type"] == "input_image"
    assert picture["image_url"] == "data:image/png;base64," + base64.b64encode(red).decode()


@pytest.mark.parametrize(
    ("code", "message", "expected"),
    [
        ("context_length_exceeded", "too long", errors.ContextTooLong),
        ("rate_limit_exceeded", "slow down", errors.RateLimited),
        ("server_error", "oops", errors.ModelUnavailable),
        (None, "The model `gpt-9` does not exist", errors.ModelMisconfigured),
    ],
)
async def test_an_error_event_becomes_the_cores_error(
    own: ResponsesServer,
    make: Factory,
    code: str | None,
    message: str,
    expected: type[Exception],
) -> None:
    own.error_event(message, code=code)
    with pytest.raises(expected):
        await drain(make(base_url=own.base_url), [])


async def test_a_failed_response_becomes_the_cores_error(
    own: ResponsesServer, make: Factory
) -> None:
    own.answer("", status="failed", error={"code": "server_error", "message": "it broke"})
    with pytest.raises(errors.ModelUnavailable, match="it broke"):
        await drain(make(base_url=own.base_url), [])


async def test_a_response_without_usage_is_charged_an_estimate(
    own: ResponsesServer, make: Factory
) -> None:
    own.answer(ANSWER, report_usage=False)
    chunks: list[Chunk] = []
    await drain(make(base_url=own.base_url), chunks)

    counter = CharTokenCounter()
    assert chunks[-1].usage == Usage(
        prompt_tokens(counter, TURNS), counter.count(ANSWER), estimated=True
    )
