"""Comparisons that run in the server, whatever becomes of the page that started them.

A page starts a run here and then only reads it: a reload, a closed tab or a widget change leaves the run
going, and the page (or a new tab of the same session URL) finds it again by its id. Only `stop()` stops
it. The events of the run are consumed by a thread of its own, which keeps what a page needs to draw
the live columns; nothing polls the database.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field

from playground.compare.service import Comparison
from playground.core.results import RunResult
from playground.engine.fanout import Delta, Done, Waiting

logger = logging.getLogger(__name__)

# Text is merged into one update per model this often (a page redraws no faster).
MERGE_EVERY_S = 0.1
# A finished run stays in memory this long for a page to collect (then it is read from the store).
KEEP_FINISHED_S = 15 * 60.0


@dataclass(frozen=True)
class LiveColumn:
    """What one model's live column shows now (its first repeat)."""

    model: str
    text: str
    waiting: Waiting | None  # waiting for its turn (and how), before its first token
    result: RunResult | None  # set once its first call has ended


@dataclass(frozen=True)
class LiveSnapshot:
    """A run as it stands: every column, every ended call, and whether it has ended."""

    run_id: str | None
    order: list[str]
    columns: list[LiveColumn]
    results: list[RunResult]
    unsaved: list[RunResult]
    finished: bool
    failed: str | None = None  # the run's own thread broke: what is shown may lack answers


@dataclass
class LiveRun:
    """One comparison consumed by its own thread, so that no page has to stay open for it to finish."""

    comparison: Comparison
    owner: str
    started: float = field(default_factory=time.monotonic)
    ended: float | None = None
    failed: str | None = None

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._texts = {key: "" for key in self.comparison.order}
        self._waiting: dict[str, Waiting] = {}
        self._firsts: dict[str, RunResult] = {}
        self._results: list[RunResult] = []
        self._thread = threading.Thread(target=self._consume, daemon=True, name=f"live-{self.run_id}")
        self._thread.start()

    @property
    def run_id(self) -> str | None:
        return self.comparison.run_id

    def _consume(self) -> None:
        try:
            for event in self.comparison.events(every_s=MERGE_EVERY_S):
                with self._lock:
                    self._apply(event)
        except Exception as exc:  # noqa: BLE001 - said on the page, never a silently short result
            logger.exception("live run %s stopped following its models", self.run_id)
            self.comparison.cancel()
            self.failed = f"{type(exc).__name__}: {exc}"
        finally:
            with self._lock:
                self.ended = time.monotonic()

    def _apply(self, event: Delta | Waiting | Done) -> None:
        if isinstance(event, Done):
            self._results.append(event.result)
            if event.result.repeat_index == 0:
                self._firsts[event.model] = event.result
        elif event.repeat_index != 0:  # the live columns show the first repeat
            return
        elif isinstance(event, Delta):
            self._texts[event.model] += event.text
            self._waiting.pop(event.model, None)
        elif not self._texts[event.model]:
            self._waiting[event.model] = event

    def snapshot(self) -> LiveSnapshot:
        """The run now, for a page to draw."""
        with self._lock:
            columns = [
                LiveColumn(key, self._texts[key], self._waiting.get(key), self._firsts.get(key))
                for key in self.comparison.order
            ]
            return LiveSnapshot(
                self.run_id,
                list(self.comparison.order),
                columns,
                list(self._results),
                list(self.comparison.unsaved),
                self.ended is not None,
                self.failed,
            )

    def stop(self) -> None:
        """Stop every model still answering (what they wrote so far is kept, marked stopped by the user)."""
        self.comparison.cancel()


class LiveRuns:
    """The runs of this server process by id; a page only sees its own user's."""

    def __init__(self) -> None:
        self._runs: dict[str, LiveRun] = {}
        self._lock = threading.Lock()

    def start(self, comparison: Comparison, owner: str) -> LiveRun:
        """Keep `comparison` running in the server for `owner` (it must have been saved: it has an id)."""
        if comparison.run_id is None:
            raise ValueError("a live run needs a store: its id is how a page finds it again")
        run = LiveRun(comparison, owner)
        with self._lock:
            self._forget_old()
            self._runs[comparison.run_id] = run
        return run

    def get(self, run_id: str, owner: str) -> LiveRun | None:
        """`owner`'s run `run_id` if this process runs it (or ran it lately), else None."""
        with self._lock:
            run = self._runs.get(run_id)
        return run if run is not None and run.owner == owner else None

    def _forget_old(self) -> None:
        now = time.monotonic()
        for run_id in [i for i, r in self._runs.items() if r.ended and now - r.ended > KEEP_FINISHED_S]:
            del self._runs[run_id]


_RUNS = LiveRuns()


def live_runs() -> LiveRuns:
    """The live runs of this server process, shared by every session."""
    return _RUNS
