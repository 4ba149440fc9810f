"""The bundled speech models in their supervised worker processes, on real parts: the real Whisper and
Piper workers, real signals (SIGKILL, SIGSTOP) sent to them, the app process's own threads counted."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable

import pytest

from playground.speech import load_samples, normalised
from providers import errors
from providers.speech_local import (
    DEADLINE_ENV,
    PiperSpeaker,
    WhisperTranscriber,
    speech_threads,
    speech_worker,
)
from providers.worker_process import RequestWorker, exit_description


def whisper() -> WhisperTranscriber:
    model = WhisperTranscriber(model="tiny.en")
    model.prepare()
    return model


def piper() -> PiperSpeaker:
    voice = PiperSpeaker(voice="en_US-joe-medium")
    voice.prepare()
    return voice


def in_thread(fn: Callable[[], object]) -> tuple[threading.Thread, dict[str, object]]:
    """Run `fn` in a thread; its result or exception lands in the dict."""
    out: dict[str, object] = {}

    def run() -> None:
        try:
            out["result"] = fn()
        except Exception as exc:  # noqa: BLE001 - the test inspects it
            out["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, out


def wait_for_call(worker: RequestWorker, op: str) -> None:
    deadline = time.monotonic() + 30
    while worker.running_call != op:
        assert time.monotonic() < deadline, "the call never reached the worker"
        time.sleep(0.01)


def gone(pid: int) -> bool:
    """True once `pid` has exited (reaped, or a zombie waiting for its parent's reader thread)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


def test_a_transcription_and_a_reading_run_in_their_own_worker_processes():
    sample = load_samples()[0]
    heard = whisper().transcribe(sample.wav, sample.name)
    assert normalised(heard.text) == normalised(sample.sentence)
    assert heard.language == "en" and 2.5 < (heard.audio_seconds or 0) < 6
    speech = piper().speak("The worker reads this sentence aloud.")
    assert speech.sample_rate == 22_050 and 1 < speech.seconds < 5
    pids = {speech_worker("whisper").pid, speech_worker("piper").pid}
    assert None not in pids and os.getpid() not in pids and len(pids) == 2


def test_each_worker_gets_its_thread_count_from_the_supervisor():
    whisper()
    piper()
    threads = speech_threads()
    for model in ("whisper", "piper"):
        pid = speech_worker(model).pid
        with open(f"/proc/{pid}/environ", "rb") as env:
            assert f"OMP_NUM_THREADS={threads}".encode() in env.read().split(b"\0")
        with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
            assert cmdline.read().split(b"\0")[-3:-1] == [model.encode(), str(threads).encode()]


def test_the_app_process_gains_no_threads_from_the_models_pools():
    """Loaded in this process, Whisper alone added 3 native threads at load and 2 more at its first
    transcription (measured here); through the workers the only new threads are the supervisor's own
    pipe threads ("worker-PID"), and they are Python threads, not a native pool."""
    sample = load_samples()[1]
    # Compared as sets: a thread of an earlier test that ends meanwhile is not a failure; a new one is.
    tasks_before, threads_before = set(os.listdir("/proc/self/task")), set(threading.enumerate())
    whisper().transcribe(sample.wav, sample.name)
    piper().speak(sample.sentence)
    new_tasks = set(os.listdir("/proc/self/task")) - tasks_before
    new_threads = set(threading.enumerate()) - threads_before
    assert all(thread.name.startswith("worker-") for thread in new_threads), new_threads
    assert new_tasks == {str(thread.native_id) for thread in new_threads}
    # ... while the worker's own process holds the model's pool
    assert len(os.listdir(f"/proc/{speech_worker('whisper').pid}/task")) > 1


def test_a_worker_killed_mid_call_ends_only_that_call_and_the_next_starts_a_new_one():
    sample = load_samples()[2]
    ear, voice = whisper(), piper()
    worker = speech_worker("whisper")
    pid, starts = worker.pid, worker.starts
    assert pid is not None
    os.kill(pid, signal.SIGSTOP)  # holds the call in the worker until the kill: no race with its answer
    thread, out = in_thread(lambda: ear.transcribe(sample.wav, sample.name))
    wait_for_call(worker, "transcribe")
    reading = voice.speak("The other model still answers.")  # a concurrent call to the other model
    assert reading.seconds > 1
    os.kill(pid, signal.SIGKILL)
    thread.join(30)
    error = out.get("error")
    assert isinstance(error, errors.WorkerCrashedError) and error.kind == "crashed", out
    assert "SIGKILL (signal 9)" in str(error) and f"pid {pid}" in str(error)
    again = ear.transcribe(sample.wav, sample.name)
    assert normalised(again.text) == normalised(sample.sentence)
    assert worker.pid not in (None, pid) and worker.starts == starts + 1


def test_a_hung_worker_is_killed_at_the_deadline_and_the_call_says_timeout(monkeypatch):
    sample = load_samples()[3]
    voice = piper()
    worker = speech_worker("piper")
    pid = worker.pid
    assert pid is not None
    monkeypatch.setenv(DEADLINE_ENV, "2")
    os.kill(pid, signal.SIGSTOP)  # a worker that never answers
    began = time.monotonic()
    with pytest.raises(errors.DeadlineExceededError, match=r"no answer within 2 s.*was stopped") as caught:
        voice.speak(sample.sentence)
    assert caught.value.kind == "timeout" and f"pid {pid}" in str(caught.value)
    assert 2 <= time.monotonic() - began < 10
    deadline = time.monotonic() + 10
    while not gone(pid):
        assert time.monotonic() < deadline, "the hung worker was not killed"
        time.sleep(0.05)
    monkeypatch.delenv(DEADLINE_ENV)
    assert voice.speak(sample.sentence).seconds > 1  # a new worker
    assert worker.pid not in (None, pid)


def test_calls_to_one_model_take_turns_in_arrival_order():
    samples = load_samples()[:3]
    ear = whisper()
    worker = speech_worker("whisper")
    pid = worker.pid
    assert pid is not None
    os.kill(pid, signal.SIGSTOP)  # the first call holds the turn until the worker runs again
    first, first_out = in_thread(lambda: ear.transcribe(samples[0].wav, samples[0].name))
    wait_for_call(worker, "transcribe")
    later = [in_thread(lambda s=s: ear.transcribe(s.wav, s.name)) for s in samples[1:]]
    time.sleep(0.3)
    assert all(thread.is_alive() for thread, _ in later)  # waiting their turn, not sent
    os.kill(pid, signal.SIGCONT)
    for thread, out in [(first, first_out), *later]:
        thread.join(60)
        assert "error" not in out, out
    heard = [first_out["result"], *(out["result"] for _, out in later)]
    assert [normalised(h.text) for h in heard] == [normalised(s.sentence) for s in samples]  # type: ignore[attr-defined]


def test_a_death_is_described_with_the_library_that_likely_caused_it():
    assert exit_description(-signal.SIGSEGV, "ONNX Runtime or espeak-ng") == (
        "SIGSEGV (signal 11): a memory fault, normally a crash inside ONNX Runtime or espeak-ng"
    )
    assert exit_description(3) == "exit code 3"
