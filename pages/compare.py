"""Compare: one prompt to several models at once, live side by side, with figures and charts."""

from __future__ import annotations

import streamlit as st

from pages.common import state
from pages.common.ui import (
    current_user,
    database_answers,
    gate,
    keyring,
    page_shell,
    render_answer,
    render_charts,
    render_code,
    render_stored_run,
    shared_store,
    specs,
)
from playground.compare import (
    CompareForm,
    Comparison,
    UsageError,
    plan_comparison,
    results_to_json,
    word_diff_markdown,
)
from playground.core import (
    OVERRIDE_LIMITS,
    Params,
    RunResult,
    is_run_id,
    overrides_from_rows,
    plain,
    safe_markdown,
)
from playground.engine import Delta, Done, Waiting, usability

page_shell("pages/compare.py")

# Redraw each live column at most this often: one redraw per token swamps a small machine's browser.
LIVE_REDRAW_S = 0.1


def waiting_caption(event: Waiting) -> str:
    """What a live column says before its first token."""
    if event.cooling_s:
        return f"waiting {event.cooling_s:.0f} s: its server asked to slow down (429)"
    if event.ahead:
        return f"queued ({event.ahead} ahead): this model is answering other calls first"
    return "waiting for the first token…"


def show_shared_run(run_id: str) -> None:
    """A run opened from a share link: read-only, from the store."""
    if not is_run_id(run_id):
        st.error("This share link holds no run id (32 hexadecimal characters).")
        return
    with database_answers():
        run = shared_store().get_run(run_id)
    if run is None:
        st.error(f"No run {run_id} in the history.")
        return
    st.subheader("Shared run (read-only)")
    render_stored_run(run)


def show_unsaved(last: state.LastRun) -> None:
    """Say which answers the database had not confirmed, and offer them for download now."""
    models = ", ".join(sorted({r.model for r in last.unsaved}))
    st.warning(
        plain(
            f"Not saved yet: the history database did not answer in time ({models}). The app keeps trying "
            "and saves them when it is back; download them now to be sure."
        )
    )
    st.download_button(
        "Download these answers (JSON)",
        results_to_json(last.results),
        f"run-{last.run_id}.json",
        "application/json",
        key="unsaved-json",
    )


def show_results(results: list[RunResult], order: list[str]) -> None:
    """Answers side by side with figures, then charts and the answer diff."""
    first = {r.model: r for r in results if r.repeat_index == 0}
    keys = [k for k in order if k in first]
    for column, key in zip(st.columns(max(len(keys), 1)), keys, strict=False):
        with column:
            st.markdown(f"#### {plain(key)}")
            render_answer(first[key])
    render_charts(results)
    answered = [k for k in keys if first[k].text]
    if len(answered) >= 2:
        with st.expander("Compare two answers (word diff)"):
            left, right = st.columns(2)
            a = left.selectbox("First answer", answered, index=0, key="diff-a")
            b = right.selectbox("Second answer", answered, index=1, key="diff-b")
            st.markdown(word_diff_markdown(first[a].text, first[b].text))
            st.caption(
                f"{a}: {len(first[a].text)} characters, {first[a].output_tokens} tokens ({first[a].usage_source}) · "
                f"{b}: {len(first[b].text)} characters, {first[b].output_tokens} tokens ({first[b].usage_source})"
            )


shared = st.query_params.get("run")
if shared:
    show_shared_run(shared)
    st.stop()

st.title("Compare models")
all_specs = specs()
keys = keyring()
usable = {key: usability(spec, keys) for key, spec in all_specs.items()}
# Models that answer prompts; embedding models are for Documents.
options = sorted(
    (k for k in all_specs if all_specs[k].generates_text), key=lambda k: (all_specs[k].provider, k)
)


def label(key: str) -> str:
    ok, why = usable[key]
    return f"{all_specs[key].provider} · {key}" + ("" if ok else f" — unusable: {why}")


# Defaults are passed to the widgets themselves (History's re-run and the Catalog may also set these
# keys; Streamlit then logs a one-time warning). Defaults kept only in session state made the browser
# sometimes send back the widgets' own minimums (no models, temperature 0, 1 token) on a quick rerun.
FORM = CompareForm()
prompt = st.text_area("Prompt", key="prompt", height=120, placeholder="Name three colors")
system = st.text_area("System prompt (optional)", key="system", height=68)
chosen = st.multiselect(
    "Models",
    options,
    default=[k for k in FORM.models if k in usable and usable[k][0]],
    format_func=label,
    key="models",
)
c1, c2, c3, c4, c5 = st.columns(5)
temperature = c1.slider("Temperature", 0.0, 2.0, FORM.temperature, 0.05, key="temperature")
top_p = c2.slider("Top p", 0.0, 1.0, FORM.top_p, 0.05, key="top_p")
max_tokens = c3.number_input("Max tokens", 1, 32768, FORM.max_tokens, key="max_tokens")
seed = c4.number_input("Seed (-1 = none)", -1, 2**31 - 1, FORM.seed, key="seed")
repeat = c5.number_input("Repeat k", 1, 20, FORM.repeat, key="repeat")

per_model: dict[str, dict[str, object]] = {}
if st.toggle("Different parameters per model", key="per-model-on") and chosen:
    st.caption("Blank cells use the shared value above.")
    start = state.per_model_start()
    edited = st.data_editor(
        [{"model": k, **{n: start.get(k, {}).get(n) for n in OVERRIDE_LIMITS}} for k in chosen],
        column_config={
            "model": st.column_config.TextColumn("Model", disabled=True),
            **{
                name: st.column_config.NumberColumn(name, min_value=low, max_value=high)
                for name, (low, high) in OVERRIDE_LIMITS.items()
            },
        },
        hide_index=True,
        key=f"per-model-{'-'.join(chosen)}",
    )
    try:
        per_model = overrides_from_rows(edited.to_dict("records") if hasattr(edited, "to_dict") else edited)
    except ValueError as exc:
        st.error(plain(str(exc)))

blocked = [k for k in chosen if not usable[k][0]]
plan = None
if blocked:
    st.warning(plain("; ".join(f"{k}: {usable[k][1]}" for k in blocked)))
elif prompt.strip() and chosen:
    try:
        plan = plan_comparison(
            prompt,
            chosen,
            all_specs,
            system=system or None,
            params=Params(
                temperature=temperature,
                top_p=top_p,
                max_tokens=int(max_tokens),
                seed=None if seed < 0 else int(seed),
            ),
            per_model=per_model,
            keys=keys,
        )
    except UsageError as exc:
        st.error(plain(str(exc)))
if plan is not None:
    rows = [
        {
            "model": m.spec.key,
            "input tokens": m.estimate.input_tokens,
            "counted by": m.estimate.input_counted_by,
            "max output tokens": m.estimate.max_output_tokens,
            "max cost (USD)": str(m.estimate.max_cost_usd) if m.estimate.max_cost_usd is not None else "n/a",
            "price source": m.estimate.cost_source,
            "context window": m.estimate.context_window,
        }
        for m in plan.models
        if m.estimate is not None
    ]
    with st.expander(f"Before running: {plan.summary()}"):
        st.dataframe(rows, hide_index=True)  # a list of rows: pandas loads only when this shows

run_clicked = st.button("Run", type="primary", disabled=plan is None, key="run")

active = state.active_comparison()
if active is not None and not run_clicked:
    # The previous script run was interrupted (Stop, or any widget change): stop its models and show
    # what they saved, partial text included.
    state.set_last_results(active, active.cancel_and_collect())

comparison = None
if run_clicked and plan is not None:
    try:  # admitted under the user's limits and budget (hosted mode) before anything is sent
        comparison = Comparison(plan, shared_store(), repeat=int(repeat), user=current_user(), gate=gate())
    except UsageError as exc:
        st.error(plain(str(exc)))
if comparison is not None:
    state.set_active_comparison(comparison)
    st.button("Stop", key="stop")
    order = comparison.order
    placeholders = {}
    texts = {key: "" for key in order}
    for column, key in zip(st.columns(len(order)), order, strict=True):
        with column:
            st.markdown(f"#### {plain(key)}")
            placeholders[key] = st.empty()
            placeholders[key].caption("waiting for the first token…")
    results: list[RunResult] = []
    try:
        for event in comparison.events(every_s=LIVE_REDRAW_S):
            if isinstance(event, Waiting) and event.repeat_index == 0 and not texts[event.model]:
                placeholders[event.model].caption(waiting_caption(event))
            elif isinstance(event, Delta) and event.repeat_index == 0:
                texts[event.model] += event.text
                placeholders[event.model].markdown(safe_markdown(texts[event.model]) + " ▌")
            elif isinstance(event, Done):
                results.append(event.result)
                if event.result.repeat_index == 0:
                    with placeholders[event.model].container():
                        render_answer(event.result)
    finally:
        comparison.cancel()  # a no-op when all finished; stops the rest if this run is interrupted
    state.set_active_comparison(None)
    state.set_last_results(comparison, results)
    st.rerun()

last = state.last_results()
if last is not None:
    st.divider()
    if last.unsaved:
        show_unsaved(last)
    else:
        st.caption(f"Run saved · share link: `?run={last.run_id}`")
    show_results(last.results, last.order)
    render_code(last.run_id, all_specs)
