"""Supervised worker processes: what every kind of model worker shares.

Native code (llama.cpp, CTranslate2, ONNX Runtime, espeak-ng, FFmpeg) can crash, hang or spawn a pool
of threads per core; none of that may reach the web server or the CLI. So each local model runs in a
process of its own, spoken to in JSON lines over its stdin and stdout. This module is the part that does
not depend on the model:

- `WorkerProcess`: one running process, its writer, reader and stderr threads, messages routed to each
  call's inbox by id, its death told to every inbox, kill and shutdown;
- `exit_description`: a death as a person reads it (the signal's name and likely cause);
- `RequestWorker`: a supervisor for workers that answer one request with one message (the speech
  models). Calls take turns in arrival order, each has a deadline (a worker that misses it is killed: kind
  "timeout"), a worker's death ends only the call it was running (kind "crashed", the signal named) and
  the next call starts a new worker.

Why a second supervisor beside `local_workers.ModelWorker` rather than one class for both: a chat
generation streams many messages, is cancelled mid-way and shares the cores with the other generations
as they come and go (`CpuShare`); a speech call is one request and one answer on a model whose thread
pool is fixed when it loads. What they share is the process and its plumbing, which lives here once.
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
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any, BinaryIO

from providers import errors

_ROOT = str(Path(__file__).resolve().parent.parent)
# A worker's first line ("ready"): it comes before any model is loaded, so this only covers Python's start.
READY_TIMEOUT_S = 60.0

QUEUE_LIMIT_ENV = "PLAYGROUND_QUEUE_LIMIT_S"
DEFAULT_QUEUE_LIMIT_S = 300.0

SIGNAL_HINTS = {
    signal.SIGKILL: "killed from outside, often by the out-of-memory killer",
    signal.SIGBUS: "a bad memory access, often a model file changed or truncated while loaded",
}


def encode_line(message: dict[str, Any]) -> bytes:
    """One protocol message as a line of compact JSON (both directions)."""
    return (json.dumps(message, separators=(",", ":")) + "\n").encode("utf-8")


def claim_stdout() -> BinaryIO:
    """In a worker: the protocol's own copy of stdout; fd 1 then points at stderr, so nothing native
    writes into it."""
    protocol = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    return protocol


def exit_description(
    returncode: int, library: str = "native code", sigill_hint: Callable[[], str] | None = None
) -> str:
    """'SIGSEGV (signal 11): a memory fault, normally a crash inside `library`' or 'exit code 3'."""
    if returncode >= 0:
        return f"exit code {returncode}"
    number = -returncode
    try:
        sig = signal.Signals(number)
    except ValueError:
        return f"signal {number}"
    hints = {
        **SIGNAL_HINTS,
        signal.SIGSEGV: f"a memory fault, normally a crash inside {library}",
        signal.SIGILL: f"an instruction this CPU or its OS does not run, inside {library}",
    }
    hint = sigill_hint() if sig == signal.SIGILL and sigill_hint is not None else hints.get(sig)
    return f"{sig.name} (signal {number})" + (f": {hint}" if hint else "")


def queue_limit_s() -> float:
    """How long a local call may wait for its turn: $PLAYGROUND_QUEUE_LIMIT_S, default 300 s."""
    try:
        return max(0.0, float(os.environ.get(QUEUE_LIMIT_ENV, DEFAULT_QUEUE_LIMIT_S)))
    except ValueError:
        return DEFAULT_QUEUE_LIMIT_S


def cores() -> int:
    """Usable cores (the process's CPU affinity)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


class WorkerProcess:
    """One running worker process (`python -P -m MODULE ARGS...`): a writer thread (sending never blocks
    a caller), a reader thread that routes each message to its call's inbox, and a stderr thread keeping
    the last lines. Messages {"ready"} and {"load_error"} go to the "start" inbox, others by their "id"."""

    def __init__(
        self,
        module: str,
        args: Sequence[str],
        env: dict[str, str] | None = None,
        describe: Callable[[int], str] = exit_description,
    ) -> None:
        full_env = {**os.environ, **(env or {})}
        full_env["PYTHONPATH"] = os.pathsep.join(p for p in (_ROOT, full_env.get("PYTHONPATH")) if p)
        # Threads that wait sleep instead of spinning: a spinning pool steals the cores others need.
        full_env.setdefault("OMP_WAIT_POLICY", "PASSIVE")
        # -P: the caller's working directory is not put on sys.path (a stray providers/ there is not ours).
        self.popen = subprocess.Popen(
            [sys.executable, "-P", "-m", module, *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=full_env,
        )
        self.describe = describe
        self.inboxes: dict[str, queue.Queue[dict[str, Any]]] = {"start": queue.Queue()}
        self.inbox_lock = threading.Lock()
        self.outbox: queue.Queue[bytes | None] = queue.Queue()
        self.stderr_tail: collections.deque[str] = collections.deque(maxlen=20)
        self.returncode: int | None = None
        self.kill_reason: str | None = None  # set when the supervisor itself ends the process
        self.current: str | None = None  # the call it is running
        self.current_lock = threading.Lock()
        self._stderr_thread = self._thread(self._read_err, self.popen.stderr)
        self._thread(self._read_out, self.popen.stdout)
        self._thread(self._write, self.popen.stdin)

    def _thread(self, target: Any, stream: IO[bytes] | None) -> threading.Thread:
        thread = threading.Thread(target=target, args=(stream,), daemon=True, name=f"worker-{self.popen.pid}")
        thread.start()
        return thread

    @property
    def alive(self) -> bool:
        """False once the process has ended, or the supervisor has begun to kill it."""
        return self.returncode is None and self.kill_reason is None

    def _read_out(self, stream: IO[bytes]) -> None:
        try:
            for line in stream:
                self._route(line)
        finally:
            self.returncode = self.popen.wait()
            self.outbox.put(None)
            with self.inbox_lock:
                boxes = list(self.inboxes.values())
            for inbox in boxes:
                inbox.put({"died": self.returncode})

    def _route(self, line: bytes) -> None:
        try:
            message = json.loads(line)
            if not isinstance(message, dict):
                raise ValueError("not an object")
        except ValueError:  # not ours (a native library writing to the pipe): keep it for diagnosis
            self.stderr_tail.append(line.decode("utf-8", "replace").rstrip()[:500])
            return
        box = "start" if "ready" in message or "load_error" in message else message.get("id")
        with self.inbox_lock:
            inbox = self.inboxes.get(box)
        if inbox is not None:
            inbox.put(message)

    def _read_err(self, stream: IO[bytes]) -> None:
        for line in stream:
            self.stderr_tail.append(line.decode("utf-8", "replace").rstrip())

    def _write(self, stream: IO[bytes]) -> None:
        while (data := self.outbox.get()) is not None:
            try:
                stream.write(data)
                stream.flush()
            except (BrokenPipeError, ValueError, OSError):
                return  # the process is gone: its end reaches every inbox

    def last_stderr(self, lines: int = 3) -> str:
        """The last lines the worker wrote to stderr (read to the end when it has exited)."""
        if not self.alive:
            self._stderr_thread.join(0.5)
        return " | ".join(list(self.stderr_tail)[-lines:])

    def open(self, call_id: str) -> queue.Queue[dict[str, Any]]:
        """A queue that receives every message for `call_id` (and {"died": code} if the process ends)."""
        inbox: queue.Queue[dict[str, Any]] = queue.Queue()
        with self.inbox_lock:
            self.inboxes[call_id] = inbox
        if self.returncode is not None:  # ended before this inbox existed (else _read_out tells it)
            inbox.put({"died": self.returncode})
        return inbox

    def close(self, call_id: str) -> None:
        """Stop routing messages for `call_id`."""
        with self.inbox_lock:
            self.inboxes.pop(call_id, None)

    def send(self, message: dict[str, Any]) -> None:
        """Queue one command for the writer thread; never blocks, even when the worker does not read."""
        self.outbox.put(encode_line(message))

    def kill(self, reason: str) -> None:
        """SIGKILL, saying why (a worker that stopped answering, or shutdown)."""
        self.kill_reason = self.kill_reason or reason
        try:
            self.popen.kill()
        except OSError:
            pass

    def kill_if_running(self, call_id: str, reason: str) -> None:
        """Kill the process only if it is still on `call_id` (not on a call that came after)."""
        with self.current_lock:
            if self.alive and self.current == call_id:
                self.kill(reason)

    def set_current(self, call_id: str | None) -> None:
        """Record which call the process runs."""
        with self.current_lock:
            self.current = call_id

    def death(self, returncode: int) -> str:
        """Why the process ended: our own kill's reason, or the signal or exit code."""
        if self.kill_reason:
            return f"was stopped by the playground: {self.kill_reason}"
        return f"died with {self.describe(returncode)}"

    def shutdown(self) -> None:
        """Close stdin (the worker exits at once when idle), kill it if it lingers."""
        self.outbox.put(None)
        try:
            if self.popen.stdin is not None:
                self.popen.stdin.close()
            self.popen.wait(1)
        except (OSError, ValueError, subprocess.TimeoutExpired):
            self.kill("shutting down")


class _Turns:
    """Calls to one worker, one at a time, in arrival order (a plain lock lets a late caller cut in)."""

    _POLL_S = 0.05

    def __init__(self) -> None:
        self._waiting: collections.deque[object] = collections.deque()
        self._changed = threading.Condition()

    @contextmanager
    def turn(self, limit_s: float, name: str) -> Iterator[None]:
        """Wait for this call's turn (QueueTimeoutError after `limit_s`), hold it for the block."""
        ticket, began = object(), time.monotonic()
        with self._changed:
            self._waiting.append(ticket)
            try:
                while self._waiting[0] is not ticket:
                    if time.monotonic() - began > limit_s:
                        ahead = self._waiting.index(ticket)
                        raise errors.QueueTimeoutError(
                            f"{name} stayed busy: waited {limit_s:g} s in the queue with {ahead} call(s) "
                            f"ahead (limit: ${QUEUE_LIMIT_ENV})"
                        )
                    self._changed.wait(self._POLL_S)
            except BaseException:
                self._waiting.remove(ticket)
                self._changed.notify_all()
                raise
        try:
            yield
        finally:
            with self._changed:
                self._waiting.remove(ticket)
                self._changed.notify_all()


class RequestWorker:
    """The one worker process of a model that answers each request with one message.

    `call(op)` sends {"op", "id", ...} and returns the worker's answer for that id; the worker says
    {"ready": true} when it has started and answers {"id", "error": {"kind", "message"}} for a call that
    failed (the loop goes on). The process starts on the first call and again after it died."""

    def __init__(
        self,
        name: str,
        module: str,
        args: Sequence[str],
        env: dict[str, str] | None = None,
        describe: Callable[[int], str] = exit_description,
    ) -> None:
        self.name = name
        self._command = (module, tuple(args), dict(env or {}), describe)
        self._process: WorkerProcess | None = None
        self._start_lock = threading.Lock()
        self._turns = _Turns()
        self.starts = 0  # processes started (restarts after a crash or a timeout included)
        self.running_call: str | None = None  # the op of the call in the worker now (for tests and logs)
        _ALL.append(self)

    @property
    def pid(self) -> int | None:
        """The running worker process's id, if any."""
        process = self._process
        return process.popen.pid if process is not None and process.alive else None

    def process(self) -> WorkerProcess:
        """The live process, started on first use or after it ended."""
        with self._start_lock:
            if self._process is None or not self._process.alive:
                self._process = self._start()
            return self._process

    def _start(self) -> WorkerProcess:
        module, args, env, describe = self._command
        process = WorkerProcess(module, args, env, describe)
        self.starts += 1
        try:
            message = process.inboxes["start"].get(timeout=READY_TIMEOUT_S)
        except queue.Empty:
            process.kill("no answer while starting")
            raise errors.ModelNotFoundError(
                f"the worker for {self.name} did not start within {READY_TIMEOUT_S:g} s"
            ) from None
        if "ready" in message:
            return process
        tail = process.last_stderr()
        if "load_error" in message:
            raise errors.ModelNotFoundError(message["load_error"])
        raise errors.ModelNotFoundError(
            f"the worker for {self.name} {process.death(message['died'])} while starting"
            + (f" ({tail})" if tail else "")
        )

    def call(self, op: dict[str, Any], deadline_s: float, queue_limit_s: float) -> dict[str, Any]:
        """The worker's answer to `op`, after the calls that came first. The deadline counts from this
        call's turn: a worker silent that long is killed (DeadlineExceededError); a worker that dies
        ends this call only (WorkerCrashedError); a call's own failure comes back as its error kind."""
        with self._turns.turn(queue_limit_s, self.name):
            process = self.process()
            call_id = uuid.uuid4().hex
            inbox = process.open(call_id)
            process.set_current(call_id)
            self.running_call = op.get("op")
            try:
                process.send({**op, "id": call_id})
                message = self._answer(process, inbox, call_id, deadline_s)
            finally:
                self.running_call = None
                process.set_current(None)
                process.close(call_id)
        if "error" in message:
            raise errors.from_kind(message["error"]["kind"], message["error"]["message"])
        return message

    def _answer(
        self, process: WorkerProcess, inbox: queue.Queue[dict[str, Any]], call_id: str, deadline_s: float
    ) -> dict[str, Any]:
        try:
            message = inbox.get(timeout=deadline_s)
        except queue.Empty:
            process.kill_if_running(call_id, f"no answer within {deadline_s:g} s")
            raise errors.DeadlineExceededError(
                f"{self.name} gave no answer within {deadline_s:g} s: its worker (pid {process.popen.pid}) "
                "was stopped and the next call starts a new one"
            ) from None
        if "died" in message:
            tail = process.last_stderr()
            raise errors.WorkerCrashedError(
                f"the worker for {self.name} (pid {process.popen.pid}) {process.death(message['died'])}"
                + (f" ({tail})" if tail and not process.kill_reason else "")
                + "; the next call starts a new worker"
            )
        return message

    def shutdown(self) -> None:
        """End the worker process (at interpreter exit)."""
        process = self._process
        if process is not None and process.alive:
            process.shutdown()


_ALL: list[RequestWorker] = []


@atexit.register
def _shutdown_all() -> None:
    for worker in list(_ALL):
        worker.shutdown()
