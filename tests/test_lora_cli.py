"""`playground tune-local` as a real process: progress lines and the new model key; Ctrl-C (SIGINT to the
whole process group, as a terminal sends it) stops at the next step and keeps the log; bad input is one
error line, with nothing started."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import pytest

from playground.lora import sample_training_set
from tests.processes import ROOT


def _env(tmp_path):
    return {**os.environ, "PLAYGROUND_TUNED_DIR": str(tmp_path / "tuned"), "PYTHONPATH": str(ROOT)}


def _tune(tmp_path, *args: str) -> subprocess.Popen[str]:
    command = [sys.executable, "-m", "playground", "tune-local", str(sample_training_set()), *args]
    return subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(tmp_path),
        cwd=ROOT,
        start_new_session=True,
    )


@pytest.mark.timeout(600)
def test_tune_local_prints_progress_and_the_new_model_key(tmp_path):
    process = _tune(tmp_path, "--name", "cli-tune", "--steps", "2", "--rank", "4")
    out, err = process.communicate(timeout=580)
    assert process.returncode == 0, err
    lines = out.splitlines()
    assert lines[0].startswith("training smollm2-135m+cli-tune in worker process ")
    assert lines[1].startswith("step 1/2  loss ") and "left ~" in lines[1] and "s/step" in lines[1]
    assert lines[2].startswith("step 2/2  loss ")
    assert "model key: smollm2-135m+cli-tune" in lines
    listed = subprocess.run(
        [sys.executable, "-m", "playground", "models", "--json"],
        capture_output=True,
        text=True,
        env=_env(tmp_path),
        cwd=ROOT,
        timeout=120,
    )
    assert "smollm2-135m+cli-tune" in listed.stdout, listed.stderr


@pytest.mark.timeout(600)
def test_ctrl_c_stops_the_job_at_the_next_step_and_keeps_its_log(tmp_path):
    process = _tune(tmp_path, "--name", "interrupted", "--steps", "500")
    first = process.stdout.readline()
    assert first.startswith("training smollm2-135m+interrupted"), process.stderr.read()
    step = process.stdout.readline()
    assert step.startswith("step 1/500"), step
    os.killpg(process.pid, signal.SIGINT)  # what Ctrl-C in a terminal does
    out, err = process.communicate(timeout=300)
    assert process.returncode == 1
    assert "stopping at the next step" in err and "stopped: stopped after" in err and "log kept" in err
    log = tmp_path / "tuned" / "interrupted" / "train.log"
    records = [json.loads(line) for line in log.read_text().splitlines()]
    assert records[-1]["kind"] == "TuneEnded" and records[-1]["state"] == "stopped"
    assert not (tmp_path / "tuned" / "interrupted" / "manifest.json").exists()


def test_a_bad_training_file_or_name_is_one_error_line(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"messages": [{"role": "user", "content": "no answer"}]}\n')
    for args, expected in (
        ([str(bad), "--name", "ok"], "error: bad.jsonl: 1 bad line(s): line 1: the last message must be"),
        ([str(sample_training_set()), "--name", "../escape"], "error: bad tuned model name '../escape'"),
        (
            [str(sample_training_set()), "--name", "ok", "--base", "gpt-4o"],
            "error: unknown base model 'gpt-4o'",
        ),
    ):
        proc = subprocess.run(
            [sys.executable, "-m", "playground", "tune-local", *args],
            capture_output=True,
            text=True,
            env=_env(tmp_path),
            cwd=ROOT,
            timeout=120,
        )
        assert proc.returncode == 2 and proc.stderr.startswith(expected), proc.stderr
    assert not (tmp_path / "tuned").exists()
