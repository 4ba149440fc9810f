"""A deployed endpoint against the playground's own worker, measured in one run (not timed tests):

(a) decode tok/s of the bundled SmolLM2 deployed with llama.cpp's server and called through the playground
    (its models-file entry: provider openai) / the same model in the playground's local worker   (goal >= 0.9)
(b) TTFT of both, median, and their ratio (worker / deployed: >= 0.9 means the endpoint is as quick)
(c) seconds from Deploy (the service call) to the first answer's first token, and to ready
(d) TTFT of the same request sent raw (httpx, one kept-alive connection, no SDK, no playground): how much
    of (b)'s gap is the server's own and how much the playground's path

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

import httpx

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
RAW = httpx.Client(timeout=300)


def tokenizer():
    from llama_cpp import Llama

    return Llama(model_path=str(gguf_path("smollm2-135m")), vocab_only=True, verbose=False)


def measure(spec, counter) -> tuple[float, float]:
    """(decode tok/s, TTFT s) of one call through the playground's runner."""
    result = run_model(spec, build_provider(spec), build_request(spec, PROMPT, None, PARAMS), timeout_s=300)
    assert result.ok, result.error
    tokens = len(counter.tokenize(result.text.encode(), add_bos=False, special=False))
    return (tokens - 1) / (result.total_s - result.ttft_s), result.ttft_s


def raw_ttft(deployment, spec) -> float:
    """TTFT of the request sent as plain HTTP to the deployed server (first SSE event with text)."""
    request = build_request(spec, PROMPT, None, PARAMS)
    body = {"model": spec.model, "messages": request.openai_messages(), "stream": True}
    body |= {"max_tokens": PARAMS.max_tokens, "temperature": PARAMS.temperature, "seed": PARAMS.seed}
    headers = {"Authorization": f"Bearer {os.environ[deployment.api_key_env]}"}
    started, first = time.perf_counter(), None
    with RAW.stream("POST", f"{deployment.url}/chat/completions", json=body, headers=headers) as response:
        for line in response.iter_lines():
            if first is None and line.startswith("data: ") and '"content":"' in line.replace(" ", ""):
                first = time.perf_counter() - started
    assert first is not None
    return first


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
        remote_runs, local_runs, raw_runs = [], [], []
        for _ in range(ROUNDS):
            remote_runs.append(measure(deployed, counter))
            local_runs.append(measure(local, counter))
            raw_runs.append(raw_ttft(launched.deployment, deployed))
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
    raw = statistics.median(raw_runs)
    print(
        f"(d) TTFT raw HTTP to the deployed server {raw * 1000:.0f} ms; through the playground / raw = "
        f"{remote_ttft / raw:.3f}"
    )


if __name__ == "__main__":
    main()
