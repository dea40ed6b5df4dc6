"""A Responses API server for the tests: the parts LLMock does not serve.

LLMock's ``/v1/responses`` streams text and usage; it sends no URL citations, no web search
calls, no reasoning summaries, no cached tokens, and does not keep what it cannot answer. This
server streams ``POST /v1/responses`` as OpenAI does (server-sent events whose ``type`` names
them, the finished response in ``response.completed``), on real HTTP on 127.0.0.1 from a thread
of the test process, and keeps every request body in ``received``.

The next answers are scripted (``answer``, ``fail``, ``error_event``), one per request, then a
plain default answer.
"""

from __future__ import annotations

import json
import sys
import threading
from collections import deque
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import attrs

PATH = "/v1/responses"
DEFAULT_TEXT = "Hello from the responses server."


@attrs.frozen
class Answer:
    text: str
    input_tokens: int = 10
    output_tokens: int = 5
    cached: int = 0
    reasoning_tokens: int = 0
    summary: Sequence[str] = ()  # paragraphs of a reasoning summary
    citations: Sequence[tuple[str, str]] = ()  # (url, title) cited by the text
    searches: int = 0  # web_search_call items before the message
    status: str = "completed"  # or "incomplete" (max_output_tokens) or "failed"
    error: Mapping[str, Any] | None = None  # the failed response's error object
    report_usage: bool = True  # False: no usage, as some servers send


@attrs.frozen
class Fail:
    status: int
    body: Mapping[str, Any]


@attrs.frozen
class ErrorEvent:
    code: str | None
    message: str


Step = Answer | Fail | ErrorEvent


class ResponsesServer:
    """The server; use ``with ResponsesServer.running() as server``."""

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        self._script: deque[Step] = deque()
        self._lock = threading.Lock()
        self._http = _Quiet(("127.0.0.1", 0), _handler(self))

    @classmethod
    @contextmanager
    def running(cls) -> Iterator[ResponsesServer]:
        server = cls()
        thread = threading.Thread(target=server._http.serve_forever, daemon=True)
        thread.start()
        try:
            yield server
        finally:
            server._http.shutdown()
            server._http.server_close()
            thread.join()

    @property
    def base_url(self) -> str:
        host, port = self._http.server_address[:2]
        return f"http://{host!s}:{port}/v1"

    def reset(self) -> ResponsesServer:
        with self._lock:
            self._script.clear()
            self.received.clear()
        return self

    def answer(self, text: str, **details: Any) -> ResponsesServer:
        """The next answer: ``text``, with what ``Answer`` may say besides."""
        return self._add(Answer(text, **details))

    def fail(
        self, status: int, *, message: str = "scripted failure", param: str | None = None
    ) -> ResponsesServer:
        """The next request gets HTTP ``status`` with an OpenAI error object."""
        error = {"message": message, "type": "invalid_request_error", "param": param, "code": None}
        return self._add(Fail(status, {"error": error}))

    def error_event(self, message: str, *, code: str | None = None) -> ResponsesServer:
        """The next stream starts, then sends an ``error`` event."""
        return self._add(ErrorEvent(code, message))

    def _add(self, step: Step) -> ResponsesServer:
        with self._lock:
            self._script.append(step)
        return self

    def _serve(self, request: BaseHTTPRequestHandler) -> None:
        length = int(request.headers.get("Content-Length") or 0)
        body = json.loads(request.rfile.read(length) or b"{}")
        with self._lock:
            self.received.append(body)
            step = self._script.popleft() if self._script else Answer(DEFAULT_TEXT)
        if request.path.split("?", 1)[0] != PATH:
            step = Fail(404, {"error": {"message": f"no route {request.path}"}})
        if isinstance(step, Fail):
            payload = json.dumps(step.body).encode()
            request.send_response(step.status)
            request.send_header("Content-Type", "application/json")
            request.send_header("Content-Length", str(len(payload)))
            request.end_headers()
            request.wfile.write(payload)
            return
        request.send_response(200)
        request.send_header("Content-Type", "text/event-stream")
        request.send_header("Connection", "close")
        request.end_headers()
        for event in _events(str(body.get("model", "")), step):
            request.wfile.write(f"event: {event['type']}\ndata: {json.dumps(event)}\n\n".encode())
            request.wfile.flush()
        request.close_connection = True


def _events(model: str, step: Answer | ErrorEvent) -> Iterator[dict[str, Any]]:
    sequence = iter(range(10_000))

    def event(kind: str, **fields: Any) -> dict[str, Any]:
        return {"type": kind, "sequence_number": next(sequence), **fields}

    yield event("response.created", response=_response(model, "in_progress", []))
    if isinstance(step, ErrorEvent):
        yield event("error", code=step.code, message=step.message, param=None)
        return
    output: list[dict[str, Any]] = []
    if step.summary:
        item: dict[str, Any] = {"type": "reasoning", "id": "rs_1", "summary": []}
        yield event("response.output_item.added", output_index=0, item=item)
        for index, paragraph in enumerate(step.summary):
            part = {"type": "summary_text", "text": ""}
            where = {"item_id": "rs_1", "output_index": 0, "summary_index": index}
            yield event("response.reasoning_summary_part.added", part=part, **where)
            yield event("response.reasoning_summary_text.delta", delta=paragraph, **where)
            yield event("response.reasoning_summary_text.done", text=paragraph, **where)
        item = {**item, "summary": [{"type": "summary_text", "text": p} for p in step.summary]}
        output.append(item)
    for number in range(step.searches):
        call = {
            "type": "web_search_call",
            "id": f"ws_{number}",
            "status": "completed",
            "action": {"type": "search", "query": "scripted"},
        }
        yield event("response.output_item.done", output_index=len(output), item=call)
        output.append(call)
    annotations = [
        {"type": "url_citation", "url": url, "title": title, "start_index": 0, "end_index": 1}
        for url, title in step.citations
    ]
    index = len(output)
    where = {"item_id": "msg_1", "output_index": index, "content_index": 0}
    words = step.text.split(" ")
    for number, word in enumerate(words):
        piece = word + (" " if number < len(words) - 1 else "")
        yield event("response.output_text.delta", delta=piece, logprobs=[], **where)
    for number, note in enumerate(annotations):
        yield event("response.output_text.annotation.added", annotation_index=number,
                    annotation=note, **where)  # fmt: skip
    text = {"type": "output_text", "text": step.text, "annotations": annotations, "logprobs": []}
    output.append(
        {
            "type": "message",
            "id": "msg_1",
            "status": "completed",
            "role": "assistant",
            "content": [text],
        }
    )
    final = _response(model, step.status, output)
    final["usage"] = (
        None
        if not step.report_usage
        else {
            "input_tokens": step.input_tokens,
            "input_tokens_details": {"cached_tokens": step.cached},
            "output_tokens": step.output_tokens,
            "output_tokens_details": {"reasoning_tokens": step.reasoning_tokens},
            "total_tokens": step.input_tokens + step.output_tokens,
        }
    )
    if step.status == "incomplete":
        final["incomplete_details"] = {"reason": "max_output_tokens"}
    if step.status == "failed":
        final["error"] = step.error or {"code": "server_error", "message": "scripted failure"}
    yield event(f"response.{step.status}", response=final)


def _response(model: str, status: str, output: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "id": "resp_1",
        "object": "response",
        "created_at": 1_700_000_000,
        "status": status,
        "model": model,
        "output": output,
        "parallel_tool_calls": True,
        "tool_choice": "auto",
        "tools": [],
        "error": None,
        "incomplete_details": None,
        "usage": None,
    }


class _Quiet(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)  # a client that gave up is no news


def _handler(server: ResponsesServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            server._serve(self)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # quiet: pytest shows what the tests assert

    return Handler
