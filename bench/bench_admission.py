"""Admission in the shared database, on a throwaway PostgreSQL on loopback (and SQLite for comparison), one run:

1. The latency one admission adds before a run's first call: `Gate.admit` (lock, read the user's
   reservations and the day's ledger, reserve) p50 / p90 over 300 admissions of one user, against what
   the process-local gate it replaced read per admission (the day's spend from the ledger), and the
   release (through the store's writer, which it waits for). Goal: admit ≤ 10 ms p50.
2. Throughput: admissions per second (admit + release) with 1, 10 and 50 users racing, one thread each,
   for a few seconds; and 10 threads racing for ONE user (their admissions serialise on that user's lock).

Each user's ledger holds 200 calls from earlier today, so the read has work to do.

Run: .venv/bin/python bench/bench_admission.py [--quick]   (--quick: 100 admissions, 1.5 s per load)
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import threading
import time
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from playground.core.policy import HostedPolicy, Limits, User, day_start  # noqa: E402
from playground.core.results import RunResult  # noqa: E402
from playground.hosting import Ask, Gate  # noqa: E402
from playground.storage import Store  # noqa: E402
from tests import postgres  # noqa: E402
from tests.conftest import free_port  # noqa: E402

QUICK = "--quick" in sys.argv
LATENCY_N = 100 if QUICK else 300
LOAD_S = 1.5 if QUICK else 4.0
LEDGER_ROWS = 200
ASK = Ask(what="comparison", calls=2, max_tokens=256, max_cost_usd=Decimal("0.01"))
GATE = Gate(HostedPolicy(enabled=True, limits=Limits(concurrent_runs=1000, daily_usd=Decimal(10**6))))


def user(index: int) -> User:
    return User(f"https://id.example|user{index}", f"user{index}")


def seed_ledger(store: Store, users: int) -> None:
    """LEDGER_ROWS calls today for each user."""
    for index in range(users):
        for _ in range(LEDGER_ROWS):
            store.record_call(
                user(index).id, "run", "earlier", RunResult(model="m", cost_usd=Decimal("0.0001"))
            )
    store.writer.flush(120)


def ms(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return 1000 * ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def latency(store: Store) -> dict[str, float]:
    """Seconds of admit, of release, and of the old gate's one ledger read, per admission of one user."""
    admits, releases, reads = [], [], []
    who = user(0)
    GATE.admit(who, ASK, store).release()  # the holder's row and the connection pool are made here
    for _ in range(LATENCY_N):
        started = time.perf_counter()
        store.spent_since(who.id, day_start())
        reads.append(time.perf_counter() - started)
        started = time.perf_counter()
        ticket = GATE.admit(who, ASK, store)
        admits.append(time.perf_counter() - started)
        started = time.perf_counter()
        ticket.release()
        releases.append(time.perf_counter() - started)
    return {
        "admit p50": ms(admits, 0.5),
        "admit p90": ms(admits, 0.9),
        "release p50": ms(releases, 0.5),
        "old gate's read p50": ms(reads, 0.5),
    }


def throughput(store: Store, users: int, threads: int) -> float:
    """Admissions (admit + release) per second with `threads` threads over `users` users, for LOAD_S."""
    counts = [0] * threads
    stop = time.perf_counter() + LOAD_S

    def race(slot: int) -> None:
        who = user(slot % users)
        while time.perf_counter() < stop:
            GATE.admit(who, ASK, store).release()
            counts[slot] += 1

    workers = [threading.Thread(target=race, args=(slot,)) for slot in range(threads)]
    started = time.perf_counter()
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return sum(counts) / (time.perf_counter() - started)


def measure(name: str, url: str) -> None:
    store = Store(url)
    seed_ledger(store, 50)
    print(f"\n== {name}")
    for label, value in latency(store).items():
        print(f"  {label}: {value:.2f} ms")
    for users in (1, 10, 50):
        print(
            f"  {users} user(s) racing, one thread each: {throughput(store, users, users):.0f} admissions/s"
        )
    print(f"  10 threads racing for one user: {throughput(store, 1, 10):.0f} admissions/s")


def main() -> None:
    if not postgres.available():
        sys.exit("PostgreSQL is not installed (apt-get install postgresql)")
    folder, cluster = (Path(tempfile.mkdtemp(prefix=f"bench-admission-{n}-")) for n in ("db", "pg"))
    try:  # the cluster gets a folder of its own: the server runs as `postgres`, which takes it over
        with postgres.cluster(cluster, free_port()) as url:
            measure("PostgreSQL (loopback)", postgres.fresh_database(url))
        measure("SQLite (one file, WAL)", f"sqlite:///{folder / 'admission.db'}")
    finally:
        shutil.rmtree(folder, ignore_errors=True)
        shutil.rmtree(cluster, ignore_errors=True)


if __name__ == "__main__":
    main()
