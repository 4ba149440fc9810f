"""Evaluation throughput, one run: 500 rows x 3 scripted models answering in 0.2 s, concurrency 16.

- throughput over the ideal: (rows x models x 0.2 s / 16) / measured wall time   (target >= 0.9)
- peak memory of the run: the process's peak RSS, and its growth during the run

The scripted server runs in its own process so it does not share this process's interpreter lock.
Run: .venv/bin/python bench/bench_eval.py
"""

from __future__ import annotations

import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from playground.evals.datasets import Dataset  # noqa: E402
from playground.evals.metrics import MetricChoice  # noqa: E402
from playground.evals.runner import EvalSetup, Evaluation  # noqa: E402
from playground.storage.evals import EvalStore  # noqa: E402
from playground.storage.runs import Store  # noqa: E402
from tests.conftest import free_port, remote_spec  # noqa: E402
from tests.processes import serving  # noqa: E402

ROWS, MODELS, ANSWER_S, CONCURRENCY = 500, 3, 0.2, 16


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far (ru_maxrss is in KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = Path(tempfile.mkdtemp()) / "scripted.log"
    command = [sys.executable, "-m", "tests.scripted_server", str(port)]
    # The scripted server answers GET with a model list: that is its readiness check.
    with serving(command, f"{base}/ok/v1/models", log):
        specs = {
            f"m{i}": remote_spec(f"{base}/ok~ttft={ANSWER_S}~tokens=3~usage=1~id={i}/v1", key=f"m{i}")
            for i in range(MODELS)
        }
        rows = tuple({"question": f"question {i}", "expected": "word1"} for i in range(ROWS))
        dataset = Dataset("bench.csv", ("question", "expected"), rows)
        setup = EvalSetup(
            template="{question}",
            models=tuple(specs),
            metrics=(MetricChoice("contains"), MetricChoice("exact_match")),
            concurrency=CONCURRENCY,
        )
        store = EvalStore(Store(f"sqlite:///{tempfile.mkdtemp()}/bench.db"))
        prepare_started = time.perf_counter()
        evaluation = Evaluation(setup, dataset, specs, store)  # loads the SDK once: reported apart
        prepare_s = time.perf_counter() - prepare_started
        before_mb = peak_rss_mb()
        cpu_before = sum(resource.getrusage(resource.RUSAGE_SELF)[:2])
        started = time.perf_counter()
        events = list(evaluation.run())
        last = events[-1] if events else None
        wall = time.perf_counter() - started
        after_mb = peak_rss_mb()
        cpu_s = sum(resource.getrusage(resource.RUSAGE_SELF)[:2]) - cpu_before
    assert last is not None and last.progress.done == ROWS * MODELS, "not every cell finished"
    ideal = ROWS * MODELS * ANSWER_S / CONCURRENCY
    print(f"{ROWS} rows x {MODELS} models, {ANSWER_S} s answers, concurrency {CONCURRENCY}")
    print(
        f"wall {wall:.2f} s, ideal {ideal:.2f} s, errors {last.progress.errors} (prepare, untimed: {prepare_s:.2f} s)"
    )
    print(f"throughput over ideal: {ideal / wall:.3f}  target >= 0.9")
    cells = store.get(evaluation.eval_id).cells
    totals = sorted(c.result.total_s or 0 for c in cells)
    print(f"CPU time of this process during the run: {cpu_s:.1f} s")
    print(
        f"per call: median total {totals[len(totals) // 2]:.3f} s, p90 {totals[int(len(totals) * 0.9)]:.3f} s"
    )
    print(
        f"peak RSS {after_mb:.0f} MB (before the run {before_mb:.0f} MB, growth {after_mb - before_mb:.0f} MB)"
    )


if __name__ == "__main__":
    main()
