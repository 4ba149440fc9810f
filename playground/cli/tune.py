"""`playground tune …`: check a training file, start a fine-tuning job on a hosted API, list, follow and
cancel jobs, and compare a tuned model with its base on the held-out split."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from playground.cli.common import (
    EXIT_FAILED,
    AsJson,
    Command,
    CommandGroup,
    ModelsFile,
    fail_usage,
    figure_cell,
    money_cell,
)
from playground.cli.tables import print_table
from playground.core.errors import UsageError
from playground.core.specs import SpecError, load_specs
from playground.hosting.gate import LimitExceededError
from playground.storage.runs import Store, StoreUnavailableError
from playground.tuning.check import TrainingCheck
from playground.tuning.service import Tuning, TuningJob
from playground.tuning.versus import DEFAULT_METRIC, compare_base_tuned
from providers.errors import ProviderError

tune_app = typer.Typer(
    no_args_is_help=True,
    help="Fine-tuning on hosted APIs: check a training file, start, follow and cancel jobs.",
    cls=CommandGroup,
)
out = Console()

TrainingFile = Annotated[
    Path,
    typer.Argument(
        metavar="FILE", help="Chat-format JSONL (OpenAI's format) or a CSV with prompt,completion."
    ),
]
Model = Annotated[
    str, typer.Option("--model", "-m", metavar="KEY", help="The base model's key (fine-tunable).")
]
Epochs = Annotated[int, typer.Option("--epochs", min=1, max=50, metavar="N", help="Epochs to train.")]
Holdout = Annotated[
    float, typer.Option("--holdout", min=0.0, max=0.9, metavar="F", help="Share held out for base vs tuned.")
]
Seed = Annotated[int, typer.Option("--seed", metavar="N", help="Seed of the held-out split (and the job).")]
JobId = Annotated[str, typer.Argument(metavar="ID", help="The job's id (playground tune jobs).")]


def _tuning(models_file: str | None) -> Tuning:
    try:
        return Tuning(Store(), load_specs(models_file))
    except (SpecError, StoreUnavailableError) as exc:
        raise fail_usage(str(exc)) from exc


def _checked(tuning: Tuning, path: Path, model: str, epochs: int, holdout: float, seed: int) -> TrainingCheck:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise fail_usage(f"cannot read {path}: {exc.strerror}") from exc
    try:
        return tuning.check(path.name, data, model, epochs=epochs, holdout=holdout, seed=seed)
    except UsageError as exc:
        raise fail_usage(str(exc)) from exc


def _print_check(check: TrainingCheck) -> None:
    if check.bad:
        print_table(out, ("line", "problem"), [(b.line, b.reason) for b in check.bad], keys=("line",))
    out.print(
        f"{check.name} for {check.model}: {len(check.train)} training examples, {len(check.holdout)} held out "
        f"(seed {check.seed}), {len(check.bad)} bad line(s)",
        highlight=False,
        markup=False,
    )
    out.print(
        f"tokens ({check.counted_by}): {check.training_tokens:,} per epoch × {check.epochs} epochs = "
        f"{check.billed_tokens:,} · estimated cost {check.cost.label} ({check.cost.source})",
        highlight=False,
        markup=False,
    )


def _check_json(check: TrainingCheck) -> dict[str, object]:
    return {
        "file": check.name,
        "model": check.model,
        "train": len(check.train),
        "holdout": len(check.holdout),
        "holdout_lines": [e.line for e in check.holdout],
        "bad": [{"line": b.line, "reason": b.reason} for b in check.bad],
        "tokens_per_example": {e.line: e.tokens for e in (*check.train, *check.holdout)},
        "counted_by": check.counted_by,
        "training_tokens": check.training_tokens,
        "epochs": check.epochs,
        "billed_tokens": check.billed_tokens,
        "cost_usd": None if check.cost.usd is None else str(check.cost.usd),
        "cost_source": check.cost.source,
    }


@tune_app.command("check", cls=Command)
def check_command(
    path: TrainingFile,
    model: Model,
    epochs: Epochs = 3,
    holdout: Holdout = 0.1,
    seed: Seed = 0,
    models_file: ModelsFile = None,
    as_json: AsJson = False,
) -> None:
    """Check FILE for training MODEL before anything is spent: bad lines, tokens, cost, held-out split.
    Exit 1 when a job could not start with it."""
    check = _checked(_tuning(models_file), path, model, epochs, holdout, seed)
    if as_json:
        print(json.dumps(_check_json(check)))
    else:
        _print_check(check)
    if check.problem:
        raise typer.Exit(EXIT_FAILED)


@tune_app.command("start", cls=Command)
def start_command(
    path: TrainingFile,
    model: Model,
    epochs: Epochs = 3,
    holdout: Holdout = 0.1,
    seed: Seed = 0,
    suffix: Annotated[
        str | None, typer.Option("--suffix", metavar="TEXT", help="Part of the tuned model's name.")
    ] = None,
    models_file: ModelsFile = None,
) -> None:
    """Check FILE, then start a fine-tuning job of MODEL on its provider (spends money)."""
    tuning = _tuning(models_file)
    check = _checked(tuning, path, model, epochs, holdout, seed)
    _print_check(check)
    try:
        job = tuning.start(check, suffix)
    except (UsageError, LimitExceededError) as exc:
        raise fail_usage(str(exc)) from exc
    except ProviderError as exc:
        raise fail_usage(exc.message) from exc
    _print_job(job)
    if job.state == "failed":
        raise typer.Exit(EXIT_FAILED)


def _print_job(job: TuningJob) -> None:
    saved = job.saved
    out.print(
        f"job {job.id}: {job.state} · {saved.model_key} ({saved.kind}) · upstream {saved.upstream_id or '–'}",
        highlight=False,
        markup=False,
    )
    if saved.fine_tuned_model:
        out.print(f"tuned model: {saved.fine_tuned_model}", highlight=False, markup=False)
    if saved.error:
        out.print(f"error: {saved.error}", highlight=False, markup=False)
    if job.note:
        out.print(job.note, highlight=False, markup=False)


@tune_app.command("jobs", cls=Command)
def jobs_command(models_file: ModelsFile = None, as_json: AsJson = False) -> None:
    """The fine-tuning jobs, newest first, with their state and last training loss."""
    jobs = _tuning(models_file).jobs()
    if as_json:
        for job in jobs:
            print(json.dumps(_job_json(job)))
        return
    rows = [
        (
            j.id,
            j.saved.model_key,
            j.state,
            f"{j.losses[-1].train_loss:.4f} @ {j.losses[-1].step}" if j.losses else "–",
            j.saved.fine_tuned_model or "–",
            j.saved.created_at.strftime("%Y-%m-%d %H:%M"),
        )
        for j in jobs
    ]
    print_table(out, ("id", "base", "state", "last loss", "tuned model", "created (UTC)"), rows, keys=("id",))


def _job_json(job: TuningJob) -> dict[str, object]:
    saved = job.saved
    return {
        "id": job.id,
        "kind": saved.kind,
        "model": saved.model_key,
        "state": job.state,
        "upstream_id": saved.upstream_id,
        "fine_tuned_model": saved.fine_tuned_model,
        "losses": [[p.step, p.train_loss] for p in job.losses],
        "error": saved.error,
        "estimated_cost_usd": None if saved.estimated_cost_usd is None else str(saved.estimated_cost_usd),
        "cost_source": saved.cost_source,
        "trained_tokens": saved.trained_tokens,
        "trained_cost_usd": None if saved.settled_usd is None else str(saved.settled_usd),
    }


@tune_app.command("follow", cls=Command)
def follow_command(
    job_id: JobId,
    every: Annotated[
        float, typer.Option("--every", min=0.0, metavar="S", help="Seconds between looks.")
    ] = 10.0,
    once: Annotated[bool, typer.Option("--once", metavar="", help="Look once, then stop.")] = False,
    models_file: ModelsFile = None,
) -> None:
    """Follow job ID: print its new events until it ends (exit 1 when it failed or was cancelled)."""
    tuning = _tuning(models_file)
    shown = 0
    while True:
        try:
            job = tuning.follow(job_id)
        except UsageError as exc:
            raise fail_usage(str(exc)) from exc
        for event in job.events[shown:]:
            out.print(
                f"{time.strftime('%H:%M:%S', time.gmtime(event.created_at))} {event.level}: {event.message}",
                highlight=False,
                markup=False,  # a provider's message is text, never rich markup
            )
        shown = len(job.events)
        if job.ended or once:
            break
        time.sleep(every)
    _print_job(job)
    if job.state in ("failed", "cancelled"):
        raise typer.Exit(EXIT_FAILED)


@tune_app.command("cancel", cls=Command)
def cancel_command(job_id: JobId, models_file: ModelsFile = None) -> None:
    """Cancel job ID on its provider (an ended job stays as it is)."""
    try:
        job = _tuning(models_file).cancel(job_id)
    except UsageError as exc:
        raise fail_usage(str(exc)) from exc
    except ProviderError as exc:
        raise fail_usage(exc.message) from exc
    _print_job(job)


@tune_app.command("compare", cls=Command)
def compare_command(
    job_id: JobId,
    metric: Annotated[
        str, typer.Option("--metric", metavar="NAME", help="The evaluation metric.")
    ] = DEFAULT_METRIC,
    models_file: ModelsFile = None,
) -> None:
    """Run job ID's held-out examples on its base and tuned models: the metric for each with its 95%
    interval, the paired difference with its interval, tokens, latency and cost."""
    tuning = _tuning(models_file)
    try:
        result = compare_base_tuned(tuning, job_id, metric=metric)
    except (UsageError, LimitExceededError) as exc:
        raise fail_usage(str(exc)) from exc
    rows = []
    for summary in (result.base, result.tuned):
        score = summary.metrics[result.metric]
        rows.append(
            (
                summary.model,
                figure_cell(score.mean, 3),
                f"{score.ci_low:.3f}–{score.ci_high:.3f}"
                if score.ci_low is not None and score.ci_high is not None
                else "–",
                f"{summary.input_tokens:,} / {summary.output_tokens:,}",
                figure_cell(summary.latency_p50_s),
                money_cell(summary.cost_usd, ",".join(summary.cost_sources)),
            )
        )
    headers = ("model", result.metric, "95% interval", "tokens in / out", "p50 s", "cost")
    print_table(out, headers, rows, keys=("model",))
    out.print(result.reading, highlight=False, markup=False)
    out.print(f"saved as evaluation {result.eval_id}", highlight=False, markup=False)
