"""`playground embeddings compare`: embedding models and BM25 compared on a collection with gold questions."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from playground.cli.common import EXIT_FAILED, EXIT_OK, fail_usage
from playground.core.errors import UsageError
from playground.core.specs import SpecError, load_specs
from playground.evals.datasets import MAX_MB_ENV, DatasetError, max_bytes
from playground.evals.embedders import EMBEDDER_METRICS, EmbedderComparison, MetricEstimate, compare_embedders
from playground.evals.questions import GeneratedQuestions, QuestionSource, UploadedQuestions
from playground.rag.library import Library
from playground.storage.runs import Store

embeddings_app = typer.Typer(
    no_args_is_help=True, help="Embedding models compared on one of your collections."
)
out = Console()
err = Console(stderr=True)
SHOWN_QUESTIONS = 20


@embeddings_app.command("compare")
def compare_command(
    collection: Annotated[str, typer.Option("--collection", "-c", help="The collection's name.")],
    questions: Annotated[
        Path | None,
        typer.Option("--questions", help="CSV or JSONL: question, gold_chunks and/or gold_files."),
    ] = None,
    embed: Annotated[
        list[str] | None,
        typer.Option("--embed", help="Embedding model key; repeat (default: the collection's)."),
    ] = None,
    bm25: Annotated[bool, typer.Option("--bm25/--no-bm25", help="Compare BM25 too.")] = True,
    generate: Annotated[
        int | None, typer.Option("--generate", min=1, help="Have --generator write N questions from chunks.")
    ] = None,
    generator: Annotated[str | None, typer.Option("--generator", help="Chat model key writing them.")] = None,
    seed: Annotated[int, typer.Option("--seed", help="Which chunks are sampled for --generate.")] = 0,
    save_questions: Annotated[
        Path | None, typer.Option("--save-questions", help="Write the questions used (JSONL, labelled).")
    ] = None,
    models_file: Annotated[str | None, typer.Option("--models-file", help="Extra models TOML.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per embedder.")] = False,
) -> None:
    """Rank the collection's chunks for each question with every --embed model and BM25: recall@1/5/10,
    MRR and nDCG@10 with 95% intervals, seconds and cost per 1,000 chunks."""
    try:
        library = Library(Store(), load_specs(models_file))
        source = _source(questions, generate, generator, seed)
        comparison = compare_embedders(library, collection, source, embed or [], bm25=bm25)
    except (SpecError, UsageError) as exc:
        raise fail_usage(str(exc)) from exc
    if save_questions is not None:
        _save(save_questions, comparison)
    if as_json:
        for line in comparison.to_json():
            print(json.dumps(line))
    else:
        _print(comparison)
    raise typer.Exit(EXIT_FAILED if comparison.failed else EXIT_OK)


def _source(path: Path | None, count: int | None, generator: str | None, seed: int) -> QuestionSource:
    """--questions FILE, or --generate N with --generator KEY: exactly one."""
    if (path is None) == (count is None):
        raise UsageError("give --questions FILE, or --generate N --generator KEY (one of them)")
    if count is not None:
        if not generator:
            raise UsageError("--generate needs --generator KEY: the chat model that writes the questions")
        return GeneratedQuestions(generator, count, seed)
    assert path is not None
    try:
        if path.stat().st_size > max_bytes():
            raise UsageError(f"{path.name} is over the {max_bytes() / 1e6:g} MB limit ({MAX_MB_ENV})")
        return UploadedQuestions(path.name, path.read_bytes())
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror}") from exc
    except DatasetError as exc:
        raise UsageError(str(exc)) from exc


def _save(path: Path, comparison: EmbedderComparison) -> None:
    lines = [json.dumps(q.to_json()) for q in comparison.questions.questions]
    try:
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    except OSError as exc:
        err.print(f"could not write {path}: {exc.strerror}", soft_wrap=True)


def _print(comparison: EmbedderComparison) -> None:
    """The questions' origin, the metrics table (intervals under the means), then speed and cost."""
    asked = comparison.questions
    out.print(
        f"Collection {comparison.collection!r}: {comparison.chunks} chunks; {asked.label}", soft_wrap=True
    )
    if asked.eval_id:
        out.print(f"The generator's calls are saved as evaluation {asked.eval_id}.", soft_wrap=True)
    if asked.generated_by:
        for n, q in enumerate(asked.questions[:SHOWN_QUESTIONS], 1):
            out.print(
                f"  {n}. {escape(q.text)} [dim]({escape(q.label)}; gold {escape(', '.join(q.gold_chunks))})[/dim]"
            )
    for reason in asked.skipped:
        err.print(f"no question from {reason}", soft_wrap=True, markup=False)
    metrics = Table(
        "embedder", *EMBEDDER_METRICS, box=box.SIMPLE_HEAD, title="Retrieval (95% interval below)"
    )
    costs = Table("embedder", "s / 1,000 chunks", "cost / 1,000 chunks", "price source", box=box.SIMPLE_HEAD)
    for result, row in zip(comparison.results, comparison.rows(), strict=True):
        if not result.ok:
            continue
        cells = [_two_lines(result.metrics[name]) for name in EMBEDDER_METRICS]
        metrics.add_row(escape(result.name), *cells)
        costs.add_row(
            escape(result.name), row["s / 1,000 chunks"], row["cost / 1,000 chunks"], result.cost_source
        )
    out.print(metrics)
    out.print(costs)
    out.print(
        "[dim]recall@k: share of gold found in the first k chunks; MRR: 1/rank of the first gold chunk "
        "(within 100); intervals: Wilson (yes/no values) or Student's t.[/dim]"
    )
    for failed in comparison.failed:
        err.print(f"{failed.name} not compared: {failed.error}", soft_wrap=True, markup=False)


def _two_lines(estimate: MetricEstimate) -> str:
    """The mean, and its interval on a line below (the table stays within 80 columns)."""
    mean, low, high = estimate.mean, estimate.low, estimate.high
    if mean is None:
        return "n/a"
    return f"{mean:.2f}" if low is None or high is None else f"{mean:.2f}\n{low:.2f}–{high:.2f}"
