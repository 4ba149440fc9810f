"""Saved evaluations, kept in the run history's database."""

from __future__ import annotations

from playground.storage.evals import EvalStore as EvaluationStore
from playground.storage.evals import StoredEval
from playground.storage.runs import Store

__all__ = ["EvaluationStore", "StoredEval", "evaluation_store"]


def evaluation_store(history: Store) -> EvaluationStore:
    """The evaluations kept beside `history`'s runs (same database, same engine)."""
    return EvaluationStore(history)
