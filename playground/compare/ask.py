"""Ask: one question answered by each chosen model twice, with and without what retrieval found in a collection.

Retrieval runs once (the collection's embedding model, or BM25), then each mode is an ordinary comparison
(saved in History, with "View code"): `plain` sends the question alone, `rag` sends it after the retrieved
passages, fenced as untrusted data (rag.prompting). The passages that fit the smallest context window of
the chosen models (with room for their answers) are kept; the lowest-scored go first, and the plan says so.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from playground.compare.service import Plan, plan_comparison
from playground.core.errors import UsageError
from playground.core.params import Params
from playground.core.specs import ModelSpec
from playground.engine.registry import Keys
from playground.rag.library import Library, SearchMethod
from playground.rag.prompting import Passage, RagPrompt, rag_prompt
from playground.rag.retrieval import fits_window

AskMode = Literal["rag", "plain", "both"]
ASK_MODES: tuple[AskMode, ...] = ("both", "rag", "plain")


@dataclass(frozen=True)
class AskPlan:
    """What an ask will send: the passages found, the retrieval prompt, and a comparison per mode."""

    question: str
    passages: tuple[Passage, ...]
    rag: RagPrompt | None
    plans: dict[str, Plan]  # "plain" and/or "rag"

    @property
    def trimmed_note(self) -> str | None:
        """What the page and CLI say when passages were dropped to fit, or None."""
        if self.rag is None or not self.rag.dropped:
            return None
        gone = ", ".join(f"[{p.number}]" for p in sorted(self.rag.dropped, key=lambda p: p.number))
        return (
            f"{len(self.rag.dropped)} of {len(self.passages)} passages did not fit the smallest context window "
            f"of the chosen models and were left out, lowest scores first: {gone}"
        )


def plan_ask(
    question: str,
    model_keys: Sequence[str],
    specs: Mapping[str, ModelSpec],
    library: Library,
    collection: str,
    *,
    k: int = 5,
    mode: AskMode = "both",
    method: SearchMethod = "vector",
    params: Params | None = None,
    keys: Keys | None = None,
) -> AskPlan:
    """Retrieve, build the prompts and plan a comparison per mode; UsageError on any bad input."""
    if mode not in ASK_MODES:
        raise UsageError(f"mode is one of {', '.join(ASK_MODES)}, not {mode!r}")
    if not question.strip():
        raise UsageError("the question is empty: type something to ask")
    params = params or Params()
    passages = tuple(library.search(library.get(collection), question, k, method))
    chosen = [specs[key] for key in model_keys if key in specs]
    rag = (
        rag_prompt(question, passages, lambda text: fits_window(text, chosen, params))
        if mode != "plain"
        else None
    )
    prompts = {"plain": question} if mode != "rag" else {}
    if rag is not None:
        prompts["rag"] = rag.text
    plans = {
        name: plan_comparison(text, model_keys, specs, params=params, keys=keys)
        for name, text in prompts.items()
    }
    return AskPlan(question, passages, rag, plans)
