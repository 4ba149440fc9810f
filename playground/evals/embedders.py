"""Embedding models compared on one collection: each candidate (and BM25) ranks the collection's chunks
for every question, scored by recall@1/5/10, MRR and nDCG@10 against the questions' gold with 95%
intervals, and timed and priced per 1,000 chunks; plus a 2-D projection of each model's vectors.

A candidate embeds every chunk of the collection (that is its latency and cost figure) into vectors kept
under a name of this comparison's own beside the collection's, searched by the database on the one vector
path (`CollectionStore.search`: sqlite-vec or pgvector), and deleted when it ends: the collection's own
vectors are never read or written. Metrics come from ir-measures (pytrec_eval); intervals from
`core.stats.mean_ci95` (Wilson for pass/fail values, Student's t otherwise), as Evaluate's.

Relevance is judged at the level the gold is given: a gold file is found by any of its chunks, a gold chunk
only by itself. A chunk's file counts once, at its best rank (the file's later chunks are not found again),
so recall@k is the share of a question's gold files and chunks among its k first chunks, and MRR the
inverse rank of the first chunk holding one.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal

import numpy as np

from playground.core.errors import UsageError
from playground.core.specs import ModelSpec
from playground.core.stats import mean_ci95
from playground.evals.questions import (
    GeneratedQuestions,
    GoldQuestion,
    QuestionSet,
    QuestionSource,
    UploadedQuestions,
    generate_questions,
    parse_questions,
)
from playground.rag.embedding import EmbedRun, embed_texts, embedding_model
from playground.rag.library import Library, bm25_index, bm25_ranking
from playground.storage.vectors import Collection, CollectionStore, StoredChunk

BM25 = "bm25"
DEPTH = 100  # chunks ranked per question: a gold chunk found later counts 0 in MRR
EMBEDDER_METRICS = ("recall@1", "recall@5", "recall@10", "MRR", "nDCG@10")
PER_THOUSAND = Decimal(1000)
Method = Literal["vector", "bm25"]


@dataclass(frozen=True)
class MetricEstimate:
    """A metric's mean over the questions and its 95% interval (None from fewer than 2 questions)."""

    mean: float | None
    low: float | None
    high: float | None

    def text(self) -> str:
        """'0.67 (0.21–0.94)', or the mean alone without an interval."""
        if self.mean is None:
            return "n/a"
        if self.low is None or self.high is None:
            return f"{self.mean:.2f}"
        return f"{self.mean:.2f} ({self.low:.2f}–{self.high:.2f})"


@dataclass(frozen=True)
class Judged:
    """A question with its gold found in the collection: the items that count as relevant."""

    question: GoldQuestion
    files: frozenset[str]  # gold files: any of their chunks finds them
    relevant: frozenset[str]  # "file:NAME" and "chunk:ID" items

    def items(self, ranking: Sequence[StoredChunk]) -> list[str]:
        """The ranking as items: a gold file's chunks count once (at the first), other chunks by id."""
        seen: set[str] = set()
        items = []
        for chunk in ranking:
            item = f"file:{chunk.document}" if chunk.document in self.files else f"chunk:{chunk.id}"
            items.append(f"again:{chunk.id}" if item in seen else item)
            seen.add(item)
        return items

    def first_gold(self, ranking: Sequence[StoredChunk]) -> int | None:
        """The rank (from 1) of the first chunk holding gold, or None when none of them does."""
        return next((n for n, item in enumerate(self.items(ranking), 1) if item in self.relevant), None)


@dataclass(frozen=True)
class EmbedderResult:
    """One candidate's figures on the questions, or why it could not be compared."""

    name: str  # the embedding model's key, or "bm25"
    method: Method
    chunks: int
    metrics: Mapping[str, MetricEstimate] = field(default_factory=dict)
    ranks: tuple[int | None, ...] = ()  # per question: the first gold chunk's rank (None: not in DEPTH)
    seconds: float | None = None  # embedding (BM25: indexing) the collection's chunks
    cost_usd: Decimal | None = None  # embedding the chunks
    cost_source: str = ""  # "local", "genai-prices:<date>", "override" or "unknown"
    token_source: str = ""
    spent_usd: Decimal | None = None  # chunks and questions
    error: str | None = None

    @property
    def ok(self) -> bool:
        """True when it was compared."""
        return self.error is None

    @property
    def seconds_per_1k(self) -> float | None:
        """Seconds to embed (index) 1,000 chunks, from this collection's."""
        return None if self.seconds is None or not self.chunks else self.seconds * 1000 / self.chunks

    @property
    def cost_per_1k(self) -> Decimal | None:
        """USD to embed 1,000 chunks, from this collection's; None for a local model or no known price."""
        return (
            None if self.cost_usd is None or not self.chunks else self.cost_usd * PER_THOUSAND / self.chunks
        )

    @property
    def cost_text(self) -> str:
        """'$0.000412', 'local' (no price: never $0), or 'unknown'."""
        if self.cost_per_1k is not None:
            return f"${self.cost_per_1k:.6f}"
        return "local" if self.cost_source == "local" else "unknown"


@dataclass(frozen=True)
class ChunkPoint:
    """A chunk in a 2-D projection of its model's vectors."""

    x: float
    y: float
    file: str
    position: int
    text: str


@dataclass(frozen=True)
class QuestionPoint:
    """A question in its model's projection, with the rank at which the model found its gold."""

    x: float
    y: float
    text: str
    label: str  # "uploaded" or "generated by MODEL"
    rank: int | None


@dataclass(frozen=True)
class Projection:
    """The first two principal components of one model's chunk vectors, with the questions placed on them."""

    embedder: str
    variance: tuple[float, float]  # share of the chunks' variance each axis holds
    chunks: tuple[ChunkPoint, ...]
    questions: tuple[QuestionPoint, ...]


@dataclass(frozen=True)
class EmbedderComparison:
    """Every candidate on one collection and one set of questions."""

    collection: str
    chunks: int
    questions: QuestionSet
    results: tuple[EmbedderResult, ...]
    projections: tuple[Projection, ...]

    @property
    def failed(self) -> tuple[EmbedderResult, ...]:
        """The candidates that could not be compared."""
        return tuple(r for r in self.results if not r.ok)

    def rows(self) -> list[dict[str, str]]:
        """One row of display text per candidate: each metric with its interval, speed and cost."""
        rows = []
        for r in self.results:
            row = {"embedder": r.name}
            row.update({name: r.metrics[name].text() if r.ok else "-" for name in EMBEDDER_METRICS})
            row["s / 1,000 chunks"] = "-" if r.seconds_per_1k is None else f"{r.seconds_per_1k:.3f}"
            row["cost / 1,000 chunks"] = r.cost_text if r.ok else "-"
            row["note"] = f"not compared: {r.error}" if r.error else r.cost_source
            rows.append(row)
        return rows

    def to_json(self) -> list[dict[str, Any]]:
        """One JSON-ready object per candidate (money as strings), each naming where the questions come from."""
        return [_result_json(self, result) for result in self.results]


def compare_embedders(
    library: Library,
    collection: str,
    source: QuestionSource,
    embedders: Sequence[str] = (),
    *,
    bm25: bool = True,
) -> EmbedderComparison:
    """Compare `embedders` (default: the collection's own) and BM25 on `collection` with the questions of
    `source`, as the library's user: every call is admitted under their limits and charged to them.
    UsageError for bad input, before anything is embedded; a candidate that fails while it runs (or that
    a limit refuses) is reported with its reason and the others are compared."""
    target = library.get(collection)
    chunks = library.chunks(target)
    if not chunks:
        raise UsageError(f"the collection {target.name!r} has no chunks yet: add documents first")
    specs = _candidates(library, list(embedders) or [target.embedder], bm25)
    questions = load_questions(library, chunks, source)
    judged = resolve_gold(questions.questions, chunks, target.name)
    results, projections = [], []
    for spec in specs:
        result, projection = _vector_candidate(library, target, chunks, judged, spec)
        results.append(result)
        if projection is not None:
            projections.append(projection)
    if bm25:
        results.append(_bm25_candidate(chunks, judged))
    return EmbedderComparison(target.name, len(chunks), questions, tuple(results), tuple(projections))


def load_questions(library: Library, chunks: Sequence[StoredChunk], source: QuestionSource) -> QuestionSet:
    """The questions of an uploaded file, written by a model from the chunks (as the library's user), or
    given as they are."""
    if isinstance(source, UploadedQuestions):
        return parse_questions(source.name, source.data)
    if isinstance(source, GeneratedQuestions):
        return generate_questions(library, chunks, source)
    return source


def _candidates(library: Library, keys: Sequence[str], bm25: bool) -> list[ModelSpec]:
    """The embedding models to compare, each once; UsageError for a key that is not one."""
    chosen = list(dict.fromkeys(k.strip() for k in keys if k.strip() and k.strip() != BM25))
    if not chosen and not bm25:
        raise UsageError("choose at least one embedding model, or keep BM25")
    return [library.spec(key) for key in chosen]


def resolve_gold(
    questions: Sequence[GoldQuestion], chunks: Sequence[StoredChunk], collection: str
) -> list[Judged]:
    """Each question's gold as items of the collection; UsageError naming every gold that is not in it."""
    by_id = {str(c.id): c for c in chunks}
    by_place = {f"{c.document}#{c.position + 1}": c for c in chunks}
    files = {c.document for c in chunks}
    judged, missing = [], []
    for question in questions:
        missing += [f"{question.where}: gold file {f!r}" for f in question.gold_files if f not in files]
        found = []
        for ref in question.gold_chunks:
            chunk = by_id.get(ref) or by_place.get(ref)
            if chunk is None:
                missing.append(f"{question.where}: gold chunk {ref!r}")
            else:
                found.append(chunk)
        gold_files = frozenset(question.gold_files)
        relevant = {f"file:{f}" for f in gold_files}
        relevant |= {f"chunk:{c.id}" for c in found if c.document not in gold_files}
        judged.append(Judged(question, gold_files, frozenset(relevant)))
    if missing:
        more = f" and {len(missing) - 5} more" if len(missing) > 5 else ""
        raise UsageError(
            f"not in the collection {collection!r}: "
            + "; ".join(missing[:5])
            + more
            + " (gold chunks are ids or "
            "FILE#N, the N-th chunk of FILE as search shows it; gold files are document names)"
        )
    if not judged:
        raise UsageError("there are no questions to compare with")
    return judged


def score_rankings(
    judged: Sequence[Judged], rankings: Sequence[Sequence[StoredChunk]]
) -> dict[str, MetricEstimate]:
    """recall@1/5/10, MRR and nDCG@10 of the rankings (one per question, best first), with intervals."""
    import ir_measures
    from ir_measures import RR, R, nDCG

    measures = {"recall@1": R @ 1, "recall@5": R @ 5, "recall@10": R @ 10, "MRR": RR, "nDCG@10": nDCG @ 10}
    qrels = [ir_measures.Qrel(str(q), item, 1) for q, j in enumerate(judged) for item in sorted(j.relevant)]
    run = [
        # Scores that fall with the rank: pytrec_eval sorts by score, and equal scores would be reordered.
        ir_measures.ScoredDoc(str(q), item, float(DEPTH - n))
        for q, (j, ranking) in enumerate(zip(judged, rankings, strict=True))
        for n, item in enumerate(j.items(ranking))
    ]
    names = {measure: name for name, measure in measures.items()}
    values = {name: [0.0] * len(judged) for name in measures}  # a question with nothing found scores 0
    for metric in ir_measures.iter_calc(list(measures.values()), qrels, run):
        values[names[metric.measure]][int(metric.query_id)] = float(metric.value)
    return {name: MetricEstimate(*mean_ci95(values[name])) for name in EMBEDDER_METRICS}


def _vector_candidate(
    library: Library,
    collection: Collection,
    chunks: Sequence[StoredChunk],
    judged: Sequence[Judged],
    spec: ModelSpec,
) -> tuple[EmbedderResult, Projection | None]:
    """One embedding model: embed the chunks and questions, search, score, project; or why it failed."""
    try:
        if problem := library.vector_problem():
            raise UsageError(f"vector search is not available here: {problem}")
        model = embedding_model(spec, library.keys)
        texts, questions = [c.text for c in chunks], [j.question.text for j in judged]
        # One admission for the chunks and the questions: a limit never stops it halfway, money spent.
        with library.payer(collection).admit(spec, texts + questions) as bill:
            indexed = embed_texts(spec, model, texts, bill)
            asked = embed_texts(spec, model, questions, bill)
        rankings = _vector_rankings(library.collections, collection, spec.key, chunks, indexed.vectors, asked)
    except UsageError as exc:  # an unusable model, a failed call, no vector search: this row only
        reason = str(exc).removeprefix(f"{spec.key}: ")  # the row names the model
        return EmbedderResult(spec.key, "vector", len(chunks), error=reason), None
    spent = None if indexed.cost_usd is None or asked.cost_usd is None else indexed.cost_usd + asked.cost_usd
    result = EmbedderResult(
        spec.key,
        "vector",
        len(chunks),
        score_rankings(judged, rankings),
        tuple(j.first_gold(r) for j, r in zip(judged, rankings, strict=True)),
        indexed.seconds,
        indexed.cost_usd,
        indexed.cost_source,
        indexed.token_source,
        spent,
    )
    return result, project(spec.key, indexed.vectors, asked.vectors, chunks, judged, result.ranks)


def _vector_rankings(
    store: CollectionStore,
    collection: Collection,
    key: str,
    chunks: Sequence[StoredChunk],
    vectors: np.ndarray,
    queries: EmbedRun,
) -> list[list[StoredChunk]]:
    """Each query's DEPTH nearest chunks, searched by the database among vectors stored for this
    comparison only (under a name of its own), which are deleted when it ends."""
    scratch = f"compare-{uuid.uuid4().hex[:12]}:{key}"[:200]
    try:
        store.add_vectors(collection, scratch, {c.id: v for c, v in zip(chunks, vectors, strict=True)})
        return [[hit.chunk for hit in store.search(collection, scratch, q, DEPTH)] for q in queries.vectors]
    finally:
        store.drop_vectors(collection, scratch)


def _bm25_candidate(chunks: Sequence[StoredChunk], judged: Sequence[Judged]) -> EmbedderResult:
    """BM25 (bm25s) over the chunks' texts: runs here, so its cost is "local"."""
    began = time.perf_counter()
    index = bm25_index([c.text for c in chunks])
    seconds = time.perf_counter() - began
    depth = min(DEPTH, len(chunks))
    rankings = [[chunks[i] for i, _ in bm25_ranking(index, j.question.text, depth)] for j in judged]
    return EmbedderResult(
        BM25,
        "bm25",
        len(chunks),
        score_rankings(judged, rankings),
        tuple(j.first_gold(r) for j, r in zip(judged, rankings, strict=True)),
        seconds,
        None,
        "local",
        "not counted",
    )


def project(
    embedder: str,
    vectors: np.ndarray,
    questions: np.ndarray,
    chunks: Sequence[StoredChunk],
    judged: Sequence[Judged],
    ranks: Sequence[int | None],
) -> Projection:
    """The chunks on their vectors' first two principal components, and the questions placed with the same
    centring and axes. PCA is numpy's SVD of the centred vectors (what PCA is); scikit-learn would add
    tens of megabytes for these lines."""
    centre = vectors.mean(axis=0)
    _, singular, axes = np.linalg.svd(vectors - centre, full_matrices=False)
    axes = np.vstack([axes[:2], np.zeros((max(0, 2 - len(axes)), vectors.shape[1]))])  # one chunk: one axis
    variance = singular**2
    share = variance[:2] / variance.sum() if variance.sum() > 0 else np.zeros(2)
    share = np.pad(share, (0, 2 - len(share)))
    placed, asked = (vectors - centre) @ axes.T, (questions - centre) @ axes.T
    return Projection(
        embedder,
        (float(share[0]), float(share[1])),
        tuple(
            ChunkPoint(float(x), float(y), c.document, c.position, c.text[:200])
            for (x, y), c in zip(placed, chunks, strict=True)
        ),
        tuple(
            QuestionPoint(float(x), float(y), j.question.text, j.question.label, rank)
            for (x, y), j, rank in zip(asked, judged, ranks, strict=True)
        ),
    )


def _result_json(comparison: EmbedderComparison, result: EmbedderResult) -> dict[str, Any]:
    questions = comparison.questions
    return {
        "embedder": result.name,
        "method": result.method,
        "collection": comparison.collection,
        "chunks": result.chunks,
        "questions": {
            "count": len(questions.questions),
            "source": questions.label,
            "generated_by": list(questions.generated_by),
            "eval_id": questions.eval_id,
        },
        "metrics": {name: vars(m) for name, m in result.metrics.items()},
        "seconds_per_1k_chunks": result.seconds_per_1k,
        "cost_per_1k_chunks_usd": None if result.cost_per_1k is None else str(result.cost_per_1k),
        "cost_per_1k_chunks": result.cost_text,
        "cost_source": result.cost_source,
        "token_source": result.token_source,
        "spent_usd": None if result.spent_usd is None else str(result.spent_usd),
        "per_question": [  # empty for a candidate that could not be compared
            {"question": q.text, "label": q.label, "first_gold_rank": rank}
            for q, rank in zip(questions.questions, result.ranks, strict=False)
        ],
        "error": result.error,
    }
