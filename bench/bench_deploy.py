"""A deployed endpoint against the playground's own worker, measured in one run (not timed tests):

(a) decode tok/s of the bundled SmolLM2 deployed with llama.cpp's server and called through the playground
    (its models-file entry: provider openai) / the same model in the playground's local worker   (goal >= 0.9)
(b) TTFT of both, median, and their ratio (worker / deployed: >= 0.9 means the endpoint is as quick)
(c) seconds from Deploy (the service call) to the first answer's first token, and to ready

Both are called with the same chat request (greedy, fixed seed, 128 tokens at most), one call at a time,
alternating. Output tokens are counted with the model's own tokenizer for both sides: llama.cpp's server
leaves usage out of streamed answers, and the playground then estimates with tiktoken, a different
tokenizer. Decode tok/s = (tokens - 1) / (total - TTFT).
Run: .venv/bin/python bench/bench_deploy.py
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from playground.core.params import Params, build_request  # noqa: E402
from playground.core.policy import HostedPolicy  # noqa: E402
from playground.core.specs import load_specs  # noqa: E402
from playground.deploy import Deployments  # noqa: E402
from playground.engine.registry import build_provider  # noqa: E402
from playground.engine.runner import run_model  # noqa: E402
from playground.storage.runs import Store  # noqa: E402
from providers.local_models import gguf_path  # noqa: E402
from tests.conftest import free_port  # noqa: E402

PROMPT = "Tell a long story about a lighthouse keeper and a storm."
PARAMS = Params(temperature=0.0, max_tokens=128, seed=7)
ROUNDS = 5


def tokenizer():
    from llama_cpp import Llama

    return Llama(model_path=str(gguf_path("smollm2-135m")), vocab_only=True, verbose=False)


def measure(spec, counter) -> tuple[float, float]:
    """(decode tok/s, TTFT s) of one call through the playground's runner."""
    result = run_model(spec, build_provider(spec), build_request(spec, PROMPT, None, PARAMS), timeout_s=300)
    assert result.ok, result.error
    tokens = len(counter.tokenize(result.text.encode(), add_bos=False, special=False))
    return (tokens - 1) / (result.total_s - result.ttft_s), result.ttft_s


def first_answer_s(service: Deployments, started: float, deployment_id: str, spec) -> tuple[float, float]:
    """(seconds to ready, seconds to the first token of a first call), both from `started`."""
    health = service.wait_ready(deployment_id, 300)
    assert health.state == "ready", health
    ready = time.perf_counter() - started
    result = run_model(spec, build_provider(spec), build_request(spec, "Hello!", None, Params(max_tokens=8)))
    assert result.ok, result.error
    return ready, time.perf_counter() - started - (result.total_s - result.ttft_s)


def main() -> None:
    folder = Path(tempfile.mkdtemp(prefix="bench-deploy-"))
    specs = load_specs()
    service = Deployments(
        Store(f"sqlite:///{folder / 'bench.db'}"), specs, policy=HostedPolicy(), log_dir=folder
    )
    os.environ["BENCH_DEPLOY_KEY"] = "bench-key"
    started = time.perf_counter()
    launched = service.deploy("smollm2-135m", free_port(), api_key_env="BENCH_DEPLOY_KEY")
    try:
        deployed = service.entry_of(launched.deployment).spec()
        ready_s, first_s = first_answer_s(service, started, launched.deployment.id, deployed)
        local, counter = specs["smollm2-135m"], tokenizer()
        measure(local, counter)  # the worker's first call loads the model: not part of (a) or (b)
        remote_runs, local_runs = [], []
        for _ in range(ROUNDS):
            remote_runs.append(measure(deployed, counter))
            local_runs.append(measure(local, counter))
    finally:
        service.stop(launched.deployment.id)
    remote_tps = statistics.median(r[0] for r in remote_runs)
    local_tps = statistics.median(r[0] for r in local_runs)
    remote_ttft = statistics.median(r[1] for r in remote_runs)
    local_ttft = statistics.median(r[1] for r in local_runs)
    print(f"smollm2-135m, {ROUNDS} alternating calls each, medians")
    print(
        f"(a) decode tok/s deployed via playground {remote_tps:.1f} / local worker {local_tps:.1f} = "
        f"{remote_tps / local_tps:.3f}  goal >= 0.9"
    )
    print(
        f"(b) TTFT deployed {remote_ttft * 1000:.0f} ms, local worker {local_ttft * 1000:.0f} ms; "
        f"worker / deployed = {local_ttft / remote_ttft:.3f}"
    )
    print(f"(c) Deploy -> ready {ready_s:.2f} s; Deploy -> first token of the first answer {first_s:.2f} s")


if __name__ == "__main__":
    main()
