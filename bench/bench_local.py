"""Local models in worker processes, measured in one run (not timed tests):

(a) decode tok/s through the worker (runner + pipe) / raw llama-cpp-python, same threads  (target >= 0.95)
(b) added TTFT through the worker, median                                               (target <= 20 ms)
(c) first-call start of a worker (spawn, import, load), reported apart
(d) memory: worker processes and their RSS with 4 sessions on one model                 (one copy)
(e) decode under a competing CPU-bound load: the worker's thread policy against
    llama.cpp's 2 threads, quiet and with 1 and 3 busy processes
(f) the alternative worker, `python -m llama_cpp.server`: decode tok/s and TTFT over HTTP

Raw figures come from bench/decode_probe.py in a process of its own (the same prompt tokens, greedy).
Run: .venv/bin/python bench/bench_local.py
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from playground.core.specs import ModelSpec  # noqa: E402
from playground.engine.registry import build_provider  # noqa: E402
from playground.engine.runner import run_model  # noqa: E402
from providers.base import ChatRequest  # noqa: E402
from providers.local_models import gguf_path  # noqa: E402
from providers.local_workers import CPU_SHARE, running_workers  # noqa: E402

PROBE = ROOT / "bench" / "decode_probe.py"
PROMPT = "Once upon a time, in a small village by the sea, there lived a lighthouse keeper who"
MAX_TOKENS, ROUNDS = 128, 5
# smollm2 driven as plain text completion: exactly the probe's prompt tokens.
SPEC = ModelSpec(key="smollm2-text", provider="llamacpp", model="smollm2-135m", gguf="smollm2-135m",
                 task="completion", context_window=1024)  # fmt: skip
REQUEST = ChatRequest(raw_text=PROMPT, temperature=0.0, seed=1, max_tokens=MAX_TOKENS)


def raw(threads: tuple[int, int], rounds: int = ROUNDS, *, passive: bool = True) -> dict:
    """Raw llama-cpp-python in its own process; `passive`: OpenMP's wait policy as the workers set it."""
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    if passive:
        env["OMP_WAIT_POLICY"] = "PASSIVE"
    out = subprocess.run(
        [sys.executable, str(PROBE), str(gguf_path("smollm2-135m")), str(threads[0]), str(rounds),
         str(MAX_TOKENS), str(threads[1])],
        check=True, capture_output=True, text=True, env=env,
    )  # fmt: skip
    return json.loads(out.stdout.strip().splitlines()[-1])


def through_worker(provider, rounds: int = ROUNDS) -> tuple[list[float], list[float]]:
    """Decode tok/s and TTFT through runner, provider and worker."""
    speeds, ttfts = [], []
    for _ in range(rounds):
        result = run_model(SPEC, provider, REQUEST, timeout_s=120)
        assert result.ok, result.error
        speeds.append(result.output_tokens_per_s)
        ttfts.append(result.ttft_s)
    return speeds, ttfts


@contextmanager
def busy(n: int):
    """n competing CPU-bound processes."""
    procs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(n)]
    try:
        time.sleep(0.5)
        yield
    finally:
        for proc in procs:
            proc.kill()
            proc.wait()


def bench_overhead(provider) -> None:
    policy = CPU_SHARE.threads()
    run_model(SPEC, provider, REQUEST, timeout_s=120)  # warm-up
    worker_speed, worker_ttft, raw_speed, raw_ttft = [], [], [], []
    for _ in range(3):  # interleaved
        speeds, ttfts = through_worker(provider)
        worker_speed += speeds
        worker_ttft += ttfts
        probe = raw(policy)
        raw_speed += probe["tok_s"]
        raw_ttft += probe["ttft_s"]
    w, r = statistics.median(worker_speed), statistics.median(raw_speed)
    print(f"  threads (decode, prompt) {policy}; worker {w:.1f} tok/s, raw {r:.1f} tok/s (median of 15 each)")
    print(f"(a) decode tok/s worker / raw: {w / r:.3f}  target >= 0.95")
    added = (statistics.median(worker_ttft) - statistics.median(raw_ttft)) * 1000
    print(
        f"  TTFT worker {statistics.median(worker_ttft) * 1000:.1f} ms, raw {statistics.median(raw_ttft) * 1000:.1f} ms"
    )
    print(f"(b) added TTFT through the worker (median): {added:.1f} ms  target <= 20 ms")


def bench_start() -> None:
    starts = []
    for _ in range(3):
        for worker in running_workers():
            worker.shutdown()
        provider = build_provider(SPEC)
        started = time.perf_counter()
        provider.prepare()
        starts.append(time.perf_counter() - started)
    print(f"(c) first-call start of a worker (spawn + import + load smollm2): "
          f"median {statistics.median(starts):.2f} s of {[round(s, 2) for s in starts]}")  # fmt: skip


def rss_mb(pid: int | str) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def bench_memory() -> None:
    sessions = [build_provider(SPEC) for _ in range(4)]  # what 4 dashboard sessions build
    before = rss_mb("self")
    threads = [threading.Thread(target=run_model, args=(SPEC, p, REQUEST)) for p in sessions]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    workers = [
        w for w in running_workers() if w.pid is not None and w.path == gguf_path("smollm2-135m").resolve()
    ]
    size = gguf_path("smollm2-135m").stat().st_size / 2**20
    print(f"(d) 4 sessions on smollm2: {len(workers)} worker process(es), worker RSS "
          f"{', '.join(f'{rss_mb(w.pid):.0f} MB' for w in workers)} (model file {size:.0f} MB); "
          f"this process {before:.0f} -> {rss_mb('self'):.0f} MB (no model in it)")  # fmt: skip


def bench_contention(provider) -> None:
    print("(e) decode tok/s under competing CPU-bound processes (median of 3):")
    for load in (0, 1, 3):
        with busy(load):
            speeds, _ = through_worker(provider, rounds=3)
            native = raw((2, 2), rounds=3, passive=False)  # llama.cpp's defaults here: a thread per core
        print(f"  {load} busy: worker policy {CPU_SHARE.threads()} {statistics.median(speeds):6.1f} tok/s;"
              f"  2 threads {statistics.median(native['tok_s']):6.1f} tok/s")  # fmt: skip


def bench_llama_server() -> None:
    import urllib.request

    from tests.conftest import free_port
    from tests.processes import serving

    port = free_port()
    threads = CPU_SHARE.threads()
    command = [sys.executable, "-m", "llama_cpp.server", "--model", str(gguf_path("smollm2-135m")),
               "--host", "127.0.0.1", "--port", str(port), "--n_ctx", "1024",
               "--n_threads", str(threads[0]), "--n_threads_batch", str(threads[1])]  # fmt: skip
    log = Path("/tmp/bench-llama-server.log")
    with serving(command, f"http://127.0.0.1:{port}/v1/models", log):
        speeds, ttfts = [], []
        body = {"prompt": PROMPT, "max_tokens": MAX_TOKENS, "temperature": 0.0, "seed": 1, "stream": True}
        for index in range(ROUNDS + 1):
            started = time.perf_counter()
            first, count = None, 0
            url = f"http://127.0.0.1:{port}/v1/completions"
            post = urllib.request.Request(
                url, json.dumps(body).encode(), {"Content-Type": "application/json"}
            )
            with urllib.request.urlopen(post, timeout=60) as response:
                for raw_line in response:
                    line = raw_line.decode().strip()
                    if not line.startswith("data: {"):
                        continue
                    choice = json.loads(line[6:])["choices"][0]
                    if choice.get("finish_reason") is None:
                        count += 1
                        if first is None and choice["text"]:
                            first = time.perf_counter()
            end = time.perf_counter()
            if index:
                speeds.append(count / (end - first))
                ttfts.append(first - started)
    print(f"(f) llama_cpp.server as the worker: {statistics.median(speeds):.1f} tok/s, "
          f"TTFT {statistics.median(ttfts) * 1000:.1f} ms (median of {ROUNDS}; compare (a) and (b))")  # fmt: skip


def main() -> None:
    provider = build_provider(SPEC)
    provider.prepare()
    bench_overhead(provider)
    bench_llama_server()
    bench_contention(provider)
    bench_memory()
    bench_start()


if __name__ == "__main__":
    main()
