"""The `playground` CLI: exit codes, one-line errors, JSON output, dry runs."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from playground.cli.main import app

runner = CliRunner()


def cli(*args: str):
    return runner.invoke(app, list(args))


def test_done_when_two_local_models_answer_offline_as_json():
    # The acceptance command, run as a real process.
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "playground",
            "run",
            "Name three colors",
            "-m",
            "smollm2-135m",
            "-m",
            "gemma3-270m",
            "--json",
            "--max-tokens",
            "24",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    lines = [json.loads(line) for line in proc.stdout.splitlines()]
    assert sorted(r["model"] for r in lines) == ["gemma3-270m", "smollm2-135m"]
    for row in lines:
        assert row["text"].strip()
        assert row["error"] is None
        assert row["ttft_s"] > 0 and row["total_s"] >= row["ttft_s"]
        assert row["usage_source"] == "counted"
        assert row["cost_usd"] is None and row["cost_source"] == "local"
        assert row["run_id"]
        for field in ("output_tokens_per_s", "input_tokens", "output_tokens", "finish_reason", "attempts"):
            assert field in row
    assert "Traceback" not in proc.stderr


def test_empty_prompt_is_usage_error():
    result = cli("run", "   ", "-m", "smollm2-135m")
    assert result.exit_code == 2
    assert "prompt is empty" in result.output


def test_unknown_model_lists_known_ones():
    result = cli("run", "hi", "-m", "nope")
    assert result.exit_code == 2
    assert "unknown model 'nope'" in result.output and "smollm2-135m" in result.output


def test_missing_key_names_the_variable():
    result = cli("run", "hi", "-m", "gpt-4o-mini")
    assert result.exit_code == 2
    assert "OPENAI_API_KEY" in result.output
    assert "Traceback" not in result.output


def test_prompt_over_context_window_gives_both_counts():
    result = cli("run", "word " * 9000, "-m", "smollm2-135m", "--max-tokens", "10")
    assert result.exit_code == 2
    assert "8192-token context window" in result.output
    assert "(counted)" in result.output


def test_malformed_models_file_names_file_and_line(tmp_path: Path):
    bad = tmp_path / "models.toml"
    bad.write_text(
        '[models.ok]\nprovider = "openai"\nmodel = "x"\n\n[models.broken]\nprovider = "nope"\nmodel="y"\n'
    )
    result = cli("models", "--models-file", str(bad))
    assert result.exit_code == 2
    assert f"{bad}, line 5" in result.output and "unknown provider 'nope'" in result.output
    bad.write_text("[models.x\n")
    result = cli("run", "hi", "-m", "x", "--models-file", str(bad))
    assert result.exit_code == 2 and "malformed TOML" in result.output and "line 1" in result.output


def test_failing_model_exits_1_and_others_still_answer(tmp_path: Path, scripted):
    models = tmp_path / "models.toml"
    models.write_text(
        f'[models.good]\nprovider = "openai"\nmodel = "m"\nbase_url = "{scripted.url("ok~tokens=2")}"\n\n'
        f'[models.bad]\nprovider = "openai"\nmodel = "m"\nbase_url = "{scripted.url("status~code=400")}"\n'
    )
    result = cli("run", "hi", "-m", "good", "-m", "bad", "--json", "--models-file", str(models))
    assert result.exit_code == 1
    rows = {r["model"]: r for r in map(json.loads, result.stdout.splitlines())}
    assert rows["good"]["text"] == "word0 word1 " and rows["good"]["error"] is None
    assert rows["bad"]["error"]["kind"] == "bad_request"


def test_dry_run_calls_nothing_and_prices_the_maximum(monkeypatch, scripted):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-dry-run-key-000000000000")
    before = len(scripted.requests)
    result = cli(
        "run",
        "Hello there",
        "-m",
        "gpt-4o-mini",
        "-m",
        "smollm2-135m",
        "--max-tokens",
        "100",
        "--dry-run",
        "--json",
    )
    assert result.exit_code == 0, result.output
    rows = {r["model"]: r for r in map(json.loads, result.stdout.splitlines())}
    gpt = rows["gpt-4o-mini"]
    assert gpt["input_counted_by"] == "estimated:cl100k_base"
    assert gpt["max_output_tokens"] == 100
    assert gpt["cost_source"].startswith("genai-prices:")
    from decimal import Decimal

    expected = (Decimal("0.15") * gpt["input_tokens"] + Decimal("0.6") * 100) / 1_000_000
    assert Decimal(gpt["max_cost_usd"]) == expected
    assert rows["smollm2-135m"]["input_counted_by"] == "counted"
    assert rows["smollm2-135m"]["max_cost_usd"] is None and rows["smollm2-135m"]["cost_source"] == "local"
    assert len(scripted.requests) == before


def test_models_json_lists_usability_and_facts(monkeypatch):
    result = cli("models", "--json")
    assert result.exit_code == 0
    rows = {r["key"]: r for r in map(json.loads, result.stdout.splitlines())}
    assert rows["smollm2-135m"]["usable"] is True and rows["smollm2-135m"]["stage"] == "instruct"
    assert rows["gemma3-270m"]["stage"] == "base" and rows["gemma3-270m"]["task"] == "completion"
    assert rows["gpt-4o-mini"]["usable"] is False and "OPENAI_API_KEY" in rows["gpt-4o-mini"]["usable_reason"]
    assert rows["gpt-4o-mini"]["price_source"].startswith("genai-prices:")


def test_bad_option_is_exit_2():
    assert cli("run", "hi", "-m", "smollm2-135m", "--temperature", "9").exit_code == 2


@pytest.mark.parametrize("args", [["run", "hi", "-m", "smollm2-135m", "--repeat", "2", "--max-tokens", "4"]])
def test_live_terminal_run_with_repeat_prints_spread(args):
    result = cli(*args)
    assert result.exit_code == 0, result.output
    assert "smollm2-135m" in result.output and "p90" in result.output and "saved" in result.output


def test_a_user_models_file_is_known_by_its_path_not_its_name(tmp_path: Path, scripted, monkeypatch):
    # A user's own file called models.toml, for a local server whose key variable is not set: the same
    # file by a relative and by an absolute path is the user's file (a blank key sends no key), never the
    # built-in one (whose models need their key).
    models = tmp_path / "models.toml"
    models.write_text(
        f'[models.mine]\nprovider = "openai"\nmodel = "m"\napi_key_env = "MY_UNSET_LOCAL_KEY"\n'
        f'base_url = "{scripted.url("ok~tokens=2")}"\n'
    )
    monkeypatch.chdir(tmp_path)
    for spelling in ("models.toml", str(models)):
        result = cli("run", "hi", "-m", "mine", "--json", "--models-file", spelling)
        assert result.exit_code == 0, result.output
        assert json.loads(result.stdout.splitlines()[0])["text"] == "word0 word1 "


def test_eval_says_its_id_first_and_resume_needs_only_the_id():
    def playground(*args: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "playground", "eval", *args]
        return subprocess.run(command, capture_output=True, text=True, timeout=300)

    first = playground("sentiment.csv", "-m", "smollm2-135m", "--limit", "1", "--max-tokens", "4")
    assert first.stderr.startswith("evaluation "), first.stderr  # before any progress or summary
    eval_id = first.stderr.split()[1]
    assert f"resume with: playground eval --resume {eval_id}" in first.stderr
    again = playground("--resume", eval_id, "--json")
    assert again.returncode in (0, 1) and json.loads(again.stdout.splitlines()[-1])["eval_id"] == eval_id
    assert f"evaluation {eval_id}" in again.stderr
    neither = playground()
    assert neither.returncode == 2 and "give DATA and at least one -m MODEL, or --resume ID" in neither.stderr
