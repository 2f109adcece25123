"""A fake OpenAI-compatible model API: a real HTTP server on 127.0.0.1 that answers each POST with
the next scripted `Step`, streaming Chat Completions chunks (or Responses events) exactly as the
real APIs frame them, and records every request it got.

    with FakeModelServer() as fake:
        fake.script(Step.text(["Hel", "lo"]), Step.rate_limited(retry_after_ms=250))
        client = AsyncOpenAI(base_url=fake.base_url, api_key="k")
        ...
        assert fake.requests[0].model == "m" and fake.requests[0].include_usage

Streams use HTTP/1.1 chunked encoding with keep-alive, as the real servers do, so a stream can end
cleanly without a finish reason (`Step.cut`) or be broken off mid-body (`abrupt=True`). While a
step waits (a delay, a gate) the server watches its socket, so a client that goes away is seen at
once: `request.disconnected` and `fake.disconnected` are set.

`FakeModelServer(timestamps=True)` also records when each request arrived and when each piece of
a stream left (`received_at`, `sent_at`, `ended_at`), in `time.monotonic()` seconds: Linux's
CLOCK_MONOTONIC, the same clock in every process of the machine, so a client in another process
can subtract its own `time.monotonic()` readings from them (the benchmark does).
"""

from __future__ import annotations

import json
import math
import select
import socket
import sys
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

CREATED = 1_700_000_000
# What the fake puts where a 401 echoes the key it got, as OpenAI does (masked there).
KEY_PLACEHOLDER = "{key}"


@dataclass(frozen=True)
class FakeToolCall:
    """A tool call the fake model makes; its arguments go out split into `pieces` chunks."""

    call_id: str
    name: str
    arguments: str
    pieces: int = 2


@dataclass(frozen=True)
class Step:
    """One scripted answer. Build it with the class methods; `dataclasses.replace` tunes the rest."""

    kind: str = "text"  # text | refusal | error | stream_error
    pieces: tuple[str, ...] = ()
    calls: tuple[FakeToolCall, ...] = ()
    # Seconds before the first piece (the model's time to first token) and before each later one.
    first_delay: float = 0.0
    delay: float = 0.0
    # When set, the stream stops after `gate_after` pieces until the test sets the event.
    gate: threading.Event | None = None
    gate_after: int = 1
    finish_reason: str | None = "stop"
    send_done: bool = True
    # Close the connection mid-body (no terminating chunk) instead of ending the body cleanly.
    abrupt: bool = False
    # (prompt_tokens, completion_tokens); None → 10 and one per piece or tool call.
    usage: tuple[int, int] | None = None
    # False: no usage chunk even when asked (servers that ignore stream_options).
    send_usage: bool = True
    status: int = 200
    error: dict[str, Any] | None = None
    headers: tuple[tuple[str, str], ...] = ()

    # -- successful streams --------------------------------------------------------------------

    @classmethod
    def text(
        cls,
        pieces: Sequence[str],
        *,
        delay: float = 0.0,
        first_delay: float = 0.0,
        gate: threading.Event | None = None,
        gate_after: int = 1,
        usage: tuple[int, int] | None = None,
    ) -> Step:
        """The assistant's text, streamed piece by piece, then finish_reason `stop`."""
        return cls(
            pieces=tuple(pieces),
            delay=delay,
            first_delay=first_delay,
            gate=gate,
            gate_after=gate_after,
            usage=usage,
        )

    @classmethod
    def tool_calls(
        cls,
        *calls: FakeToolCall,
        text: Sequence[str] = (),
        usage: tuple[int, int] | None = None,
    ) -> Step:
        """Optional text, then one or more (parallel) tool calls, then finish_reason `tool_calls`."""
        return cls(pieces=tuple(text), calls=calls, finish_reason="tool_calls", usage=usage)

    @classmethod
    def refusal(cls, pieces: Sequence[str]) -> Step:
        """The model refuses: the pieces come as `delta.refusal`, not `delta.content`."""
        return cls(kind="refusal", pieces=tuple(pieces))

    @classmethod
    def slow(cls, pieces: int = 200, delay: float = 0.05, piece: str = "tick ") -> Step:
        """A long, slow reply: a cancelled client is seen leaving (`request.disconnected`)."""
        return cls(pieces=(piece,) * pieces, delay=delay)

    # -- broken streams ------------------------------------------------------------------------

    @classmethod
    def cut(cls, pieces: Sequence[str], *, abrupt: bool = False) -> Step:
        """Some text, then the body ends with no finish reason and no `[DONE]`: cleanly by
        default (the client sees a normal end), or mid-body with `abrupt=True`."""
        return cls(pieces=tuple(pieces), finish_reason=None, send_done=False, abrupt=abrupt)

    @classmethod
    def error_in_stream(
        cls, pieces: Sequence[str] = (), message: str = "The server had an error while streaming."
    ) -> Step:
        """A 200 stream that sends some text, then `data: {"error": {...}}` and ends."""
        return cls(
            kind="stream_error",
            pieces=tuple(pieces),
            error={"message": message, "type": "server_error", "code": None},
        )

    # -- error answers (JSON bodies, as OpenAI, vLLM and llama.cpp send them) -------------------

    @classmethod
    def error_response(
        cls,
        status: int,
        message: str,
        *,
        type: str = "invalid_request_error",
        code: str | int | None = None,
        headers: Iterable[tuple[str, str]] = (),
    ) -> Step:
        """Any error status with an OpenAI-style `{"error": {...}}` body."""
        return cls(
            kind="error",
            status=status,
            error={"message": message, "type": type, "param": None, "code": code},
            headers=tuple(headers),
        )

    @classmethod
    def rate_limited(
        cls, *, retry_after_ms: int | None = None, retry_after: str | None = None
    ) -> Step:
        """429 with `retry-after-ms` and/or `retry-after`, as OpenAI sends them."""
        headers = []
        if retry_after_ms is not None:
            headers.append(("retry-after-ms", str(retry_after_ms)))
        if retry_after is not None:
            headers.append(("retry-after", retry_after))
        return cls.error_response(
            429,
            "Rate limit reached for requests. Please try again later.",
            type="requests",
            code="rate_limit_exceeded",
            headers=headers,
        )

    @classmethod
    def server_error(cls, status: int = 500) -> Step:
        return cls.error_response(
            status, "The server had an error while processing your request.", type="server_error"
        )

    @classmethod
    def unknown_model(cls, model: str = "no-such-model") -> Step:
        """404 as OpenAI answers a model it does not know."""
        return cls.error_response(
            404,
            f"The model `{model}` does not exist or you do not have access to it.",
            code="model_not_found",
        )

    @classmethod
    def unauthorized(cls, status: int = 401) -> Step:
        """401 (or 403) that echoes the received key in its message, which must never leak."""
        return cls.error_response(
            status,
            f"Incorrect API key provided: {KEY_PLACEHOLDER}. You can find your API key at ...",
            code="invalid_api_key",
        )

    @classmethod
    def context_too_long(cls, flavor: str = "openai") -> Step:
        """400 for a history longer than the model's context, as `openai`, `llamacpp` or `vllm`
        word it."""
        if flavor == "openai":
            return cls.error_response(
                400,
                "This model's maximum context length is 128000 tokens. However, your messages "
                "resulted in 130000 tokens. Please reduce the length of the messages.",
                code="context_length_exceeded",
            )
        if flavor == "llamacpp":
            return cls.error_response(
                400,
                "the request exceeds the available context size, try increasing it",
                type="exceed_context_size_error",
            )
        if flavor == "vllm":
            return cls.error_response(
                400,
                "This model's maximum context length is 4096 tokens. However, you requested "
                "5000 tokens (4000 in the messages, 1000 in the completion).",
                type="BadRequestError",
                code=400,
            )
        raise ValueError(f"unknown flavor {flavor!r}")


# How each server kind refuses a request longer than the model's context (`context_limit`).
CONTEXT_FORMS = ("openai", "vllm", "llamacpp", "llamacpp-old")


def count_tokens(body: Any) -> int:
    """The fake's tokenizer: words (whitespace-separated) of every message's text and tool
    call, plus 3 per message, plus the words of the tools' JSON. Deterministic, and unlike the
    service's own estimate, so its conversion from estimate to tokens is exercised."""
    if not isinstance(body, dict):
        return 0
    total = 0
    for message in body.get("messages") or body.get("input") or []:
        if not isinstance(message, dict):
            continue
        total += 3 + len(_text_of(message.get("content")).split())
        for call in message.get("tool_calls") or []:
            function = call.get("function") or {}
            total += len(str(function.get("name", "")).split())
            total += len(str(function.get("arguments", "")).split())
    if body.get("tools"):
        total += len(json.dumps(body["tools"]).split())
    return total


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return ""


def context_refusal(form: str, limit: int, body: Any) -> Step | None:
    """The answer of a server of kind `form` with a `limit`-token context to `body`; None when
    the request fits (the prompt and, where the server counts it, `max_tokens`)."""
    prompt = count_tokens(body)
    completion = body.get("max_tokens") if isinstance(body, dict) else None
    completion = completion if isinstance(completion, int) else None
    if form == "openai":
        if prompt + (completion or 0) <= limit:
            return None
        if completion is None:
            said = f"your messages resulted in {prompt} tokens"
        else:
            said = (
                f"you requested {prompt + completion} tokens ({prompt} in the messages, "
                f"{completion} in the completion)"
            )
        return Step.error_response(
            400,
            f"This model's maximum context length is {limit} tokens. However, {said}. "
            "Please reduce the length of the messages.",
            code="context_length_exceeded",
        )
    if form == "vllm":
        # Without max_tokens vLLM fills the rest of the context: only the prompt must fit.
        if prompt + (completion or 1) <= limit:
            return None
        if completion is None:
            said = f"your request has {prompt} input tokens"
        else:
            said = (
                f"you requested {prompt + completion} tokens ({prompt} in the messages, "
                f"{completion} in the completion)"
            )
        return Step.error_response(
            400,
            f"This model's maximum context length is {limit} tokens. However, {said}. "
            "Please reduce the length of the messages or completion.",
            type="BadRequestError",
            code=400,
        )
    if form in ("llamacpp", "llamacpp-old"):
        # llama.cpp checks the prompt only; the reply stops when the context is full.
        if prompt < limit:
            return None
        if form == "llamacpp-old":
            return Step.error_response(
                500,
                "the request exceeds the available context size, try increasing it",
                type="server_error",
                code=500,
            )
        step = Step.error_response(
            400,
            f"request ({prompt} tokens) exceeds the available context size ({limit} tokens), "
            "try increasing it",
            type="exceed_context_size_error",
            code=400,
        )
        error = {**(step.error or {}), "n_prompt_tokens": prompt, "n_ctx": limit}
        error.pop("param", None)
        return replace(step, error=error)
    raise ValueError(f"unknown context form {form!r}")


@dataclass
class RecordedRequest:
    """What the fake received, and what became of its answer."""

    method: str
    path: str
    headers: dict[str, str]  # lower-case names
    body: Any
    step: Step | None = None
    # Set when the client went away before the answer was complete.
    disconnected: threading.Event = field(default_factory=threading.Event)
    # Set when the whole answer was written.
    finished: threading.Event = field(default_factory=threading.Event)
    # With `FakeModelServer(timestamps=True)`, in time.monotonic() seconds: when the request's
    # body was read, when each streamed piece had been written to the socket (one per piece, in
    # order), and when the stream's end had been written.
    received_at: float | None = None
    sent_at: list[float] = field(default_factory=list)
    ended_at: float | None = None

    @property
    def model(self) -> str | None:
        return self.body.get("model") if isinstance(self.body, dict) else None

    @property
    def messages(self) -> list[dict[str, Any]]:
        """Chat Completions `messages` (empty for other requests)."""
        return list(self.body.get("messages", [])) if isinstance(self.body, dict) else []

    @property
    def authorization(self) -> str | None:
        return self.headers.get("authorization")

    @property
    def include_usage(self) -> bool:
        """Whether the request asked for the usage chunk (`stream_options.include_usage`)."""
        options = self.body.get("stream_options") if isinstance(self.body, dict) else None
        return bool(isinstance(options, dict) and options.get("include_usage"))


class _ClientGone(Exception):
    """The client closed the connection while the fake was answering."""


class FakeModelServer:
    """A scripted OpenAI-compatible API on 127.0.0.1 (port 0 by default), run in a thread.

    `timestamps=True` records the times of each request's arrival and stream pieces (see
    RecordedRequest); off by default.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, timestamps: bool = False) -> None:
        self.timestamps = timestamps
        self._lock = threading.Lock()
        self._script: list[Step] = []
        self._always: Step | None = None
        self._context: tuple[str, int] | None = None
        self._requests: list[RecordedRequest] = []
        self._closing = threading.Event()
        # Set whenever any client leaves in the middle of an answer.
        self.disconnected = threading.Event()
        # Exceptions raised while answering (bugs of the fake, or sockets that broke oddly).
        self.errors: list[BaseException] = []
        self._httpd = _Server((host, port), _Handler)
        self._httpd.fake = self
        self._thread: threading.Thread | None = None

    # -- life cycle ----------------------------------------------------------------------------

    def start(self) -> FakeModelServer:
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def close(self) -> None:
        self._closing.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(5)

    def __enter__(self) -> FakeModelServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- what tests use ------------------------------------------------------------------------

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    @property
    def base_url(self) -> str:
        """The API's base URL as clients take it (`…/v1`)."""
        return f"http://127.0.0.1:{self.port}/v1"

    def script(self, *steps: Step) -> FakeModelServer:
        """Appends steps; each POST to the API takes the next one."""
        with self._lock:
            self._script.extend(steps)
        return self

    def always(self, step: Step | None) -> FakeModelServer:
        """The answer once the script is used up (None: a 500 saying the script ran out)."""
        with self._lock:
            self._always = step
        return self

    def context_limit(self, tokens: int | None, form: str = "openai") -> FakeModelServer:
        """Refuses every request longer than `tokens` (by `count_tokens`) as a server of kind
        `form` (one of CONTEXT_FORMS) words it, without taking a scripted step; None: no limit."""
        if form not in CONTEXT_FORMS:
            raise ValueError(f"unknown context form {form!r}")
        with self._lock:
            self._context = (form, tokens) if tokens is not None else None
        return self

    @property
    def remaining(self) -> int:
        """Scripted steps not yet taken."""
        with self._lock:
            return len(self._script)

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request received so far, in order."""
        with self._lock:
            return list(self._requests)

    def wait_for_requests(self, count: int, timeout: float = 5.0) -> list[RecordedRequest]:
        """Waits until `count` requests arrived; returns them all."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if len(self.requests) >= count:
                return self.requests
            time.sleep(0.005)
        raise AssertionError(f"expected {count} requests, got {len(self.requests)}")

    # -- used by the handler -------------------------------------------------------------------

    def _record(self, request: RecordedRequest) -> None:
        with self._lock:
            refusal = (
                context_refusal(self._context[0], self._context[1], request.body)
                if self._context is not None and request.method == "POST"
                else None
            )
            if refusal is not None:
                request.step = refusal
            elif request.method == "POST":
                if self._script:
                    request.step = self._script.pop(0)
                else:
                    request.step = self._always
            self._requests.append(request)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # Benchmarks open many streams at once; the default backlog of 5 would drop connections.
    request_queue_size = 1024
    fake: FakeModelServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A bug in the fake: kept for the test to see (`fake.errors`), not printed. A client
        resetting its keep-alive connection between requests (a cancelled stream's client does)
        is not one."""
        error = sys.exc_info()[1]
        if isinstance(error, ConnectionResetError | BrokenPipeError):
            return
        self.fake.errors.append(error or RuntimeError("unknown error"))


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server
    # Idle keep-alive connections give up their thread after this long.
    timeout = 60
    _CHUNK_PATHS: ClassVar[tuple[str, ...]] = ("/v1/chat/completions", "/chat/completions")
    _RESPONSES_PATHS: ClassVar[tuple[str, ...]] = ("/v1/responses", "/responses")

    def setup(self) -> None:
        super().setup()
        # Each piece must leave at once, not wait for Nagle's algorithm.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: tests read `fake.requests` instead."""

    # -- dispatch ------------------------------------------------------------------------------

    def do_GET(self) -> None:
        self._record(None)
        self._send_plain(404, "404 page not found")

    def do_POST(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(length) if length else b""
        arrived = time.monotonic()
        try:
            body: Any = json.loads(raw) if raw else None
        except ValueError:
            body = None
        request = self._record(body)
        if self.server.fake.timestamps:
            request.received_at = arrived
        try:
            self._answer(request)
            if self.server.fake.timestamps:
                request.ended_at = time.monotonic()
            request.finished.set()
        except _ClientGone:
            request.disconnected.set()
            self.server.fake.disconnected.set()
            self.close_connection = True

    def _record(self, body: Any) -> RecordedRequest:
        request = RecordedRequest(
            method=self.command,
            path=self.path,
            headers={k.lower(): v for k, v in self.headers.items()},
            body=body,
        )
        self.server.fake._record(request)
        return request

    def _answer(self, request: RecordedRequest) -> None:
        path = request.path.split("?", 1)[0]
        step = request.step
        if path not in self._CHUNK_PATHS + self._RESPONSES_PATHS:
            # Like Ollama or any Go server for a wrong base URL: a plain 404, not an API error.
            self._send_plain(404, "404 page not found")
            return
        if step is None:
            self._send_json(
                500, {"error": {"message": "fake: no scripted step left", "type": "fake"}}
            )
            return
        if step.kind == "error":
            self._send_error_step(request, step)
            return
        body = request.body if isinstance(request.body, dict) else {}
        model = str(body.get("model", "fake"))
        if path in self._RESPONSES_PATHS:
            self._stream_responses(request, step, model)
        elif body.get("stream"):
            self._stream_chat(request, step, model)
        else:
            self._send_json(200, _completion(step, model))

    # -- error answers -------------------------------------------------------------------------

    def _error_body(self, request: RecordedRequest, step: Step) -> dict[str, Any]:
        """The step's error, with the received key where its message says `{key}`."""
        error = dict(step.error or {})
        if isinstance(error.get("message"), str) and KEY_PLACEHOLDER in error["message"]:
            key = (request.authorization or "").removeprefix("Bearer ")
            error["message"] = error["message"].replace(KEY_PLACEHOLDER, key)
        return {"error": error}

    def _send_error_step(self, request: RecordedRequest, step: Step) -> None:
        self._send_json(step.status, self._error_body(request, step), headers=step.headers)

    def _send_json(
        self, status: int, payload: Any, headers: Iterable[tuple[str, str]] = ()
    ) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()
        self._write(data)

    def _send_plain(self, status: int, text: str) -> None:
        data = text.encode()
        self.send_response(status)
        self.send_header("content-type", "text/plain; charset=utf-8")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self._write(data)

    # -- streams -------------------------------------------------------------------------------

    def _start_stream(self) -> None:
        self.send_response(200)
        self.send_header("content-type", "text/event-stream; charset=utf-8")
        self.send_header("cache-control", "no-cache")
        self.send_header("transfer-encoding", "chunked")
        self.end_headers()
        self._flush()

    def _event(self, payload: Any) -> None:
        text = payload if isinstance(payload, str) else json.dumps(payload)
        data = f"data: {text}\n\n".encode()
        self._write(b"%x\r\n%s\r\n" % (len(data), data))

    def _end_stream(self, step: Step) -> None:
        if step.abrupt:
            # Mid-body: no terminating chunk, the socket just goes away.
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        self._write(b"0\r\n\r\n")

    def _sent(self, request: RecordedRequest) -> None:
        """Notes the time a piece left, when the fake records times."""
        if self.server.fake.timestamps:
            request.sent_at.append(time.monotonic())

    def _pieces(self, step: Step) -> Iterator[str]:
        """The step's pieces, with its delays and its gate between them."""
        for index, piece in enumerate(step.pieces):
            self._pause(step.first_delay if index == 0 else step.delay)
            if step.gate is not None and index == step.gate_after:
                self._hold(step.gate)
            yield piece

    def _stream_chat(self, request: RecordedRequest, step: Step, model: str) -> None:
        def chunk(delta: dict[str, Any], finish_reason: str | None = None) -> dict[str, Any]:
            return {
                "id": "chatcmpl-1",
                "object": "chat.completion.chunk",
                "created": CREATED,
                "model": model,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}],
            }

        self._start_stream()
        self._event(chunk({"role": "assistant", "content": ""}))
        field = "refusal" if step.kind == "refusal" else "content"
        for piece in self._pieces(step):
            self._event(chunk({field: piece}))
            self._sent(request)
        if step.kind == "stream_error":
            self._event(self._error_body(request, step))
            self._end_stream(step)
            return
        for index, call in enumerate(step.calls):
            self._pause(step.delay)
            first = {"index": index, "id": call.call_id, "type": "function"}
            first["function"] = {"name": call.name, "arguments": ""}
            self._event(chunk({"role": "assistant", "content": None, "tool_calls": [first]}))
            for part in _split(call.arguments, call.pieces):
                self._event(
                    chunk({"tool_calls": [{"index": index, "function": {"arguments": part}}]})
                )
        if step.finish_reason is not None:
            self._event(chunk({}, step.finish_reason))
            if request.include_usage and step.send_usage:
                prompt, completion = _usage(step)
                self._event(
                    {
                        "id": "chatcmpl-1",
                        "object": "chat.completion.chunk",
                        "created": CREATED,
                        "model": model,
                        "choices": [],
                        "usage": {
                            "prompt_tokens": prompt,
                            "completion_tokens": completion,
                            "total_tokens": prompt + completion,
                        },
                    }
                )
        if step.send_done:
            self._event("[DONE]")
        self._end_stream(step)

    def _stream_responses(self, request: RecordedRequest, step: Step, model: str) -> None:
        """The Responses API's text stream: created, text deltas, completed (with usage)."""
        prompt, completion = _usage(step)
        text = "".join(step.pieces)

        def response(status: str, output: list[Any], usage: Any) -> dict[str, Any]:
            return {
                "id": "resp_1",
                "object": "response",
                "created_at": CREATED,
                "model": model,
                "status": status,
                "output": output,
                "parallel_tool_calls": True,
                "tool_choice": "auto",
                "tools": [],
                "usage": usage,
            }

        self._start_stream()
        self._event(
            {
                "type": "response.created",
                "sequence_number": 0,
                "response": response("in_progress", [], None),
            }
        )
        sequence = 1
        for piece in self._pieces(step):
            self._event(
                {
                    "type": "response.output_text.delta",
                    "sequence_number": sequence,
                    "item_id": "msg_1",
                    "output_index": 0,
                    "content_index": 0,
                    "delta": piece,
                    "logprobs": [],
                }
            )
            self._sent(request)
            sequence += 1
        if step.finish_reason is not None:
            message = {
                "type": "message",
                "id": "msg_1",
                "role": "assistant",
                "status": "completed",
                "content": [{"type": "output_text", "text": text, "annotations": []}],
            }
            usage = {
                "input_tokens": prompt,
                "output_tokens": completion,
                "total_tokens": prompt + completion,
                "input_tokens_details": {"cached_tokens": 0},
                "output_tokens_details": {"reasoning_tokens": 0},
            }
            self._event(
                {
                    "type": "response.completed",
                    "sequence_number": sequence,
                    "response": response("completed", [message], usage),
                }
            )
        self._end_stream(step)

    # -- the socket ----------------------------------------------------------------------------

    def _write(self, data: bytes) -> None:
        try:
            self.wfile.write(data)
        except OSError as exc:  # BrokenPipe, ConnectionReset
            raise _ClientGone from exc

    def _flush(self) -> None:
        try:
            self.wfile.flush()
        except OSError as exc:
            raise _ClientGone from exc

    def _readable(self, timeout: float) -> bool:
        """Whether the client's socket turns readable (data, or its end closed) within `timeout`
        seconds. poll, not select: select fails on descriptors above 1023, which a fake that
        holds a thousand streams (the benchmark's) reaches."""
        poller = select.poll()
        poller.register(self.connection, select.POLLIN)
        return bool(poller.poll(math.ceil(max(0.0, timeout) * 1000)))

    def _client_left(self) -> bool:
        """Whether the client closed its end (readable with nothing to read)."""
        try:
            return self._readable(0) and self.connection.recv(1, socket.MSG_PEEK) == b""
        except OSError:
            return True

    def _pause(self, seconds: float) -> None:
        """Sleeps, but notices at once when the client leaves meanwhile: the wait ends as soon as
        the socket turns readable, so it needs no periodic wake-ups (a thousand slow streams
        polling every 50 ms kept a whole core busy)."""
        deadline = time.monotonic() + seconds
        while True:
            if self._client_left():
                raise _ClientGone
            left = deadline - time.monotonic()
            if left <= 0:
                return
            try:
                readable = self._readable(left)
            except OSError:
                raise _ClientGone from None
            if readable and self._client_left():
                raise _ClientGone
            if readable:  # the client sent something mid-answer: not ours to read; just wait
                time.sleep(min(left, 0.01))

    def _hold(self, gate: threading.Event) -> None:
        """Waits for the test to open the gate (or the server to close)."""
        while not gate.wait(0.01):
            if self._client_left():
                raise _ClientGone
            if self.server.fake._closing.is_set():
                raise _ClientGone


def _split(text: str, parts: int) -> list[str]:
    """`text` in `parts` nearly equal pieces (at least one, possibly empty)."""
    parts = max(1, parts)
    size = -(-len(text) // parts) or 1
    pieces = [text[i : i + size] for i in range(0, len(text), size)]
    return pieces or [""]


def _usage(step: Step) -> tuple[int, int]:
    if step.usage is not None:
        return step.usage
    return 10, len(step.pieces) + len(step.calls)


def _completion(step: Step, model: str) -> dict[str, Any]:
    """A non-streamed chat completion for the step (text and tool calls, no delays)."""
    prompt, completion = _usage(step)
    message: dict[str, Any] = {"role": "assistant", "content": "".join(step.pieces) or None}
    if step.calls:
        message["tool_calls"] = [
            {
                "id": call.call_id,
                "type": "function",
                "function": {"name": call.name, "arguments": call.arguments},
            }
            for call in step.calls
        ]
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": CREATED,
        "model": model,
        "choices": [{"index": 0, "message": message, "finish_reason": step.finish_reason}],
        "usage": {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
        },
    }


__all__ = ["FakeModelServer", "FakeToolCall", "RecordedRequest", "Step", "count_tokens"]
