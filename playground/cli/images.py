"""`playground describe` and `playground paint`: image models compared in the terminal, on the images
service (the same one a page will use)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.text import Text

from playground.cli.common import (
    EXIT_FAILED,
    EXIT_OK,
    AsJson,
    ModelKeys,
    ModelsFile,
    fail_usage,
    figure_cell,
    money_cell,
    print_kept,
    write_outputs,
)
from playground.cli.tables import print_table
from playground.core.errors import UsageError
from playground.core.results import RunResult
from playground.core.specs import SpecError, load_specs
from playground.evals.images import DescriberSummary, evaluate_describers, read_image_set, shipped_image_set
from playground.evals.metrics import MetricChoice, MetricError
from playground.images.billing import ImagePayer
from playground.images.image_input import read_image
from playground.images.service import DEFAULT_SIZE, PaintResult, describe_compare, paint_compare
from playground.storage.runs import Store

out = Console()
err = Console(stderr=True)


def describe_command(
    image: Annotated[Path, typer.Argument(metavar="IMAGE", help="An image file: png, jpeg, webp, gif.")],
    prompt: Annotated[str, typer.Argument(metavar="PROMPT", help="What to ask about the image.")],
    model: ModelKeys,
    max_tokens: Annotated[
        int, typer.Option("--max-tokens", min=1, metavar="N", help="The longest answer asked for.")
    ] = 256,
    models_file: ModelsFile = None,
    as_json: AsJson = False,
) -> None:
    """Ask each -m vision model PROMPT about IMAGE: its answer, TTFT, seconds, tokens and cost."""
    try:
        specs = load_specs(models_file)
        picture = read_image(image.read_bytes(), image.name)
        results = describe_compare(
            picture, prompt, model, max_tokens=max_tokens, specs=specs, payer=ImagePayer(store=Store())
        )
    except OSError as exc:
        raise fail_usage(f"cannot read {image}: {exc.strerror}") from exc
    except (SpecError, UsageError) as exc:
        raise fail_usage(str(exc)) from exc
    if as_json:
        for result in results:
            print(json.dumps(result.to_json()))
    else:
        _print_answers(results, f"{picture.name}: {picture.width}x{picture.height} {picture.mime}")
        print_kept(out, results[0].run_id)
    raise typer.Exit(EXIT_OK if all(r.ok for r in results) else EXIT_FAILED)


def _print_answers(results: list[RunResult], heading: str) -> None:
    """The figures table, then each answer as plain text (never read as markup)."""
    out.print(heading, markup=False)
    headers = ["model", "TTFT s", "seconds", "in tokens", "out tokens", "cost", "price source"]
    rows = [
        [
            r.model,
            figure_cell(r.ttft_s),
            figure_cell(r.total_s),
            "–" if r.input_tokens is None else str(r.input_tokens),
            "–" if r.output_tokens is None else str(r.output_tokens),
            money_cell(r.cost_usd, r.cost_source),
            r.cost_source,
        ]
        for r in results
        if r.ok
    ]
    if rows:
        print_table(out, headers, rows, keys=["model"], rank=["seconds", "cost", "TTFT s"])
    for r in results:
        if r.ok:
            out.rule(Text(r.model))
            out.print(r.text, markup=False, highlight=False)
        else:
            err.print(f"{r.model} failed: {r.error}", soft_wrap=True, markup=False)


def paint_command(
    prompt: Annotated[str, typer.Argument(metavar="PROMPT", help="The picture every model paints.")],
    model: ModelKeys,
    out_dir: Annotated[
        Path | None,
        typer.Option("--out", metavar="DIR", help="Write each model's picture to DIR/<model>.png."),
    ] = None,
    size: Annotated[str, typer.Option("--size", metavar="WxH", help="The picture's size.")] = DEFAULT_SIZE,
    models_file: ModelsFile = None,
    as_json: AsJson = False,
) -> None:
    """Paint PROMPT with each -m text-to-image model: its picture, seconds and cost per image."""
    try:
        specs = load_specs(models_file)
        results = paint_compare(prompt, model, size, specs=specs, payer=ImagePayer(store=Store()))
    except (SpecError, UsageError) as exc:
        raise fail_usage(str(exc)) from exc
    written = _write(out_dir, results) if out_dir is not None else {}
    if as_json:
        for result in results:
            print(json.dumps({**result.to_json(), "file": written.get(result.model)}))
    else:
        _print_pictures(results, written)
        print_kept(out, results[0].run_id)
    raise typer.Exit(EXIT_OK if all(r.ok for r in results) else EXIT_FAILED)


_SUFFIX = {"image/png": "png", "image/jpeg": "jpg", "image/webp": "webp", "image/gif": "gif"}


def _write(folder: Path, results: list[PaintResult]) -> dict[str, str]:
    """Each picture as <folder>/<model>.<its type>; the paths written, by model."""
    pictures = {r.model: r.picture for r in results if r.picture is not None}
    files = {m: (p.data, _SUFFIX.get(p.mime, "img")) for m, p in pictures.items()}
    return write_outputs(folder, files, err)


def _print_pictures(results: list[PaintResult], written: dict[str, str]) -> None:
    """The figures table, then where each picture went (or why there is none)."""
    headers = ["model", "seconds", "size", "cost / image", "price source"]
    rows = [
        [
            r.model,
            figure_cell(r.seconds),
            f"{r.picture.width}x{r.picture.height}" if r.picture else "–",
            money_cell(r.cost_usd, r.cost_source),
            r.cost_source,
        ]
        for r in results
        if r.ok
    ]
    if rows:
        print_table(out, headers, rows, keys=["model"], rank=["seconds", "cost / image"])
    for r in results:
        if not r.ok:
            err.print(f"{r.model} failed: {r.error}", soft_wrap=True, markup=False)
        elif r.model in written:
            out.print(f"{r.model}: written to {written[r.model]}", markup=False)


def describe_eval_command(
    labelled: Annotated[
        Path | None,
        typer.Argument(
            metavar="[CSV]",
            help="A CSV with columns file, prompt and reference, its images beside it (default: the shipped "
            "cards, drawn here).",
        ),
    ] = None,
    model: ModelKeys = (),
    metric: Annotated[
        str,
        typer.Option(
            "--metric",
            metavar="METRIC",
            help="How an answer is scored against its reference (an eval metric).",
        ),
    ] = "contains",
    models_file: ModelsFile = None,
    as_json: AsJson = False,
) -> None:
    """Evaluate each -m vision model on a labelled image set: the metric's mean with a 95% interval,
    median seconds, output tokens, the set's cost, and the images a model failed."""
    try:
        specs = load_specs(models_file)
        items = read_image_set(labelled) if labelled is not None else shipped_image_set()
        result = evaluate_describers(
            items, model, MetricChoice(metric), specs=specs, payer=ImagePayer(store=Store())
        )
    except OSError as exc:
        raise fail_usage(f"cannot read {labelled}: {exc.strerror}") from exc
    except (SpecError, UsageError, MetricError) as exc:
        raise fail_usage(str(exc)) from exc
    if as_json:
        for summary in result.summaries:
            print(json.dumps(_describer_json(summary, metric)))
    else:
        out.print(f"{len(items)} images; {metric}: means with 95% intervals", markup=False)
        rows = result.table_rows()
        print_table(out, list(rows[0]), [list(r.values()) for r in rows], keys=["model"], rank=[metric])
    raise typer.Exit(EXIT_OK if not any(s.failed for s in result.summaries) else EXIT_FAILED)


def _describer_json(summary: DescriberSummary, metric: str) -> dict[str, object]:
    """One model's figures over the set, JSON-ready (money as a decimal string)."""
    return {
        "model": summary.model,
        metric: summary.score and summary.score.to_json(),
        "seconds_p50": summary.seconds_p50,
        "output_tokens": summary.output_tokens,
        "cost_usd": None if summary.cost_usd is None else str(summary.cost_usd),
        "cost_source": summary.cost_source,
        "failed": list(summary.failed),
    }
