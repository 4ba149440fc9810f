"""Compare: one prompt to several models at once, live side by side, with figures and charts."""

from __future__ import annotations

import streamlit as st

from pages.common import state
from pages.common.ui import (
    current_user,
    database_answers,
    gate,
    keyring,
    open_conversation,
    page_shell,
    render_answer,
    render_answer_columns,
    render_charts,
    render_code,
    render_conversation_totals,
    render_earlier_turns,
    render_stored_run,
    shared_store,
    specs,
)
from playground.compare import (
    CompareForm,
    Comparison,
    Conversation,
    ExpectedTime,
    LiveSnapshot,
    Plan,
    UsageError,
    live_runs,
    plan_comparison,
    plan_follow_up,
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
from playground.engine import Waiting, usability

page_shell("pages/compare.py")

# Redraw the live columns this often: one redraw per token swamps a small machine's browser.
LIVE_REDRAW_S = 0.25


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


def show_unsaved(snapshot: LiveSnapshot) -> None:
    """Say which answers the database had not confirmed, and offer them for download now."""
    models = ", ".join(sorted({r.model for r in snapshot.unsaved}))
    st.warning(
        plain(
            f"Not saved yet: the history database did not answer in time ({models}). The app keeps trying "
            "and saves them when it is back; download them now to be sure."
        )
    )
    st.download_button(
        "Download these answers (JSON)",
        results_to_json(snapshot.results),
        f"run-{snapshot.run_id}.json",
        "application/json",
        key="unsaved-json",
    )


def show_results(results: list[RunResult], order: list[str]) -> None:
    """Answers side by side with figures, then charts and the answer diff."""
    first = {r.model: r for r in results if r.repeat_index == 0}
    keys = [k for k in order if k in first]
    render_answer_columns(keys, results)
    render_charts(results, order)
    answered = [k for k in keys if first[k].text]
    if len(answered) >= 2:
        with st.expander("Compare two answers (word diff)"):
            left, right = st.columns(2)
            a = left.selectbox("First answer", answered, index=0, key="diff-a")
            b = right.selectbox("Second answer", answered, index=1, key="diff-b")
            st.markdown(word_diff_markdown(first[a].text, first[b].text))
            st.caption(
                plain(
                    f"{a}: {len(first[a].text)} characters, {first[a].output_tokens} tokens "
                    f"({first[a].usage_source}) · {b}: {len(first[b].text)} characters, "
                    f"{first[b].output_tokens} tokens ({first[b].usage_source})"
                )
            )


def widget_start(key: str, **initial: object) -> dict[str, object]:
    """A widget's starting value, unless the session already holds one for it (put there by the Catalog,
    by History's re-run, or by the widget itself): a widget given both makes Streamlit log a warning."""
    return {} if key in st.session_state else initial


def run_blocker(
    prompt: str, chosen: list[str], plan_ready: bool, running: bool, too_slow: list[ExpectedTime]
) -> str | None:
    """Why Run cannot be pressed now (None: it can)."""
    if running:
        return "A run is going: wait for it to end, or press Stop."
    if not chosen:
        return "Choose at least one model to run."
    if not prompt.strip():
        return "Type a prompt to run."
    if not plan_ready:
        return "Fix what is said above to run."
    if too_slow:  # it would hold the model (a local one: for everyone) until its deadline, then fail
        return "Shorten the prompt or the max tokens, or raise the deadline, to run."
    return None


def show_plan(plan: Plan) -> list[ExpectedTime]:
    """What the run will send and cost, and how long each model should take here, before running;
    the models that would pass their deadline."""
    times = {t.model: t for t in plan.expected_times(shared_store())}
    rows = [
        {
            "model": m.spec.key,
            "input tokens": m.estimate.input_tokens,
            "counted by": m.estimate.input_counted_by,
            "max output tokens": m.estimate.max_output_tokens,
            "max cost (USD)": str(m.estimate.max_cost_usd) if m.estimate.max_cost_usd is not None else "n/a",
            "price source": m.estimate.cost_source,
            "context window": m.estimate.context_window,
            "expected time": times[m.spec.key].text(),
            "deadline (s)": f"{times[m.spec.key].deadline_s:g}",
            "time measured from": times[m.spec.key].source,
        }
        for m in plan.models
        if m.estimate is not None
    ]
    with st.expander(plain(f"Before running: {plan.summary()}")):
        st.dataframe(rows, hide_index=True)  # a list of rows: pandas loads only when this shows
    too_slow = [t for t in times.values() if t.too_slow]
    for slow in too_slow:
        st.warning(
            plain(
                f"{slow.model} should take {slow.text()} ({slow.source}), past its {slow.deadline_s:g} s "
                "deadline: shorten the prompt or the max tokens, or raise the deadline."
            )
        )
    return too_slow


@st.fragment(run_every=LIVE_REDRAW_S)
def follow_live(run_id: str) -> None:
    """The live columns of a run going in the server, redrawn from memory until it ends."""
    live = live_runs().get(run_id, current_user().id)
    snapshot = live.snapshot() if live is not None else None
    if live is None or snapshot is None or snapshot.finished:
        st.rerun()  # the whole page redraws with the results and charts
        return
    st.button("Stop", key="stop", on_click=live.stop)
    for column, live_column in zip(st.columns(len(snapshot.columns)), snapshot.columns, strict=True):
        with column:
            st.markdown(f"#### {plain(live_column.model)}")
            if live_column.result is not None:
                render_answer(live_column.result)
            elif live_column.text:
                st.markdown(safe_markdown(live_column.text) + " ▌")
            elif live_column.waiting is not None:
                st.caption(waiting_caption(live_column.waiting))
            else:
                st.caption("waiting for the first token…")


def show_current(run_id: str) -> None:
    """The session's current run: the conversation's earlier turns, then the run live while it goes,
    then its results (from memory, else the store) and a follow-up box."""
    live = live_runs().get(run_id, current_user().id)
    snapshot = live.snapshot() if live is not None else None
    parent = live.comparison.plan.parent_id if live is not None else None
    prompt = live.comparison.plan.prompt if live is not None else ""
    if snapshot is None:
        with database_answers():
            stored = shared_store().get_run(run_id)
        if stored is None or stored.owner != current_user().id:
            state.set_current_run(None)  # not this user's, or deleted: nothing to show
            return
        if stored.state != "finished":  # another server process runs it, or it was interrupted
            st.divider()
            render_stored_run(stored)
            return
        snapshot = LiveSnapshot(stored.id, stored.models, [], stored.results, [], True)
        parent, prompt = stored.parent_id, stored.prompt
    st.divider()
    if parent and (earlier := open_conversation(parent)) is not None:
        render_earlier_turns(earlier, prompt)
    if not snapshot.finished:
        follow_live(run_id)
        return
    if snapshot.failed:
        st.error(plain(f"This run broke off and some answers may be missing: {snapshot.failed}"))
    if snapshot.unsaved:
        show_unsaved(snapshot)
    else:
        st.caption(f"Run saved · share link: `?run={snapshot.run_id}`")
    show_results(snapshot.results, snapshot.order)
    conversation = open_conversation(snapshot.run_id) if snapshot.run_id else None
    if conversation is None:  # the database is not answering: the answers above are all there is
        return
    render_code(conversation.last, all_specs, conversation if parent else None)
    if not snapshot.unsaved:
        render_conversation_totals(conversation)
        follow_up(conversation)


def follow_up(conversation: Conversation) -> None:
    """A next prompt for every model of the conversation; each continues with its own earlier answers."""
    going, left_out = conversation.continuing(all_specs)
    text = st.text_area(
        "Follow up",
        key=f"follow-up-{conversation.last.id}",  # a fresh box for each turn
        height=80,
        placeholder="A next question: each model continues its own conversation",
    )
    for key, why in left_out.items():
        st.caption(plain(f"{key} will not continue: {why}"))
    if not st.button("Follow up", key="follow-up", disabled=not (text.strip() and going)):
        return
    user = current_user()
    try:
        plan = plan_follow_up(conversation, text, all_specs, keys=keys, timeout_s=deadline)
        comparison = Comparison(plan, shared_store(), user=user, gate=gate())
    except UsageError as exc:  # past a context window (with the numbers), limits, a model gone
        st.error(plain(str(exc)))
        return
    state.set_current_run(live_runs().start(comparison, user.id).run_id)
    st.rerun()


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


FORM = CompareForm()
prompt = st.text_area("Prompt", key="prompt", height=120, placeholder="Name three colors")
system = st.text_area("System prompt (optional)", key="system", height=68)
chosen = st.multiselect(
    "Models",
    options,
    format_func=label,
    key="models",
    **widget_start("models", default=[k for k in FORM.models if k in usable and usable[k][0]]),
)
c1, c2, c3, c4, c5, c6 = st.columns(6)
temperature = c1.slider(
    "Temperature",
    0.0,
    2.0,
    step=0.05,
    key="temperature",
    **widget_start("temperature", value=FORM.temperature),
)
top_p = c2.slider("Top p", 0.0, 1.0, step=0.05, key="top_p", **widget_start("top_p", value=FORM.top_p))
max_tokens = c3.number_input(
    "Max tokens", 1, 32768, key="max_tokens", **widget_start("max_tokens", value=FORM.max_tokens)
)
seed = c4.number_input("Seed (-1 = none)", -1, 2**31 - 1, key="seed", **widget_start("seed", value=FORM.seed))
repeat = c5.number_input("Repeat k", 1, 20, key="repeat", **widget_start("repeat", value=FORM.repeat))
deadline = c6.number_input(
    "Deadline per call (s)",
    1.0,
    3600.0,
    step=10.0,
    key="deadline",
    placeholder="each model's own",
    help="How long one call may take before it is ended (blank: each model's own deadline).",
    **widget_start("deadline", value=FORM.deadline_s),
)

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
            timeout_s=deadline,
        )
    except UsageError as exc:
        st.error(plain(str(exc)))
too_slow = show_plan(plan) if plan is not None else []

user = current_user()
current = state.current_run_id()
if current is not None and not is_run_id(current):  # the address is the user's to edit: ignore junk
    state.set_current_run(None)
    current = None
going = live_runs().get(current, user.id) if current else None
blocker = run_blocker(
    prompt, chosen, plan is not None, going is not None and not going.snapshot().finished, too_slow
)
# One click makes one run. A click names the button it was made on, and the button's key names the run
# the page showed: a second click of a double-click, drawn before the first one's run began but handled
# after that run ended (a short run, a slow page), presses a button that is no longer drawn, so nothing
# starts. A click while the run goes is dropped by the blocker.
run_key = f"run-{current}" if current else "run"
if st.button("Run", type="primary", disabled=blocker is not None, key=run_key, help=blocker) and not blocker:
    try:  # admitted under the user's limits and budget (hosted mode) before anything is sent
        comparison = Comparison(plan, shared_store(), repeat=int(repeat), user=user, gate=gate())
    except UsageError as exc:
        st.error(plain(str(exc)))
    else:
        # No Streamlit call between starting and remembering the run: a rerun cannot cut in here.
        state.set_current_run(live_runs().start(comparison, user.id).run_id)
        st.rerun()  # redraw with Run greyed out while the run goes
if blocker:
    st.caption(blocker)
if current:
    show_current(current)
