"""Shared pieces of the Streamlit pages: session state, cached resources, result rendering."""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Literal

import streamlit as st

from pages.common import state
from playground.core import (
    LOCAL_USER,
    Chart,
    ChartNote,
    HostedPolicy,
    ModelSpec,
    RunResult,
    User,
    load_specs,
    metrics_line,
    plain,
    safe_markdown,
)
from playground.engine import Keyring

if TYPE_CHECKING:
    from playground.compare import Conversation, RunHistory, StoredRun
    from playground.hosting import Gate


SHELL_FLAG = "_app_shell"
WANTED_PAGE = "_wanted_page"
WANTED_QUERY = "_wanted_query"


def page_shell(page_path: str) -> None:
    """Send a page run that bypassed app.py back through it, keeping the page asked for.

    On a fresh server, Streamlit treats a `pages/` folder next to the main script as a legacy
    multipage app until `st.navigation` has run once, so a first request to a deep link (/history)
    would run that page alone, without the app's config, navigation and (hosted mode) sign-in.
    """
    if not st.session_state.get(SHELL_FLAG) or access_refused() is not None:
        st.session_state[WANTED_PAGE] = page_path
        # A switch drops the query (a join link's ?arena=, a share link's ?run=): it is kept to go along.
        st.session_state[WANTED_QUERY] = st.query_params.to_dict()
        st.switch_page("app.py")


@st.cache_resource
def _store_for(url: str) -> RunHistory:
    from playground.compare import open_history  # sqlalchemy loads on first use, not on first page load

    return open_history(url)


def shared_store() -> RunHistory:
    """One history (engine, pool and writer) per database URL, shared by every session; it holds no keys.

    A database that cannot be used stops the page with one message naming the setting (it is tried
    again on the next page load)."""
    from playground.compare import StoreUnavailableError, history_url

    try:
        return _store_for(history_url())
    except StoreUnavailableError as exc:
        st.error(plain(f"The history database cannot be used, so nothing can be saved: {exc}"))
        st.stop()


@contextmanager
def database_answers(stop: bool = True) -> Iterator[None]:
    """Around a read from the history: if the database is not answering, say so (and stop the page when
    it cannot go on without the read) instead of failing with a traceback."""
    from playground.compare import StoreUnavailableError

    try:
        yield
    except StoreUnavailableError as exc:
        st.error(plain(f"The history database cannot be used just now: {exc}"))
        if stop:
            st.stop()


def keyring() -> Keyring:
    """This session's own keys, and the server's environment: the registry decides which may go where
    (and, in hosted mode, which URLs the egress guard lets a visitor's calls reach)."""
    policy = hosted_policy()
    return Keyring(visitor=state.api_keys(), server=os.environ, egress=policy.egress(), hosted=policy.enabled)


def hosted_policy() -> HostedPolicy:
    """This server's hosted-mode settings, read from its environment once (HostingConfigError if bad)."""
    return gate().policy


def gate() -> Gate:
    """The one admission gate of this server process, shared by every session (and by every run that
    is not given another)."""
    from playground.hosting import default_gate

    return default_gate()


def server_options() -> dict[str, object]:
    """The Streamlit options the hardening check reads, as this server runs with them."""
    from playground.hosting import CHECKED_OPTIONS

    return {name: st.get_option(name) for name in CHECKED_OPTIONS}


def auth_settings() -> dict[str, object] | None:
    """The [auth] section of the secrets (None when there is no secrets file or no section)."""
    try:
        auth = st.secrets.get("auth")
    except (FileNotFoundError, KeyError, ValueError):
        return None
    return dict(auth) if auth else None


def access_refused() -> Literal["hardening", "login"] | None:
    """Why this session may not use the app now (hosted mode only): "hardening" while the server's
    settings are unsafe (hardening_problems says which), "login" until the visitor signs in; else None."""
    from playground.hosting import hardening_problems

    if not hosted_policy().enabled:
        return None
    if hardening_problems(server_options(), auth_settings()):
        return "hardening"
    return None if st.user.is_logged_in else "login"


def current_user() -> User:
    """Who this session is: the signed-in user in hosted mode (app.py made sure there is one)."""
    if not hosted_policy().enabled:
        return LOCAL_USER
    return User.from_claims(st.user)


def history_owner() -> str | None:
    """Whose runs and evaluations this session lists: only the user's own in hosted mode; all in a local app."""
    return current_user().id if hosted_policy().enabled else None


def specs() -> dict[str, ModelSpec]:
    """Built-in and file models, the local LoRAs tuned on this machine, and this session's custom
    endpoints."""
    from playground.lora import with_tuned_models

    merged = with_tuned_models(dict(load_specs()))
    merged.update(state.custom_specs())
    return merged


def render_answer(result: RunResult) -> None:
    """One model's answer, error and figures (each labelled with its source)."""
    if result.text:
        st.markdown(safe_markdown(result.text))
    if result.error:
        st.error(plain(str(result.error)))
    st.caption(plain(metrics_line(result)))


def render_answer_columns(
    models: Sequence[str],
    results: Sequence[RunResult],
    *,
    heading: str = "####",
    missing: str | None = "no answer saved",
) -> None:
    """Each model's answer (its first repeat) side by side under its key; a model with none says `missing`."""
    first = {r.model: r for r in results if r.repeat_index == 0}
    for column, key in zip(st.columns(max(len(models), 1)), models, strict=False):
        with column:
            st.markdown(f"{heading} {plain(key)}")
            if key in first:
                render_answer(first[key])
            elif missing:
                st.caption(missing)


def render_charts(results: Sequence[RunResult], order: Sequence[str] = ()) -> None:
    """The comparison charts for a set of results (models in `order`, the answers' columns), and the spread
    table of repeated runs."""
    from playground.compare import charts  # plotly is imported only once there is something to chart

    render_chart_grid(charts.comparison_charts(results, order), "compare")
    if any(r.repeat_index > 0 for r in results):
        from playground.compare import spread_rows

        st.caption("Over the repeated runs:")
        st.dataframe(spread_rows(results), hide_index=True, key="repeat-spread")


def render_chart_grid(charts: Sequence[Chart | ChartNote], key: str, columns: int = 2) -> None:
    """Figures `columns` to a row, each with its caption and the models it leaves out (as text: model keys may
    come from users); then the lines that stand in for charts with nothing to show, in one `<key>-chart-notes`."""
    figures = [c for c in charts if isinstance(c, Chart)]
    for start in range(0, len(figures), columns):
        for column, chart in zip(st.columns(columns), figures[start : start + columns], strict=False):
            with column:
                st.plotly_chart(chart.figure, key=chart.key, theme=None, config={"displaylogo": False})
                st.caption(plain(chart.caption))
                if chart.left_out:
                    with st.container(key=f"{chart.key}-left-out"):
                        st.caption(plain(chart.left_out))
    notes = [c for c in charts if isinstance(c, ChartNote)]
    if notes:
        with st.container(key=f"{key}-chart-notes"):
            for note in notes:
                st.info(plain(note.text))


def render_stored_run(run: StoredRun) -> None:
    """A saved run as History and share links open it: its state, the conversation's earlier turns, its
    prompt, parameters, answers side by side (a model that saved nothing says so), charts and "View code"."""
    from playground.compare import Conversation, describe_stored_params

    if run.kind != "compare":  # a speech or image comparison, with its files
        from pages.common.media import render_kept

        render_kept(run)
        return
    if note := run.state_note():
        (st.info if run.state == "running" else st.warning)(plain(note))
    conversation = open_conversation(run.id) if run.parent_id else None
    if conversation is not None and len(conversation.turns) > 1:
        render_earlier_turns(Conversation(conversation.turns[:-1]), run.prompt)
    else:
        conversation = None
        if run.system:
            st.markdown(f"**System:** {plain(run.system)}")
        st.markdown(f"**Prompt:** {plain(run.prompt)}")
    st.caption(plain(f"Parameters: {describe_stored_params(run.params)} · share link: ?run={run.id}"))
    missing = "no answer saved" + (" yet" if run.state == "running" else "")
    render_answer_columns(run.models, run.results, missing=missing)
    render_charts(run.results, run.models)
    if conversation is not None:
        render_conversation_totals(conversation)
    render_code(run, specs(), conversation)


def open_conversation(run_id: str) -> Conversation | None:
    """The conversation `run_id` ends, from the history (None if the database cannot say just now)."""
    from playground.compare import Conversation

    with database_answers(stop=False):
        turns = shared_store().conversation(run_id)
        return Conversation(turns) if turns else None
    return None


def render_earlier_turns(earlier: Conversation, next_prompt: str) -> None:
    """The turns before the one shown next (every turn of `earlier`): each prompt, then every model's
    answer and figures; then the next turn's prompt."""
    if earlier.system:
        st.markdown(f"**System:** {plain(earlier.system)}")
    for number, run in enumerate(earlier.turns, start=1):
        st.markdown(f"**Turn {number}:** {plain(run.prompt)}")
        render_answer_columns(run.models, run.results, heading="######")
    st.markdown(f"**Turn {len(earlier.turns) + 1}:** {plain(next_prompt)}")


def render_conversation_totals(conversation: Conversation) -> None:
    """Each model's tokens and cost over the whole conversation (a later turn resends the earlier ones)."""
    if len(conversation.turns) < 2:
        return
    st.caption(
        plain(
            f"Conversation so far ({len(conversation.turns)} turns; each turn resends the earlier ones): "
            + " · ".join(f"{t.model}: {t.line()}" for t in conversation.totals())
        )
    )


def render_code(
    run: StoredRun, known: dict[str, ModelSpec], conversation: Conversation | None = None
) -> None:
    """ "View code": per model, a snippet that repeats exactly the call a stored run made (with the
    `conversation` it ends, the earlier turns included, as they were sent)."""
    from playground.compare import curl_snippet, python_snippet, replay_requests

    with st.expander("View code"):
        st.caption("Keys are read from environment variables; set them before running a snippet.")
        for spec, request in replay_requests(run, known, conversation):
            st.markdown(f"**{plain(spec.key)}**")
            st.code(python_snippet(spec, request), language="python")
            curl = curl_snippet(spec, request)
            if curl:
                st.code(curl, language="bash")
