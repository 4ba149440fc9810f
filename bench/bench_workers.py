"""Background evaluation workers, one run: answers per second with 1 and with 2 `playground worker`
processes, on SQLite and on PostgreSQL (a throwaway cluster, when Debian's postgresql is installed).

Each case starts from an empty database holding E queued evaluations of R distinct rows on one scripted
model that echoes the prompt after 0.2 s (the scripted server runs in this process, which only waits while
the workers run), each evaluation at concurrency C. The workers (`--once`: they exit when the queue is
empty) are started at the same moment; then:

- wall: from the workers' start (their Python start-up included) to the last job's `finished_at`;
  apart: start-up (to the first job claimed), each worker's first job and the jobs after it (median s),
  and the CPU seconds the workers used
- answers/s = E x R / wall, against the ideal workers x C / 0.2 s, and measured over ideal
- the 2-worker over 1-worker speed-up, per database (ideal: 2)
- checks, from the store and the scripted server's request log: every job `done` and taken once, every
  evaluation complete with every answer correct, every question asked exactly once (a violation is
  printed loudly and the script exits with status 1)

Run: .venv/bin/python bench/bench_workers.py [--quick] [--evals E] [--rows R] [--concurrency C]
     [--workers 1,2] [--no-postgres] [--timeline] [--keep]        (--quick: E = 4, R = 12)
"""

from __future__ import annotations

import argparse
import itertools
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from playground.core.policy import User  # noqa: E402
from playground.core.specs import load_specs  # noqa: E402
from playground.evals import Dataset, EvalSetup, Evaluation, MetricChoice, evaluation_store  # noqa: E402
from playground.evals.jobs import queue_evaluation  # noqa: E402
from playground.storage import Store  # noqa: E402
from playground.storage.jobs import DONE, Job, JobStore  # noqa: E402
from tests import postgres  # noqa: E402
from tests.conftest import KEY_VARS, free_port  # noqa: E402
from tests.scripted_server import ScriptedServer  # noqa: E402

TTFT_S = 0.2
MODEL = "echo"
OWNER = "bench"
WORKER_TIMEOUT_S = 600.0


@dataclass(frozen=True)
class Size:
    """How much work one case queues."""

    evals: int
    rows: int
    concurrency: int

    @property
    def answers(self) -> int:
        """Rows x evaluations (one model)."""
        return self.evals * self.rows


@dataclass(frozen=True)
class Case:
    """What one case measured."""

    db: str
    workers: int
    wall_s: float  # workers started -> last job finished
    startup_s: float  # workers started -> first job claimed (imports, migration check, first claim)
    first_job_s: float  # median time of each worker's first job (its SDK import and first connection)
    later_job_s: float  # median time of the jobs after it (ideal: rows x TTFT_S / concurrency)
    answers: int
    cpu_s: float  # CPU seconds of the worker processes (and their template pools), start-up included
    jobs_per_worker: str  # e.g. "w1:3 w2:3"
    violations: tuple[str, ...]
    timeline: tuple[str, ...] = ()  # per job: worker, claimed and finished, in seconds from the start

    @property
    def rate(self) -> float:
        """Answers per second over the wall time."""
        return self.answers / self.wall_s

    def ideal(self, concurrency: int) -> float:
        """Answers per second if every worker kept `concurrency` calls of TTFT_S in flight all the time."""
        return self.workers * concurrency / TTFT_S


def write_models(folder: Path, scripted: ScriptedServer) -> Path:
    """The server's models file (what $PLAYGROUND_MODELS_FILE names for the workers): one scripted model
    that echoes the prompt after TTFT_S, so the `contains` metric can check every answer."""
    models = folder / "models.toml"
    models.write_text(
        f'[models.{MODEL}]\nprovider = "openai"\nmodel = "m"\n'
        f'base_url = "{scripted.url(f"echo~ttft={TTFT_S}")}"\ncontext_window = 4096\n'
    )
    return models


def worker_env(models: Path, db_url: str) -> dict[str, str]:
    """The workers' environment: this one without the machine's keys or hosted-mode settings (as the tests'
    clean_env), with the models file and the case's database."""
    env = {k: v for k, v in os.environ.items() if k not in KEY_VARS}
    env["PLAYGROUND_MODELS_FILE"] = str(models)
    env["PLAYGROUND_DB"] = db_url
    return env


def queue_all(store: Store, models: Path, tag: str, size: Size) -> list[str]:
    """Save and queue `size.evals` evaluations of `size.rows` questions each, all distinct (prefixed by
    `tag`, so the request log of this case can be told apart); their ids."""
    specs = load_specs(models)
    ids = []
    for e in range(size.evals):
        rows = tuple(
            {"question": f"{tag} e{e} q{i}", "expected": f"{tag} e{e} q{i}"} for i in range(size.rows)
        )
        dataset = Dataset(f"{tag}-e{e}", ("question", "expected"), rows)
        setup = EvalSetup(
            template="{question}",
            models=(MODEL,),
            metrics=(MetricChoice("contains"),),
            concurrency=size.concurrency,
        )
        evaluation = Evaluation(setup, dataset, specs, evaluation_store(store), user=User(OWNER, OWNER))
        queue_evaluation(evaluation, store)
        assert evaluation.eval_id is not None
        ids.append(evaluation.eval_id)
    return ids


def children_cpu_s() -> float:
    """CPU seconds (user + system) of the child processes this one has waited for so far."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_workers(count: int, env: dict[str, str], logs: Path) -> tuple[float, float, list[str]]:
    """Start `count` `playground worker --once` processes together and wait for all to exit; the moment
    they were started (time.time(), the clock the store's timestamps use), the CPU seconds they used
    (their template-pool processes included) and any failure to report."""
    problems = []
    cpu_before = children_cpu_s()
    started = time.time()
    processes = {
        f"w{n}": subprocess.Popen(
            [sys.executable, "-m", "playground", "worker", "--once", "--name", f"w{n}"],
            stdout=(logs / f"w{n}.log").open("wb"),
            stderr=subprocess.STDOUT,
            env=env,
        )
        for n in range(1, count + 1)
    }
    deadline = time.monotonic() + WORKER_TIMEOUT_S
    for name, process in processes.items():
        try:
            code = process.wait(max(1.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            process.terminate()
            code = process.wait(60)
            problems.append(f"{name} still running after {WORKER_TIMEOUT_S:.0f} s: terminated")
        if code != 0:
            tail = (logs / f"{name}.log").read_text()[-1500:]
            problems.append(f"{name} exited with status {code}:\n{tail}")
    return started, children_cpu_s() - cpu_before, problems


def asked(scripted: ScriptedServer, tag: str) -> Counter[str]:
    """How many times each question of this case reached the scripted server."""
    return Counter(
        r["body"]["messages"][-1]["content"]
        for r in scripted.requests
        if r["body"].get("messages") and r["body"]["messages"][-1]["content"].startswith(f"{tag} ")
    )


def check(store: Store, ids: list[str], scripted: ScriptedServer, tag: str, size: Size) -> list[str]:
    """Everything that went wrong in a case: a job not done or taken more than once, an evaluation not
    complete or with a wrong answer, a question never asked or asked twice."""
    violations = []
    jobs, evals = JobStore(store), evaluation_store(store)
    for eval_id in ids:
        job = jobs.get(eval_id)
        if job is None or job.state != DONE or job.claims != 1:
            violations.append(f"job {eval_id}: {job and (job.state, job.claims, job.error)}")
        saved = evals.get(eval_id)
        if saved is None or not saved.complete or len(saved.cells) != size.rows:
            violations.append(f"evaluation {eval_id}: {saved and len(saved.cells)}/{size.rows} answers saved")
        elif not all(c.result.ok and c.scores["contains"].passed for c in saved.cells):
            violations.append(f"evaluation {eval_id}: an answer failed or did not echo its question")
    counts = asked(scripted, tag)
    expected = {f"{tag} e{e} q{i}" for e in range(size.evals) for i in range(size.rows)}
    if missing := expected - set(counts):
        violations.append(f"{len(missing)} question(s) never asked, e.g. {sorted(missing)[:3]}")
    if twice := {q: n for q, n in counts.items() if n != 1}:
        violations.append(f"{len(twice)} question(s) asked more than once, e.g. {list(twice.items())[:3]}")
    return violations


def measure(
    db: str, db_url: str, workers: int, size: Size, scripted: ScriptedServer, models: Path, folder: Path
) -> Case:
    """One case: queue the evaluations in an empty database, run the workers, read the timings and checks
    back from the store."""
    tag = f"{db}-w{workers}"
    logs = folder / tag
    logs.mkdir()
    store = Store(db_url)
    ids = queue_all(store, models, tag, size)
    started, cpu_s, problems = run_workers(workers, worker_env(models, db_url), logs)
    spans = job_spans([JobStore(store).get(i) for i in ids], started)
    violations = problems + check(store, ids, scripted, tag, size)
    store.engine.dispose()
    first_s, later_s = job_times(spans)
    split = Counter(worker for worker, _, _ in spans)
    return Case(
        db=db,
        workers=workers,
        wall_s=max((end for _, _, end in spans), default=time.time() - started),
        startup_s=min((start for _, start, _ in spans), default=float("nan")),
        first_job_s=first_s,
        later_job_s=later_s,
        answers=size.answers,
        cpu_s=cpu_s,
        jobs_per_worker=" ".join(f"{w}:{n}" for w, n in sorted(split.items())),
        violations=tuple(violations),
        timeline=tuple(f"{w} {start:6.2f} -> {end:6.2f} s" for w, start, end in spans),
    )


Span = tuple[str, float, float]  # a job's worker, when it was claimed and when it ended (s from the start)


def job_spans(jobs: list[Job | None], started: float) -> list[Span]:
    """The jobs that ran to an end, as spans in seconds from the workers' start, in the order claimed."""
    spans = [
        (str(j.worker), j.started_at.timestamp() - started, j.finished_at.timestamp() - started)
        for j in jobs
        if j is not None and j.started_at is not None and j.finished_at is not None
    ]
    return sorted(spans, key=lambda span: span[1])


def job_times(spans: list[Span]) -> tuple[float, float]:
    """Median duration of each worker's first job (lazy one-time costs: the SDK import, the template pool,
    first connections), and of the jobs it ran after that; NaN when there are none."""
    first: list[float] = []
    later: list[float] = []
    seen: set[str] = set()
    for worker, start, end in spans:
        (later if worker in seen else first).append(end - start)
        seen.add(worker)
    return (
        statistics.median(first) if first else float("nan"),
        statistics.median(later) if later else float("nan"),
    )


@contextmanager
def databases(folder: Path, with_postgres: bool) -> Iterator[list[tuple[str, Callable[[], str]]]]:
    """The databases to measure, each a name and a maker of a fresh empty database's URL: a new SQLite file
    each time, and a new database on one throwaway PostgreSQL cluster (skipped, saying why, if absent)."""
    counter = itertools.count()
    made: list[tuple[str, Callable[[], str]]] = [
        ("sqlite", lambda: f"sqlite:///{folder / f'bench-{next(counter)}.db'}")
    ]
    with ExitStack() as stack:
        if not with_postgres:
            print("PostgreSQL: skipped (--no-postgres)")
        elif not postgres.available():
            print("PostgreSQL: skipped (not installed: apt-get install postgresql)")
        else:
            # Not under `folder`: the server runs as the `postgres` user and needs a folder of its own.
            pg_folder = Path(tempfile.mkdtemp(prefix="playground-pg-"))
            stack.callback(shutil.rmtree, pg_folder, ignore_errors=True)
            cluster_url = stack.enter_context(postgres.cluster(pg_folder, free_port()))
            made.append(("postgresql", lambda: postgres.fresh_database(cluster_url)))
        yield made


def print_table(cases: list[Case], size: Size) -> None:
    """The figures, one line per case, then the speed-up of 2 workers over 1 per database."""
    print()
    print(f"{'database':<11} {'workers':>7} {'wall s':>7} {'start-up s':>10} {'1st job s':>9} "
          f"{'later job s':>11} {'CPU s':>6} {'answers/s':>9} {'ideal':>6} {'measured/ideal':>14}  jobs")  # fmt: skip
    for c in cases:
        ideal = c.ideal(size.concurrency)
        print(
            f"{c.db:<11} {c.workers:>7} {c.wall_s:>7.2f} {c.startup_s:>10.2f} {c.first_job_s:>9.2f} "
            f"{c.later_job_s:>11.2f} {c.cpu_s:>6.1f} {c.rate:>9.2f} {ideal:>6.1f} {c.rate / ideal:>14.3f}  {c.jobs_per_worker}"
        )
    print(
        f"(an ideal job takes {size.rows * TTFT_S / size.concurrency:.2f} s: rows x {TTFT_S} s / concurrency)"
    )
    print()
    for db in dict.fromkeys(c.db for c in cases):
        rates = {c.workers: c.rate for c in cases if c.db == db}
        if 1 in rates and 2 in rates:
            print(f"{db}: 2 workers over 1: {rates[2] / rates[1]:.3f}  (ideal 2)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="4 evaluations of 12 rows")
    parser.add_argument("--evals", type=int, help="evaluations queued per case (default 6)")
    parser.add_argument("--rows", type=int, help="rows per evaluation (default 40)")
    parser.add_argument("--concurrency", type=int, default=4, help="each evaluation's concurrency")
    parser.add_argument("--workers", default="1,2", help="worker counts to measure, comma-separated")
    parser.add_argument("--no-postgres", action="store_true", help="SQLite only")
    parser.add_argument("--timeline", action="store_true", help="print when each job was claimed and ended")
    parser.add_argument("--keep", action="store_true", help="keep the workers' logs (printed folder)")
    args = parser.parse_args()
    size = Size(
        evals=args.evals or (4 if args.quick else 6),
        rows=args.rows or (12 if args.quick else 40),
        concurrency=args.concurrency,
    )
    counts = [int(n) for n in args.workers.split(",")]
    print(
        f"{size.evals} evaluations x {size.rows} rows, one scripted model answering after {TTFT_S} s, "
        f"concurrency {size.concurrency} per evaluation; {os.cpu_count()} CPUs"
    )
    folder = Path(tempfile.mkdtemp(prefix="bench-workers-"))
    cases: list[Case] = []
    with ScriptedServer() as scripted, databases(folder, not args.no_postgres) as dbs:
        models = write_models(folder, scripted)
        for db, fresh in dbs:
            for workers in counts:
                case = measure(db, fresh(), workers, size, scripted, models, folder)
                print(f"{db}, {workers} worker(s): {case.rate:.2f} answers/s, wall {case.wall_s:.2f} s")
                for line in case.timeline if args.timeline else ():
                    print(f"    {line}")
                cases.append(case)
    print_table(cases, size)
    broken = [(c, v) for c in cases for v in c.violations]
    for case, violation in broken:
        print(f"!!! VIOLATION ({case.db}, {case.workers} worker(s)): {violation}", file=sys.stderr)
    if broken or args.keep:
        print(f"worker logs kept in {folder}", file=sys.stderr)
    else:
        shutil.rmtree(folder, ignore_errors=True)
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main())
