"""Embedding texts with any embedding model, timed and priced in one place (as the runner does for chat).

Vectors come back L2-normalised float32, so a dot product is their cosine similarity and every store and
comparison reads them the same way. Tokens are the server's count when it reports one, else counted with
tiktoken (labelled, as the chat figures are).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import cast

import numpy as np

from playground.core.errors import UsageError
from playground.core.specs import ModelSpec
from playground.engine.pricing import cost_of
from playground.engine.registry import Keys, build_provider
from playground.engine.tokens import estimator_for
from providers.base import EmbeddingModel
from providers.errors import ProviderError

BATCH = 64  # texts per call: OpenAI takes up to 2048 inputs, but one failure then costs less to redo


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


def embed_texts(spec: ModelSpec, model: EmbeddingModel, texts: Sequence[str], batch: int = BATCH) -> EmbedRun:
    """Embed `texts` in batches, timing only the calls; EmbeddingError names the model and the failure."""
    batches: list[np.ndarray] = []
    seconds, reported = 0.0, 0
    all_reported = True
    for start in range(0, len(texts), batch):
        part = list(texts[start : start + batch])
        began = time.perf_counter()
        try:
            out = model.embed(part)
        except ProviderError as exc:
            raise EmbeddingError(f"{spec.key}: {exc.message}") from exc
        seconds += time.perf_counter() - began
        batches.append(np.asarray(out.vectors, dtype=np.float32).reshape(len(part), -1))
        if out.input_tokens is None:
            all_reported = False
        else:
            reported += out.input_tokens
    tokens, source = _tokens(spec, texts, reported if all_reported and texts else None)
    cost, cost_source = cost_of(spec, tokens, 0)
    vectors = np.vstack(batches) if batches else np.zeros((0, 0), dtype=np.float32)
    return EmbedRun(spec.key, _normalised(vectors), seconds, tokens, source, cost, cost_source)


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


def similarity_ranker(spec: ModelSpec, keys: Keys | None = None) -> Callable[[Sequence[str]], Ranking]:
    """A function ranking texts by similarity with `spec` (few-shot prompting's `similar` examples)."""
    model = embedding_model(spec, keys)
    return lambda texts: Ranking(embed_texts(spec, model, list(texts)).vectors)


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
