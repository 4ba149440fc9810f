"""The CLI read at 80 and 140 columns: real `playground` processes, every table line within the width, no
model key cut, columns left out named; help texts and usage; one default answer length; the progress
line's wording; native chatter kept out of the terminal while real errors still reach it."""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from rich.cells import cell_len
from rich.console import Console
from streamlit.testing.v1 import AppTest
from typer.main import get_command
from typer.testing import CliRunner

from playground.cli import evaluate as evaluate_cli
from playground.cli.main import app
from playground.compare.form import CompareForm
from playground.core.params import DEFAULT_MAX_TOKENS, Params
from providers.base import ChatRequest
from providers.local_models import gguf_path

ROOT = Path(__file__).resolve().parent.parent
LONG_KEY = "an-organisation-fine-tuned-model-with-a-long-key-v2"  # 51 characters
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def playground(*args: str, columns: int, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """The real CLI in its own process, in a terminal `columns` wide (as $COLUMNS says)."""
    env = {**os.environ, "COLUMNS": str(columns)}
    command = [sys.executable, "-m", "playground", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout, cwd=ROOT, env=env)


def assert_fits(output: str, columns: int) -> None:
    too_wide = [line for line in output.splitlines() if cell_len(line) > columns]
    assert not too_wide, too_wide


def table_cells(output: str) -> list[list[str]]:
    """The cells of each body line of a rich table (│ a │ b │), stripped."""
    return [
        [c.strip() for c in line.split("│")[1:-1]] for line in output.splitlines() if line.startswith("│")
    ]


def header_words(output: str) -> str:
    """The words of a rich table's header (┃ … ┃ lines, which may wrap a header over two lines)."""
    return " ".join(line.replace("┃", " ") for line in output.splitlines() if line.startswith("┃"))


def left_out(output: str, columns: int) -> list[str]:
    """The columns the footer says were left out at this width (its lines joined: it may wrap)."""
    text = " ".join(output.split())
    found = re.search(rf"columns left out at {columns}: (.*?) \(a wider terminal", text)
    return found.group(1).split(", ") if found else []


def long_models_file(tmp_path: Path, url: str) -> Path:
    path = tmp_path / "models.toml"
    path.write_text(f'[models.{LONG_KEY}]\nprovider = "openai"\nmodel = "m"\nbase_url = "{url}"\n')
    return path


# --- tables ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("columns", [80, 140])
def test_models_keeps_every_key_whole_and_every_line_within_the_terminal(tmp_path: Path, scripted, columns):
    models = long_models_file(tmp_path, scripted.url("ok"))
    listed = playground("models", "--json", "--models-file", str(models), columns=columns)
    keys = [json.loads(line)["key"] for line in listed.stdout.splitlines()]
    assert LONG_KEY in keys and "smollm2-135m" in keys
    shown = playground("models", "--models-file", str(models), columns=columns)
    assert shown.returncode == 0, shown.stderr
    assert_fits(shown.stdout, columns)
    first_cells = [cells[0] for cells in table_cells(shown.stdout) if cells[0]]
    assert first_cells == keys  # each key whole, on one line, in its own row
    assert "…" not in shown.stdout  # nothing anywhere was cut short
    headers = header_words(shown.stdout)
    assert "usable now" in headers  # the column that matters most stays, even beside a long key
    missing = left_out(shown.stdout, columns)
    for column in ("architecture", "price source", "license"):
        assert (column in missing) != (column in headers)  # every column is shown or named as left out
    if columns == 80:
        assert "architecture" in missing and "context" in missing


def test_narrower_terminals_leave_out_more_columns_and_say_which(tmp_path: Path, scripted):
    models = long_models_file(tmp_path, scripted.url("ok"))
    narrow = left_out(playground("models", "--models-file", str(models), columns=80).stdout, 80)
    wide = left_out(playground("models", "--models-file", str(models), columns=140).stdout, 140)
    assert set(wide) < set(narrow)  # a wider terminal shows every column a narrower one does, and more
    roomy = playground("models", "--models-file", str(models), columns=400)
    assert "columns left out" not in roomy.stdout


@pytest.mark.parametrize("columns", [80, 140])
def test_dry_run_table_fits_with_the_long_key_whole(tmp_path: Path, scripted, columns):
    models = long_models_file(tmp_path, scripted.url("ok"))
    args = ("run", "hi", "-m", LONG_KEY, "-m", "smollm2-135m", "--dry-run", "--models-file", str(models))
    shown = playground(*args, columns=columns)
    assert shown.returncode == 0, shown.stderr
    assert_fits(shown.stdout, columns)
    assert [c[0] for c in table_cells(shown.stdout) if c[0]] == [LONG_KEY, "smollm2-135m"]


def test_live_run_panels_keep_their_model_key_in_the_title(tmp_path: Path, scripted):
    models = long_models_file(tmp_path, scripted.url("ok~tokens=3"))
    args = ["run", "hi", "-m", LONG_KEY, "-m", "smollm2-135m", "--max-tokens", "4"]
    shown = playground(*args, "-m", "gemma3-270m", "--models-file", str(models), columns=80)
    assert shown.returncode == 0, shown.stderr
    assert_fits(shown.stdout, 80)
    titles = re.findall(r"╭─+ (\S+) ─+╮", shown.stdout)  # one panel per line at 80 columns
    assert titles == [LONG_KEY, "smollm2-135m", "gemma3-270m"]


# --- the evaluation summary, strict and quasi exact match ------------------------------------------------
ISSUE_ROWS = [  # answered word for word by the echo model: strict 1/3, normalised 3/3
    ("Positive.", "positive"),
    ("Negative", "Negative"),
    ("The answer is   Paris", "answer is paris"),
]


def echo_evaluation(tmp_path: Path, scripted) -> list[str]:
    data = tmp_path / "issue.csv"
    data.write_text("answer,expected\n" + "".join(f'"{a}","{e}"\n' for a, e in ISSUE_ROWS))
    models = long_models_file(tmp_path, scripted.url("echo"))
    return [
        "eval", str(data), "-m", LONG_KEY, "--template", "{answer}", "--models-file", str(models),
        "--metric", "exact_match", "--metric", "quasi_exact_match", "--metric", "contains",
    ]  # fmt: skip


def test_strict_and_quasi_exact_match_on_the_issue_rows(tmp_path: Path, scripted):
    done = playground(*echo_evaluation(tmp_path, scripted), "--json", columns=120)
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    cells, summary = lines[:-1], lines[-1]
    answers = [c["result"]["text"] for c in sorted(cells, key=lambda c: c["row_index"])]
    assert [a.strip() for a in answers] == [a for a, _ in ISSUE_ROWS]  # the rows as the model answered
    metrics = summary["summary"][0]["metrics"]
    assert metrics["exact_match"]["mean"] == pytest.approx(1 / 3)
    assert metrics["quasi_exact_match"]["mean"] == 1.0
    assert summary["normalisation"] == {
        "exact_match": "none (strict: only leading and trailing whitespace stripped, as in HELM)",
        "quasi_exact_match": "case, ASCII punctuation, articles (a, an, the) and extra whitespace ignored",
        "contains": "case, ASCII punctuation and extra whitespace ignored",
    }


@pytest.mark.parametrize("columns", [80, 120])
def test_eval_summary_keeps_names_and_intervals_whole(tmp_path: Path, scripted, columns):
    done = playground(*echo_evaluation(tmp_path, scripted), columns=columns)
    assert done.returncode == 0, done.stderr
    assert_fits(done.stdout, columns)
    assert "…" not in done.stdout
    rows = table_cells(done.stdout)
    assert rows[0][0] == LONG_KEY
    cells = " ".join(" ".join(row) for row in rows)
    headers, missing = header_words(done.stdout).split(), left_out(done.stdout, columns)
    for metric, mean in (("exact_match", "0.33"), ("quasi_exact_match", "1.00")):
        assert (metric in headers) != (metric in missing)  # shown, or named as left out
        assert (mean in cells) == (metric in headers)
    assert "exact_match" in headers  # the first metric stays beside even a long key
    intervals = re.findall(r"\[\d\.\d\d–\d\.\d\d\]", cells)  # whole, wrapped at most
    assert len(intervals) == sum(m in headers for m in ("exact_match", "quasi_exact_match", "contains"))
    if columns == 120:
        assert "quasi_exact_match" in headers and "contains" in headers
    text = " ".join(done.stdout.split())
    assert "normalisation of quasi_exact_match: case, ASCII punctuation, articles (a, an, the)" in text
    assert "normalisation of exact_match: none (strict" in text


def test_the_progress_line_counts_answers_and_complete_rows(tmp_path: Path, scripted, monkeypatch):
    terminal = io.StringIO()
    monkeypatch.setattr(evaluate_cli, "err", Console(file=terminal, force_terminal=True, width=80))
    args = echo_evaluation(tmp_path, scripted)
    result = CliRunner().invoke(app, [*args, "-m", "smollm2-135m", "--max-tokens", "4"])
    assert result.exit_code == 0, result.output
    drawn = [ANSI.sub("", line) for line in re.split(r"[\r\n]", terminal.getvalue())]
    progress = [line.strip() for line in drawn if "answers" in line]
    assert progress, terminal.getvalue()
    assert progress[-1].startswith("6/6 answers · 3/3 rows complete · 0 call errors · spent $")
    assert all(cell_len(line) <= 80 for line in progress)
    assert not re.search(r"rows \d", " ".join(progress))  # no "rows 3/6" that really counts answers


# --- help and usage --------------------------------------------------------------------------------------
# `playground embeddings …` belongs to the embeddings work, which keeps its own options and tables.
NOT_CHECKED = ("embeddings",)


def every_command():
    root = get_command(app)
    stack = [([], root)]
    while stack:
        path, command = stack.pop()
        subcommands = getattr(command, "commands", {})
        if subcommands:
            stack += [([*path, name], sub) for name, sub in subcommands.items() if name not in NOT_CHECKED]
        else:
            yield path, command


def test_every_option_and_argument_has_help_and_a_metavar():
    checked = 0
    for path, command in every_command():
        for param in command.params:
            if param.name == "context":
                continue
            where = f"playground {' '.join(path)} {param.name}"
            assert getattr(param, "help", None), f"{where} has no help text"
            assert param.metavar is not None, f"{where} shows its type, not a metavar"
            checked += 1
    assert checked > 60


@pytest.mark.parametrize(
    "command", [["run"], ["eval"], ["ask"], ["models"], ["worker"], ["docs", "add"], ["docs", "search"]]
)
def test_help_reads_as_usage_at_80_columns(command: list[str]):
    shown = playground(*command, "--help", columns=80, timeout=60)
    assert shown.returncode == 0, shown.stderr
    assert_fits(shown.stdout, 80)
    for typer_type in ("{", "<bool>", "<list[str]>", "<int>", "<float"):
        assert typer_type not in shown.stdout.split("Usage:")[1].split("╭")[0]  # the usage line
    for typer_type in ("<bool>", "<list[str]>"):
        assert typer_type not in shown.stdout


def test_run_usage_and_sampling_options_explain_themselves():
    shown = " ".join(playground("run", "--help", columns=200, timeout=60).stdout.split())
    assert "playground run [OPTIONS] PROMPT Send PROMPT" in shown and "{prompt}" not in shown
    assert "--temperature T [0.0<=x<=2.0] Sampling temperature" in shown
    assert "--top-p P [0.0<=x<=1.0] Nucleus sampling" in shown
    assert f"Most tokens one answer may have. [default: {DEFAULT_MAX_TOKENS}]" in shown


# --- one default -----------------------------------------------------------------------------------------
def test_one_default_answer_length_for_cli_page_and_services():
    assert DEFAULT_MAX_TOKENS == ChatRequest.DEFAULT_MAX_TOKENS == Params().max_tokens
    assert CompareForm().max_tokens == DEFAULT_MAX_TOKENS
    ask = " ".join(playground("ask", "--help", columns=200, timeout=60).stdout.split())
    assert f"[default: {DEFAULT_MAX_TOKENS}]" in ask
    planned = CliRunner().invoke(app, ["run", "hi", "-m", "smollm2-135m", "--dry-run", "--json"])
    assert json.loads(planned.stdout)["max_output_tokens"] == DEFAULT_MAX_TOKENS
    page = AppTest.from_file(str(ROOT / "app.py"), default_timeout=180).run()
    assert page.number_input(key="max_tokens").value == DEFAULT_MAX_TOKENS


# --- native chatter --------------------------------------------------------------------------------------
def test_llama_cpp_chatter_stays_in_the_worker_and_out_of_the_terminal():
    # gemma3's sliding-window cache makes llama.cpp print "using full-size SWA cache" when it loads.
    shown = playground(
        "run", "Say hi", "-m", "smollm2-135m", "-m", "gemma3-270m", "--max-tokens", "4", columns=120
    )
    assert shown.returncode == 0, shown.stderr
    assert shown.stderr == ""
    assert "SWA" not in shown.stdout and "llama" not in shown.stdout
    from providers.local_workers import worker_for

    worker = worker_for(gguf_path("gemma3-270m"), 512)
    try:
        process = worker.process()
        deadline = time.monotonic() + 10  # the stderr thread reads beside the ready message
        while not any("SWA" in line for line in process.stderr_tail) and time.monotonic() < deadline:
            time.sleep(0.05)
        kept = list(process.stderr_tail)  # what a crash message would quote
    finally:
        worker.shutdown()
    assert any("SWA" in line for line in kept), kept


def test_a_local_model_that_cannot_load_still_says_why(tmp_path: Path):
    broken = tmp_path / "truncated.gguf"
    broken.write_bytes(gguf_path("smollm2-135m").read_bytes()[:200_000])
    models = tmp_path / "models.toml"
    models.write_text(
        f'[models.broken]\nprovider = "llamacpp"\nmodel = "b"\ngguf = "{broken}"\ncontext_window = 512\n'
    )
    args = ("run", "Say hi", "-m", "broken", "--max-tokens", "4", "--models-file", str(models))
    shown = playground(*args, columns=120)
    assert shown.returncode == 2  # found when its tokens are counted, before anything runs
    assert shown.stderr.startswith("error: broken: could not load truncated.gguf"), shown.stderr
    assert len(shown.stderr.splitlines()) == 1  # one clear line, no native chatter around it


# --- documents -------------------------------------------------------------------------------------------
def test_docs_tables_fit_80_columns_and_library_warnings_stay_out(tmp_path: Path):
    fixtures = ROOT / "tests" / "fixtures" / "documents"
    markup = tmp_path / "brackets.txt"
    markup.write_text("Roses want [bold]sun[/bold], water [/] and [link=https://x.test]care[/link].")
    name = "a-collection-with-a-rather-long-name-for-testing"
    env_db = {"PLAYGROUND_DB": f"sqlite:///{tmp_path / 'docs.db'}"}

    def docs(*args: str) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "COLUMNS": "80", **env_db}
        command = [sys.executable, "-m", "playground", *args]
        return subprocess.run(command, capture_output=True, text=True, timeout=300, cwd=ROOT, env=env)

    added = docs(
        "docs", "add", str(fixtures / "corrupt.pdf"), str(fixtures / "notes.txt"), str(markup), "-c", name
    )
    assert added.returncode == 1  # one file was not added, and says why in one line
    assert added.stderr.splitlines() == [
        "not added: corrupt.pdf is not a readable PDF: it is damaged, truncated or not a PDF"
    ]  # and pypdf's own "EOF marker not found" warning stays out
    listed = docs("docs", "list")
    assert_fits(listed.stdout, 80)
    assert table_cells(listed.stdout)[0][:2] == [name, "wordllama-256"]
    found = docs("docs", "search", "roses water", "-c", name, "--k", "2")
    assert found.returncode == 0, found.stderr
    assert_fits(found.stdout, 80)
    files = [cells[2] for cells in table_cells(found.stdout) if cells[2]]
    assert sorted(files) == ["brackets.txt", "notes.txt"]
    shown = " ".join(" ".join(c[4] for c in table_cells(found.stdout)).split())
    assert "[bold]sun[/bold], water [/] and [link=https://x.test]care[/link]" in shown  # text, not markup
