"""One prompt to N models at once; events come out as they happen so a UI can render every column live."""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from playground.core.results import CallError, RunResult
from playground.core.specs import ModelSpec
from playground.engine.runner import RetryPolicy, run_model
from providers.base import CancelToken, ChatRequest, Provider, Queued


@dataclass(frozen=True)
class Job:
    """One model to run: its spec, adapter and request, and how many times."""

    spec: ModelSpec
    provider: Provider
    request: ChatRequest
    timeout_s: float | None = None
    repeat: int = 1
    warmup: bool = False


@dataclass(frozen=True)
class Delta:
    """Text that just arrived for one model."""

    model: str
    text: str
    repeat_index: int = 0


@dataclass(frozen=True)
class Waiting:
    """A call is waiting its turn: `ahead` calls go first, `cooling_s` is left of a wait its server asked
    for (429); neither: it is starting."""

    model: str
    ahead: int
    repeat_index: int = 0
    cooling_s: float = 0.0


@dataclass(frozen=True)
class Done:
    """A finished call (answered, failed or cancelled)."""

    model: str
    result: RunResult


Event = Delta | Waiting | Done


@dataclass
class FanOut:
    """Runs jobs concurrently, one thread per model; iterate it for events, cancel() to stop all."""

    jobs: list[Job]
    run_id: str | None = None
    retry: RetryPolicy | None = None
    # Called on the worker thread with each finished result before its Done event is queued, so a
    # result is saved even when nobody is left to read the events (page closed, Stop pressed).
    on_result: Callable[[RunResult], None] | None = None
    # Called on the worker thread with each piece of text (model key, repeat index, text): the comparison
    # saves the text so far about once a second, whether or not anyone reads the events.
    on_text: Callable[[str, int, str], None] | None = None
    cancel_token: CancelToken = field(default_factory=CancelToken)
    # Set once every job has ended (whether or not anyone read the events); then `on_finished` is called
    # once, on the thread that ended last (a run frees its admission there).
    finished: threading.Event = field(default_factory=threading.Event)
    on_finished: Callable[[], None] | None = None
    _events: queue.Queue[Event | None] = field(default_factory=queue.Queue)
    _running: int = 0
    _started: bool = False
    _running_lock: threading.Lock = field(default_factory=threading.Lock)

    def cancel(self) -> None:
        """Stop every call still going; partial text is kept and marked cancelled."""
        self.cancel_token.cancel()
        if not self._started:
            self._end()  # nothing ran and nothing will: this fan-out has ended

    def _end(self) -> None:
        with self._running_lock:
            if self.finished.is_set():
                return
            self.finished.set()
        if self.on_finished is not None:
            self.on_finished()

    def _work(self, job: Job) -> None:
        try:
            if job.warmup:
                run_model(
                    job.spec,
                    job.provider,
                    job.request,
                    timeout_s=job.timeout_s,
                    cancel=self.cancel_token,
                    retry=self.retry,
                )
            for index in range(job.repeat):
                if index and self.cancel_token.cancelled:
                    break
                self._run_once(job, index)
        finally:
            with self._running_lock:
                self._running -= 1
                last = self._running == 0
            try:
                if last:
                    self._end()
            finally:
                self._events.put(None)  # after `on_finished`: a reader sees the end once the run is freed

    def _run_once(self, job: Job, index: int) -> None:
        key = job.spec.key

        def emit(text: str) -> None:
            if self.on_text is not None:
                self.on_text(key, index, text)
            self._events.put(Delta(key, text, index))

        def waiting(place: Queued) -> None:
            self._events.put(Waiting(key, place.ahead, index, place.cooling_s))

        try:
            result = run_model(
                job.spec,
                job.provider,
                job.request,
                timeout_s=job.timeout_s,
                cancel=self.cancel_token,
                on_delta=emit,
                on_queue=waiting,
                retry=self.retry,
                run_id=self.run_id,
                repeat_index=index,
            )
        except Exception as exc:  # noqa: BLE001 - a bug in one model's path must not stop the others
            result = RunResult(
                model=key,
                run_id=self.run_id,
                repeat_index=index,
                error=CallError("internal", f"{type(exc).__name__}: {exc}"),
            )
        if self.on_result is not None:
            try:
                self.on_result(result)
            except Exception as exc:  # noqa: BLE001 - a failed save is reported in the result itself
                result.error = result.error or CallError("storage", f"not saved: {exc}")
        self._events.put(Done(key, result))

    def events(self, every_s: float = 0.0) -> Iterator[Event]:
        """Start every job and yield events until all have finished.

        With `every_s` > 0, text arriving for a model within `every_s` of its last update is merged
        into one Delta: a page then redraws a column a few dozen times a second instead of once per
        token, which keeps the browser responsive on a small machine. A model's first text and its
        Done are never held back.
        """
        if self.cancel_token.cancelled:
            self._end()
            return
        self._started = True
        threads = [
            threading.Thread(target=self._work, args=(job,), daemon=True, name=f"fanout-{job.spec.key}")
            for job in self.jobs
        ]
        self._running = len(threads)
        if not threads:
            self._end()
        for thread in threads:
            thread.start()
        running = len(threads)
        held: dict[tuple[str, int], str] = {}
        last_sent: dict[tuple[str, int], float] = {}

        def release(key: tuple[str, int]) -> Delta:
            last_sent[key] = time.perf_counter()
            return Delta(key[0], held.pop(key), key[1])

        while running:
            due = min((last_sent[k] + every_s for k in held), default=None)
            try:
                timeout = None if due is None else max(0.0, due - time.perf_counter())
                event = self._events.get(timeout=timeout)
            except queue.Empty:
                event = _TICK
            if event is _TICK:
                now = time.perf_counter()
                for key in [k for k in held if last_sent[k] + every_s <= now]:
                    yield release(key)
                continue
            if event is None:
                running -= 1
                continue
            if isinstance(event, Waiting):
                yield event
                continue
            if isinstance(event, Delta):
                key = (event.model, event.repeat_index)
                held[key] = held.get(key, "") + event.text
                if key not in last_sent or time.perf_counter() >= last_sent[key] + every_s:
                    yield release(key)
                continue
            for key in [k for k in held if k[0] == event.model]:
                yield release(key)
            yield event
        for key in list(held):
            yield release(key)


_TICK = object()
