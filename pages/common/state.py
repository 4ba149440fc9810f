"""This browser session's state, in one typed place: what one page leaves for another to read.

Widget keys are Streamlit's own state; the names here are the ones pages share, so no page spells
another's keys.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import streamlit as st

from playground.compare import CompareForm

if TYPE_CHECKING:
    from playground.core import ModelSpec

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
    "deadline_s": "deadline",
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


# The query parameter that keeps the session's current run in the page's address: a reload, or the same
# address in a new tab, finds the run again (still going or ended).
CURRENT_RUN_PARAM = "current"


def current_run_id() -> str | None:
    """The comparison this session ran last (running or ended), from the session or the address."""
    kept = st.session_state.get("current-run")
    if kept and st.query_params.get(CURRENT_RUN_PARAM) != kept:
        # Another page cleared the address: put it back, so a reload still finds the run.
        st.query_params[CURRENT_RUN_PARAM] = kept
    return kept or st.query_params.get(CURRENT_RUN_PARAM)


def set_current_run(run_id: str | None) -> None:
    """Make `run_id` the session's current comparison, in the session and in the page's address."""
    if run_id is None:
        st.session_state.pop("current-run", None)
        st.query_params.pop(CURRENT_RUN_PARAM, None)
    else:
        st.session_state["current-run"] = run_id
        st.query_params[CURRENT_RUN_PARAM] = run_id


def open_evaluation_next(eval_id: str) -> None:
    """Ask the Evaluate page to open this evaluation when it next draws."""
    st.session_state["ev-open-next"] = eval_id


def take_evaluation_to_open() -> str | None:
    """The evaluation another page asked Evaluate to open, once."""
    return st.session_state.pop("ev-open-next", None)
