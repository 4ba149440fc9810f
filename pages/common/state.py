"""This browser session's state, in one typed place: what one page leaves for another to read.

Widget keys are Streamlit's own state; the names here are the ones pages share, so no page spells
another's keys.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import streamlit as st

from playground.compare import CompareForm

if TYPE_CHECKING:
    from playground.compare import Comparison
    from playground.core import ModelSpec, RunResult

# The Compare page's widget keys, by CompareForm field.
COMPARE_WIDGETS = {
    "prompt": "prompt",
    "system": "system",
    "models": "models",
    "temperature": "temperature",
    "top_p": "top_p",
    "max_tokens": "max_tokens",
    "seed": "seed",
    "repeat": "repeat",
}
_PER_MODEL_ON, _PER_MODEL_START = "per-model-on", "per-model-start"


def api_keys() -> dict[str, str]:
    """API keys typed in Settings, kept only in this session."""
    return st.session_state.setdefault("api_keys", {})


def custom_specs() -> dict[str, ModelSpec]:
    """Models this session added (Settings endpoints, Hub finds)."""
    return st.session_state.setdefault("custom_specs", {})


def prefill_compare(form: CompareForm) -> None:
    """Fill the Compare page's widgets from `form` (before the page draws them)."""
    for name, key in COMPARE_WIDGETS.items():
        value = getattr(form, name)
        st.session_state[key] = list(value) if isinstance(value, tuple) else value
    st.session_state[_PER_MODEL_ON] = bool(form.per_model)
    st.session_state[_PER_MODEL_START] = dict(form.per_model)


def choose_compare_models(models: list[str]) -> None:
    """Preselect models on the Compare page (the Catalog's "Compare selected")."""
    st.session_state[COMPARE_WIDGETS["models"]] = models


def per_model_start() -> dict[str, dict[str, object]]:
    """Per-model overrides a re-run brought in, to start the overrides table from."""
    return st.session_state.get(_PER_MODEL_START, {})


def active_comparison() -> Comparison | None:
    """Take the comparison the previous script run left going (it was interrupted), if any."""
    return st.session_state.pop("active", None)


def set_active_comparison(comparison: Comparison | None) -> None:
    """Remember the running comparison, so the next script run can stop and collect it."""
    if comparison is None:
        st.session_state.pop("active", None)
    else:
        st.session_state["active"] = comparison


@dataclass(frozen=True)
class LastRun:
    """The last comparison of this session, as Compare shows it under the form."""

    results: list[RunResult]
    order: list[str]  # the models' keys in the order they were chosen
    run_id: str | None
    unsaved: list[RunResult]  # answers the database had not confirmed when the run ended


def last_results() -> LastRun | None:
    """The last comparison's results (what Compare shows under the form)."""
    return st.session_state.get("last")


def set_last_results(comparison: Comparison, results: list[RunResult]) -> None:
    """Keep a comparison's results so reruns redraw them without calling any model."""
    st.session_state["last"] = LastRun(results, comparison.order, comparison.run_id, list(comparison.unsaved))


def open_evaluation_next(eval_id: str) -> None:
    """Ask the Evaluate page to open this evaluation when it next draws."""
    st.session_state["ev-open-next"] = eval_id


def take_evaluation_to_open() -> str | None:
    """The evaluation another page asked Evaluate to open, once."""
    return st.session_state.pop("ev-open-next", None)
