"""A small scripted OpenAI-compatible HTTP server on loopback, for fault paths and timing checks.

The scenario is the first path segment: `http://127.0.0.1:PORT/<scenario>/v1/chat/completions`, where
<scenario> is `name` or `name~key=value~key=value`. Names:
  ok         stream `tokens` words (whatever max_tokens says), first after `ttft` s, then one every `gap`
             s; `usage=1` adds usage (`report_in`, `report_out`: counts it claims instead of the real ones)
  ratelimit  the first `fail` requests to this scenario get 429 with Retry-After `after`, then ok (embed
             for /v1/embeddings)
  status     always answer HTTP `code` with a JSON error (message echoes the bearer key if `echo=1`)
  html502    a 502 with an HTML error page
  hang       accept and send nothing until the server stops
  drip       200 and SSE keep-alive comments every `every` s, forever
  bytes      200 and a data line fed one byte every `every` s, never completed
  malformed  a data line that is not JSON
  echo       stream the last user message back word by word, first after `ttft` s
  judge      answer a judge's verdict: {"reasoning": ..., "score": `score`}; `score=bad` sends prose
  audio      /v1/audio/transcriptions (multipart in, as OpenAI takes it): `{"text": `text` (underscores
             read as spaces), "usage": {"type": "duration", "seconds": `seconds`}}`; /v1/audio/speech:
             a WAV (24 kHz mono 16-bit, as OpenAI's) of a `seconds`-long tone. Requests' form fields are
             kept with each file's name, size and first bytes
  images     /v1/images/generations: OpenAI's answer shape, `{"created": ..., "data": [{"b64_json": a
             `w`x`h` PNG (default 64x48), "revised_prompt": the prompt}]}`; `url=1` sends a `url` instead
             of `b64_json`; `corrupt=1` sends base64 bytes that are no image
  vision     chat completions whose last user message has image_url parts: answers "image WxH" per
             image (read from its data URL with Pillow, so the image is proved to have arrived) and
             reports usage (`report_in` prompt tokens, default 1000)
  embed      /v1/embeddings: a `dims`-sized bag-of-words vector per input (words hashed to positions,
             so texts sharing words are close), with usage = words counted, after `delay` s
Every request's headers are kept in `ScriptedServer.requests` for assertions.
"""

from __future__ import annotations

import base64
import io
import json
import threading
import time
import zlib
from collections import defaultdict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


def _parse(segment: str) -> tuple[str, dict[str, str]]:
    name, *pairs = segment.split("~")
    return name, dict(pair.split("=", 1) for pair in pairs if "=" in pair)


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.0"  # close-delimited bodies: simple and what many proxies send

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - silence default logging
        pass

    def do_GET(self) -> None:  # noqa: N802
        self._json(200, {"object": "list", "data": [{"id": "scripted", "object": "model"}]})

    def do_POST(self) -> None:  # noqa: N802
        length = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(length)
        if self.headers.get("content-type", "").startswith("multipart/form-data"):
            body = _form(self.headers["content-type"], raw)
        else:
            body = json.loads(raw or b"{}")
        scenario = self.path.strip("/").split("/")[0]
        name, args = _parse(scenario)
        with self.server.lock:
            self.server.counts[scenario] += 1
            count = self.server.counts[scenario]
            self.server.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
        handler = getattr(self, f"_scenario_{name}", None)
        if handler is None:
            self._json(404, {"error": {"message": f"unknown scenario {name}"}})
            return
        counted = {name, scenario}  # by name, and by the whole scenario (an `id=` keeps a test's own)
        with self.server.lock:
            for key in counted:
                self.server.in_flight[key] += 1
                self.server.peak[key] = max(self.server.peak[key], self.server.in_flight[key])
        # A completion asked without `stream` gets one JSON answer, as from OpenAI ("View code" snippets).
        self._whole: dict[str, Any] | None = (
            {"text": "", "usage": None} if "completions" in self.path and not body.get("stream") else None
        )
        try:
            handler(args, count, body)
            if self._whole is not None and self._whole.get("done"):
                self._send_whole()
        finally:
            with self.server.lock:
                for key in counted:
                    self.server.in_flight[key] -= 1

    # --- helpers ---------------------------------------------------------------------------------
    def _json(self, code: int, payload: dict[str, Any], headers: dict[str, str] | None = None) -> None:
        data = json.dumps(payload).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)

    def _send_whole(self) -> None:
        assert self._whole is not None
        text, chat = self._whole["text"], "chat/completions" in self.path
        choice = {"index": 0, "finish_reason": "stop"}
        choice.update({"message": {"role": "assistant", "content": text}} if chat else {"text": text})
        payload = {
            "id": "scripted",
            "object": "chat.completion" if chat else "text_completion",
            "created": int(time.time()),
            "model": "scripted",
            "choices": [choice],
        }
        if self._whole["usage"]:
            payload["usage"] = self._whole["usage"]
        self._json(200, payload)

    def _start_sse(self) -> None:
        if self._whole is not None:
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.end_headers()
        self.wfile.flush()

    def _event(self, payload: dict[str, Any] | str) -> None:
        if self._whole is not None:  # collected for one JSON answer
            if payload == "[DONE]":
                self._whole["done"] = True
            elif isinstance(payload, dict):
                self._whole["usage"] = payload.get("usage") or self._whole["usage"]
                for choice in payload.get("choices", []):
                    self._whole["text"] += choice["delta"].get("content") or ""
            return
        data = payload if isinstance(payload, str) else json.dumps(payload)
        self.wfile.write(f"data: {data}\n\n".encode())
        self.wfile.flush()

    def _wait(self, seconds: float) -> bool:
        """Sleep unless the server is stopping; False when it is."""
        return not self.server.stopping.wait(seconds)

    def _chunk(self, text: str | None, finish: str | None = None) -> dict[str, Any]:
        delta = {"content": text} if text is not None else {}
        return {
            "id": "chatcmpl-scripted",
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": "scripted",
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        }

    # --- scenarios -------------------------------------------------------------------------------
    def _scenario_ok(self, args: dict[str, str], count: int, body: dict[str, Any]) -> None:
        ttft, gap = float(args.get("ttft", 0)), float(args.get("gap", 0))
        tokens = int(args.get("tokens", 5))
        self._start_sse()
        if not self._wait(ttft):
            return
        for i in range(tokens):
            if i and gap and not self._wait(gap):
                return
            self._event(self._chunk(f"word{i} "))
        self._event(self._chunk(None, "stop"))
        if args.get("usage") == "1":
            # `report_in`/`report_out` make the usage report say other counts than were sent (a server
            # that bills more than its stream showed).
            given, taken = int(args.get("report_in", 7)), int(args.get("report_out", tokens))
            usage = {"prompt_tokens": given, "completion_tokens": taken, "total_tokens": given + taken}
            self._event({**self._chunk(None), "choices": [], "usage": usage})
        self._event("[DONE]")

    def _stream_words(self, text: str, ttft: float) -> None:
        self._start_sse()
        if not self._wait(ttft):
            return
        for word in text.split(" "):
            self._event(self._chunk(word + " "))
        self._event(self._chunk(None, "stop"))
        self._event("[DONE]")

    def _scenario_echo(self, args: dict[str, str], count: int, body: dict[str, Any]) -> None:
        users = [m["content"] for m in body.get("messages", []) if m.get("role") == "user"]
        self._stream_words(users[-1] if users else "", float(args.get("ttft", 0)))

    def _scenario_judge(self, args: dict[str, str], count: int, body: dict[str, Any]) -> None:
        score = args.get("score", "4")
        reply = (
            "I liked this answer a lot."
            if score == "bad"
            else json.dumps({"reasoning": "ok", "score": int(score)})
        )
        self._stream_words(reply, 0)

    def _scenario_embed(self, args: dict[str, str], count: int, body: dict[str, Any]) -> None:
        dims = int(args.get("dims", 64))
        time.sleep(float(args.get("delay", 0)))
        if "inputs" in body:  # Hugging Face feature-extraction: the bare vector(s), no envelope
            inputs = body["inputs"]
            vectors = [_bag_of_words(str(t), dims) for t in ([inputs] if isinstance(inputs, str) else inputs)]
            self._json(200, vectors[0] if isinstance(inputs, str) else vectors)  # type: ignore[arg-type]
            return
        texts = body.get("input") or []
        texts = [texts] if isinstance(texts, str) else texts
        data, words_seen = [], 0
        for index, text in enumerate(texts):
            vector = [0.0] * dims
            for word in str(text).lower().split():
                word = word.strip(".,;:!?\"'()[]")
                if word:
                    vector[zlib.crc32(word.encode()) % dims] += 1.0
                    words_seen += 1
            data.append({"object": "embedding", "index": index, "embedding": vector})
        usage = {"prompt_tokens": words_seen, "total_tokens": words_seen}
        self._json(200, {"object": "list", "data": data, "model": "scripted", "usage": usage})

    def _scenario_audio(self, args: dict[str, str], count: int, body: dict[str, Any]) -> None:
        seconds = float(args.get("seconds", 1.0))
        if "audio/transcriptions" in self.path:
            text = args.get("text", "scripted_transcript").replace("_", " ")
            self._json(200, {"text": text, "usage": {"type": "duration", "seconds": seconds}})
            return
        wav = _tone_wav(seconds)
        self.send_response(200)
        self.send_header("Content-Type", "audio/wav")
        self.send_header("Content-Length", str(len(wav)))
        self.end_headers()
        self.wfile.write(wav)

    def _scenario_images(self, args: dict[str, str], count: int, body: dict[str, Any]) -> None:
        item: dict[str, Any]
        if args.get("url") == "1":
            item = {"url": "https://images.example.invalid/picture.png"}
        else:
            data = b"not a picture at all" if args.get("corrupt") == "1" else _png(args)
            item = {"b64_json": base64.b64encode(data).decode(), "revised_prompt": body.get("prompt", "")}
        self._json(200, {"created": int(time.time()), "data": [item]})

    def _scenario_vision(self, args: dict[str, str], count: int, body: dict[str, Any]) -> None:
        users = [m["content"] for m in body.get("messages", []) if m.get("role") == "user"]
        parts = users[-1] if users and isinstance(users[-1], list) else []
        sizes = [_data_url_size(p["image_url"]["url"]) for p in parts if p.get("type") == "image_url"]
        reply = " ".join(f"image {w}x{h}" for w, h in sizes) or "no image"
        self._start_sse()
        for word in reply.split(" "):
            self._event(self._chunk(word + " "))
        self._event(self._chunk(None, "stop"))
        given, taken = int(args.get("report_in", 1000)), len(reply.split(" "))
        usage = {"prompt_tokens": given, "completion_tokens": taken, "total_tokens": given + taken}
        self._event({**self._chunk(None), "choices": [], "usage": usage})
        self._event("[DONE]")

    def _scenario_ratelimit(self, args: dict[str, str], count: int, body: dict[str, Any]) -> None:
        if count <= int(args.get("fail", 1)):
            self._json(429, {"error": {"message": "slow down"}}, {"Retry-After": args.get("after", "0.3")})
            return
        (self._scenario_embed if "embeddings" in self.path else self._scenario_ok)(args, count, body)

    def _scenario_status(self, args: dict[str, str], count: int, body: dict[str, Any]) -> None:
        message = "scripted failure"
        if args.get("echo") == "1":
            message += f" for key {self.headers.get('authorization', '').removeprefix('Bearer ')}"
        self._json(int(args.get("code", 500)), {"error": {"message": message}})

    def _scenario_html502(self, args: dict[str, str], count: int, body: dict[str, Any]) -> None:
        page = (
            b"<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head>"
            b"<body><h1>Bad Gateway</h1><p>" + b"x" * 5000 + b"</p></body></html>"
        )
        self.send_response(502)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(page)))
        self.end_headers()
        self.wfile.write(page)

    def _scenario_hang(self, args: dict[str, str], count: int, body: dict[str, Any]) -> None:
        self.server.stopping.wait(float(args.get("for", 120)))

    def _scenario_drip(self, args: dict[str, str], count: int, body: dict[str, Any]) -> None:
        self._start_sse()
        every = float(args.get("every", 0.2))
        while self._wait(every):
            try:
                self.wfile.write(b": keep-alive\n\n")
                self.wfile.flush()
            except OSError:
                return

    def _scenario_bytes(self, args: dict[str, str], count: int, body: dict[str, Any]) -> None:
        self._start_sse()
        every = float(args.get("every", 0.2))
        for byte in b'data: {"id": "x", "choices": [' + b" " * 100000:
            if not self._wait(every):
                return
            try:
                self.wfile.write(bytes([byte]))
                self.wfile.flush()
            except OSError:
                return

    def _scenario_malformed(self, args: dict[str, str], count: int, body: dict[str, Any]) -> None:
        self._start_sse()
        self._event(self._chunk("fine "))
        self.wfile.write(b"data: {this is not json\n\n")
        self.wfile.flush()


def _form(content_type: str, raw: bytes) -> dict[str, Any]:
    """A multipart/form-data body (as the OpenAI SDK uploads a file): its text fields, and for each file
    its filename, content type, size and first 16 bytes."""
    from email.parser import BytesParser
    from email.policy import HTTP

    message = BytesParser(policy=HTTP).parsebytes(f"Content-Type: {content_type}\r\n\r\n".encode() + raw)
    fields: dict[str, Any] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        data = part.get_payload(decode=True) or b""
        filename = part.get_filename()
        if filename is None:
            fields[str(name)] = data.decode()
        else:
            fields[str(name)] = {
                "filename": filename,
                "content_type": part.get_content_type(),
                "size": len(data),
                "head": data[:16].hex(),
            }
    return fields


def _png(args: dict[str, str]) -> bytes:
    """A `w`x`h` PNG made by Pillow (a gradient, so it is not all one colour)."""
    from PIL import Image

    width, height = int(args.get("w", 64)), int(args.get("h", 48))
    image = Image.linear_gradient("L").resize((width, height)).convert("RGB")
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def _data_url_size(url: str) -> tuple[int, int]:
    """The width and height of the image inside a data: URL."""
    from PIL import Image

    head, _, b64 = url.partition(",")
    assert head.startswith("data:image/") and head.endswith(";base64"), head
    with Image.open(io.BytesIO(base64.b64decode(b64))) as image:
        return image.width, image.height


def _tone_wav(seconds: float, rate: int = 24_000) -> bytes:
    """A 440 Hz tone as a whole WAV file."""
    import io
    import math
    import struct
    import wave

    frames = b"".join(
        struct.pack("<h", int(8000 * math.sin(2 * math.pi * 440 * n / rate)))
        for n in range(int(seconds * rate))
    )
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(frames)
    return buffer.getvalue()


def _bag_of_words(text: str, dims: int) -> list[float]:
    vector = [0.0] * dims
    for word in text.lower().split():
        word = word.strip(".,;:!?\"'()[]")
        if word:
            vector[zlib.crc32(word.encode()) % dims] += 1.0
    return vector


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    request_queue_size = 128  # benchmarks open many connections at once

    def __init__(self, port: int = 0) -> None:
        super().__init__(("127.0.0.1", port), _Handler)
        self.lock = threading.Lock()
        self.counts: dict[str, int] = defaultdict(int)
        self.requests: list[dict[str, Any]] = []
        self.in_flight: dict[str, int] = defaultdict(int)
        # Most requests of one scenario name, or one whole scenario, at once. A client that stops reading
        # (an answer cut at max tokens) leaves its request in flight until the server's next write fails:
        # a test counting its own requests gives its scenario an `id=`.
        self.peak: dict[str, int] = defaultdict(int)
        self.stopping = threading.Event()


class ScriptedServer:
    """Start with `with ScriptedServer() as server:`; `server.url("ok~ttft=0.5")` is a base URL."""

    def __init__(self, port: int = 0) -> None:
        self._server = _Server(port)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def port(self) -> int:
        """The loopback port it listens on."""
        return self._server.server_address[1]

    def peak(self, name: str) -> int:
        """The most requests for scenario `name` (a name, or a whole scenario) answered at the same time
        since the last reset."""
        return self._server.peak[name]

    def reset_peak(self, name: str) -> None:
        """Start counting `peak(name)` afresh."""
        with self._server.lock:
            self._server.peak[name] = self._server.in_flight[name]

    @property
    def requests(self) -> list[dict[str, Any]]:
        """Every request received: path, headers, JSON body."""
        return self._server.requests

    def url(self, scenario: str) -> str:
        """Base URL (ending in /v1) for a scenario."""
        return f"http://127.0.0.1:{self.port}/{scenario}/v1"

    def __enter__(self) -> ScriptedServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.stopping.set()
        self._server.shutdown()
        self._server.server_close()


if __name__ == "__main__":  # a separate process for benchmarks: python -m tests.scripted_server PORT
    import sys

    with ScriptedServer(int(sys.argv[1])):
        threading.Event().wait()
