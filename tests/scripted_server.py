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
  tune       OpenAI's fine-tuning API, in OpenAI's shapes (openai-python's types/file_object.py,
             types/fine_tuning/fine_tuning_job.py, fine_tuning_job_event.py): POST /v1/files (multipart,
             purpose "fine-tune"), POST/GET /v1/fine_tuning/jobs (create, list), GET …/jobs/{id}
             (retrieve), POST …/jobs/{id}/cancel, GET …/jobs/{id}/events (newest first, `limit`,
             `after`). A job starts in validating_files; each retrieve moves it on: running, one metrics
             event per step (`steps`, default 3, data step and train_loss), then `end` (succeeded, with
             `trained` tokens and a fine_tuned_model; or failed, with an error). The same under Azure's
             /openai/files and /openai/fine_tuning/jobs (?api-version=…). Chat completions: a tuned
             model ("ft:…") answers the last user message back, any other "I do not know".
Hugging Face Inference API shapes, as huggingface_hub's InferenceClient calls a URL model (`base_url`):
the task's request goes to the URL itself (chat alone appends /chat/completions: `vision` and `ok` serve
it). `fail=CODE` makes any of them answer HF's error shape, `{"error": "...", "estimated_time": ...}`:
  hfasr      automatic_speech_recognition: the audio file's raw bytes in (no JSON; kept as their content
             type, size, first bytes and sha256), `{"text": `text`}` out (underscores read as spaces)
  hftts      text_to_speech: `{"inputs": text, ...}` in, audio bytes out: a `seconds`-long tone at `rate`
             Hz as FLAC (as hf-inference answers), `format=wav` a WAV, `corrupt=1` bytes that are no audio
  hfimage    text_to_image: `{"inputs": prompt, "parameters": {"width": W, "height": H}}` in, a PNG of
             that size out (`w`/`h` instead when given), `corrupt=1` bytes that are no image
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
        if _parse(self.path.strip("/").split("/")[0])[0] == "tune" and _tuning_path(self.path) is not None:
            self._record({})
            self._tuning("GET", {})
            return
        self._json(200, {"object": "list", "data": [{"id": "scripted", "object": "model"}]})

    def _record(self, body: dict[str, Any]) -> int:
        scenario = self.path.strip("/").split("/")[0]
        with self.server.lock:
            self.server.counts[scenario] += 1
            self.server.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
            return self.server.counts[scenario]

    def do_POST(self) -> None:  # noqa: N802
        length = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(length)
        if self.headers.get("content-type", "").startswith("multipart/form-data"):
            body = _form(self.headers["content-type"], raw)
        else:
            body = _json_or_raw(self.headers.get("content-type"), raw)
        scenario = self.path.strip("/").split("/")[0]
        name, args = _parse(scenario)
        count = self._record(body)
        if name == "tune" and _tuning_path(self.path) is not None:
            self._tuning("POST", body)
            return
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

    def _scenario_tune(self, args: dict[str, str], count: int, body: dict[str, Any]) -> None:
        # Chat with a base model and the models tuned from it: a tuned one ("ft:…") answers the last user
        # message back (it learnt the task); its base answers "I do not know".
        users = [m["content"] for m in body.get("messages", []) if m.get("role") == "user"]
        tuned = str(body.get("model", "")).startswith("ft:")
        self._stream_words(users[-1] if tuned and users else "I do not know", 0)

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

    # --- fine-tuning (scenario `tune`) -------------------------------------------------------------
    def _tuning(self, method: str, body: dict[str, Any]) -> None:
        _, args = _parse(self.path.strip("/").split("/")[0])
        rest, query = _tuning_path(self.path) or ("", {})
        parts = rest.strip("/").split("/")
        with self.server.lock:
            if parts == ["files"] and method == "POST":
                self._json(200, self._tuning_file(body))
            elif parts == ["fine_tuning", "jobs"] and method == "POST":
                self._json(200, self._tuning_create(body))
            elif parts == ["fine_tuning", "jobs"]:
                jobs = [job["object"] for job in reversed(self.server.tuning_jobs.values())]
                self._json(200, {"object": "list", "data": jobs, "has_more": False})
            elif (
                len(parts) >= 3
                and parts[:2] == ["fine_tuning", "jobs"]
                and parts[2] in self.server.tuning_jobs
            ):
                self._tuning_job(method, parts[2], parts[3:], args, query)
            else:
                error = {
                    "message": f"No such object: {rest}",
                    "type": "invalid_request_error",
                    "param": None,
                    "code": None,
                }
                self._json(404, {"error": error})

    def _tuning_file(self, body: dict[str, Any]) -> dict[str, Any]:
        upload = body.get("file") or {}
        file = {
            "object": "file",
            "id": f"file-{len(self.server.tuning_files) + 1:024d}",
            "purpose": body.get("purpose", ""),
            "filename": upload.get("filename", ""),
            "bytes": upload.get("size", 0),
            "created_at": int(time.time()),
            "expires_at": None,
            "status": "processed",
            "status_details": None,
        }
        self.server.tuning_files[file["id"]] = {**file, "lines": upload.get("lines", 0)}
        return file

    def _tuning_create(self, body: dict[str, Any]) -> dict[str, Any]:
        job_id = f"ftjob-{len(self.server.tuning_jobs) + 1:024d}"
        supervised = ((body.get("method") or {}).get("supervised") or {}).get("hyperparameters") or {}
        hyper = {
            "batch_size": "auto",
            "learning_rate_multiplier": "auto",
            "n_epochs": supervised.get("n_epochs", "auto"),
        }
        job = {
            "object": "fine_tuning.job",
            "id": job_id,
            "model": body["model"],
            "created_at": int(time.time()),
            "finished_at": None,
            "fine_tuned_model": None,
            "organization_id": "org-scripted",
            "result_files": [],
            "status": "validating_files",
            "validation_file": body.get("validation_file"),
            "training_file": body["training_file"],
            "hyperparameters": hyper,
            "trained_tokens": None,
            "error": None,
            "user_provided_suffix": body.get("suffix"),
            "seed": body.get("seed", 0),
            "estimated_finish": None,
            "integrations": [],
            "metadata": None,
            "method": {"type": "supervised", "supervised": {"hyperparameters": hyper}},
        }
        self.server.tuning_jobs[job_id] = {"object": job, "events": [], "ticks": 0}
        self._tuning_event(job_id, "info", f"Validating training file: {body['training_file']}")
        return job

    def _tuning_event(
        self, job_id: str, level: str, message: str, data: dict[str, Any] | None = None
    ) -> None:
        events = self.server.tuning_jobs[job_id]["events"]
        events.append(
            {
                "object": "fine_tuning.job.event",
                "id": f"ftevent-{job_id[-6:]}-{len(events) + 1:04d}",
                "created_at": int(time.time()),
                "level": level,
                "message": message,
                "data": data or {},
                "type": "metrics" if data else "message",
            }
        )

    def _tuning_job(
        self, method: str, job_id: str, rest: list[str], args: dict[str, str], query: dict[str, str]
    ) -> None:
        state = self.server.tuning_jobs[job_id]
        if rest == ["events"]:
            newest_first = state["events"][::-1]
            after = query.get("after")
            if after:
                ids = [e["id"] for e in newest_first]
                newest_first = newest_first[ids.index(after) + 1 :] if after in ids else []
            limit = int(query.get("limit", 20))
            page = newest_first[:limit]
            self._json(200, {"object": "list", "data": page, "has_more": len(newest_first) > limit})
            return
        if rest == ["cancel"] and method == "POST":
            job = state["object"]
            if job["status"] in ("succeeded", "failed", "cancelled"):
                error = {
                    "message": f"Job {job_id} has already {job['status']}.",
                    "type": "invalid_request_error",
                    "param": None,
                    "code": None,
                }
                self._json(400, {"error": error})
                return
            job.update(status="cancelled", finished_at=int(time.time()))
            self._tuning_event(job_id, "info", "Job was cancelled.")
        elif not rest and method == "GET":
            self._tuning_advance(job_id, args)
        self._json(200, state["object"])

    def _tuning_advance(self, job_id: str, args: dict[str, str]) -> None:
        """One retrieve moves the job on one stage (validating_files → running steps → its end)."""
        state, steps = self.server.tuning_jobs[job_id], int(args.get("steps", 3))
        job = state["object"]
        if job["status"] in ("succeeded", "failed", "cancelled"):
            return
        state["ticks"] += 1
        tick = state["ticks"]
        if tick == 1:
            job["status"] = "running"
            self._tuning_event(job_id, "info", "Fine-tuning job started")
        elif tick - 1 <= steps:
            step = tick - 1
            loss = round(2.5 * 0.7**step, 4)
            data = {"step": step, "train_loss": loss, "total_steps": steps, "train_mean_token_accuracy": 0.5}
            self._tuning_event(job_id, "info", f"Step {step}/{steps}: training loss={loss:.4f}", data)
        elif args.get("end", "succeeded") == "failed":
            job.update(status="failed", finished_at=int(time.time()))
            job["error"] = {
                "code": "invalid_training_file",
                "message": "The job failed (scripted).",
                "param": "training_file",
            }
            self._tuning_event(job_id, "error", "The job failed (scripted).")
        else:
            suffix = job.get("user_provided_suffix") or ""
            job.update(
                status="succeeded",
                finished_at=int(time.time()),
                trained_tokens=int(args.get("trained", 1200)),
                fine_tuned_model=f"ft:{job['model']}:scripted:{suffix}:{job_id[-8:]}",
            )
            self._tuning_event(job_id, "info", "The job has successfully completed")

    # --- Hugging Face Inference API (huggingface_hub.InferenceClient with a URL model) --------------
    def _hf_failed(self, args: dict[str, str]) -> bool:
        """Answer HF's error shape when the scenario says `fail=CODE` (True: answered)."""
        if "fail" not in args:
            return False
        message = "Model is currently loading" if args["fail"] == "503" else "scripted failure"
        self._json(int(args["fail"]), {"error": message, "estimated_time": 20.0})  # type: ignore[dict-item]
        return True

    def _bytes(self, content_type: str, data: bytes) -> None:
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _scenario_hfasr(self, args: dict[str, str], count: int, body: dict[str, Any]) -> None:
        if not self._hf_failed(args):
            self._json(200, {"text": args.get("text", "scripted_transcript").replace("_", " ")})

    def _scenario_hftts(self, args: dict[str, str], count: int, body: dict[str, Any]) -> None:
        if self._hf_failed(args):
            return
        seconds, rate = float(args.get("seconds", 1.0)), int(args.get("rate", 16_000))
        if args.get("corrupt") == "1":
            self._bytes("audio/flac", b"fLaC but no stream info, no frames: not audio at all")
        elif args.get("format") == "wav":
            self._bytes("audio/wav", _tone_wav(seconds, rate))
        else:
            self._bytes("audio/flac", _tone_flac(seconds, rate))

    def _scenario_hfimage(self, args: dict[str, str], count: int, body: dict[str, Any]) -> None:
        if self._hf_failed(args):
            return
        if args.get("corrupt") == "1":
            self._bytes("image/png", b"\x89PNG\r\n\x1a\n and then nothing a decoder can use")
            return
        asked = body.get("parameters") or {}
        size = {"w": args.get("w", asked.get("width", 64)), "h": args.get("h", asked.get("height", 48))}
        self._bytes("image/png", _png({k: str(v) for k, v in size.items()}))


def _tuning_path(path: str) -> tuple[str, dict[str, str]] | None:
    """The fine-tuning API part of a path (`files`, `fine_tuning/jobs/...`) and its query, OpenAI's
    (/<scenario>/v1/...) or Azure's (/<scenario>/openai/...); None for any other path."""
    from urllib.parse import parse_qsl, urlsplit

    split = urlsplit(path)
    parts = split.path.strip("/").split("/")
    if len(parts) < 3 or parts[1] not in ("v1", "openai") or parts[2] not in ("files", "fine_tuning"):
        return None
    return "/".join(parts[2:]), dict(parse_qsl(split.query))


def _json_or_raw(content_type: str | None, raw: bytes) -> dict[str, Any]:
    """A JSON body as parsed; raw bytes (a Hugging Face ASR upload: the audio file itself) as their content
    type, size, first 16 bytes and sha256, so a test can prove the file arrived byte for byte."""
    try:
        return json.loads(raw or b"{}")
    except ValueError:  # UnicodeDecodeError is one too
        import hashlib

        return {
            "raw": {
                "content_type": content_type,
                "size": len(raw),
                "head": raw[:16].hex(),
                "sha256": hashlib.sha256(raw).hexdigest(),
            }
        }


def _tone_flac(seconds: float, rate: int) -> bytes:
    """A 440 Hz tone as a whole FLAC file, encoded by PyAV (FLAC is what hf-inference's TTS sends)."""
    import math

    import av
    import numpy as np

    samples = np.array(
        [int(8000 * math.sin(2 * math.pi * 440 * n / rate)) for n in range(int(seconds * rate))], np.int16
    )
    out = io.BytesIO()
    with av.open(out, "w", format="flac") as container:
        stream = container.add_stream("flac", rate=rate, layout="mono")
        frame = av.AudioFrame.from_ndarray(samples.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = rate
        for packet in [*stream.encode(frame), *stream.encode(None)]:
            container.mux(packet)
    return out.getvalue()


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
                "lines": data.count(b"\n"),
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
        # Fine-tuning (scenario `tune`): uploaded files, and jobs by id with their events and stage.
        self.tuning_files: dict[str, dict[str, Any]] = {}
        self.tuning_jobs: dict[str, dict[str, Any]] = {}


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
