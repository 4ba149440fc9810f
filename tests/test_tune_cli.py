"""`playground tune …` against the scripted server's fine-tuning API, through typer's runner."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from playground.cli.main import app
from tests.test_tuning import chat_line, good_file

runner = CliRunner()


def models_file(tmp_path: Path, url: str) -> str:
    path = tmp_path / "models.toml"
    path.write_text(
        f'[models.tunable]\nprovider = "openai"\nmodel = "gpt-4o-mini-2024-07-18"\nbase_url = "{url}"\n'
        'api_key_env = "TUNE_CLI_KEY"\ncontext_window = 4096\nfine_tunable = true\nprice_training_per_mtok = "3"\n'
    )
    return str(path)


def test_check_names_bad_lines_and_prints_tokens_cost_and_split(tmp_path, scripted):
    models = models_file(tmp_path, scripted.url("tune~id=cli-check"))
    bad = tmp_path / "bad.jsonl"
    bad.write_text(
        chat_line("q", "a")
        + "\n{oops\n"
        + json.dumps({"messages": [{"role": "user", "content": "q"}]})
        + "\n"
    )
    result = runner.invoke(app, ["tune", "check", str(bad), "--model", "tunable", "--models-file", models])
    assert result.exit_code == 1
    assert (
        "not JSON" in result.output
        and "no assistant message" in result.output
        and "2 bad line(s)" in result.output
    )

    good = tmp_path / "good.jsonl"
    good.write_bytes(good_file(20))
    result = runner.invoke(
        app,
        [
            "tune",
            "check",
            str(good),
            "-m",
            "tunable",
            "--epochs",
            "2",
            "--holdout",
            "0.25",
            "--json",
            "--models-file",
            models,
        ],
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["train"] == 15 and report["holdout"] == 5 and report["bad"] == []
    assert report["billed_tokens"] == 2 * report["training_tokens"] and report["cost_source"].startswith(
        "models file"
    )

    result = runner.invoke(app, ["tune", "check", str(good), "-m", "nope", "--models-file", models])
    assert result.exit_code == 2 and "unknown base model 'nope'" in result.output


def test_start_follow_jobs_and_cancel(tmp_path, scripted, monkeypatch):
    monkeypatch.setenv("TUNE_CLI_KEY", "sk-cli")
    models = models_file(tmp_path, scripted.url("tune~steps=2~id=cli"))
    good = tmp_path / "good.jsonl"
    good.write_bytes(good_file(20))
    result = runner.invoke(
        app, ["tune", "start", str(good), "-m", "tunable", "--suffix", "cli", "--models-file", models]
    )
    assert result.exit_code == 0, result.output
    job_id = result.output.split("job ", 1)[1].split(":", 1)[0]
    assert "validating_files" in result.output

    result = runner.invoke(app, ["tune", "follow", job_id, "--every", "0", "--models-file", models])
    assert result.exit_code == 0, result.output
    assert (
        "Step 2/2: training loss=1.2250" in result.output
        and "tuned model: ft:gpt-4o-mini-2024-07-18:scripted:cli:" in result.output
    )

    result = runner.invoke(app, ["tune", "jobs", "--json", "--models-file", models])
    [row] = [json.loads(line) for line in result.output.splitlines()]
    assert row["id"] == job_id and row["state"] == "succeeded" and row["losses"] == [[1, 1.75], [2, 1.225]]
    result = runner.invoke(app, ["tune", "cancel", job_id, "--models-file", models])
    assert result.exit_code == 0 and "succeeded" in result.output  # an ended job stays as it is
    result = runner.invoke(app, ["tune", "follow", "nope", "--models-file", models])
    assert result.exit_code == 2 and "no fine-tuning job 'nope'" in result.output


def test_compare_runs_the_held_out_split_on_base_and_tuned(tmp_path, scripted, monkeypatch):
    monkeypatch.setenv("TUNE_CLI_KEY", "sk-cli")
    models = models_file(tmp_path, scripted.url("tune~steps=1~id=cli-versus"))
    good = tmp_path / "good.jsonl"
    good.write_text("\n".join(chat_line(f"say word{i}", f"say word{i}") for i in range(20)))
    result = runner.invoke(
        app, ["tune", "start", str(good), "-m", "tunable", "--holdout", "0.2", "--models-file", models]
    )
    job_id = result.output.split("job ", 1)[1].split(":", 1)[0]
    result = runner.invoke(app, ["tune", "compare", job_id, "--models-file", models])
    assert result.exit_code == 2 and "has no tuned model yet" in result.output
    assert (
        runner.invoke(app, ["tune", "follow", job_id, "--every", "0", "--models-file", models]).exit_code == 0
    )
    result = runner.invoke(app, ["tune", "compare", job_id, "--metric", "contains", "--models-file", models])
    assert result.exit_code == 0, result.output
    assert "contains: +1.000" in result.output and "4 examples" in result.output
    assert "saved as evaluation" in result.output
