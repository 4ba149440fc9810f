"""Embedding texts with any embedding model, timed and priced in one place (as the runner does for chat).

Vectors come back L2-normalised float32, so a dot product is their cosine similarity and every store and
comparison reads them the same way. Tokens are the server's count when it reports one, else counted with
tiktoken (labelled, as the chat figures are).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import cast

import numpy as np

from playground.core.errors import UsageError
from playground.core.policy import LOCAL_USER, User
from playground.core.results import CallError, RunResult
from playground.core.specs import ModelSpec
from playground.engine.preflight import estimate_embedding
from playground.engine.pricing import cost_of
from playground.engine.registry import Keys, build_provider
from playground.engine.tokens import estimator_for
from playground.hosting.billing import Bill
from playground.hosting.gate import Ask, Gate, default_gate
from playground.storage.runs import Store
from providers.base import EmbeddingModel
from providers.errors import ProviderError

BATCH = 64  # texts per call: OpenAI takes up to 2048 inputs, but one failure then costs less to redo
EMBED_CALL = "embed"  # the usage ledger's kind for an embedding call


@dataclass(frozen=True)
class Payer:
    """Who pays for embedding calls, and for what: every call is charged to `user` in `store`'s usage
    ledger (kind "embed", `ref_id`: the collection's or the evaluation's id), and a hosted model's calls are
    first admitted by `gate` (default: the process's one) under the user's limits and daily budget."""

    user: User = LOCAL_USER
    store: Store | None = None
    gate: Gate | None = None
    ref_id: str = ""

    def admit(self, spec: ModelSpec, texts: Sequence[str]) -> Bill:
        """A bill for embedding `texts` with `spec`. A hosted model's maximum cost is checked against the
        user's limits and held until the bill is closed: LimitExceededError, naming the limit, before
        anything is sent. A local model costs nothing and needs no admission."""
        gate = self.gate or default_gate()
        ask = None if spec.is_local or not gate.policy.enabled else self._ask(spec, texts)
        return Bill.open(gate, ask, EMBED_CALL, self.user, self.store, self.ref_id)

    @staticmethod
    def _ask(spec: ModelSpec, texts: Sequence[str]) -> Ask:
        found = estimate_embedding(spec, texts)
        return Ask(
            what="embedding",
            calls=math.ceil(len(texts) / BATCH),
            max_tokens=0,
            max_cost_usd=found.max_cost_usd or Decimal(0),
            unpriced=(spec.key,) if found.max_cost_usd is None else (),
            detail=f"{len(texts)} text{'' if len(texts) == 1 else 's'} with {spec.key}",
        )


@dataclass(frozen=True)
class EmbedRun:
    """Vectors for texts (rows in their order), and what it took: seconds, tokens and cost, with sources."""

    model: str
    vectors: np.ndarray  # (n, dims) float32, each row of length 1
    seconds: float
    input_tokens: int | None  # None: not counted (a local model: nothing to price)
    token_source: str  # "reported", "estimated:<encoding>", or "not counted"
    cost_usd: Decimal | None
    cost_source: str

    @property
    def per_second(self) -> float | None:
        """Texts embedded per second of calls."""
        return len(self.vectors) / self.seconds if self.seconds > 0 else None


class EmbeddingError(UsageError):
    """An embedding model that cannot be used, or a call that failed; the message names the model."""


def embedding_model(spec: ModelSpec, keys: Keys | None = None) -> EmbeddingModel:
    """The adapter serving `spec` (an embeddings model), loaded; EmbeddingError if it cannot be."""
    if spec.task != "embeddings":
        raise EmbeddingError(f"{spec.key} is a {spec.task} model, not an embedding model")
    try:
        model = cast(EmbeddingModel, build_provider(spec, keys))
        model.prepare()
    except ProviderError as exc:
        raise EmbeddingError(f"{spec.key}: {exc.message}") from exc
    return model


def embed_texts(
    spec: ModelSpec, model: EmbeddingModel, texts: Sequence[str], bill: Bill, batch: int = BATCH
) -> EmbedRun:
    """Embed `texts` in batches under `bill` (from `Payer.admit`), timing only the calls and charging
    each; EmbeddingError names the model and the failure."""
    batches: list[np.ndarray] = []
    calls: list[RunResult] = []
    for start in range(0, len(texts), batch):
        part = list(texts[start : start + batch])
        began = time.perf_counter()
        try:
            out = model.embed(part)
        except ProviderError as exc:
            bill.charge(
                _call(spec, part, time.perf_counter() - began, None, CallError(exc.kind, exc.message))
            )
            raise EmbeddingError(f"{spec.key}: {exc.message}") from exc
        calls.append(_call(spec, part, time.perf_counter() - began, out.input_tokens))
        bill.charge(calls[-1])
        batches.append(np.asarray(out.vectors, dtype=np.float32).reshape(len(part), -1))
    vectors = np.vstack(batches) if batches else np.zeros((0, 0), dtype=np.float32)
    return _run(spec, _normalised(vectors), calls)


def _call(
    spec: ModelSpec,
    texts: Sequence[str],
    seconds: float,
    reported: int | None,
    error: CallError | None = None,
) -> RunResult:
    """One embedding call as the ledger and the totals read it: its seconds, tokens and cost."""
    tokens, source = _tokens(spec, texts, reported) if error is None else (None, None)
    cost, cost_source = cost_of(spec, tokens, 0)
    return RunResult(
        spec.key,
        total_s=seconds,
        input_tokens=tokens,
        output_tokens=0,
        usage_source=source,
        cost_usd=cost,
        cost_source=cost_source,
        attempts=1,
        error=error,
    )


def _run(spec: ModelSpec, vectors: np.ndarray, calls: Sequence[RunResult]) -> EmbedRun:
    """The calls' totals: seconds, tokens and cost summed exactly (None when one is unknown)."""
    if not calls:  # nothing to embed: no call, nothing spent
        tokens, source = _tokens(spec, [], None)
        return EmbedRun(spec.key, vectors, 0.0, tokens, source, *cost_of(spec, tokens, 0))
    counts = [c.input_tokens for c in calls]
    costs = [c.cost_usd for c in calls]
    sources = sorted({c.usage_source or "not counted" for c in calls})
    return EmbedRun(
        spec.key,
        vectors,
        sum(c.total_s or 0.0 for c in calls),
        None if None in counts else sum(cast(list[int], counts)),
        " + ".join(sources),
        None if None in costs else sum(cast(list[Decimal], costs), Decimal(0)),
        calls[0].cost_source,
    )


class Ranking:
    """Each text's other texts, most similar first, by cosine similarity of their vectors (computed per
    row when asked: a dataset of n rows never holds an n × n matrix)."""

    def __init__(self, vectors: np.ndarray) -> None:
        self.vectors = vectors

    def __len__(self) -> int:
        return len(self.vectors)

    def __getitem__(self, index: int) -> list[int]:
        similarity = self.vectors @ self.vectors[index]
        return [int(i) for i in np.argsort(-similarity, kind="stable")]


def similarity_ranker(
    spec: ModelSpec, payer: Payer, keys: Keys | None = None
) -> Callable[[Sequence[str]], Ranking]:
    """A function ranking texts by similarity with `spec` (few-shot prompting's `similar` examples), its
    calls admitted and charged as `payer`'s."""
    model = embedding_model(spec, keys)

    def rank(texts: Sequence[str]) -> Ranking:
        with payer.admit(spec, texts) as bill:
            return Ranking(embed_texts(spec, model, list(texts), bill).vectors)

    return rank


def _tokens(spec: ModelSpec, texts: Sequence[str], reported: int | None) -> tuple[int | None, str]:
    if reported is not None:
        return reported, "reported"
    if spec.is_local:
        return None, "not counted"  # no price to compute, and counting costs as much as embedding
    estimator = estimator_for(spec.model)
    return sum(estimator.count_text(t) for t in texts), f"estimated:{estimator.name}"


def _normalised(matrix: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return matrix / np.where(norms == 0, 1, norms)
