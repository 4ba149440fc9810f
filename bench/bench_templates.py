"""Prompt templates filled in worker processes against filling them in this process, one run.

- (a) throughput of PromptTemplate.render (a worker process over a pipe) over the in-process sandbox fill
  it replaced, one thread, for an ordinary template, and the microseconds per row of each; the target is
  on the time a row adds: <= 200 us (0.1% of the 0.2 s model calls of bench_eval.py)
- (b) 8 threads rendering at once: microseconds per row with 1 worker (a lock, in effect) and with the
  pool's POOL_SIZE workers; and how long one ordinary render waits while a hostile template holds a worker
- (c) a worker's start (interpreter, Jinja, first reply), and a hostile template refused by check()

Run: .venv/bin/python bench/bench_templates.py
"""

from __future__ import annotations

import statistics
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from playground.evals import template_pool  # noqa: E402
from playground.evals.template_worker import fill  # noqa: E402
from playground.evals.templating import PromptTemplate, TemplateError  # noqa: E402

ROWS, ROUNDS, THREADS = 2000, 5, 8
TEMPLATE = (
    "You are grading {subject}.\nQuestion: {question}\nContext: {{ context | trim }}\n"
    '{% if choices %}Choices: {{ choices }}\n{% endif %}Answer in one word, as {"label": ...}.\n'
)
HOSTILE = "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}"


def dataset() -> list[dict[str, str]]:
    """ROWS rows of a typical question-answering set, with a column the template does not read."""
    return [
        {
            "subject": "geography",
            "question": f"What is the capital of country number {i}? Über-long names are fine: 東京.",
            "context": "  " + "Some background sentence. " * 12,
            "choices": "A, B, C" if i % 2 else "",
            "expected": "Paris",
        }
        for i in range(ROWS)
    ]


def per_row_us(render: Callable[[dict[str, str]], str], rows: list[dict[str, str]]) -> float:
    """The median over ROUNDS of microseconds per row for `render` over every row, one thread."""
    times = []
    for _ in range(ROUNDS):
        started = time.perf_counter()
        for row in rows:
            render(row)
        times.append((time.perf_counter() - started) / len(rows) * 1e6)
    return statistics.median(times)


def threaded_us(template: PromptTemplate, rows: list[dict[str, str]], expected: list[str]) -> float:
    """Microseconds per row with THREADS threads rendering the rows between them."""
    with ThreadPoolExecutor(THREADS) as pool:
        started = time.perf_counter()
        results = list(pool.map(template.render, rows))
        elapsed = time.perf_counter() - started
    assert results == expected, "a thread got another row's prompt"
    return elapsed / len(rows) * 1e6


def wait_behind_hostile_ms(template: PromptTemplate, row: dict[str, str]) -> float:
    """Milliseconds one ordinary render takes while another thread's hostile template holds a worker."""
    hostile = threading.Thread(target=refuse, args=(HOSTILE,))
    hostile.start()
    time.sleep(0.2)  # the hostile fill is under way
    started = time.perf_counter()
    template.render(row)
    waited_ms = (time.perf_counter() - started) * 1000
    hostile.join()
    return waited_ms


def refuse(source: str) -> float:
    """Seconds check() takes to refuse `source`."""
    started = time.perf_counter()
    try:
        PromptTemplate(source).check(["x"], [{"x": "1"}])
    except TemplateError:
        return time.perf_counter() - started
    raise AssertionError(f"{source} was not refused")


def with_pool_size(size: int, template: PromptTemplate, row: dict[str, str]) -> None:
    """Replace the server's pool by one of `size` workers, started and warm."""
    template_pool.shutdown()
    template_pool._pool = template_pool._Pool(size)
    template.render(row)


def main() -> None:
    rows = dataset()
    template = PromptTemplate(TEMPLATE)
    started = time.perf_counter()
    template.check(list(rows[0]), rows)  # starts a worker, reads the variables, fills row 1
    start_ms = (time.perf_counter() - started) * 1000
    expected = [fill(template.jinja_source, row) for row in rows]
    assert [template.render(row) for row in rows] == expected, "the worker's prompts differ"

    in_process = per_row_us(lambda row: fill(template.jinja_source, row), rows)
    worker = per_row_us(template.render, rows)
    print(f"{ROWS} rows of an ordinary template, median of {ROUNDS} rounds, one thread")
    print(f"(a) in-process fill {in_process:.1f} us/row, worker process {worker:.1f} us/row")
    print(f"    throughput of the worker over in-process: {in_process / worker:.3f}")
    print(f"    added per row: {worker - in_process:.1f} us  target <= 200 us")

    figures = {}
    for size in (1, template_pool.POOL_SIZE):
        with_pool_size(size, template, rows[0])
        figures[size] = threaded_us(template, rows, expected), wait_behind_hostile_ms(template, rows[0])
    print(
        f"(b) {THREADS} threads, us/row: "
        + ", ".join(f"{n} worker(s) {f[0]:.1f}" for n, f in figures.items())
    )
    print(
        "    one render while a hostile template holds a worker, ms: "
        + ", ".join(f"{n} worker(s) {f[1]:.0f}" for n, f in figures.items())
    )
    print(
        f"(c) first check(), a worker to start: {start_ms:.0f} ms; nested loops refused in {refuse(HOSTILE):.2f} s"
    )
    template_pool.shutdown()


if __name__ == "__main__":
    main()
