"""The one thread that writes to a store: every save of a process goes through it, in order, retried until saved.

SQLite takes one writer at a time, and a PostgreSQL server can restart under a running app. Writes from many
threads (every model of every session) would otherwise race for the lock or fail on a dropped connection and
lose an answer. Here a write that fails because the database is busy or unreachable waits and is tried again
until it succeeds, so the answers of a run survive a database restart; a write that fails for any other
reason (a constraint, a bug) is reported and not retried.
"""

from __future__ import annotations

import atexit
import logging
import queue
import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

log = logging.getLogger(__name__)

RETRY_FIRST_S = 0.05
MAX_BATCH = 200
RETRY_MAX_S = 2.0


@dataclass
class Pending:
    """A write handed to the writer; `wait` says whether it has been saved."""

    description: str
    saved: threading.Event = field(default_factory=threading.Event)
    failed: str | None = None  # why it was given up (not retryable)
    last_error: str | None = None  # the latest retryable failure, while it is being retried
    _ended: threading.Event = field(default_factory=threading.Event)

    def wait(self, timeout_s: float | None) -> bool:
        """True once saved; False if it is still being retried after `timeout_s`, or was given up."""
        self._ended.wait(timeout_s)
        return self.saved.is_set()


Write = Callable[[Session], None]


class Writer:
    """Runs writes one at a time on its own thread, each in its own transaction."""

    def __init__(self, sessions: sessionmaker[Session], name: str = "store-writer") -> None:
        self._sessions = sessions
        self._queue: queue.Queue[tuple[Pending, Write, str | None]] = queue.Queue()
        # Latest write per coalescing key that has not started yet: partial text saved every second
        # replaces an older one still waiting instead of piling up while the database is away.
        self._latest: dict[str, Write] = {}
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)
        self._thread.start()
        _LIVE.add(self)

    def submit(self, description: str, write: Write, *, coalesce: str | None = None) -> Pending:
        """Queue `write`; with `coalesce`, a newer write with the same key replaces one not yet started."""
        pending = Pending(description)
        with self._lock:
            if coalesce is not None:
                queued = coalesce in self._latest
                self._latest[coalesce] = write
                if queued:
                    pending._ended.set()  # merged into the queued write, which now carries this content
                    return pending
        self._queue.put((pending, write, coalesce))
        return pending

    def save(self, description: str, write: Write, timeout_s: float | None) -> Pending:
        """Queue `write` and wait up to `timeout_s` for it to be saved (it goes on being retried after)."""
        pending = self.submit(description, write)
        pending.wait(timeout_s)
        return pending

    def flush(self, timeout_s: float | None) -> bool:
        """Wait until every write handed over so far is done (or given up); False if `timeout_s` passed."""
        return self.save("flush", lambda session: None, timeout_s).saved.is_set()

    def _loop(self) -> None:
        while True:
            batch = [self._take(self._queue.get())]
            while len(batch) < MAX_BATCH:  # everything already waiting goes in the same commit
                try:
                    batch.append(self._take(self._queue.get_nowait()))
                except queue.Empty:
                    break
            if len(batch) == 1 or not self._write_together(batch):
                for pending, write in batch:
                    self._write_until_done(pending, write)

    def _take(self, item: tuple[Pending, Write, str | None]) -> tuple[Pending, Write]:
        pending, write, key = item
        if key is not None:  # the newest content for this key, submitted while this one waited
            with self._lock:
                write = self._latest.pop(key, write)
        return pending, write

    def _write_together(self, batch: list[tuple[Pending, Write]]) -> bool:
        """Every write of `batch` in one transaction, in order: one commit for many saves (twenty sessions
        streaming at once otherwise queue a commit each, and saves fall seconds behind). False, with
        nothing saved, when one of them fails for a reason of its own: then each is written alone."""
        delay = RETRY_FIRST_S
        while True:
            try:
                with self._sessions.begin() as session:
                    for _, write in batch:
                        write(session)
            except (OperationalError, DBAPIError) as exc:
                if not _retryable(exc):
                    return False
                for pending, _ in batch:
                    pending.last_error = failure_reason(exc)
                log.warning(
                    "%d writes not saved yet (%s); retrying in %.2f s", len(batch), failure_reason(exc), delay
                )
                time.sleep(delay)
                delay = min(delay * 2, RETRY_MAX_S)
            except Exception:  # noqa: BLE001 - one bad write: the others are saved one at a time
                return False
            else:
                for pending, _ in batch:
                    pending.saved.set()
                    pending._ended.set()
                return True

    def _write_until_done(self, pending: Pending, write: Write) -> None:
        delay = RETRY_FIRST_S
        while True:
            try:
                with self._sessions.begin() as session:
                    write(session)
            except (OperationalError, DBAPIError) as exc:
                if not _retryable(exc):
                    self._give_up(pending, exc)
                    return
                pending.last_error = failure_reason(exc)
                log.warning(
                    "%s not saved yet (%s); retrying in %.2f s",
                    pending.description,
                    pending.last_error,
                    delay,
                )
                time.sleep(delay)
                delay = min(delay * 2, RETRY_MAX_S)
            except Exception as exc:  # noqa: BLE001 - reported on the write, the writer goes on
                self._give_up(pending, exc)
                return
            else:
                pending.saved.set()
                pending._ended.set()
                return

    @staticmethod
    def _give_up(pending: Pending, exc: Exception) -> None:
        pending.failed = failure_reason(exc)
        log.error("%s not saved: %s", pending.description, pending.failed)
        pending._ended.set()


# Writers of this process, flushed at exit: a CLI run ends right after its last answer, and the writes
# still queued (the run's end, its usage lines) must not die with the process.
_LIVE: weakref.WeakSet[Writer] = weakref.WeakSet()
EXIT_FLUSH_S = 10.0


@atexit.register
def _flush_at_exit() -> None:
    for writer in list(_LIVE):
        if not writer.flush(EXIT_FLUSH_S):
            log.error("writes still queued at exit were not saved within %.0f s", EXIT_FLUSH_S)


def _retryable(exc: DBAPIError) -> bool:
    """Busy, locked, a dropped connection, a server restarting: worth waiting for."""
    return isinstance(exc, OperationalError) or bool(exc.connection_invalidated)


def failure_reason(exc: Exception) -> str:
    """The first line of what the database driver said (the exception's own name if it said nothing)."""
    original = getattr(exc, "orig", None) or exc
    text = str(original).strip().splitlines()
    return text[0] if text else type(original).__name__
