"""`playground eval`: a dataset across models with metrics, a progress line, and a per-model summary."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    TextColumn,
    TimeRemainingColumn,
)

from playground.cli.common import EXIT_FAILED, EXIT_OK, ModelsFile, fail_usage
from playground.cli.tables import print_table
from playground.core.errors import UsageError
from playground.core.params import Params
from playground.core.specs import SpecError, load_specs
from playground.evals.datasets import (
    Dataset,
    DatasetError,
    Preset,
    load_dataset,
    load_sample,
    sample_names,
    sample_preset,
)
from playground.evals.jobs import queue_evaluation
from playground.evals.metrics import JUDGE, METRICS, MetricChoice, normalisation_applied
from playground.evals.retrieval_report import rag_gains, retrieval_quality
from playground.evals.runner import EVAL_PARAMS, EvalSetup, Evaluation
from playground.evals.shots import ShotsError, parse_shots
from playground.evals.summary import ModelSummary, reading, summarize
from playground.evals.view import normalisation_notes, summary_rows
from playground.lora import with_tuned_models
from playground.storage.evals import EvalStore, StoredEval
from playground.storage.runs import Store

out = Console()
err = Console(stderr=True)


def _text_or_file(value: str | None) -> str | None:
    """`@path` reads the text from a file."""
    if value and value.startswith("@"):
        try:
            return Path(value[1:]).read_text(encoding="utf-8")
        except OSError as exc:
            raise fail_usage(f"cannot read {value[1:]}: {exc.strerror}") from exc
    return value


def _dataset(data: str) -> Dataset:
    if not Path(data).exists() and data in sample_names():
        return load_sample(data)
    return load_dataset(data)


def eval_command(
    data: Annotated[
        str | None,
        typer.Argument(
            metavar="DATA",
            help=f"CSV or JSONL file, or a sample: {', '.join(sample_names())} (not with --resume).",
        ),
    ] = None,
    model: Annotated[
        list[str] | None,
        typer.Option("-m", "--model", metavar="KEY", help="Model key; repeat for more (not with --resume)."),
    ] = None,
    template: Annotated[
        str | None,
        typer.Option(
            "--template", metavar="TEXT", help="Prompt with {column} fields (or @file). Samples have one."
        ),
    ] = None,
    metric: Annotated[
        list[str] | None,
        typer.Option("--metric", metavar="NAME", help=f"Metric; repeat for more: {', '.join(METRICS)}."),
    ] = None,
    judge: Annotated[
        str | None, typer.Option("--judge", metavar="KEY", help="Model key of the LLM judge (adds 'judge').")
    ] = None,
    rubric: Annotated[
        str | None, typer.Option("--rubric", metavar="TEXT", help="Judge rubric (or @file).")
    ] = None,
    schema: Annotated[
        str | None, typer.Option("--schema", metavar="JSON", help="JSON Schema for json_schema (or @file).")
    ] = None,
    pattern: Annotated[
        str | None,
        typer.Option("--pattern", metavar="REGEX", help="Pattern for regex (default: the expected column)."),
    ] = None,
    system: Annotated[str | None, typer.Option("--system", metavar="TEXT", help="System prompt.")] = None,
    expected: Annotated[
        str, typer.Option("--expected", metavar="COLUMN", help="Column holding the expected answer.")
    ] = "expected",
    concurrency: Annotated[
        int, typer.Option("--concurrency", min=1, metavar="N", help="Calls at once, overall.")
    ] = 4,
    provider_limit: Annotated[
        list[str] | None,
        typer.Option(
            "--provider-limit",
            metavar="PROVIDER=N",
            help="Calls at once for one provider; repeat for more (llamacpp=1 by default).",
        ),
    ] = None,
    limit: Annotated[int | None, typer.Option("--limit", metavar="N", help="Only the first N rows.")] = None,
    max_tokens: Annotated[
        int | None,
        typer.Option(
            "--max-tokens",
            min=1,
            metavar="N",
            help=f"Most tokens one answer may have (default: the sample's, else {EVAL_PARAMS.max_tokens}).",
        ),
    ] = None,
    resume: Annotated[
        str | None, typer.Option("--resume", metavar="ID", help="Finish a saved evaluation by id.")
    ] = None,
    shots: Annotated[
        str,
        typer.Option(
            "--shots",
            metavar="K,K…",
            help="Examples before each prompt, e.g. 0,1,3: every row runs once per k.",
        ),
    ] = "0",
    shot_select: Annotated[
        str,
        typer.Option(
            "--shot-select", metavar="HOW", help="How examples are picked: first, random or similar."
        ),
    ] = "first",
    seed: Annotated[int, typer.Option("--seed", metavar="N", help="Seed for --shot-select random.")] = 0,
    collection: Annotated[
        str | None,
        typer.Option(
            "--collection", metavar="NAME", help="Documents to retrieve from (playground docs add)."
        ),
    ] = None,
    rag: Annotated[
        str, typer.Option("--rag", metavar="MODE", help="Retrieval: off, on, or both (to measure the gain).")
    ] = "off",
    rag_k: Annotated[int, typer.Option("--rag-k", min=1, metavar="K", help="Chunks retrieved per row.")] = 5,
    gold: Annotated[
        str | None,
        typer.Option(
            "--gold", metavar="COLUMN", help="Column of gold source files (a|b), for recall@k and MRR."
        ),
    ] = None,
    as_json: Annotated[
        bool,
        typer.Option(
            "--json",
            metavar="",
            help="JSON lines: one object per answer (row, model, k), then the summary.",
        ),
    ] = False,
    queue: Annotated[
        bool,
        typer.Option(
            "--queue",
            metavar="",
            help="Queue it for `playground worker` processes instead of running it here.",
        ),
    ] = False,
    models_file: ModelsFile = None,
) -> None:
    """Run every row of DATA on every model, score the answers, print the per-model summary."""
    try:
        specs = with_tuned_models(load_specs(models_file))
        store = EvalStore(Store())
        if resume:
            evaluation = Evaluation.resume(resume, specs, store)
        elif not data or not model:
            raise UsageError("give DATA and at least one -m MODEL, or --resume ID")
        else:
            dataset, preset = _dataset_and_preset(data, limit)
            setup = EvalSetup(
                template=_text_or_file(template) or preset.template,
                models=tuple(model),
                metrics=_metric_choices(
                    metric or list(preset.metrics), judge, _text_or_file(schema) or preset.schema, pattern
                ),
                system=system,
                expected_column=expected,
                judge=judge,
                rubric=_text_or_file(rubric) or EvalSetup.rubric,
                params=Params(
                    temperature=EVAL_PARAMS.temperature,
                    max_tokens=max_tokens or preset.max_tokens or EVAL_PARAMS.max_tokens,
                ),
                concurrency=concurrency,
                provider_limits=_provider_limits(provider_limit or []),
                shots=parse_shots(shots),
                shot_select=shot_select,  # type: ignore[arg-type] - checked by the evaluation
                shot_seed=seed,
                collection=collection,
                rag=_rag_modes(rag, collection),
                rag_k=rag_k,
                gold_column=gold,
            )
            evaluation = Evaluation(setup, dataset, specs, store)
    except (UsageError, DatasetError, SpecError, ShotsError) as exc:
        raise fail_usage(str(exc)) from exc
    if queue:
        _queue(evaluation, store)
    # Said before anything runs: a killed evaluation can be resumed with this id alone.
    err.print(
        f"evaluation {evaluation.eval_id} · resume with: playground eval --resume {evaluation.eval_id}",
        soft_wrap=True,  # one line, whatever the terminal width: scripts read the id from it
    )
    _run(evaluation, quiet=as_json)
    raise typer.Exit(_report(evaluation, store, as_json))


def _queue(evaluation: Evaluation, store: EvalStore) -> None:
    """Hand the saved evaluation to the workers' queue, print its id, and exit."""
    try:
        job = queue_evaluation(evaluation, store.store)
    except UsageError as exc:
        raise fail_usage(str(exc)) from exc
    print(evaluation.eval_id)
    err.print(f"queued ({job.ahead} ahead); a `playground worker` runs it", soft_wrap=True)
    raise typer.Exit(EXIT_OK)


def _dataset_and_preset(data: str, limit: int | None) -> tuple[Dataset, Preset]:
    """The dataset (its first `limit` rows) and, for a shipped sample, its ready template and metrics."""
    dataset = _dataset(data)
    if limit is not None:
        if limit < 1:
            raise UsageError("--limit must be at least 1")
        dataset = Dataset(dataset.name, dataset.columns, dataset.rows[:limit])
    return dataset, sample_preset(dataset.name) if not Path(data).exists() else Preset()


def _metric_choices(
    names: list[str], judge: str | None, schema: str | None, pattern: str | None
) -> tuple[MetricChoice, ...]:
    """The metrics with the options each uses (json_schema its schema, regex its pattern), judge last."""
    options = {"schema": schema, "pattern": pattern}
    chosen = tuple(
        MetricChoice(n, {k: v for k, v in options.items() if v and _uses(n, k)}) for n in names if n != JUDGE
    )
    return chosen + ((MetricChoice(JUDGE),) if judge or JUDGE in names else ())


def _report(evaluation: Evaluation, store: EvalStore, as_json: bool) -> int:
    """Print the summary (a table, or JSON); the exit code: 1 when a row errored or it stopped early."""
    saved = store.get(evaluation.eval_id)
    assert saved is not None
    metric_list = [m.name for m in evaluation.metrics]
    summaries = summarize(saved.cells, saved.arms, metric_list)
    readings = [reading(summaries, m) for m in metric_list] if len(summaries) > 1 else []
    if as_json:
        for cell in saved.cells:
            print(json.dumps(cell.to_json()))
        summary = [s.to_json() for s in summaries]
        print(
            json.dumps(
                {
                    "eval_id": evaluation.eval_id,
                    "complete": saved.complete,
                    "summary": summary,
                    "normalisation": normalisation_applied(evaluation.metrics),
                    "readings": readings,
                    "rag_gains": [vars(g) for g in rag_gains(saved, metric_list)],
                    "retrieval": vars(quality) if (quality := retrieval_quality(saved)) else None,
                }
            )
        )
    else:
        _print_summary(summaries, metric_list, normalisation_notes(saved))
        for line in readings:
            out.print(line, markup=False)
        _print_retrieval(saved, metric_list)
        out.print(f"saved as evaluation {evaluation.eval_id} (resume with --resume if it stopped early)")
    row_errors = sum(s.errors + sum(m.errors for m in s.metrics.values()) for s in summaries)
    return EXIT_FAILED if row_errors or not saved.complete else EXIT_OK


def _rag_modes(value: str, collection: str | None) -> tuple[bool, ...]:
    modes = {"off": (False,), "on": (True,), "both": (False, True)}
    if value not in modes:
        raise UsageError(f"--rag is off, on or both, not {value!r}")
    if value == "off" and collection:
        return (True,)  # a collection given means retrieval on, unless asked for both
    return modes[value]


def _provider_limits(values: list[str]) -> dict[str, int]:
    limits = {}
    for value in values:
        name, _, number = value.partition("=")
        if not number.strip().isdigit() or int(number) < 1:
            raise UsageError(f"--provider-limit takes PROVIDER=N with N >= 1, not {value!r}")
        limits[name.strip()] = int(number)
    return limits


def _uses(metric: str, option: str) -> bool:
    return (metric, option) in {("json_schema", "schema"), ("regex", "pattern")}


# The progress line counts answers (one row answered by one arm); a row is complete when every arm has
# answered it. Its text, and the time left, always show; the bar takes what width is left.
PROGRESS_TEXT = "answers · {task.fields[rows]} rows complete · {task.fields[errors]} call errors · spent ${task.fields[spend]}"
_SPEND_ROOM, _TIME_ROOM, _BAR_MIN, _BAR_MAX = 9, 7, 6, 30


def progress_columns(total: int, rows: int, width: int) -> list[ProgressColumn]:
    """The progress line's columns at `width`: the counts never cut, the bar only where it fits."""
    widest = PROGRESS_TEXT.replace("{task.fields[rows]}", f"{rows}/{rows}").replace(
        "{task.fields[errors]}", str(total)
    )
    text_room = len(f"{total}/{total} ") + len(widest.replace("{task.fields[spend]}", "")) + _SPEND_ROOM
    bar = min(_BAR_MAX, width - text_room - _TIME_ROOM - 2)
    columns: list[ProgressColumn] = [BarColumn(bar_width=bar)] if bar >= _BAR_MIN else []
    return [*columns, MofNCompleteColumn(), TextColumn(PROGRESS_TEXT), TimeRemainingColumn()]


def _run(evaluation: Evaluation, quiet: bool) -> None:
    total, rows = evaluation.total_cells, len(evaluation.dataset.rows)
    columns = progress_columns(total, rows, err.width)
    with Progress(*columns, console=err, transient=True, disable=quiet) as progress:
        task = progress.add_task(
            "evaluating",
            total=total,
            completed=total - len(evaluation.pending()),
            errors=0,
            spend="0",
            rows=f"?/{rows}",
        )
        try:
            for event in evaluation.run():
                progress.update(
                    task,
                    completed=event.progress.done,
                    errors=event.progress.errors,
                    rows=f"{event.progress.rows_done}/{event.progress.rows}",
                    spend=str(event.progress.spend_usd),
                )
        except KeyboardInterrupt:
            evaluation.cancel()
            err.print(
                f"stopped; the finished answers are saved: --resume {evaluation.eval_id}", soft_wrap=True
            )
            raise typer.Exit(EXIT_FAILED) from None


def _print_retrieval(saved: StoredEval, metrics: list[str]) -> None:
    gains = rag_gains(saved, metrics)
    if gains:
        headers = ["model", "k", "metric", "rows", "gain with retrieval [95% interval]"]
        lines = []
        for g in gains:
            interval = f" [{g.low:+.2f}, {g.high:+.2f}]" if g.low is not None and g.high is not None else ""
            gain = "n/a" if g.gain is None else f"{g.gain:+.2f}{interval}"
            lines.append([g.model, str(g.shots), g.metric, str(g.rows), gain])
        print_table(out, headers, lines, keys=["model", "metric"], rank=[headers[-1], "k", "rows"])
    quality = retrieval_quality(saved)
    if quality and quality.rows:
        out.print(
            f"retrieval over {quality.rows} rows with gold sources: recall@{quality.k} {quality.recall:.2f}"
            f" [{quality.recall_low or 0:.2f}, {quality.recall_high or 1:.2f}], MRR {quality.mrr:.2f}"
        )


def _print_summary(summaries: list[ModelSummary], metrics: list[str], notes: list[str]) -> None:
    """The per-arm table (scores first to stay in a narrow terminal), then each text match's normalisation."""
    rows = summary_rows(summaries, metrics)  # the same table the Evaluate page shows
    columns = list(dict.fromkeys(name for row in rows for name in row))
    rank = [
        *metrics,
        "call errors",
        *(f"{m} errors" for m in metrics),
        *(f"{m} pass" for m in metrics),
        "cost USD",
        "p50 s",
        "rows",
    ]
    lines = [[row.get(name, "") for name in columns] for row in rows]
    print_table(out, columns, lines, keys=["model"], rank=rank)
    for note in notes:
        out.print(f"normalisation of {note}", markup=False)
