"""Evaluations as background jobs: queued in the store, run by `playground worker` processes on any machine
that reaches the database, followed from the store by the page that queued them.

A tab closed, an app replica restarted or a worker restarted never stops an evaluation: the job stays in
the queue (storage.jobs), and a worker that takes it resumes it, running only the cells not yet saved.
Where it runs is decided once, when it is queued (`placement`): on a worker only when a worker can run it
exactly as the page would, with the server's own models and keys; otherwise in the page, as before.
"""

from __future__ import annotations

import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

from playground.core.errors import UsageError
from playground.core.policy import User
from playground.core.specs import ModelSpec
from playground.engine.registry import Keyring, keyring_of
from playground.evals.runner import EvalSetup, Evaluation
from playground.hosting.gate import Gate, RunsGoingError, default_gate
from playground.storage.evals import EvalStore
from playground.storage.jobs import DONE, FAILED, QUEUED, STOPPED, Job, JobState, JobStore, WorkerSeen
from playground.storage.runs import Store, StoreUnavailableError

JOBS_ENV = "PLAYGROUND_EVAL_JOBS"
JobsMode = Literal["auto", "always", "never"]
# A worker renews its lease on its job this often; it is also how soon a Stop pressed in a page reaches it.
RENEW_EVERY_S = 1.0
# A job whose worker has not renewed it for this long is taken by the next worker (the old one was killed
# or lost the database), and a worker not seen for this long no longer counts as alive.
LEASE_S = 30.0
POLL_S = 1.0  # how often an idle worker looks for a job
GRACE_S = 20.0  # how long a worker told to stop lets its calls in flight finish before cancelling them
# A job taken this many times by workers that went away before it finished is failed, not taken again:
# it may be what kills them (a page can resume it once the cause is fixed).
MAX_CLAIMS = 5


def jobs_mode(env: Mapping[str, str] | None = None) -> JobsMode:
    """$PLAYGROUND_EVAL_JOBS: `auto` (the default: on a worker when one is alive), `always` or `never`."""
    value = (os.environ if env is None else env).get(JOBS_ENV, "").strip().lower() or "auto"
    if value not in ("auto", "always", "never"):
        raise UsageError(f"{JOBS_ENV} must be auto, always or never, not {value!r}")
    return value  # type: ignore[return-value] - checked just above


@dataclass(frozen=True)
class Placement:
    """Where an evaluation runs, and why (the page says it)."""

    on_worker: bool
    reason: str
    workers: tuple[WorkerSeen, ...] = ()


def placement(setup: EvalSetup, specs: Mapping[str, ModelSpec], keys: Keyring, store: Store) -> Placement:
    """Whether this evaluation goes to the queue for a worker or runs in the page that starts it."""
    mode = jobs_mode()
    if mode == "never":
        return Placement(False, f"runs in this page ({JOBS_ENV}=never)")
    if refusal := worker_refusal(setup, specs, keys):
        return Placement(False, f"runs in this page: {refusal}")
    alive = tuple(JobStore(store).workers_alive(LEASE_S))
    if alive:
        return Placement(True, f"queued for {len(alive)} worker(s); closing this tab does not stop it", alive)
    if mode == "always":
        return Placement(
            True, f"queued; no worker has been seen in the last {LEASE_S:.0f} s, so it waits for one", alive
        )
    return Placement(False, "runs in this page (no `playground worker` is running)")


def worker_refusal(setup: EvalSetup, specs: Mapping[str, ModelSpec], keys: Keyring) -> str | None:
    """Why a worker could not run this evaluation as the page would, or None.

    A worker knows only the server's configuration: its models file and its environment's keys. A model a
    visitor added, or a key or endpoint a visitor typed, stays in that visitor's session and is never
    written to the database, so such an evaluation runs in its page."""
    for key in (*setup.models, *([setup.judge] if setup.judge else [])):
        spec = specs.get(key)
        if spec is None:
            continue  # Evaluation reports unknown models
        if spec.from_visitor:
            return f"{key} is a model added in this session, which a worker does not know"
        if keys.visitors(spec.api_key_env) or keys.visitors(spec.endpoint_env):
            return f"{key} uses a key or endpoint typed in Settings, which stays in this session"
    return None


@dataclass(frozen=True)
class JobProgress:
    """A queued evaluation as its page shows it, read from the store."""

    job: Job
    done: int  # answers saved
    total: int  # rows × models
    spent_usd: Decimal  # from the usage ledger: every call so far, the judge's included
    workers: tuple[WorkerSeen, ...]

    def line(self, rate: float | None) -> str:
        """One line for a progress bar; `rate` is answers per second as measured by whoever follows it."""
        job = self.job
        if job.state == QUEUED:
            where = f"queued, {job.ahead} ahead" if job.ahead else "queued, next"
            alive = (
                f"{len(self.workers)} worker(s) alive"
                if self.workers
                else "no worker alive: start `playground worker`"
            )
            parts = [where, alive]
        else:
            parts = [f"running on worker {job.worker}"]
            if job.claims > 1:
                parts.append(f"resumed {job.claims - 1} time(s) after a worker went away")
            if job.stop_requested:
                parts.append("stopping…")
        parts.append(f"answers {self.done}/{self.total}")
        if rate is not None:
            parts.append(f"{rate:.2f} answers/s (measured by this page)")
        parts.append(f"spent ${self.spent_usd} (usage ledger)")
        return " · ".join(parts)


def follow(eval_id: str, store: Store) -> JobProgress | None:
    """Where a queued evaluation stands now (None if it was never queued)."""
    jobs = JobStore(store)
    job = jobs.get(eval_id)
    if job is None:
        return None
    done = EvalStore(store).done_count(eval_id)
    return JobProgress(job, done, job.cells, store.spent_on(eval_id), tuple(jobs.workers_alive(LEASE_S)))


class Pace:
    """Answers per second, measured by whoever follows a job from its first look (a page, a benchmark)."""

    def __init__(self) -> None:
        self._first: tuple[float, int] | None = None

    def rate(self, done: int) -> float | None:
        """Answers per second since the first call; None until some have been seen to finish."""
        now = time.monotonic()
        if self._first is None:
            self._first = (now, done)
            return None
        t0, done0 = self._first
        return (done - done0) / (now - t0) if done > done0 and now > t0 else None


Report = Callable[[str], None]


class EvalWorker:
    """One worker process's loop: take a job, resume its evaluation from the store, renew the lease while it
    runs, record how it ended; until `shutdown()`, which hands the job in hand back to the queue."""

    def __init__(
        self,
        store: Store,
        specs: Mapping[str, ModelSpec],
        *,
        keys: Keyring | None = None,
        gate: Gate | None = None,
        lease_s: float = LEASE_S,
        renew_s: float = RENEW_EVERY_S,
        poll_s: float = POLL_S,
        grace_s: float = GRACE_S,
        name: str | None = None,
        report: Report = lambda line: None,
    ) -> None:
        self.store, self.specs = store, specs
        # A gate of its own, whose reservations stop counting when its job lease would run out if the
        # worker is killed mid-job.
        self.gate = gate or Gate(default_gate().policy, lease_s=lease_s)
        policy = self.gate.policy
        # The server's own keys only: a worker runs the admin's models (worker_refusal keeps the rest out).
        server = (keys or keyring_of(None)).server
        self.keys = Keyring(server=server, egress=policy.egress(), hosted=policy.enabled)
        self.jobs = JobStore(store)
        self.lease_s, self.renew_s, self.poll_s, self.grace_s = lease_s, renew_s, poll_s, grace_s
        self.id = name or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.report = report
        self._stopping = threading.Event()
        self._current: Evaluation | None = None

    @property
    def busy(self) -> bool:
        """True while it runs a job."""
        return self._current is not None

    def warm_up(self) -> None:
        """Pay the one-time costs before the first job, not inside it: the template workers' processes and
        the import of the SDK the server's models use (bench_workers saw a first job 0.75 s slower)."""
        from playground.evals.templating import PromptTemplate

        PromptTemplate("{warm}").render({"warm": ""})
        if any(spec.provider in ("openai", "azure") for spec in self.specs.values()):
            import openai  # noqa: F401 - imported once here, then reused by every adapter

    def shutdown(self) -> None:
        """Stop taking jobs; let the calls in flight finish (up to the grace period) and be saved, then hand
        the job back to the queue. A second call cancels the calls in flight at once."""
        current = self._current
        if self._stopping.is_set():
            if current is not None:
                current.cancel()
            return
        self._stopping.set()
        if current is not None:
            current.drain()
            timer = threading.Timer(self.grace_s, current.cancel)
            timer.daemon = True
            timer.start()

    def serve(self, *, once: bool = False) -> int:
        """Take and run jobs until shutdown (with `once`: until the queue is empty); how many it ran."""
        ran = 0
        try:
            while not self._stopping.is_set():
                job = self._next_job()
                if job is None:
                    if once:
                        break
                    self._stopping.wait(self.poll_s)
                    continue
                self._run_guarded(job)
                ran += 1
        finally:
            self._say_gone()
        return ran

    def _run_guarded(self, job: Job) -> None:
        """Run one job; a bug met by one job fails that job, with its reason, and the worker goes on."""
        try:
            self.run_job(job)
        except Exception as exc:  # noqa: BLE001 - one job's failure must not stop the worker
            self._end(job, FAILED, f"internal error in the worker: {type(exc).__name__}: {exc}")

    def _next_job(self) -> Job | None:
        limit = self.gate.policy.limits.concurrent_runs if self.gate.policy.enabled else None
        try:
            self.jobs.seen(self.id, None)
            return self.jobs.claim(self.id, self.lease_s, max_per_owner=limit)
        except StoreUnavailableError as exc:
            self.report(f"database not answering: {exc}")
            return None

    def run_job(self, job: Job) -> JobState | None:
        """Run one claimed job to its end; the state it was left in (None: handed back or taken over)."""
        if job.claims > MAX_CLAIMS:
            return self._end(
                job,
                FAILED,
                f"taken {job.claims - 1} times by workers that went away before it finished; resume it to "
                "try again",
            )
        try:
            evaluation = Evaluation.resume(
                job.eval_id,
                self.specs,
                EvalStore(self.store),
                keys=self.keys,
                user=_owner(job),
                gate=self.gate,
            )
        except StoreUnavailableError as exc:
            self.report(f"evaluation {job.eval_id}: database not answering ({exc}); its lease will run out")
            return None
        except RunsGoingError as exc:
            return self._hand_back_unrun(job, exc)
        except UsageError as exc:  # an unknown model, one that cannot load, a limit: the page shows why
            return self._end(job, FAILED, str(exc))
        self.report(
            f"evaluation {job.eval_id}: taken (claim {job.claims}, {len(evaluation.pending())} answers left)"
        )
        return self._drive(job, evaluation)

    def _drive(self, job: Job, evaluation: Evaluation) -> JobState | None:
        """Run the evaluation while a thread renews the lease; then record the outcome."""
        self._current = evaluation
        if self._stopping.is_set():  # shut down between the claim and now
            evaluation.drain()
        watch = _LeaseWatch(self, job, evaluation)
        watch.start()
        failure: str | None = None
        try:
            for _ in evaluation.run():
                pass
        except StoreUnavailableError as exc:
            self.report(f"evaluation {job.eval_id}: {exc}")
            return None  # its lease runs out; the next worker resumes it once the database is back
        except RunsGoingError as exc:
            return self._hand_back_unrun(job, exc)
        except UsageError as exc:  # refused by the owner's limits when it came to run
            failure = str(exc)
        finally:
            watch.stop()
            self._current = None
        return self._outcome(job, evaluation, watch, failure)

    def _outcome(
        self, job: Job, evaluation: Evaluation, watch: _LeaseWatch, failure: str | None
    ) -> JobState | None:
        if watch.lost:
            self.report(f"evaluation {job.eval_id}: taken over by another worker; stopped here")
            return None
        if failure is not None:
            return self._end(job, FAILED, failure)
        if watch.stop_requested:
            return self._end(job, STOPPED)
        if not evaluation.pending():
            return self._end(job, DONE)
        # Drained for a shutdown, or a cell was not saved: the next worker runs what is missing.
        self.jobs.release(job.eval_id, self.id)
        self.report(f"evaluation {job.eval_id}: handed back to the queue with answers left")
        return None

    def _hand_back_unrun(self, job: Job, refusal: RunsGoingError) -> None:
        """The owner had no place free (runs going in the app): the job waits in the queue, unharmed."""
        self.jobs.release(job.eval_id, self.id, ran=False)
        self.report(f"evaluation {job.eval_id}: handed back, its owner has no place free ({refusal})")
        self._stopping.wait(self.poll_s)  # not claimed again at once

    def _end(self, job: Job, state: JobState, error: str | None = None) -> JobState | None:
        try:
            held = self.jobs.end(job.eval_id, self.id, state, error)
        except StoreUnavailableError as exc:
            self.report(f"evaluation {job.eval_id}: could not record its end ({exc})")
            return None
        self.report(f"evaluation {job.eval_id}: {state}" + (f": {error}" if error else ""))
        return state if held else None

    def _say_gone(self) -> None:
        try:
            self.jobs.gone(self.id)
        except StoreUnavailableError:
            pass  # it ages out of the list of workers alive


class _LeaseWatch:
    """A thread renewing the worker's lease on its job; it cancels the evaluation if the job was taken over
    by another worker or its owner pressed Stop."""

    def __init__(self, worker: EvalWorker, job: Job, evaluation: Evaluation) -> None:
        self.worker, self.job, self.evaluation = worker, job, evaluation
        self.lost = self.stop_requested = False
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True, name=f"lease-{job.eval_id[:8]}")

    def start(self) -> None:
        """Start renewing."""
        self._thread.start()

    def stop(self) -> None:
        """Stop renewing (the evaluation has ended)."""
        self._done.set()
        self._thread.join()

    def _loop(self) -> None:
        jobs, worker = self.worker.jobs, self.worker
        while not self._done.wait(worker.renew_s):
            try:
                lease = jobs.renew(self.job.eval_id, worker.id, worker.lease_s)
                jobs.seen(worker.id, self.job.eval_id)
            except StoreUnavailableError as exc:
                worker.report(f"evaluation {self.job.eval_id}: lease not renewed ({exc})")
                continue  # the cells finished meanwhile wait in the store's writer
            if not lease.held:
                self.lost = True
                self.evaluation.cancel()
                return
            if lease.stop_requested and not self.stop_requested:
                self.stop_requested = True
                self.evaluation.cancel()


def _owner(job: Job) -> User:
    """The evaluation's owner, as whom it runs (their limits and budget apply, their ledger is charged)."""
    return User(id=job.owner, name=job.owner)


def stop_job(eval_id: str, owner: str, store: Store) -> Job | None:
    """The owner's Stop: a waiting job ends now, a running one within a second (its worker cancels it)."""
    return JobStore(store).request_stop(eval_id, owner=owner)


def queue_evaluation(evaluation: Evaluation, store: Store) -> Job:
    """Put a saved evaluation in the queue for a worker (its owner is who created it)."""
    assert evaluation.eval_id is not None
    cells = evaluation.total_cells
    return JobStore(store).enqueue(evaluation.eval_id, evaluation.user.id, cells)
