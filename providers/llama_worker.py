"""The process that holds one loaded GGUF model.

`python -P -m providers.llama_worker PATH N_CTX DECODE_THREADS PROMPT_THREADS`

llama.cpp is native code: an illegal instruction, a segfault or the OOM killer ends the process that runs
it. So no llama.cpp code runs in the web server or the CLI; each model file is loaded once in a process
of its own, and `providers.local_workers` supervises it over this process's stdin and stdout.

Wire format: one JSON object per line.
- In:  {"op": "count", "id", "request"}  ->  {"id", "count": n} (answered beside a generation)
       {"op": "generate", "id", "request", "threads": [decode, prompt], "seq"}  ->  {"id", "started": true},
       {"id", "t": text} per token, then {"id", "usage": [input, output]} and {"id", "finish": reason};
       or {"id", "error": {"kind", "message"}}
       {"op": "cancel", "id"}  (at once, even mid-prompt)   {"op": "threads", "n": [...], "seq"}
- Out at start: {"ready": true, "features": [...]} or {"load_error": message}.
A call's own failure is that call's error; the loop goes on. End of stdin ends the process.
"""

from __future__ import annotations

import collections
import json
import os
import queue
import random
import sys
import threading
from pathlib import Path
from typing import Any, BinaryIO

from providers.base import ChatRequest, Message
from providers.worker_process import claim_stdout, encode_line


def encode_request(request: ChatRequest) -> dict[str, Any]:
    """A ChatRequest as JSON for the pipe."""
    return {
        "messages": [[m.role, m.content] for m in request.messages],
        "raw_text": request.raw_text,
        "temperature": request.temperature,
        "top_p": request.top_p,
        "max_tokens": request.max_tokens,
        "seed": request.seed,
        "stop": list(request.stop),
    }


def decode_request(data: dict[str, Any]) -> ChatRequest:
    """Inverse of encode_request."""
    return ChatRequest(
        messages=tuple(Message(role, content) for role, content in data["messages"]),
        raw_text=data["raw_text"],
        temperature=data["temperature"],
        top_p=data["top_p"],
        max_tokens=data["max_tokens"],
        seed=data["seed"],
        stop=tuple(data["stop"]),
    )


class RequestRefusedError(Exception):
    """A request this model cannot run (no chat template, too long); sent back as that call's error."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message


class LocalModel:
    """One loaded Llama with the GGUF's own chat template; exact token ids for counting and generating."""

    def __init__(self, path: Path, n_ctx: int, threads: tuple[int, int], lora: Path | None = None) -> None:
        from llama_cpp import Llama

        self.path = path
        self.n_ctx = n_ctx
        if lora is not None and not lora.is_file():
            raise FileNotFoundError(f"LoRA adapter {lora.name} not found")
        self.llama = Llama(
            model_path=str(path),
            n_ctx=n_ctx,
            n_threads=threads[0],
            n_threads_batch=threads[1],
            lora_path=str(lora) if lora else None,
            verbose=False,
        )
        self.threads = threads
        self.formatter = self._chat_formatter()

    def _chat_formatter(self) -> Any:
        template = self.llama.metadata.get("tokenizer.chat_template")
        if not template:
            return None
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        vocab = self.llama._model  # token text lookups, as Llama.__init__ does for its own handlers
        eos_id, bos_id = self.llama.token_eos(), self.llama.token_bos()
        eos = vocab.token_get_text(eos_id) if eos_id != -1 else ""
        bos = vocab.token_get_text(bos_id) if bos_id != -1 else ""
        return Jinja2ChatFormatter(template=template, eos_token=eos, bos_token=bos, stop_token_ids=[eos_id])

    def prompt_tokens(self, request: ChatRequest) -> tuple[list[int], list[str]]:
        """The exact token ids the model will read, and the chat template's stop strings."""
        if request.raw_text is not None:
            return self.llama.tokenize(request.raw_text.encode("utf-8"), add_bos=True, special=True), []
        if self.formatter is None:
            raise RequestRefusedError(
                "bad_request", f'{self.path.name} has no chat template; use it with task = "completion"'
            )
        result = self.formatter(messages=request.openai_messages())
        # The same tokenisation llama-cpp-python's own chat handler applies to the formatted prompt.
        tokens = self.llama.tokenize(
            result.prompt.encode("utf-8"), add_bos=not result.added_special, special=True
        )
        stop = result.stop if isinstance(result.stop, list) else [result.stop] if result.stop else []
        return tokens, stop

    def abort_when(self, event: threading.Event | None) -> None:
        """Let llama.cpp stop mid-batch once `event` is set (None: never).

        Used only while the prompt is read: that is one long native call, and a cancel must not wait for
        it. ggml asks between operations, so during decoding the callback would cost a Python call
        hundreds of times per token; there the worker checks its cancel flag between tokens instead.
        """
        import llama_cpp

        if event is None:
            callback = llama_cpp.ggml_abort_callback()  # NULL
        else:
            callback = llama_cpp.ggml_abort_callback(lambda _data: event.is_set())
        self._abort_callback = callback  # llama.cpp keeps only the pointer: keep the object alive
        llama_cpp.llama_set_abort_callback(self.llama.ctx, callback, None)

    def set_threads(self, threads: tuple[int, int]) -> None:
        """(decode, prompt) threads from the next token on (the supervisor shares the cores out)."""
        if threads != self.threads:
            import llama_cpp

            llama_cpp.llama_set_n_threads(self.llama.ctx, threads[0], threads[1])
            self.threads = threads


def system_features() -> list[str]:
    """The CPU features this llama.cpp build was compiled to use ("AVX2", "AVX512", "AMX_INT8", ...)."""
    import llama_cpp

    # "CPU : SSE3 = 1 | AVX = 1 | ... | OPENMP = 1 | "
    info = llama_cpp.llama_print_system_info().decode("utf-8", "replace")
    enabled = [part.split("=")[0] for part in info.split("|") if part.strip().endswith("= 1")]
    return sorted({name.split(":")[-1].strip() for name in enabled})


def _error(call_id: str, kind: str, message: str) -> dict[str, Any]:
    return {"id": call_id, "error": {"kind": kind, "message": message}}


class _Control:
    """What the stdin thread tells the generation in progress: stop, and how many threads to use."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.current: str | None = None
        self.cancelled = threading.Event()
        # Cancels that arrived before their job started (the supervisor may cancel right after sending it).
        self.early_cancels: collections.deque[str] = collections.deque(maxlen=256)
        self.threads: tuple[int, int] | None = None
        self.threads_seq = -1

    def start(self, call_id: str) -> None:
        """A job begins: its cancel flag is clear unless its cancel came first."""
        with self.lock:
            self.cancelled.clear()
            self.current = call_id
            if call_id in self.early_cancels:
                self.cancelled.set()

    def finish(self) -> None:
        """The job has ended."""
        with self.lock:
            self.current = None

    def cancel(self, call_id: str) -> None:
        """Stop `call_id` now if it runs, or as soon as it starts."""
        with self.lock:
            if call_id == self.current:
                self.cancelled.set()
            else:
                self.early_cancels.append(call_id)

    def set_threads(self, threads: list[int], seq: int) -> None:
        """Keep the newest thread counts (updates can be overtaken by a job's own)."""
        with self.lock:
            if seq > self.threads_seq:
                self.threads, self.threads_seq = (int(threads[0]), int(threads[1])), seq


class Worker:
    """The loop: answers counts beside generations, runs one generation at a time, never dies of a bad
    request; the stdin thread only dispatches, so a cancel is seen at once."""

    def __init__(self, model: LocalModel, out: BinaryIO) -> None:
        self.model = model
        self.out = out
        self.write_lock = threading.Lock()
        self.jobs: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self.counts: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self.control = _Control()

    def send(self, message: dict[str, Any]) -> None:
        """One line to the supervisor (several threads write: one lock)."""
        with self.write_lock:
            self.out.write(encode_line(message))
            self.out.flush()

    def read_commands(self, stdin: BinaryIO) -> None:
        """The stdin thread: dispatch each command; a malformed one is reported on stderr and skipped."""
        try:
            for line in stdin:
                try:
                    self.dispatch(json.loads(line))
                except Exception as exc:  # noqa: BLE001 - a bad line must not stop the loop
                    print(f"llama_worker: ignored a bad command: {exc!r}", file=sys.stderr, flush=True)
        finally:
            self.control.cancelled.set()  # the supervisor is gone: stop and exit
            self.jobs.put(None)
            self.counts.put(None)

    def dispatch(self, message: dict[str, Any]) -> None:
        """Act on one command."""
        op = message["op"]
        if op == "cancel":
            self.control.cancel(message["id"])
        elif op == "threads":
            self.control.set_threads(message["n"], message["seq"])
        elif op == "count":
            self.counts.put(message)
        elif op == "generate":
            self.jobs.put(message)
        else:
            raise ValueError(f"unknown op {op!r}")

    def answer_counts(self) -> None:
        """The counting thread: tokenising only reads the vocabulary, so it may run beside a generation."""
        while (message := self.counts.get()) is not None:
            try:
                tokens, _stop = self.model.prompt_tokens(decode_request(message["request"]))
                self.send({"id": message["id"], "count": len(tokens)})
            except RequestRefusedError as exc:
                self.send(_error(message["id"], exc.kind, exc.message))
            except Exception as exc:  # noqa: BLE001 - e.g. a chat template that raises on these messages
                self.send(_error(message["id"], "bad_request", f"{self.model.path.name}: {exc}"))

    def serve(self) -> None:
        """Run generations in arrival order until stdin closes."""
        while (job := self.jobs.get()) is not None:
            self.control.start(job["id"])
            self.control.set_threads(job["threads"], job["seq"])
            try:
                self.generate(job["id"], decode_request(job["request"]))
            except RequestRefusedError as exc:
                self.send(_error(job["id"], exc.kind, exc.message))
            except Exception as exc:  # noqa: BLE001 - one call's failure, reported to that call
                self.send(_error(job["id"], "bad_response", f"{self.model.path.name}: {exc}"))
            finally:
                self.control.finish()

    def generate(self, call_id: str, request: ChatRequest) -> None:
        """Stream one completion, one message per token, then counted usage and the finish reason.

        The supervisor has checked the prompt against the context window before queueing the call."""
        tokens, template_stop = self.model.prompt_tokens(request)
        max_tokens = request.max_tokens if request.max_tokens is not None else ChatRequest.DEFAULT_MAX_TOKENS
        self.apply_threads()
        self.send({"id": call_id, "started": True})
        cancelled = self.control.cancelled
        output_tokens, finish = 0, None
        stream = self.model.llama.create_completion(**_sampling(request, tokens, template_stop, max_tokens))
        self.model.abort_when(cancelled)  # until the prompt is read
        try:
            for chunk in stream:
                if output_tokens == 0:
                    self.model.abort_when(None)
                choice = chunk["choices"][0]
                if choice["finish_reason"] is not None:
                    finish = choice["finish_reason"]
                    continue
                output_tokens += 1  # llama-cpp-python streams one chunk per generated token
                self.send({"id": call_id, "t": choice["text"]})
                if cancelled.is_set():
                    finish = "cancelled"
                    break
                self.apply_threads()
        except RuntimeError:
            if not cancelled.is_set():
                raise
            finish = "cancelled"  # llama_decode stopped by the abort callback
        finally:
            self.model.abort_when(None)
            stream.close()
        self.send({"id": call_id, "usage": [len(tokens), output_tokens]})
        self.send({"id": call_id, "finish": finish})

    def apply_threads(self) -> None:
        """Use the thread counts the supervisor last asked for."""
        if self.control.threads:
            self.model.set_threads(self.control.threads)


def _sampling(
    request: ChatRequest, tokens: list[int], template_stop: list[str], max_tokens: int
) -> dict[str, Any]:
    kwargs: dict[str, Any] = {
        "prompt": tokens,
        "max_tokens": max_tokens,
        "stop": template_stop + list(request.stop),
        "stream": True,
    }
    for name in ("temperature", "top_p"):
        value = getattr(request, name)
        if value is not None:
            kwargs[name] = value
    # No seed asked for means a different one each call: llama-cpp-python would otherwise derive it from
    # a fixed default, so every new worker gave the same first answer.
    kwargs["seed"] = request.seed if request.seed is not None else random.SystemRandom().randrange(2**32)
    return kwargs


def main() -> None:
    """Load the model named on the command line, say ready, and serve until stdin closes."""
    out = claim_stdout()
    path, n_ctx = Path(sys.argv[1]), int(sys.argv[2])
    threads = (int(sys.argv[3]), int(sys.argv[4]))
    lora = Path(sys.argv[5]) if len(sys.argv) > 5 else None
    try:
        model = LocalModel(path, n_ctx, threads, lora)
    except Exception as exc:  # noqa: BLE001 - a missing, truncated or corrupt file: say so and exit
        out.write(encode_line({"load_error": f"could not load {path.name}: {exc}"}))
        out.flush()
        return
    worker = Worker(model, out)
    worker.send({"ready": True, "pid": os.getpid(), "features": system_features()})
    threading.Thread(target=worker.read_commands, args=(sys.stdin.buffer,), daemon=True).start()
    threading.Thread(target=worker.answer_counts, daemon=True).start()
    worker.serve()


if __name__ == "__main__":
    main()
