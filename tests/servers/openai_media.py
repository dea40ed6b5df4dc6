"""An OpenAI-compatible server for audio transcription and image generation, for the tests.

LLMock has no audio route, and its pictures are SVG links: this server speaks the two routes
the media adapters use, on real HTTP on 127.0.0.1 from a thread of the test process, and
parses uploads with python-multipart (the parser Starlette uses), so the SDK's whole request
path runs: multipart encoding, retries, timeouts.

- ``POST /v1/audio/transcriptions`` (multipart/form-data: ``file``, ``model``, ``language``,
  ``response_format``...) answers ``{"text": ...}`` (``json``, the default; with
  ``usage.seconds`` when the duration is known), ``verbose_json`` (``duration`` too) or plain
  ``text``. The duration is the scripted one, else the real length of an OGG/Opus upload.
- ``POST /v1/images/generations`` (JSON) answers one picture as ``b64_json``: a real PNG unless
  the script says otherwise.
- ``POST /v1/audio/speech`` (JSON: ``model``, ``voice``, ``input``, ``response_format``)
  answers the scripted audio bytes (``audio``), or a 500 when none was scripted.

Behaviour for the next requests is scripted (``say``, ``picture``, ``link``, ``audio``,
``fail``, ``slow``), one step per request in order, then the defaults; everything received is
kept in ``received``.
"""

from __future__ import annotations

import base64
import io
import json
import sys
import threading
from collections import deque
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import attrs
from python_multipart import parse_form
from python_multipart.multipart import Field, File

from tests.media import ogg_opus_seconds, png_bytes

TRANSCRIPTIONS = "/v1/audio/transcriptions"
IMAGES = "/v1/images/generations"
SPEECH = "/v1/audio/speech"
DEFAULT_TEXT = "Hello from the transcription server."
DEFAULT_PICTURE = png_bytes(4, 3)


@attrs.frozen
class Upload:
    """A file part of a multipart request."""

    name: str | None  # the file name the client gave
    mime: str | None
    data: bytes = attrs.field(repr=lambda data: f"<{len(data)} bytes>")


@attrs.frozen
class Received:
    """One request as the server parsed it."""

    path: str
    headers: Mapping[str, str]
    fields: Mapping[str, Any]  # form fields (multipart) or the JSON body's members
    files: Mapping[str, Upload] = attrs.field(factory=dict)

    @property
    def model(self) -> Any:
        return self.fields.get("model")


@attrs.frozen
class Say:
    text: str
    seconds: float | None = None
    whisper: bool = False  # the length as a whisper server's "duration", not OpenAI's usage


@attrs.frozen
class Picture:
    b64: str | None = None
    url: str | None = None


@attrs.frozen
class Audio:
    data: bytes = attrs.field(repr=lambda data: f"<{len(data)} bytes>")
    content_type: str = "audio/ogg"


@attrs.frozen
class Fail:
    status: int
    body: Mapping[str, Any]
    retry_after: float | None = None


@attrs.frozen
class Slow:
    seconds: float


Step = Say | Picture | Audio | Fail | Slow


class MediaServer:
    """The server; use ``with MediaServer.running() as server``."""

    def __init__(self) -> None:
        self.received: list[Received] = []
        self._script: deque[Step] = deque()
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._http = _Quiet(("127.0.0.1", 0), _handler(self))

    @classmethod
    @contextmanager
    def running(cls) -> Iterator[MediaServer]:
        server = cls()
        thread = threading.Thread(target=server._http.serve_forever, daemon=True)
        thread.start()
        try:
            yield server
        finally:
            server._stopping.set()  # wakes the handlers that are being slow on purpose
            server._http.shutdown()
            server._http.server_close()
            thread.join()

    @property
    def base_url(self) -> str:
        host, port = self._http.server_address[:2]
        return f"http://{host!s}:{port}/v1"

    # -- the script ----------------------------------------------------------------------------

    def reset(self) -> MediaServer:
        with self._lock:
            self._script.clear()
            self.received.clear()
        return self

    def say(self, text: str, *, seconds: float | None = None, whisper: bool = False) -> MediaServer:
        """The next transcription is ``text``, lasting ``seconds`` (None: measured), reported
        as OpenAI's duration usage or, with ``whisper``, as a whisper server's ``duration``."""
        return self._add(Say(text, seconds, whisper))

    def picture(self, data: bytes) -> MediaServer:
        """The next picture is ``data``, base64-encoded."""
        return self._add(Picture(b64=base64.b64encode(data).decode("ascii")))

    def link(self, url: str) -> MediaServer:
        """The next picture comes as a link only, as the retired DALL·E models could answer."""
        return self._add(Picture(url=url))

    def audio(self, data: bytes, content_type: str = "audio/ogg") -> MediaServer:
        """The next speech is ``data``, sent as ``content_type``."""
        return self._add(Audio(data, content_type))

    def fail(
        self,
        status: int,
        *,
        message: str = "scripted failure",
        code: str | None = None,
        type: str = "invalid_request_error",  # OpenAI's own field name
        retry_after: float | None = None,
    ) -> MediaServer:
        """The next request gets HTTP ``status`` with an OpenAI error object."""
        error = {"message": message, "type": type, "param": None, "code": code}
        return self._add(Fail(status, {"error": error}, retry_after))

    def slow(self, seconds: float) -> MediaServer:
        """The next request waits ``seconds``, then gets the default answer. (It takes no later
        step: a client that gave up long ago must not eat the script of a later test.)"""
        return self._add(Slow(seconds))

    def _add(self, step: Step) -> MediaServer:
        with self._lock:
            self._script.append(step)
        return self

    def _next(self) -> Step | None:
        with self._lock:
            return self._script.popleft() if self._script else None

    # -- serving -------------------------------------------------------------------------------

    def _serve(self, request: BaseHTTPRequestHandler) -> None:
        length = int(request.headers.get("Content-Length") or 0)
        body = request.rfile.read(length)
        headers = {key.lower(): value for key, value in request.headers.items()}
        path = request.path.split("?", 1)[0]
        try:
            received = _parse(path, headers, body)
        except ValueError as exc:
            _json(request, 400, {"error": {"message": str(exc), "type": "invalid_request_error"}})
            return
        with self._lock:
            self.received.append(received)
        step = self._next()
        if isinstance(step, Slow):
            if self._stopping.wait(step.seconds):
                return
            step = None
        if isinstance(step, Fail):
            extra = {} if step.retry_after is None else {"Retry-After": f"{step.retry_after:g}"}
            _json(request, step.status, step.body, extra)
        elif path == TRANSCRIPTIONS:
            _transcript(request, received, step if isinstance(step, Say) else Say(DEFAULT_TEXT))
        elif path == IMAGES:
            if not isinstance(step, Picture):
                step = Picture(b64=base64.b64encode(DEFAULT_PICTURE).decode("ascii"))
            item = {"b64_json": step.b64} if step.b64 is not None else {"url": step.url}
            _json(request, 200, {"created": 1_700_000_000, "data": [item]})
        elif path == SPEECH:
            if not isinstance(step, Audio):
                _json(request, 500, {"error": {"message": "no audio scripted", "type": "server"}})
                return
            _send(request, 200, step.data, step.content_type)
        else:
            _json(request, 404, {"error": {"message": f"no route {path}", "type": "not_found"}})


class _Quiet(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)  # a client that gave up is no news


def _handler(server: MediaServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as the SDK's connection pool expects

        def do_POST(self) -> None:
            server._serve(self)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # quiet: pytest shows what the tests assert

    return Handler


def _parse(path: str, headers: Mapping[str, str], body: bytes) -> Received:
    content_type = headers.get("content-type", "")
    if content_type.startswith("application/json"):
        fields = json.loads(body)
        if not isinstance(fields, dict):
            raise ValueError("the JSON body is not an object")
        return Received(path, headers, fields)
    if not content_type.startswith("multipart/form-data"):
        raise ValueError(f"expected multipart/form-data or JSON, got {content_type!r}")
    form: dict[str, str] = {}
    files: dict[str, Upload] = {}

    def on_field(field: Field) -> None:
        form[_text(field.field_name)] = _text(field.value)

    def on_file(file: File) -> None:
        file.file_object.seek(0)
        name = None if file.file_name is None else _text(file.file_name)
        files[_text(file.field_name)] = Upload(name, file.content_type, file.file_object.read())

    parse_form(
        {"Content-Type": content_type.encode(), "Content-Length": str(len(body)).encode()},
        io.BytesIO(body),
        on_field,
        on_file,
    )
    return Received(path, headers, form, files)


def _transcript(request: BaseHTTPRequestHandler, received: Received, say: Say) -> None:
    upload = received.files.get("file")
    if upload is None or "model" not in received.fields:
        _json(request, 400, {"error": {"message": "file and model are required"}})
        return
    seconds = say.seconds if say.seconds is not None else _measure(upload.data)
    style = received.fields.get("response_format", "json")
    if style == "text":
        _send(request, 200, say.text.encode(), "text/plain; charset=utf-8")
        return
    answer: dict[str, Any] = {"text": say.text}
    if style == "verbose_json":
        answer |= {"task": "transcribe", "language": received.fields.get("language", "english")}
        answer |= {"duration": seconds, "segments": []}
    elif say.whisper:
        answer["duration"] = seconds
    elif seconds is not None:
        answer["usage"] = {"type": "duration", "seconds": seconds}
    _json(request, 200, answer)


def _measure(audio: bytes) -> float | None:
    try:
        return ogg_opus_seconds(audio)
    except ValueError:
        return None  # not OGG/Opus: the server says no duration


def _text(value: bytes | None) -> str:
    return "" if value is None else value.decode("utf-8")


def _json(
    request: BaseHTTPRequestHandler,
    status: int,
    body: Mapping[str, Any],
    headers: Mapping[str, str] | None = None,
) -> None:
    _send(request, status, json.dumps(body).encode(), "application/json", headers)


def _send(
    request: BaseHTTPRequestHandler,
    status: int,
    payload: bytes,
    content_type: str,
    headers: Mapping[str, str] | None = None,
) -> None:
    request.send_response(status)
    request.send_header("Content-Type", content_type)
    request.send_header("Content-Length", str(len(payload)))
    for key, value in (headers or {}).items():
        request.send_header(key, value)
    request.end_headers()
    request.wfile.write(payload)
