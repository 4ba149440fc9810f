"""Supervised worker processes for local models: one per model file, a fair queue, crash isolation.

Every local call in this process (every dashboard session, or one CLI run) goes through the one
`ModelWorker` of its model file, so a model is loaded once whatever the number of sessions. Calls take
turns in arrival order and see their place in the queue. A worker that dies (SIGILL, SIGSEGV, the OOM
killer's SIGKILL) ends only the call it was running, within a moment, with kind "crashed", a message
naming the signal, and the text received so far; the next call starts a new worker. A worker that stops
answering after a cancel is killed.
"""

from __future__ import annotations

import atexit
import collections
import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from providers import errors
from providers.base import (
    CancelToken,
    ChatRequest,
    Chunk,
    Finish,
    GenerationStarted,
    Queued,
    TextDelta,
    Usage,
)
from providers.llama_worker import DEFAULT_MAX_TOKENS, encode_request

QUEUE_LIMIT_ENV = "PLAYGROUND_QUEUE_LIMIT_S"
DEFAULT_QUEUE_LIMIT_S = 300.0
THREADS_ENV = "PLAYGROUND_LLAMA_THREADS"
# A worker still generating this long after it was told to stop is taken as hung and killed.
CANCEL_GRACE_S = 1.0
# Loading a model file (the bundled ones take well under a second).
START_TIMEOUT_S = 120.0
COUNT_TIMEOUT_S = 30.0
# How often a queued call looks at its cancel flag and its place in the queue.
_POLL_S = 0.05
_ROOT = str(Path(__file__).resolve().parent.parent)

_SIGNAL_HINTS = {
    signal.SIGILL: "an instruction this CPU or its OS does not run; reinstall with the README's command, "
    "which builds llama.cpp for a portable AVX2 baseline",
    signal.SIGSEGV: "a crash inside llama.cpp",
    signal.SIGKILL: "killed from outside, often by the out-of-memory killer",
    signal.SIGBUS: "a bad memory access, often a model file changed or truncated while loaded",
}


def queue_limit_s() -> float:
    """How long a local call may wait for its turn: $PLAYGROUND_QUEUE_LIMIT_S, default 300 s."""
    try:
        return max(0.0, float(os.environ.get(QUEUE_LIMIT_ENV, DEFAULT_QUEUE_LIMIT_S)))
    except ValueError:
        return DEFAULT_QUEUE_LIMIT_S


def exit_description(returncode: int) -> str:
    """'SIGSEGV (signal 11): a crash inside llama.cpp' or 'exit code 3'."""
    if returncode >= 0:
        return f"exit code {returncode}"
    number = -returncode
    try:
        sig = signal.Signals(number)
    except ValueError:
        return f"signal {number}"
    hint = _SIGNAL_HINTS.get(sig)
    return f"{sig.name} (signal {number})" + (f": {hint}" if hint else "")


class _Process:
    """One running worker process and the threads that read its pipes."""

    def __init__(self, path: Path, n_ctx: int, threads: tuple[int, int]) -> None:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (_ROOT, env.get("PYTHONPATH")) if p)
        # Threads that wait sleep instead of spinning: see CpuShare.
        env.setdefault("OMP_WAIT_POLICY", "PASSIVE")
        self.popen = subprocess.Popen(
            [sys.executable, "-m", "providers.llama_worker", str(path), str(n_ctx), *map(str, threads)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
        )
        self.name = path.name
        self.inboxes: dict[str, queue.Queue[dict[str, Any]]] = {"start": queue.Queue()}
        self.inbox_lock = threading.Lock()
        self.write_lock = threading.Lock()
        self.stderr_tail: collections.deque[str] = collections.deque(maxlen=20)
        self.returncode: int | None = None
        self.current: str | None = None  # the generation it is running
        self.features: list[str] = []  # CPU features the llama.cpp build uses (from its ready message)
        for target, stream in ((self._read_out, self.popen.stdout), (self._read_err, self.popen.stderr)):
            threading.Thread(target=target, args=(stream,), daemon=True, name=f"worker-{path.name}").start()

    @property
    def alive(self) -> bool:
        """False once the process has ended (its stdout closed)."""
        return self.returncode is None

    def _read_out(self, stream: IO[bytes]) -> None:
        for line in stream:
            message = json.loads(line)
            box = "start" if "ready" in message or "load_error" in message else message.get("id")
            with self.inbox_lock:
                inbox = self.inboxes.get(box)
            if inbox is not None:
                inbox.put(message)
        self.returncode = self.popen.wait()
        with self.inbox_lock:
            boxes = list(self.inboxes.values())
        for inbox in boxes:
            inbox.put({"died": self.returncode})

    def _read_err(self, stream: IO[bytes]) -> None:
        for line in stream:
            self.stderr_tail.append(line.decode("utf-8", "replace").rstrip())

    def open(self, call_id: str) -> queue.Queue[dict[str, Any]]:
        """A queue that receives every message for `call_id` (and {"died": code} if the process ends)."""
        inbox: queue.Queue[dict[str, Any]] = queue.Queue()
        with self.inbox_lock:
            self.inboxes[call_id] = inbox
        if not self.alive:
            inbox.put({"died": self.returncode})
        return inbox

    def close(self, call_id: str) -> None:
        """Stop routing messages for `call_id`."""
        with self.inbox_lock:
            self.inboxes.pop(call_id, None)

    def send(self, message: dict[str, Any]) -> None:
        """One command; a dead process's broken pipe is ignored (its death reaches every inbox)."""
        data = (json.dumps(message, separators=(",", ":")) + "\n").encode("utf-8")
        try:
            with self.write_lock:
                assert self.popen.stdin is not None
                self.popen.stdin.write(data)
                self.popen.stdin.flush()
        except (BrokenPipeError, ValueError, OSError):
            pass

    def kill(self) -> None:
        """SIGKILL (a hung worker, or shutdown)."""
        try:
            self.popen.kill()
        except OSError:
            pass

    def shutdown(self) -> None:
        """Close stdin (the worker exits at once when idle), kill it if it lingers."""
        try:
            if self.popen.stdin is not None:
                self.popen.stdin.close()
            self.popen.wait(1)
        except (OSError, subprocess.TimeoutExpired):
            self.kill()


class CpuShare:
    """Splits the usable cores between the workers generating at the same moment.

    ggml's threads wait for each other at every operation of every token, spinning, so a thread that
    loses its core stalls the others: measured here (bench/bench_local.py) with one competing busy
    process, 2 decode threads on 2 cores fell from ~136 to 45-53 tok/s while 1 thread held ~135; quiet,
    the second thread added under 7%. So decoding leaves a core for everything else (the web server, a
    browser, another worker): (cores - 1) // (workers generating) threads, at least 1. Reading the prompt
    is one large batch per call, where threads pay off (1.8x quiet with 2) and, with OpenMP's passive wait
    (set for every worker), cost nothing under load: cores // (workers generating). The counts are re-sent
    to running workers whenever one starts or ends. $PLAYGROUND_LLAMA_THREADS fixes both per worker.
    """

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.busy: dict[str, _Process] = {}

    @staticmethod
    def cores() -> int:
        """Usable cores (the process's CPU affinity)."""
        return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1

    def threads(self) -> tuple[int, int]:
        """(decode threads, prompt threads) for each generating worker now."""
        configured = os.environ.get(THREADS_ENV, "").strip()
        if configured.isdigit() and int(configured) > 0:
            return int(configured), int(configured)
        cores, busy = self.cores(), max(1, len(self.busy))
        return max(1, (cores - 1) // busy), max(1, cores // busy)

    def enter(self, call_id: str, process: _Process) -> tuple[int, int]:
        """Count a generation in; returns its thread counts and tells the others theirs."""
        with self.lock:
            self.busy[call_id] = process
            threads = self.threads()
            others = [p for c, p in self.busy.items() if c != call_id]
        for other in others:
            other.send({"op": "threads", "n": threads})
        return threads

    def leave(self, call_id: str) -> None:
        """Count a generation out; the others get the freed cores."""
        with self.lock:
            self.busy.pop(call_id, None)
            threads = self.threads()
            others = list(self.busy.values())
        for other in others:
            other.send({"op": "threads", "n": threads})


CPU_SHARE = CpuShare()


class ModelWorker:
    """The one worker process of a model file: starts it, queues calls fairly, restarts it after a crash."""

    def __init__(self, path: Path, n_ctx: int) -> None:
        self.path = path
        self.n_ctx = n_ctx
        self._process: _Process | None = None
        self._start_lock = threading.Lock()
        self._turns: collections.deque[object] = collections.deque()
        self._turn_changed = threading.Condition()
        self.starts = 0  # how many processes this worker has started (restarts after crashes included)
        self._tokens_now = 0

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
        process = _Process(self.path, self.n_ctx, CPU_SHARE.threads())
        self.starts += 1
        try:
            message = process.inboxes["start"].get(timeout=START_TIMEOUT_S)
        except queue.Empty:
            process.kill()
            raise errors.ModelNotFoundError(
                f"could not load {self.path.name}: no answer within {START_TIMEOUT_S:g} s"
            ) from None
        if "ready" in message:
            process.features = message["features"]
            return process
        if "load_error" in message:
            raise errors.ModelNotFoundError(message["load_error"])
        tail = " | ".join(list(process.stderr_tail)[-3:])
        raise errors.ModelNotFoundError(
            f"could not load {self.path.name}: the worker died with {exit_description(message['died'])}"
            + (f" ({tail})" if tail else "")
        )

    def count(self, request: ChatRequest) -> int:
        """Exact input tokens with the model's own tokenizer and chat template (answered between tokens)."""
        process = self.process()
        call_id = uuid.uuid4().hex
        inbox = process.open(call_id)
        try:
            process.send({"op": "count", "id": call_id, "request": encode_request(request)})
            message = inbox.get(timeout=COUNT_TIMEOUT_S)
        except queue.Empty:
            raise errors.DeadlineExceededError(f"{self.path.name}: no token count within 30 s") from None
        finally:
            process.close(call_id)
        if "died" in message:
            raise errors.WorkerCrashedError(
                f"the local worker for {self.path.name} died with {exit_description(message['died'])}"
            )
        if "error" in message:
            raise errors.from_kind(message["error"]["kind"], message["error"]["message"])
        return int(message["count"])

    def stream(self, request: ChatRequest, cancel: CancelToken, queue_limit: float) -> Iterator[Chunk]:
        """Wait for this model in arrival order (yielding Queued), then stream the generation."""
        input_tokens = self.count(request)
        max_tokens = request.max_tokens if request.max_tokens is not None else DEFAULT_MAX_TOKENS
        if input_tokens + max_tokens > self.n_ctx:
            raise errors.ContextOverflowError(
                f"prompt is {input_tokens} tokens + max_tokens {max_tokens} > context window {self.n_ctx}"
            )
        turn = object()
        with self._turn_changed:
            self._turns.append(turn)
        try:
            yield from self._wait_turn(turn, cancel, queue_limit)
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
        call_id = uuid.uuid4().hex
        inbox = process.open(call_id)
        threads = CPU_SHARE.enter(call_id, process)
        received = 0
        try:
            process.current = call_id
            process.send(
                {"op": "generate", "id": call_id, "request": encode_request(request), "threads": threads}
            )
            cancel.on_cancel(lambda: self._stop(process, call_id))
            while True:
                message = inbox.get()
                if "t" in message:
                    received += 1
                    self._tokens_now = received
                    if message["t"]:
                        yield TextDelta(message["t"])
                elif "started" in message:
                    yield GenerationStarted()
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
                        return  # killed because it did not stop when told: the call was cancelled
                    raise errors.WorkerCrashedError(self._crash_message(process, message["died"], received))
        finally:
            process.current = None
            self._tokens_now = 0
            CPU_SHARE.leave(call_id)
            process.close(call_id)

    def _stop(self, process: _Process, call_id: str) -> None:
        """Tell the worker to stop this call; kill it if it is still on it after the grace period."""
        process.send({"op": "cancel", "id": call_id})

        def kill_if_hung() -> None:
            if process.alive and process.current == call_id:
                process.kill()

        timer = threading.Timer(CANCEL_GRACE_S, kill_if_hung)
        timer.daemon = True
        timer.start()

    def _crash_message(self, process: _Process, returncode: int, tokens: int) -> str:
        return (
            f"the local worker for {self.path.name} (pid {process.popen.pid}) died with "
            f"{exit_description(returncode)}, after {tokens} token(s); the text so far is kept and the "
            "next call starts a new worker"
        )

    def shutdown(self) -> None:
        """End the worker process (at interpreter exit)."""
        process = self._process
        if process is not None and process.alive:
            process.shutdown()


_workers: dict[tuple[Path, int], ModelWorker] = {}
_workers_lock = threading.Lock()


def worker_for(path: Path, n_ctx: int) -> ModelWorker:
    """The process-wide worker of a model file (one per file and context size)."""
    key = (path.resolve(), n_ctx)
    with _workers_lock:
        if key not in _workers:
            _workers[key] = ModelWorker(key[0], n_ctx)
        return _workers[key]


def running_workers() -> list[ModelWorker]:
    """Every worker this process has made (for tests, benchmarks and the shutdown hook)."""
    with _workers_lock:
        return list(_workers.values())


@atexit.register
def _shutdown_all() -> None:
    for worker in running_workers():
        worker.shutdown()
