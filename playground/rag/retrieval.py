"""Retrieval for prompts built elsewhere (an evaluation's rows, an Ask): search one collection the same way
for every question, and put what was found in front of it within a model's context window."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from playground.core.params import DEFAULT_MAX_TOKENS, Params
from playground.core.specs import ModelSpec
from playground.engine.tokens import estimator_for
from playground.rag.library import Library, SearchMethod
from playground.rag.prompting import Passage, rag_prompt
from playground.storage.vectors import Collection

# Room left in the context window beyond the estimate: tiktoken's count is not every model's own.
ESTIMATE_MARGIN = 1.1


def fits_window(text: str, specs: Sequence[ModelSpec], params: Params) -> bool:
    """True when `text` and the longest answer fit every model's context window (where it is known)."""
    answer = params.max_tokens or DEFAULT_MAX_TOKENS
    for spec in specs:
        if spec.context_window is None:
            continue
        if estimator_for(spec.model).count_text(text) * ESTIMATE_MARGIN + answer > spec.context_window:
            return False
    return True


@dataclass(frozen=True)
class Retrieval:
    """One collection, searched for `k` chunks by `method`, for every question asked of it."""

    library: Library
    collection: Collection
    k: int = 5
    method: SearchMethod = "vector"

    def search(self, question: str) -> tuple[Passage, ...]:
        """The chunks found for `question`, best first."""
        return tuple(self.library.search(self.collection, question, self.k, self.method))

    def prompt(self, question: str, passages: Sequence[Passage], spec: ModelSpec, params: Params) -> str:
        """`question` after the passages that fit `spec`'s context window (lowest scores dropped first)."""
        return rag_prompt(question, passages, lambda text: fits_window(text, [spec], params)).text
