"""Local models in supervised worker processes: the build runs here, crashes and hangs end one call,
calls queue fairly, waiting is not latency, and a bad model file is one clear error."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from playground.core.params import Params, build_request
from playground.core.specs import ModelSpec, load_specs
from playground.engine.fanout import Delta, Done, FanOut, Job
from playground.engine.registry import build_provider
from playground.engine.runner import run_model
from providers.base import CancelToken
from providers.llamacpp import LlamaCppProvider
from providers.local_models import gguf_path
from providers.local_workers import CANCEL_GRACE_S
from tests.processes import ROOT, cpu_seconds, worker_pids

LONG = Params(temperature=0.8, max_tokens=400, seed=3)
SHORT = Params(temperature=0.0, max_tokens=12, seed=1)
STORY = "Write a long story about a lighthouse keeper and the sea, with many details."
# What the portable build may use: the AVX2 baseline and what every x86-64 CPU with AVX2 has.
PORTABLE_FEATURES = {"SSE3", "SSSE3", "AVX", "AVX2", "F16C", "FMA", "BMI2", "LLAMAFILE", "OPENMP", "REPACK"}


def local(key: str) -> tuple[ModelSpec, LlamaCppProvider]:
    spec = load_specs()[key]
    provider = build_provider(spec)
    assert isinstance(provider, LlamaCppProvider)
    return spec, provider


def test_the_installed_build_runs_a_token_here_and_uses_only_the_portable_baseline():
    spec, provider = local("smollm2-135m")
    provider.prepare()
    features = set(provider.worker().features)
    assert "AVX2" in features
    assert not features - PORTABLE_FEATURES, (
        f"built for this CPU only: {sorted(features - PORTABLE_FEATURES)}"
    )
    result = run_model(spec, provider, build_request(spec, "Hi", None, SHORT), timeout_s=60)
    assert result.ok, result.error
    assert result.output_tokens >= 1 and result.usage_source == "counted"


def test_no_llama_cpp_in_this_process():
    # In a fresh interpreter: a test elsewhere in the session may load llama.cpp itself (test_lora does).
    script = """
import sys
from playground.core.params import Params, build_request
from playground.core.specs import load_specs
from playground.engine.registry import build_provider
from playground.engine.runner import run_model
spec = load_specs()["gemma3-270m"]
params = Params(temperature=0.0, max_tokens=12, seed=1)
assert run_model(spec, build_provider(spec, {}), build_request(spec, "The sky is", None, params), timeout_s=60).ok
print("llama_cpp" in sys.modules)
"""
    ran = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=180, cwd=ROOT)
    assert ran.returncode == 0, ran.stderr[-2000:]
    assert ran.stdout.strip().splitlines()[-1] == "False"  # only the worker processes load native code


def _kill_when_generating(
    provider: LlamaCppProvider, texts: list[str], sig: int, killed: list[float]
) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and len("".join(texts)) < 20:
        time.sleep(0.01)
    os.kill(provider.worker().pid, sig)
    killed.append(time.monotonic())


@pytest.mark.parametrize("sig", [signal.SIGSEGV, signal.SIGKILL, signal.SIGILL])
def test_a_worker_dying_mid_stream_ends_only_its_call(sig: int):
    specs = load_specs()
    small, small_provider = local("smollm2-135m")
    base, base_provider = local("gemma3-270m")
    small_provider.prepare()
    old_pid = small_provider.worker().pid
    jobs = [
        Job(small, small_provider, build_request(small, STORY, None, LONG), timeout_s=120),
        Job(base, base_provider, build_request(base, "Once upon a time", None, SHORT), timeout_s=120),
    ]
    texts: list[str] = []
    killed: list[float] = []
    threading.Thread(target=_kill_when_generating, args=(small_provider, texts, sig, killed)).start()
    done: dict[str, tuple[float, object]] = {}
    for event in FanOut(jobs).events():
        if isinstance(event, Delta) and event.model == small.key:
            texts.append(event.text)
        elif isinstance(event, Done):
            done[event.model] = (time.monotonic(), event.result)
    ended_at, crashed = done[small.key]
    assert crashed.error.kind == "crashed"
    assert signal.Signals(sig).name in crashed.error.message
    assert ended_at - killed[0] < 2.0
    assert crashed.text and crashed.text == "".join(texts)  # partial text kept
    assert crashed.usage_source == "counted" and crashed.output_tokens >= 1
    assert done[base.key][1].ok, done[base.key][1].error  # the other model carried on
    after = run_model(small, small_provider, build_request(small, "Hi", None, SHORT), timeout_s=60)
    assert after.ok, after.error
    assert small_provider.worker().pid != old_pid  # a fresh worker
    assert specs  # the spec file was read once, above


def _running(pid: int) -> bool:
    """True while the process exists and is not a zombie."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_a_hung_worker_is_bounded_by_the_deadline_and_killed():
    spec, provider = local("smollm2-135m")
    provider.prepare()
    pid = provider.worker().pid
    texts: list[str] = []

    def freeze() -> None:
        while not texts:
            time.sleep(0.01)
        os.kill(pid, signal.SIGSTOP)  # alive but never answers again

    threading.Thread(target=freeze).start()
    started = time.monotonic()
    result = run_model(
        spec, provider, build_request(spec, STORY, None, LONG), timeout_s=2.0, on_delta=texts.append
    )
    assert result.error.kind == "timeout"
    assert time.monotonic() - started < 4
    deadline = time.monotonic() + 5  # the kill comes after the cancel's grace period
    while _running(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _running(pid)
    assert run_model(spec, provider, build_request(spec, "Hi", None, SHORT), timeout_s=60).ok


def test_calls_wait_in_arrival_order_and_waiting_is_not_latency():
    spec, provider = local("smollm2-135m")
    provider.prepare()
    places: dict[int, list[int]] = {0: [], 1: [], 2: []}
    results: dict[int, object] = {}

    def call(index: int, params: Params) -> None:
        results[index] = run_model(
            spec,
            provider,
            build_request(spec, STORY, None, params),
            timeout_s=120,
            on_queue=lambda place: places[index].append(place.ahead),
        )

    threads = []
    for index in range(3):
        params = Params(temperature=0.8, max_tokens=150, seed=index)
        threads.append(threading.Thread(target=call, args=(index, params)))
        threads[-1].start()
        time.sleep(0.1)  # arrival order 0, 1, 2
    for thread in threads:
        thread.join(120)
    assert places[0] == [0]
    assert places[1][0] == 1 and places[1][-1] == 0
    assert places[2][0] == 2 and places[2][-1] == 0 and 1 in places[2]
    for index in range(3):
        assert results[index].ok, results[index].error
    # The third call waited for two generations; its TTFT is its own prompt, not that wait.
    assert results[2].queue_wait_s > results[0].total_s
    assert results[2].ttft_s < results[2].queue_wait_s


def test_a_call_over_the_queue_limit_is_refused_clearly():
    spec = load_specs()["smollm2-135m"]
    busy = LlamaCppProvider(gguf="smollm2-135m", context_window=spec.context_window)
    impatient = LlamaCppProvider(gguf="smollm2-135m", context_window=spec.context_window, queue_limit=0.3)
    busy.prepare()
    first = threading.Thread(
        target=run_model, args=(spec, busy, build_request(spec, STORY, None, LONG)), kwargs={"timeout_s": 60}
    )
    first.start()
    time.sleep(0.3)
    result = run_model(spec, impatient, build_request(spec, "Hi", None, SHORT), timeout_s=60)
    first.join(60)
    assert result.error.kind == "queue_timeout"
    assert "PLAYGROUND_QUEUE_LIMIT_S" in result.error.message and "1 call(s) ahead" in result.error.message


def test_cancel_frees_the_model_at_once():
    spec, provider = local("smollm2-135m")
    provider.prepare()
    cancel = CancelToken()
    texts: list[str] = []

    def stop_soon() -> None:
        while not texts:
            time.sleep(0.01)
        cancel.cancel()

    threading.Thread(target=stop_soon).start()
    stopped = run_model(
        spec, provider, build_request(spec, STORY, None, LONG), cancel=cancel, on_delta=texts.append
    )
    assert stopped.error.kind == "cancelled" and stopped.text
    nxt = run_model(spec, provider, build_request(spec, "Hi", None, SHORT), timeout_s=60)
    assert nxt.ok and nxt.queue_wait_s < 0.5


@pytest.mark.parametrize("damage", ["missing", "truncated", "garbage"])
def test_a_bad_model_file_is_one_clear_error_naming_it(tmp_path: Path, damage: str):
    path = tmp_path / f"{damage}.gguf"
    if damage == "truncated":
        path.write_bytes(gguf_path("smollm2-135m").read_bytes()[:200_000])
    elif damage == "garbage":
        path.write_bytes(b"GGUF" + os.urandom(50_000))
    spec = ModelSpec(key="bad", provider="llamacpp", model="bad", gguf=str(path), context_window=512)
    result = run_model(spec, build_provider(spec), build_request(spec, "Hi", None, SHORT), timeout_s=60)
    assert result.error.kind == "model_not_found"
    assert path.name in result.error.message
    good, provider = local("smollm2-135m")
    assert run_model(good, provider, build_request(good, "Hi", None, SHORT), timeout_s=60).ok


def _cli_env(tmp_path: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["PLAYGROUND_DB"] = f"sqlite:///{tmp_path / 'cli.db'}"
    return env


@pytest.mark.parametrize("sig", [signal.SIGSEGV, signal.SIGKILL])
def test_cli_json_reports_the_crashed_model_and_the_other_answer(tmp_path: Path, sig: int):
    command = [
        sys.executable, "-m", "playground", "run", STORY, "-m", "smollm2-135m", "-m", "gemma3-270m",
        "--max-tokens", "400", "--temperature", "0.8", "--seed", "3", "--json",
    ]  # fmt: skip
    cli = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT, env=_cli_env(tmp_path)
    )
    target = _smollm2_worker_when_busy(cli.pid)
    os.kill(target, sig)
    out, err = cli.communicate(timeout=180)
    assert cli.returncode == 1, err.decode()
    results = {r["model"]: r for r in map(json.loads, out.decode().splitlines())}
    assert results["smollm2-135m"]["error"]["kind"] == "crashed"
    assert signal.Signals(sig).name in results["smollm2-135m"]["error"]["message"]
    assert results["smollm2-135m"]["text"]  # partial text kept
    assert results["gemma3-270m"]["error"] is None and results["gemma3-270m"]["text"]
    assert "queue_wait_s" in results["gemma3-270m"]


def _smollm2_worker_when_busy(parent: int) -> int:
    """The CLI's smollm2 worker once it has generated for a while (CPU time grows past its load)."""
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        for pid in worker_pids(parent):
            try:
                cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
                if b"smollm2" in cmdline.lower() and cpu_seconds(pid) > 2.5:
                    return pid
            except OSError:
                continue
        time.sleep(0.05)
    raise AssertionError("the CLI's smollm2 worker never got busy")


def test_stop_while_a_long_prompt_is_read_returns_at_once_without_killing_the_worker():
    spec, provider = local("smollm2-135m")
    provider.prepare()
    pid = provider.worker().pid
    cancel = CancelToken()
    long_prompt = "The keeper counted ships and storms every night by the sea. " * 100  # ~1300 tokens
    threading.Timer(0.5, cancel.cancel).start()
    started = time.monotonic()
    stopped = run_model(spec, provider, build_request(spec, long_prompt, None, SHORT), cancel=cancel)
    assert stopped.error.kind == "cancelled"
    assert time.monotonic() - started < 0.5 + 0.5
    nxt = run_model(spec, provider, build_request(spec, "Hi", None, SHORT), timeout_s=60)
    assert nxt.ok and nxt.queue_wait_s < 0.3  # the model was free at once, not after the whole prompt
    time.sleep(CANCEL_GRACE_S + 0.3)
    assert provider.worker().pid == pid  # llama.cpp stopped mid-batch; the worker was not killed


def test_stop_with_calls_queued_cancels_all_without_killing_the_worker():
    spec, provider = local("smollm2-135m")
    provider.prepare()
    pid = provider.worker().pid
    cancel = CancelToken()  # one Stop for the whole comparison, as the fan-out shares it
    texts: list[str] = []
    results: list = []

    def call(seed: int) -> None:
        params = Params(temperature=0.8, max_tokens=300, seed=seed)
        results.append(
            run_model(
                spec, provider, build_request(spec, STORY, None, params), cancel=cancel, on_delta=texts.append
            )
        )

    threads = [threading.Thread(target=call, args=(seed,)) for seed in range(3)]
    for thread in threads:
        thread.start()
        time.sleep(0.05)
    while not texts:
        time.sleep(0.01)
    cancel.cancel()
    for thread in threads:
        thread.join(30)
    assert [r.error.kind for r in results] == ["cancelled"] * 3
    time.sleep(CANCEL_GRACE_S + 0.5)
    assert provider.worker().pid == pid  # every call stopped when told; nothing was killed


def test_a_frozen_idle_worker_is_bounded_and_replaced(monkeypatch: pytest.MonkeyPatch):
    import providers.local_workers as local_workers

    monkeypatch.setattr(local_workers, "COUNT_TIMEOUT_S", 1.0)
    spec, provider = local("smollm2-135m")
    provider.prepare()
    pid = provider.worker().pid
    os.kill(pid, signal.SIGSTOP)  # alive, reads nothing, answers nothing
    started = time.monotonic()
    fresh = build_request(spec, "A prompt never counted before", None, SHORT)  # its count is asked for
    result = run_model(spec, provider, fresh, timeout_s=3)
    assert result.error.kind == "timeout" and time.monotonic() - started < 4
    after = run_model(spec, provider, build_request(spec, "Hi", None, SHORT), timeout_s=60)
    assert after.ok, after.error
    assert provider.worker().pid != pid


def test_no_seed_means_a_new_seed_each_call_even_on_a_fresh_worker():
    spec, provider = local("smollm2-135m")
    request = build_request(spec, "Tell me a one-line joke.", None, Params(temperature=1.0, max_tokens=24))
    firsts = []
    for _ in range(3):
        provider.worker().shutdown()  # a fresh worker each time
        firsts.append(run_model(spec, provider, request, timeout_s=60).text)
    assert len(set(firsts)) > 1, firsts


def test_an_illegal_instruction_names_what_this_cpu_lacks_and_the_command_for_it(tmp_path: Path):
    from providers import local_workers

    old_cpu = tmp_path / "cpuinfo"
    old_cpu.write_text("processor\t: 0\nflags\t\t: fpu sse sse2 ssse3 sse4_1 sse4_2 avx popcnt\n")
    assert local_workers.missing_cpu_flags(old_cpu) == ["avx2", "fma", "f16c", "bmi2"]
    arm = tmp_path / "arm"
    arm.write_text("processor\t: 0\nFeatures\t: fp asimd evtstrm aes\n")
    assert local_workers.missing_cpu_flags(arm) == []
    # This machine runs the portable build (the test above ran a token), so it lacks nothing of it.
    assert local_workers.missing_cpu_flags() == []
    # The command for older CPUs is the README's, and builds into a wheel cache of its own.
    assert local_workers.PRE_AVX2_INSTALL in (ROOT / "README.md").read_text()
    assert "pip-portable" not in local_workers.PRE_AVX2_INSTALL
