"""Supervised worker processes for local models: one per model file, a fair queue, crash isolation.

Every local call in this process (every dashboard session, or one CLI run) goes through the one
`ModelWorker` of its model file (and context size), so a model is loaded once whatever the number of
sessions. Calls take
turns in arrival order and see their place in the queue. A worker that dies (SIGILL, SIGSEGV, the OOM
killer's SIGKILL) ends only the call it was running, within a moment, with kind "crashed", a message
naming the signal, and the text received so far; the next call starts a new worker. A worker that does
not stop when a call is cancelled (Stop, or the call's deadline) or gives no token count is killed.
"""

from __future__ import annotations

import atexit
import collections
import os
import queue
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from providers import errors, worker_process
from providers.base import (
    CancelToken,
    ChatRequest,
    Chunk,
    Finish,
    Queued,
    TextDelta,
    Usage,
)
from providers.llama_worker import encode_request
from providers.worker_process import QUEUE_LIMIT_ENV

THREADS_ENV = "PLAYGROUND_LLAMA_THREADS"
# A worker still generating this long after it was told to stop is taken as hung and killed (at least
# this; longer for a model whose tokens come slower: see ModelWorker._stop).
CANCEL_GRACE_S = 2.0
# Loading a model file (the bundled ones take well under a second).
START_TIMEOUT_S = 120.0
COUNT_TIMEOUT_S = 30.0
_COUNTS_KEPT = 256
# How often a queued call looks at its cancel flag and its place in the queue.
_POLL_S = 0.05

# What the README's portable build of llama.cpp may use on x86-64 (GGML_NATIVE=OFF), as /proc/cpuinfo names it.
PORTABLE_CPU_FLAGS = ("avx", "avx2", "fma", "f16c", "bmi2")
# The same install for an x86-64 CPU without AVX2: its own wheel cache, because pip's is keyed by the source
# and would hand back the AVX2 build (pypa/pip#11164).
PRE_AVX2_INSTALL = (
    'rm -rf .venv && python3 -m venv .venv && CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_AVX=OFF -DGGML_AVX2=OFF '
    '-DGGML_FMA=OFF -DGGML_F16C=OFF -DGGML_BMI2=OFF" .venv/bin/pip install --cache-dir '
    "~/.cache/model-playground/pip-sse42 -e ."
)


def missing_cpu_flags(cpuinfo: Path = Path("/proc/cpuinfo")) -> list[str]:
    """The portable build's x86-64 features this CPU (or its hypervisor) does not offer; [] elsewhere."""
    try:
        text = cpuinfo.read_text(errors="replace")
    except OSError:
        return []
    flags = next(
        (line.split(":", 1)[1].split() for line in text.splitlines() if line.startswith("flags")), None
    )
    if flags is None:  # not x86 (aarch64 says "Features"): the portable build has no such baseline there
        return []
    return [flag for flag in PORTABLE_CPU_FLAGS if flag not in flags]


def illegal_instruction_hint() -> str:
    """Why a worker died of SIGILL, and the command that fixes it on this machine."""
    missing = missing_cpu_flags()
    if missing:
        return (
            f"this CPU lacks {', '.join(flag.upper() for flag in missing)}, which the README's portable build "
            f"of llama.cpp uses; rebuild it for this CPU: {PRE_AVX2_INSTALL}"
        )
    return (
        "an instruction this CPU or its OS does not run: llama.cpp was probably built elsewhere or for this "
        "CPU only; reinstall with the README's command, which builds it for a portable AVX2 baseline"
    )


def exit_description(returncode: int) -> str:
    """'SIGSEGV (signal 11): a memory fault, normally a crash inside llama.cpp' or 'exit code 3'."""
    return worker_process.exit_description(returncode, "llama.cpp", illegal_instruction_hint)


class _Process(worker_process.WorkerProcess):
    """One running llama worker (the generic process and its threads: providers/worker_process.py), with
    the CPU features its llama.cpp build uses (from its ready message)."""

    def __init__(self, path: Path, n_ctx: int, threads: tuple[int, int], lora: Path | None = None) -> None:
        args = [str(path), str(n_ctx), *map(str, threads), *([str(lora)] if lora else [])]
        super().__init__("providers.llama_worker", args, describe=exit_description)
        self.features: list[str] = []


class CpuShare:
    """Splits the usable cores between the workers generating at the same moment.

    ggml's threads wait for each other at every operation of every token, spinning, so a thread that
    loses its core stalls the others: measured here (bench/bench_local.py) with one competing busy
    process, 2 decode threads on 2 cores fell from ~136 to 45-53 tok/s while 1 thread held ~135; quiet,
    the second thread added under 7%. So decoding leaves a core for everything else (the web server, a
    browser, another worker): (cores - 1) // (workers generating) threads, at least 1. Reading the prompt
    is one large batch per call, where threads pay off (1.8x quiet with 2) and, with OpenMP's passive wait
    (set for every worker), cost nothing under load: cores // (workers generating). The counts are re-sent
    to running workers whenever one starts or ends, numbered so a worker keeps the newest.
    $PLAYGROUND_LLAMA_THREADS fixes both per worker.
    """

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.busy: dict[str, _Process] = {}
        self.seq = 0

    @staticmethod
    def cores() -> int:
        """Usable cores (the process's CPU affinity)."""
        return worker_process.cores()

    def threads(self) -> tuple[int, int]:
        """(decode threads, prompt threads) for each generating worker now."""
        configured = os.environ.get(THREADS_ENV, "").strip()
        if configured.isdigit() and int(configured) > 0:
            return int(configured), int(configured)
        cores, busy = self.cores(), max(1, len(self.busy))
        return max(1, (cores - 1) // busy), max(1, cores // busy)

    def enter(self, call_id: str, process: _Process, job: dict[str, Any]) -> None:
        """Count a generation in and send its job with its thread counts; tell the others theirs."""
        with self.lock:
            self.busy[call_id] = process
            self._send_all({**job, "threads": self.threads()}, call_id)

    def leave(self, call_id: str) -> None:
        """Count a generation out; the others get the freed cores."""
        with self.lock:
            self.busy.pop(call_id, None)
            self._send_all(None, None)

    def _send_all(self, job: dict[str, Any] | None, call_id: str | None) -> None:
        # Under the lock, numbered: updates reach each worker in order and a late one never wins.
        self.seq += 1
        threads = self.threads()
        for other_id, process in self.busy.items():
            if other_id == call_id and job is not None:
                process.send({**job, "seq": self.seq})
            else:
                process.send({"op": "threads", "n": threads, "seq": self.seq})


CPU_SHARE = CpuShare()


@dataclass
class _Call:
    """One generation on a worker process, as the cancel callback and the kill timer see it."""

    call_id: str
    process: _Process
    done: bool = False
    token_gap_s: float = 0.0  # the slowest gap between two tokens so far


class ModelWorker:
    """The one worker process of a model file: starts it, queues calls fairly, restarts it after a crash."""

    def __init__(self, path: Path, n_ctx: int, lora: Path | None = None) -> None:
        self.path = path
        self.n_ctx = n_ctx
        self.lora = lora  # a GGUF LoRA adapter loaded on top of the model file (a tuned model)
        self._process: _Process | None = None
        self._start_lock = threading.Lock()
        self._turns: collections.deque[object] = collections.deque()
        self._turn_changed = threading.Condition()
        self.starts = 0  # how many processes this worker has started (restarts after crashes included)
        self._tokens_now = 0
        # A request's count never changes for a model file: the page's estimate, the call's own check and
        # the runner's accounting ask for the same one, and a hung worker must not be asked twice.
        self._counts: collections.OrderedDict[ChatRequest, int] = collections.OrderedDict()
        self._counts_lock = threading.Lock()

    @property
    def pid(self) -> int | None:
        """The running worker process's id, if any."""
        process = self._process
        return process.popen.pid if process is not None and process.alive else None

    @property
    def generating_tokens(self) -> int:
        """Tokens received so far by the generation in progress (0 when idle)."""
        return self._tokens_now

    @property
    def features(self) -> list[str]:
        """The CPU features the installed llama.cpp build was compiled to use (starts the worker)."""
        return self.process().features

    def process(self) -> _Process:
        """The live process, started (and the model loaded) on first use or after a crash."""
        with self._start_lock:
            if self._process is None or not self._process.alive:
                self._process = self._start()
            return self._process

    def _start(self) -> _Process:
        process = _Process(self.path, self.n_ctx, CPU_SHARE.threads(), self.lora)
        self.starts += 1
        try:
            message = process.inboxes["start"].get(timeout=START_TIMEOUT_S)
        except queue.Empty:
            process.kill("no answer while loading")
            raise errors.ModelNotFoundError(
                f"could not load {self.path.name}: no answer within {START_TIMEOUT_S:g} s"
            ) from None
        if "ready" in message:
            process.features = message["features"]
            return process
        if "load_error" in message:
            raise errors.ModelNotFoundError(message["load_error"])
        tail = process.last_stderr()
        raise errors.ModelNotFoundError(
            f"could not load {self.path.name}: the worker died with {exit_description(message['died'])}"
            + (f" ({tail})" if tail else "")
        )

    def count(self, request: ChatRequest) -> int:
        """Exact input tokens with the model's own tokenizer and chat template (remembered per request)."""
        with self._counts_lock:
            if request in self._counts:
                self._counts.move_to_end(request)
                return self._counts[request]
        count = self._count_in_worker(request)
        with self._counts_lock:
            self._counts[request] = count
            while len(self._counts) > _COUNTS_KEPT:
                self._counts.popitem(last=False)
        return count

    def _count_in_worker(self, request: ChatRequest) -> int:
        """Ask the worker (it answers beside a generation). A worker that died meanwhile is replaced
        once; one that does not answer is killed."""
        for attempt in (1, 2):
            process = self.process()
            call_id = uuid.uuid4().hex
            inbox = process.open(call_id)
            try:
                process.send({"op": "count", "id": call_id, "request": encode_request(request)})
                message = inbox.get(timeout=COUNT_TIMEOUT_S)
            except queue.Empty:
                process.kill(f"no token count within {COUNT_TIMEOUT_S:g} s")
                raise errors.DeadlineExceededError(
                    f"{self.path.name}: the worker gave no token count within {COUNT_TIMEOUT_S:g} s; "
                    "it was stopped and the next call starts a new one"
                ) from None
            finally:
                process.close(call_id)
            if "died" not in message:
                break
            if attempt == 2:
                raise errors.WorkerCrashedError(
                    f"the local worker for {self.path.name} {process.death(message['died'])}"
                )
        if "error" in message:
            raise errors.from_kind(message["error"]["kind"], message["error"]["message"])
        return int(message["count"])

    def stream(self, request: ChatRequest, cancel: CancelToken, queue_limit: float) -> Iterator[Chunk]:
        """Wait for this model in arrival order (Queued(n), then Queued(0) at its turn), then generate."""
        input_tokens = self.count(request)
        max_tokens = request.max_tokens if request.max_tokens is not None else ChatRequest.DEFAULT_MAX_TOKENS
        if input_tokens + max_tokens > self.n_ctx:
            raise errors.ContextOverflowError(
                f"prompt is {input_tokens} tokens + max_tokens {max_tokens} > context window {self.n_ctx}"
            )
        turn = object()
        with self._turn_changed:
            self._turns.append(turn)
        try:
            yield from self._wait_turn(turn, cancel, queue_limit)
            if cancel.cancelled:
                raise errors.CancelledError("cancelled before the local model started")
            yield from self._generate(request, cancel, input_tokens)
        finally:
            with self._turn_changed:
                self._turns.remove(turn)
                self._turn_changed.notify_all()

    def _wait_turn(self, turn: object, cancel: CancelToken, queue_limit: float) -> Iterator[Chunk]:
        waited_from = time.monotonic()
        last: int | None = None
        while True:
            with self._turn_changed:
                ahead = self._turns.index(turn)
                if ahead and ahead == last:
                    self._turn_changed.wait(_POLL_S)
                    ahead = self._turns.index(turn)
            if ahead != last:
                yield Queued(ahead)
                last = ahead
            if ahead == 0:
                return
            if cancel.cancelled:
                raise errors.CancelledError("cancelled while waiting for the local model")
            if time.monotonic() - waited_from > queue_limit:
                raise errors.QueueTimeoutError(
                    f"{self.path.name} stayed busy: waited {queue_limit:g} s in the queue with {ahead} "
                    f"call(s) ahead (limit: ${QUEUE_LIMIT_ENV})"
                )

    def _generate(self, request: ChatRequest, cancel: CancelToken, input_tokens: int) -> Iterator[Chunk]:
        process = self.process()  # a crash while this call waited: a new worker
        call = _Call(uuid.uuid4().hex, process)
        inbox = process.open(call.call_id)
        process.set_current(call.call_id)
        job = {"op": "generate", "id": call.call_id, "request": encode_request(request)}
        CPU_SHARE.enter(call.call_id, process, job)
        cancel.on_cancel(lambda: self._stop(call))
        try:
            yield from self._relay(call, inbox, cancel, input_tokens)
        finally:
            call.done = True
            process.set_current(None)
            self._tokens_now = 0
            CPU_SHARE.leave(call.call_id)
            process.close(call.call_id)

    def _relay(
        self, call: _Call, inbox: queue.Queue[dict[str, Any]], cancel: CancelToken, input_tokens: int
    ) -> Iterator[Chunk]:
        """The worker's messages for one call, as chunks; its death as a crash (or as the cancel it was)."""
        received, last_token = 0, time.monotonic()
        while True:
            message = inbox.get()
            if "t" in message:
                now = time.monotonic()
                call.token_gap_s = max(call.token_gap_s, now - last_token) if received else 0.0
                received, last_token = received + 1, now
                self._tokens_now = received
                if message["t"]:
                    yield TextDelta(message["t"])
            elif "usage" in message:
                yield Usage(message["usage"][0], message["usage"][1], source="counted")
            elif "finish" in message:
                yield Finish(message["finish"])
                return
            elif "error" in message:
                raise errors.from_kind(message["error"]["kind"], message["error"]["message"])
            elif "died" in message:
                yield Usage(input_tokens, received, source="counted")
                if cancel.cancelled:
                    return  # stopped because it did not stop when told: the call was cancelled
                raise errors.WorkerCrashedError(self._crash_message(call.process, message["died"], received))
            else:  # "started"
                last_token = time.monotonic()

    def _stop(self, call: _Call) -> None:
        """Tell the worker to stop this call; kill it if it is still on it after the grace period."""
        if call.done:
            return  # the runner cancels every attempt's token when it ends: nothing to stop
        # A worker that is slow, not hung, gets several of its own slowest token gaps to notice.
        grace = max(CANCEL_GRACE_S, 5 * call.token_gap_s)
        timer = threading.Timer(
            grace,
            call.process.kill_if_running,
            args=(call.call_id, f"it did not stop within {grace:.1f} s of a cancel"),
        )
        timer.daemon = True
        timer.start()
        call.process.send({"op": "cancel", "id": call.call_id})

    def _crash_message(self, process: _Process, returncode: int, tokens: int) -> str:
        return (
            f"the local worker for {self.path.name} (pid {process.popen.pid}) {process.death(returncode)}, "
            f"after {tokens} token(s); the text so far is kept and the next call starts a new worker"
        )

    def shutdown(self) -> None:
        """End the worker process (at interpreter exit)."""
        process = self._process
        if process is not None and process.alive:
            process.shutdown()


_workers: dict[tuple[Path, int, Path | None], ModelWorker] = {}
_workers_lock = threading.Lock()


def worker_for(path: Path, n_ctx: int, lora: Path | None = None) -> ModelWorker:
    """The process-wide worker of a model file (one per file, context size and LoRA adapter)."""
    key = (path.resolve(), n_ctx, lora.resolve() if lora else None)
    with _workers_lock:
        if key not in _workers:
            _workers[key] = ModelWorker(key[0], n_ctx, key[2])
        return _workers[key]


def running_workers() -> list[ModelWorker]:
    """Every worker this process has made (for tests, benchmarks and the shutdown hook)."""
    with _workers_lock:
        return list(_workers.values())


@atexit.register
def _shutdown_all() -> None:
    for worker in running_workers():
        worker.shutdown()
