"""Engine benchmarks, measured in one run (not timed tests):

(a) fan-out ratio: wall time of 8 scripted 0.5 s models at once / wall time of 1   (target <= 1.10)
(c) |reported TTFT - scripted TTFT| on the scripted server                          (target <= 40 ms)
The local adapter's decode speed over raw llama-cpp-python, (b), is measured in bench/bench_local.py.

Run: .venv/bin/python bench/bench_engine.py
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from playground.core.specs import ModelSpec  # noqa: E402
from playground.engine.fanout import Done, FanOut, Job  # noqa: E402
from playground.engine.registry import build_provider  # noqa: E402
from playground.engine.runner import run_model  # noqa: E402
from providers.base import ChatRequest, Message  # noqa: E402
from tests.scripted_server import ScriptedServer  # noqa: E402

REQUEST = ChatRequest(messages=(Message("user", "hi"),), max_tokens=16)


def _spec(url: str, key: str) -> ModelSpec:
    return ModelSpec(key=key, provider="openai", model="scripted", base_url=url, source="bench")


def _fanout_wall(server: ScriptedServer, n: int, tag: str) -> float:
    # A 0.5 s model: first token after 0.4 s, then 4 more 25 ms apart.
    jobs = []
    for i in range(n):
        spec = _spec(server.url(f"ok~ttft=0.4~tokens=5~gap=0.025~id={tag}{i}"), f"m{i}")
        provider = build_provider(spec, {})
        provider.prepare()
        jobs.append(Job(spec, provider, REQUEST, timeout_s=10))
    started = time.perf_counter()
    results = [e.result for e in FanOut(jobs).events() if isinstance(e, Done)]
    wall = time.perf_counter() - started
    assert all(r.ok for r in results), [r.error for r in results if not r.ok]
    return wall


def bench_fanout(server: ScriptedServer) -> None:
    _fanout_wall(server, 1, "warm")
    ratios = []
    for rep in range(3):
        one = _fanout_wall(server, 1, f"one{rep}-")
        eight = _fanout_wall(server, 8, f"eight{rep}-")
        ratios.append(eight / one)
        print(f"  rep {rep}: 1 model {one:.3f} s, 8 models {eight:.3f} s, ratio {eight / one:.3f}")
    print(f"(a) fan-out ratio 8/1 (median of 3): {statistics.median(ratios):.3f}  target <= 1.10")


def bench_ttft(server: ScriptedServer) -> None:
    scripted_ttft = 0.3
    errors_ms = []
    spec = _spec(server.url(f"ok~ttft={scripted_ttft}~tokens=2"), "ttft")
    provider = build_provider(spec, {})
    for _ in range(10):
        result = run_model(spec, provider, REQUEST, timeout_s=10)
        errors_ms.append(abs(result.ttft_s - scripted_ttft) * 1000)
    print(
        f"(c) |reported TTFT - scripted {scripted_ttft} s| over 10 calls: median {statistics.median(errors_ms):.1f} ms,"
        f" max {max(errors_ms):.1f} ms  target <= 40 ms"
    )


def main() -> None:
    with ScriptedServer() as server:
        bench_fanout(server)
        bench_ttft(server)


if __name__ == "__main__":
    main()
