"""The template worker processes of this server: started on first use, shared, stopped at exit.

Every template read or fill in this process (every evaluation thread of every session) goes through
`variables` or `fill`, which lend it one of at most POOL_SIZE `playground.evals.template_worker`
processes. Each request has TIMEOUT_S of wall time; a worker that overruns it is killed and a new one
started, so a hostile template costs its writer one second and an error, and the other requests (on the
other worker, or waiting for one) go on. A worker serves one thread at a time: a request, then its
one-line reply.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import select
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from playground.evals.template_worker import MEMORY_LIMIT_MB

# Wall time for one request, from the request written to the reply read (not the wait for a worker).
TIMEOUT_S = 1.0
# A new worker's interpreter and Jinja import take about 0.05 s; a loaded machine may take much longer.
START_TIMEOUT_S = 15.0
# Two workers: a second one serves everyone else while a hostile template holds the first for its
# second (bench/bench_templates.py: one worker alone fills thousands of rows a second).
POOL_SIZE = 2
# Longest wait for a free worker: one user's slow rows must not hold every other session's templates.
WAIT_FOR_WORKER_S = 10.0
_ROOT = str(Path(__file__).resolve().parents[2])


class WorkerError(Exception):
    """A template the worker did not read or fill: the message says why (its error, time, memory, a crash)."""


def _worker_environment() -> dict[str, str]:
    """Only what the worker needs to import this package: none of the server's variables (API keys)."""
    return {"PYTHONPATH": _ROOT, "PYTHONDONTWRITEBYTECODE": "1"}


class _Worker:
    """One worker process and the bytes of its next reply read so far."""

    def __init__(self) -> None:
        # -P: the working directory is not put on sys.path; -s: nor the user's site-packages.
        command = [sys.executable, "-P", "-s", "-m", "playground.evals.template_worker"]
        self.popen = subprocess.Popen(
            command,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=_worker_environment(),
        )
        assert self.popen.stdin is not None and self.popen.stdout is not None
        self.stdin, self.stdout = self.popen.stdin, self.popen.stdout
        self.poller = select.poll()
        self.poller.register(self.stdout.fileno(), select.POLLIN)
        self.pending = b""
        self.ready = False
        self.spent = False  # killed, ended, or no longer trusted: the pool replaces it

    def ask(self, request: dict[str, Any], doing: str) -> dict[str, Any]:
        """The worker's reply to `request` (a template `doing` something, for the messages), or
        WorkerError; the worker is then stopped if it overran its time or memory or ended."""
        try:
            if not self.ready:
                self._start()
            self._send(request)
            reply = self._reply(TIMEOUT_S, f"the template took over {TIMEOUT_S:g} s {doing} and was stopped")
        except BaseException:
            # An overrun, a crash, or an interruption (Ctrl-C in the CLI) between a request and its reply:
            # the worker's next line would answer the wrong request.
            self.stop()
            raise
        if reply.get("memory"):
            self.stop()
            raise WorkerError(f"the template needed over {MEMORY_LIMIT_MB} MB of memory and was stopped")
        if "error" in reply:
            raise WorkerError(reply["error"])
        return reply

    def _start(self) -> None:
        started = self._reply(
            START_TIMEOUT_S, f"the template worker did not start within {START_TIMEOUT_S:g} s"
        )
        if started != {"ready": True}:
            raise WorkerError(f"the template worker started with {started!r}")
        self.ready = True

    def _send(self, request: dict[str, Any]) -> None:
        try:
            self.stdin.write(json.dumps(request).encode("ascii") + b"\n")
            self.stdin.flush()
        except OSError as exc:
            raise WorkerError(f"the template worker could not be reached ({exc})") from exc

    def _reply(self, timeout_s: float, overrun: str) -> dict[str, Any]:
        """The worker's next line as JSON, read within `timeout_s` (else WorkerError says `overrun`)."""
        deadline = time.monotonic() + timeout_s
        chunks = [self.pending]
        while b"\n" not in chunks[-1]:
            remaining = deadline - time.monotonic()
            try:
                if remaining <= 0 or not self.poller.poll(remaining * 1000):
                    raise WorkerError(overrun)
                chunk = os.read(self.stdout.fileno(), 1 << 16)
            except OSError as exc:
                raise WorkerError(f"the template worker could not be read ({exc})") from exc
            if not chunk:
                raise WorkerError(f"the template worker ended with {_exit_description(self.popen.wait())}")
            chunks.append(chunk)
        line, _, self.pending = b"".join(chunks).partition(b"\n")
        return json.loads(line)

    def kill(self) -> None:
        """SIGKILL now; the thread it is lent to sees it end and stops it."""
        self.spent = True
        self.popen.kill()

    def stop(self) -> None:
        """Kill the process, reap it and close its pipes (it holds no state worth a gentler end)."""
        self.kill()
        self.popen.wait()
        with contextlib.suppress(OSError):  # a request the dead process never read cannot be flushed
            self.stdin.close()
        self.stdout.close()

    @property
    def usable(self) -> bool:
        """True while the process runs and nothing has gone wrong with it."""
        return not self.spent and self.popen.poll() is None


def _exit_description(returncode: int) -> str:
    """'SIGSEGV (signal 11)' or 'exit code 1'."""
    if returncode >= 0:
        return f"exit code {returncode}"
    try:
        return f"{signal.Signals(-returncode).name} (signal {-returncode})"
    except ValueError:
        return f"signal {-returncode}"


class _Pool:
    """Up to `size` workers, each lent to one request at a time; a spent one is replaced at once."""

    def __init__(self, size: int) -> None:
        self.lock = threading.Lock()
        self.slots = threading.BoundedSemaphore(size)
        self.idle: list[_Worker] = []
        self.lent: set[_Worker] = set()

    def ask(self, request: dict[str, Any], doing: str) -> dict[str, Any]:
        if not self.slots.acquire(timeout=WAIT_FOR_WORKER_S):
            raise WorkerError(f"every template worker stayed busy for {WAIT_FOR_WORKER_S:g} s; try again")
        try:
            worker = self._borrow()
            try:
                return worker.ask(request, doing)
            finally:
                self._give_back(worker)
        finally:
            self.slots.release()

    def _borrow(self) -> _Worker:
        with self.lock:
            while self.idle:
                worker = self.idle.pop()
                if worker.usable:
                    break
                worker.stop()
            else:
                worker = _Worker()
            self.lent.add(worker)
            return worker

    def _give_back(self, worker: _Worker) -> None:
        with self.lock:
            if worker not in self.lent:
                return  # shutdown() killed it while it was lent
            self.lent.remove(worker)
            # A replacement starts now, so its start-up overlaps whatever comes before the next request.
            self.idle.append(worker if worker.usable else _Worker())

    def pids(self) -> list[int]:
        with self.lock:
            return [w.popen.pid for w in (*self.idle, *self.lent) if w.popen.poll() is None]

    def shutdown(self) -> None:
        with self.lock:
            idle, lent, self.idle, self.lent = self.idle, self.lent, [], set()
        for worker in idle:
            worker.stop()
        for worker in lent:
            worker.kill()  # its thread may be reading its pipe: that thread closes it


_pool = _Pool(POOL_SIZE)


def variables(source: str) -> frozenset[str]:
    """The names the Jinja `source` reads, found in a worker (Jinja's code generator folds constants)."""
    return frozenset(_pool.ask({"variables": source}, "to read")["names"])


def fill(source: str, values: Mapping[str, Any]) -> str:
    """The prompt the Jinja `source` makes from `values`, filled in a worker within TIMEOUT_S and
    MEMORY_LIMIT_MB; WorkerError says why there is none."""
    return _pool.ask({"source": source, "values": values}, "to fill this row")["text"]


def worker_pids() -> list[int]:
    """The process ids of the running workers (for tests and benchmarks)."""
    return _pool.pids()


@atexit.register
def shutdown() -> None:
    """Stop every worker (at exit; a later request starts new ones)."""
    _pool.shutdown()
