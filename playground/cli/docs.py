"""`playground docs …` (collections of your documents) and `playground ask` (answers with and without them)."""

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
    Command,
    CommandGroup,
    MaxTokens,
    ModelKeys,
    ModelsFile,
    fail_usage,
)
from playground.cli.tables import print_table
from playground.compare.ask import plan_ask
from playground.compare.service import Comparison
from playground.core.errors import UsageError
from playground.core.params import DEFAULT_MAX_TOKENS, Params
from playground.core.specs import SpecError, load_specs
from playground.engine.fanout import Done
from playground.rag.library import (
    DEFAULT_CHUNK_TOKENS,
    DEFAULT_OVERLAP_TOKENS,
    Library,
    SearchMethod,
    default_embedder,
)
from playground.rag.prompting import Passage, citations
from playground.storage.runs import Store

docs_app = typer.Typer(
    no_args_is_help=True, help="Collections of your documents, for retrieval (RAG).", cls=CommandGroup
)
out = Console()
err = Console(stderr=True)

Collection = Annotated[str, typer.Option("--collection", "-c", metavar="NAME", help="The collection's name.")]
Method = Annotated[str, typer.Option("--method", metavar="HOW", help="Retrieval: vector or bm25.")]


def _library(models_file: str | None) -> Library:
    try:
        return Library(Store(), load_specs(models_file))
    except (SpecError, UsageError) as exc:
        raise fail_usage(str(exc)) from exc


@docs_app.command("add", cls=Command)
def add_command(
    files: Annotated[list[Path], typer.Argument(metavar="FILE", help="txt, md, html, pdf or docx files.")],
    collection: Collection,
    embed: Annotated[
        str | None, typer.Option("--embed", metavar="KEY", help="Embedding model key (new collection).")
    ] = None,
    chunk_size: Annotated[
        int, typer.Option("--chunk-size", min=1, metavar="N", help="Tokens per chunk (new collection).")
    ] = DEFAULT_CHUNK_TOKENS,
    overlap: Annotated[
        int,
        typer.Option("--overlap", min=0, metavar="N", help="Tokens shared by neighbours (new collection)."),
    ] = DEFAULT_OVERLAP_TOKENS,
    models_file: ModelsFile = None,
    as_json: AsJson = False,
) -> None:
    """Add files to a collection (made on first use); each file is reported, a bad one with its reason."""
    library = _library(models_file)
    try:
        found = [c for c in library.list() if c.name == collection]
        if found:
            target = found[0]
            if embed and embed != target.embedder:
                raise UsageError(
                    f"{collection!r} is embedded with {target.embedder}; --embed cannot change it"
                )
        else:
            target = library.create(collection, embed or default_embedder(library.specs), chunk_size, overlap)
        inputs = [(path.name, _read(path)) for path in files]
        outcomes = library.add(target, inputs)
    except UsageError as exc:
        raise fail_usage(str(exc)) from exc
    for outcome in outcomes:
        if as_json:
            print(
                json.dumps(
                    {**vars(outcome), "cost_usd": None if outcome.cost_usd is None else str(outcome.cost_usd)}
                )
            )
        elif outcome.ok:
            verb = "replaced" if outcome.replaced else "added"
            out.print(
                f"{verb} {outcome.name}: {outcome.chunks} chunks in {outcome.embed_seconds:.2f} s of embedding",
                markup=False,
            )
        else:
            err.print(f"not added: {outcome.error}", soft_wrap=True, markup=False)
    raise typer.Exit(EXIT_OK if all(o.ok for o in outcomes) else EXIT_FAILED)


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror}") from exc


@docs_app.command("search", cls=Command)
def search_command(
    query: Annotated[str, typer.Argument(metavar="QUERY", help="What to look for.")],
    collection: Collection,
    k: Annotated[int, typer.Option("--k", min=1, metavar="K", help="How many chunks.")] = 5,
    method: Method = "vector",
    models_file: ModelsFile = None,
    as_json: AsJson = False,
) -> None:
    """The k chunks nearest to QUERY, with scores, file and position."""
    library = _library(models_file)
    try:
        found = library.find(library.get(collection), query, k, _method(method))
    except UsageError as exc:
        raise fail_usage(str(exc)) from exc
    _print_passages(found.passages, as_json)
    if not as_json:
        out.print(found.note, style="dim", markup=False, highlight=False)


def _method(value: str) -> SearchMethod:
    """--method checked: vector or bm25."""
    if value not in ("vector", "bm25"):
        raise UsageError(f"--method is vector or bm25, not {value!r}")
    return value  # type: ignore[return-value] - checked just above


def _print_passages(passages: list[Passage] | tuple[Passage, ...], as_json: bool) -> None:
    if as_json:
        for p in passages:
            print(json.dumps(vars(p)))
        return
    headers = ["#", "score", "file", "chunk", "text"]
    lines = [
        [str(p.number), p.score_label, p.source, str(p.position + 1), p.text[:160].replace("\n", " ")]
        for p in passages
    ]
    print_table(out, headers, lines, keys=["#", "file"], rank=["text", "score", "chunk"])


@docs_app.command("list", cls=Command)
def list_command(models_file: ModelsFile = None, as_json: AsJson = False) -> None:
    """Your collections: embedding model, chunking, documents and chunks."""
    try:
        collections = _library(models_file).list()
    except UsageError as exc:
        raise fail_usage(str(exc)) from exc
    if as_json:
        for c in collections:
            print(json.dumps({**vars(c), "created_at": c.created_at.isoformat()}))
        return
    headers = ["collection", "embedding model", "chunk / overlap (tokens)", "documents", "chunks"]
    lines = [
        [c.name, c.embedder, f"{c.chunk_size} / {c.overlap}", c.documents, c.chunks] for c in collections
    ]
    print_table(out, headers, lines, keys=["collection", "embedding model"], rank=["documents", "chunks"])


@docs_app.command("remove", cls=Command)
def remove_command(collection: Collection, models_file: ModelsFile = None) -> None:
    """Delete a collection with its documents, chunks and vectors."""
    try:
        _library(models_file).remove(collection)
    except UsageError as exc:
        raise fail_usage(str(exc)) from exc
    out.print(f"removed {collection}")


def ask_command(
    question: Annotated[str, typer.Argument(metavar="QUESTION", help="The question.")],
    model: ModelKeys,
    collection: Collection,
    k: Annotated[int, typer.Option("--k", min=1, metavar="K", help="Chunks to retrieve.")] = 5,
    mode: Annotated[
        str, typer.Option("--mode", metavar="MODE", help="rag (with the chunks), plain (without) or both.")
    ] = "both",
    method: Method = "vector",
    max_tokens: MaxTokens = DEFAULT_MAX_TOKENS,
    models_file: ModelsFile = None,
    as_json: AsJson = False,
) -> None:
    """Answer QUESTION with each -m model, with and without the chunks retrieved from a collection."""
    library = _library(models_file)
    try:
        plan = plan_ask(
            question,
            model,
            library.specs,
            library,
            collection,
            k=k,
            mode=mode,
            method=_method(method),
            params=Params(max_tokens=max_tokens),
        )
        store = Store()
        results = {name: _run(Comparison(p, store)) for name, p in plan.plans.items()}
    except UsageError as exc:
        raise fail_usage(str(exc)) from exc
    if not as_json:
        _print_passages(plan.passages, False)
        if plan.trimmed_note:
            err.print(plan.trimmed_note, soft_wrap=True, markup=False)
    shown = plan.rag.passages if plan.rag else ()
    ok = True
    for key in model:
        for name in plan.plans:
            result = results[name][key]
            ok = ok and result.ok
            cited = citations(result.text, shown) if name == "rag" else []
            if as_json:
                print(
                    json.dumps(
                        {"model": key, "mode": name, **result.to_json(), "cited": [vars(p) for p in cited]}
                    )
                )
            else:
                out.rule(f"{key} · {name}")
                # model output and file names are shown as written, never read as rich markup
                out.print(Text(result.text) if result.ok else Text(str(result.error), style="red"))
                for p in cited:
                    out.print(Text(f"[{p.number}] {p.source} · chunk {p.position + 1}", style="dim"))
    raise typer.Exit(EXIT_OK if ok else EXIT_FAILED)


def _run(comparison: Comparison) -> dict:
    return {e.result.model: e.result for e in comparison.events() if isinstance(e, Done)}
