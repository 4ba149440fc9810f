"""History: every saved run, filter, open read-only, re-run, delete, export."""

from __future__ import annotations

from datetime import datetime, time

import pandas as pd
import streamlit as st

from pages.common import state
from pages.common.ui import (
    current_user,
    database_answers,
    history_owner,
    page_shell,
    render_stored_run,
    shared_store,
    specs,
)
from playground.compare import CompareForm, StoredRun, runs_to_csv, runs_to_json
from playground.evals import evaluation_store

page_shell("pages/history.py")

st.title("History")
store = shared_store()
owner = history_owner()  # hosted mode: only this user's own runs and evaluations
with database_answers():
    evaluations = evaluation_store(store).list(owner=owner)
if evaluations:
    with st.expander(f"Evaluations ({len(evaluations)})"):
        st.dataframe(
            [
                {
                    "when": e.created_at.strftime("%Y-%m-%d %H:%M:%S"),
                    "dataset": e.name,
                    "models": ", ".join(e.models),
                    "answers": f"{e.done}/{e.total}",
                    "status": "complete" if e.done >= e.total else "stopped: can resume",
                }
                for e in evaluations
            ],
            hide_index=True,
        )
        picked = st.selectbox(
            "Evaluation",
            [e.id for e in evaluations],
            key="h-eval",
            format_func=lambda i: next(
                f"{e.created_at:%Y-%m-%d %H:%M} · {e.name}" for e in evaluations if e.id == i
            ),
        )
        if st.button("Open in Evaluate", key="h-eval-open"):
            state.open_evaluation_next(picked)
            st.switch_page("pages/evaluate.py")
f1, f2, f3 = st.columns(3)
model_filter = f1.text_input("Model (part of its key)", key="h-model", placeholder="gemma")
text_filter = f2.text_input("Search prompt and answers", key="h-text")
since = f3.date_input("Since", value=None, key="h-since")
filtered = bool(model_filter or text_filter or since)
with database_answers():
    runs = store.list_runs(
        model=model_filter or None,
        text=text_filter or None,
        since=datetime.combine(since, time.min).astimezone() if since else None,
        owner=owner,
    )
    any_runs = bool(runs) or (filtered and bool(store.list_runs(owner=owner, limit=1)))
if not runs:
    st.info(
        "No runs match these filters." if any_runs else "No runs yet: run a comparison on the Compare page."
    )
    st.stop()


def turn_label(run: StoredRun, listed: dict[str, StoredRun]) -> str:
    """ "1" for a run that starts a conversation, "3 (follows 1a2b3c4d)" for a follow-up."""
    number, parent = 1, run.parent_id
    while parent is not None and parent in listed:
        number, parent = number + 1, listed[parent].parent_id
    if run.parent_id is None:
        return "1"
    return f"{number if parent is None else f'{number}+'} (follows {run.parent_id[:8]})"


listed = {run.id: run for run in runs}
table = pd.DataFrame(
    [
        {
            "id": run.id[:8],
            "turn": turn_label(run, listed),
            "when": run.created_at.strftime("%Y-%m-%d %H:%M:%S"),
            "prompt": run.prompt[:80],
            "models": ", ".join(run.models),
            "status": run.state,
            "answers": f"{len(run.models) - len(run.unanswered)}/{len(run.models)}",
            "errors": sum(
                1 for r in run.results if r.error and r.error.kind not in ("running", "interrupted")
            ),
        }
        for run in runs
    ]
)
st.dataframe(table, hide_index=True)
st.caption("id: the first 8 characters of the run's id; its share link holds the whole id.")
e1, e2 = st.columns(2)
e1.download_button("Export CSV", runs_to_csv(runs), "runs.csv", "text/csv", key="export-csv")
e2.download_button("Export JSON", runs_to_json(runs), "runs.json", "application/json", key="export-json")

chosen = st.selectbox(
    "Open a run",
    [run.id for run in runs],
    key="h-open",
    format_func=lambda i: next(
        f"{r.created_at:%Y-%m-%d %H:%M} · {r.id[:8]} · {r.prompt[:60]}" for r in runs if r.id == i
    ),
)
with database_answers():
    run = store.get_run(chosen)
if run is not None:
    render_stored_run(run)
    a1, a2 = st.columns(2)
    if run.kind == "compare" and a1.button("Re-run on Compare", key="h-rerun"):
        state.prefill_compare(CompareForm.from_run(run, specs()))
        st.switch_page("pages/compare.py")
    with database_answers():
        later = store.follow_ups(run.id)
    if run.state == "running" or any(f.state == "running" for f in later):
        a2.caption(
            ("Still running" if run.state == "running" else "A follow-up of it is still running")
            + ": it can be deleted once it ends."
        )
    elif run.owner == current_user().id and a2.button(
        "Delete this run" + (f" and its {len(later)} follow-up(s)" if later else ""), key="h-delete"
    ):
        with database_answers():
            store.delete_run(run.id, owner=current_user().id)  # only its owner's, even if the page was forged
        st.rerun()
