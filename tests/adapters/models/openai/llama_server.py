"""A small OpenAI-compatible server on 127.0.0.1 that answers the way llama.cpp's does.

What matters here, as observed with llama.cpp's server: a prompt over its window gets HTTP 200
and a stream with no data event (only an ``error:`` line, which is no SSE field a client reads);
a streamed answer carries no ``usage``, its last chunk may carry ``timings``; the response
headers go out at once, and the first token comes only after the whole prompt was read.
It says what its window is as llama.cpp does (``GET /props``), or as vLLM does
(``max_model_len`` in ``GET /v1/models``), or not at all (``reports``).
"""

from __future__ import annotations

import asyncio
import json
import math
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import attrs

ERROR = {
    "code": 400,
    "message": "the request exceeds the available context size, try increasing it",
    "type": "exceed_context_size_error",
}


def server_tokens(text: str) -> int:
    """The server's own tokenizer: one token per three UTF-8 bytes."""
    return math.ceil(len(text.encode()) / 3)


@attrs.define
class LlamaServer:
    """Settings may be changed between requests; ``requests`` holds each request's body."""

    n_ctx: int = 4_096
    answer: str = "Hello there, how can I help?"
    first_token_delay: float = 0.0
    timings: bool = False
    cache_n: bool = True
    # Newer builds refuse a prompt whose tokens and reply cap together exceed the window
    # ("Requested tokens (4503) exceed context window of 4096").
    count_cap: bool = False
    # An error event in the stream instead of an answer, as proxies send after a 200.
    error_event: dict[str, Any] | None = None
    # How it tells its window: "llama.cpp" (/props, and /v1/models without it), "vllm"
    # (/v1/models with max_model_len, no /props), "nothing" (404 for both).
    reports: str = "llama.cpp"
    # Kill the connection after this many words of the answer (the server dies mid-answer).
    die_after: int | None = None
    # A usage chunk after the finish reason, as vLLM and OpenAI send it (llama.cpp does not).
    usage: dict[str, Any] | None = None
    requests: list[dict[str, Any]] = attrs.field(factory=list)
    asked: list[str] = attrs.field(factory=list)  # the paths of GET requests
    port: int = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def prompt_tokens(self, body: dict[str, Any]) -> int:
        # A chat template adds a few tokens a message.
        return sum(server_tokens(m["content"]) + 4 for m in body["messages"]) + 2

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            method, path, _ = head.decode().split(" ", 2)
            if method == "GET":
                self.asked.append(path)
                await self.describe(path, writer)
                return
            headers = dict(
                line.split(": ", 1) for line in head.decode().split("\r\n")[1:] if ": " in line
            )
            length = int({k.lower(): v for k, v in headers.items()}.get("content-length", "0"))
            body = json.loads(await reader.readexactly(length))
            self.requests.append(body)
            await self.respond(body, writer)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    async def describe(self, path: str, writer: asyncio.StreamWriter) -> None:
        """What llama.cpp or vLLM say of themselves."""
        model: dict[str, Any] = {"id": "local.gguf", "object": "model", "owned_by": "llamacpp"}
        found: dict[str, Any] | None = None
        if path == "/props" and self.reports == "llama.cpp":
            found = {"default_generation_settings": {"n_ctx": self.n_ctx}, "total_slots": 1}
        elif path == "/v1/models" and self.reports == "llama.cpp":
            # llama.cpp lists the window the model was trained for, not the one it runs with.
            found = {"object": "list", "data": [{**model, "meta": {"n_ctx_train": 131_072}}]}
        elif path == "/v1/models" and self.reports == "vllm":
            found = {"object": "list", "data": [{**model, "max_model_len": self.n_ctx}]}
        body = json.dumps(found if found is not None else {"error": "not found"}).encode()
        status = b"200 OK" if found is not None else b"404 Not Found"
        writer.write(
            b"HTTP/1.1 " + status + b"\r\nContent-Type: application/json\r\n"
            b"Content-Length: " + str(len(body)).encode() + b"\r\nConnection: close\r\n\r\n" + body
        )
        await writer.drain()

    async def respond(self, body: dict[str, Any], writer: asyncio.StreamWriter) -> None:
        writer.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
            b"Cache-Control: no-cache\r\nConnection: close\r\n\r\n"
        )
        await writer.drain()
        prompt = self.prompt_tokens(body)
        requested = prompt + (body.get("max_tokens", 0) if self.count_cap else 0)
        if requested >= self.n_ctx:
            writer.write(f"error: {json.dumps(ERROR)}\n\n".encode())
            await writer.drain()
            return
        await asyncio.sleep(self.first_token_delay)
        if self.error_event is not None:
            writer.write(f"data: {json.dumps({'error': self.error_event})}\n\n".encode())
            await writer.drain()
            return
        words = self.answer.split(" ")
        for n, word in enumerate(words):
            if n == self.die_after:
                writer.transport.abort()  # killed: no finish reason, no end of the stream
                return
            delta: dict[str, Any] = {"content": word if n == 0 else " " + word}
            if n == 0:
                delta["role"] = "assistant"
            await self.event(writer, {"choices": [{"index": 0, "delta": delta}]})
        last: dict[str, Any] = {"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}
        if self.timings:
            timings = {"prompt_n": prompt, "predicted_n": server_tokens(self.answer)}
            if self.cache_n:
                timings = {**timings, "prompt_n": prompt - 10, "cache_n": 10}
            last["timings"] = {**timings, "prompt_ms": 12.5}
        await self.event(writer, last)
        if self.usage is not None:
            await self.event(writer, {"choices": [], "usage": self.usage})
        writer.write(b"data: [DONE]\n\n")
        await writer.drain()

    async def event(self, writer: asyncio.StreamWriter, data: dict[str, Any]) -> None:
        chunk = {
            "id": "chatcmpl-local",
            "object": "chat.completion.chunk",
            "created": 1_764_000_000,
            "model": "local",
            **data,
        }
        writer.write(f"data: {json.dumps(chunk)}\n\n".encode())
        await writer.drain()


@asynccontextmanager
async def llama_server(**settings: Any) -> AsyncIterator[LlamaServer]:
    server = LlamaServer(**settings)
    listener = await asyncio.start_server(server.handle, "127.0.0.1", 0)
    server.port = listener.sockets[0].getsockname()[1]
    try:
        yield server
    finally:
        listener.close()
        await listener.wait_closed()
