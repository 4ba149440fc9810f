"""Arena: create a blind arena and run it (join link, QR code, leaderboard, close, reset, export); with
?arena=<id> (the join link), a participant's view: battle two hidden models, follow up, vote."""

from __future__ import annotations

import streamlit as st

from pages.common.arena_view import (
    OWNER_KEY_STATE,
    arena_owner,
    arena_service,
    device,
    page_url,
    render_join,
    render_standings,
)
from pages.common.ui import current_user, database_answers, hosted_policy, page_shell
from playground.arena import (
    DEFAULT_VOTES_PER_MINUTE,
    JOIN_PARAM,
    TIE_CONVENTION,
    Arenas,
    ArenaSetup,
    BattleTurn,
    BattleView,
    SideDone,
    SideText,
    UsageError,
    join_link,
)
from playground.core import DEFAULT_MAX_TOKENS, plain, safe_markdown

page_shell("pages/arena.py")

# Redraw each live column at most this often (as Compare does).
LIVE_REDRAW_S = 0.1
OWN_PROMPT = "(write my own prompt)"
VOTES = {"model_a": "A is better", "model_b": "B is better", "tie": "Tie", "tie (bothbad)": "Both are bad"}
SIDE_NAMES = {"a": "Model A", "b": "Model B"}


def _me_key(arena_id: str) -> str:
    return f"arena-me-{arena_id}"


def _battle_key(arena_id: str) -> str:
    return f"arena-battle-{arena_id}"


# --- a participant ---------------------------------------------------------------------------------------
def join_form(arenas: Arenas, arena_id: str) -> None:
    """Join with a display name (local app), or as the signed-in user (hosted mode)."""
    hosted = hosted_policy().enabled
    if hosted:
        st.write(plain(f"You join as {current_user().name}, the signed-in user."))
        name = ""
    else:
        name = st.text_input("Your display name", max_chars=100, key="arena-name")
    if st.button("Join", type="primary", key="arena-join"):
        try:
            participant = arenas.join(arena_id, name, current_user(), device())
        except UsageError as exc:
            st.error(plain(str(exc)))
            return
        st.session_state[_me_key(arena_id)] = participant.id
        st.rerun()


def prompt_input(prompts: tuple[str, ...], key: str) -> str:
    """The prompt: one of the arena's own, or the participant's."""
    if prompts:
        chosen = st.selectbox("Prompt", [*prompts, OWN_PROMPT], key=f"{key}-pick")
        if chosen != OWN_PROMPT:
            return chosen
    return st.text_area("Your prompt", key=key, height=90, placeholder="Ask both models something")


def stream_turn(turn: BattleTurn, prompt: str) -> None:
    """Both sides answering live, side by side, as Model A and Model B (each side says the same while it
    waits, whether its model is queued, cooling down or just slow: a difference would tell them apart)."""
    st.markdown(f"**You:** {plain(prompt.strip())}")
    columns = dict(zip(("a", "b"), st.columns(2), strict=True))
    holders = {side: column.empty() for side, column in columns.items()}
    texts = {"a": "", "b": ""}
    for holder in holders.values():
        holder.caption("waiting for the first token…")
    for event in turn.events(every_s=LIVE_REDRAW_S):
        if isinstance(event, SideText):
            texts[event.side] += event.text
            holders[event.side].markdown(safe_markdown(texts[event.side]) + " ▌")
        elif isinstance(event, SideDone):
            holders[event.side].markdown(safe_markdown(event.text))
    st.rerun()


def show_turns(view: BattleView) -> None:
    """Every turn so far: the prompt, then both answers (blind)."""
    heads = st.columns(2)
    for side, head in zip(("a", "b"), heads, strict=True):
        head.subheader(SIDE_NAMES[side])
    for turn in view.turns:
        st.markdown(f"**You:** {plain(turn.prompt)}")
        for side, answer, column in zip(("a", "b"), (turn.a, turn.b), st.columns(2), strict=True):
            with column:
                if answer.text:
                    st.markdown(safe_markdown(answer.text))
                if answer.answering:
                    st.caption("still answering…")
                elif answer.failed:
                    st.error(
                        plain(
                            f"{SIDE_NAMES[side]} could not answer ({answer.failed}): this battle cannot be voted on."
                        )
                    )


@st.fragment(run_every=1.0)
def wait_for_answers(arenas: Arenas, battle_id: str, participant_id: str) -> None:
    """While answers of an interrupted page run finish in the background, look once a second."""
    with database_answers(stop=False):
        if not arenas.view(battle_id, participant_id, current_user()).answering:
            st.rerun(scope="app")


def vote_and_follow_up(arenas: Arenas, view: BattleView, participant_id: str) -> None:
    """The vote buttons, and a follow-up turn for both models."""
    st.markdown("**Which answer is better?** The models' names show after you vote.")
    for (winner, label), column in zip(VOTES.items(), st.columns(len(VOTES)), strict=True):
        if column.button(label, key=f"vote-{winner}", use_container_width=True):
            try:
                arenas.vote(view.battle_id, participant_id, winner, current_user())  # type: ignore[arg-type]
            except UsageError as exc:
                st.error(plain(str(exc)))
            else:
                st.rerun()
    with st.expander("Ask both a follow-up before voting"):
        follow = st.text_area("Follow-up", key="arena-follow", height=70)
        if st.button("Send follow-up", key="arena-follow-send"):
            try:
                turn = arenas.follow_up(view.battle_id, participant_id, follow, current_user())
            except UsageError as exc:
                st.error(plain(str(exc)))
            else:
                stream_turn(turn, follow)


def show_reveal(view: BattleView) -> None:
    """Who was who, the vote, and each answer's figures."""
    reveal = view.reveal
    assert reveal is not None
    if reveal.winner:
        st.success(plain(f"Your vote: {VOTES[reveal.winner]}."))
    else:
        st.warning(plain(view.why_not_votable or "This battle cannot be voted on."))
    for side, model, figures in (
        ("a", reveal.model_a, reveal.figures_a),
        ("b", reveal.model_b, reveal.figures_b),
    ):
        st.markdown(f"**{SIDE_NAMES[side]} was {plain(model)}**")
        for number, line in enumerate(figures, 1):
            st.caption(plain(f"turn {number}: {line}"))


def battle_section(arenas: Arenas, arena_id: str, participant_id: str, battle_id: str) -> None:
    """The participant's current battle: its turns, then vote / follow up, or who was who."""
    try:
        view = arenas.view(battle_id, participant_id, current_user())
    except UsageError as exc:  # reset by the owner meanwhile
        st.session_state.pop(_battle_key(arena_id), None)
        st.warning(plain(str(exc)))
        return
    show_turns(view)
    if view.answering:
        wait_for_answers(arenas, battle_id, participant_id)
    elif view.reveal is not None:
        show_reveal(view)
    elif view.votable:
        vote_and_follow_up(arenas, view, participant_id)
    # Always offered: a battle may also be skipped (answers still coming go on and are saved unvoted).
    finished = view.reveal is not None or (not view.votable and not view.answering)
    if st.button("New battle", type="primary" if finished else "secondary", key="arena-next"):
        st.session_state.pop(_battle_key(arena_id), None)
        st.rerun()


def new_battle(arenas: Arenas, arena_id: str, participant_id: str, prompts: tuple[str, ...]) -> None:
    """A prompt for two models drawn from the pool, answered live."""
    prompt = prompt_input(prompts, "arena-prompt")
    if st.button("Start battle", type="primary", key="arena-start"):
        try:
            turn = arenas.start_battle(arena_id, participant_id, prompt, current_user())
        except UsageError as exc:
            st.error(plain(str(exc)))
            return
        st.session_state[_battle_key(arena_id)] = turn.battle_id
        stream_turn(turn, prompt)


def participant_view(arenas: Arenas, arena_id: str) -> None:
    """What the join link opens."""
    try:
        with database_answers():
            arena = arenas.get(arena_id)
    except UsageError as exc:
        st.error(plain(str(exc)))
        return
    st.title(plain(f"Arena: {arena.name}"))
    st.caption("Two models answer your prompt as Model A and Model B; their names show after you vote.")
    if not arena.is_open:
        st.warning("This arena is closed: its owner stopped taking battles and votes.")
    participant_id = st.session_state.get(_me_key(arena.id))
    if participant_id is None:
        if arena.is_open:
            join_form(arenas, arena.id)
        return
    battle_id = st.session_state.get(_battle_key(arena.id))
    if battle_id is not None:
        battle_section(arenas, arena.id, participant_id, battle_id)
    elif arena.is_open:
        new_battle(arenas, arena.id, participant_id, arena.prompts)


# --- the owner -------------------------------------------------------------------------------------------
def create_form(arenas: Arenas) -> None:
    """Name, pool, optional prompts and limits; the new arena is selected below."""
    options = {o.key: o for o in arenas.pool_options()}
    with st.form("arena-create"):
        name = st.text_input("Name", max_chars=200, key="arena-new-name")
        models = st.multiselect(
            "Pool of models (two or more; the server's models and keys)",
            list(options),
            format_func=lambda k: k if options[k].usable else f"{k} — unusable: {options[k].why}",
            key="arena-new-models",
        )
        prompts = st.text_area(
            "Prompts to offer (optional, one per line)", key="arena-new-prompts", height=90
        )
        left, right = st.columns(2)
        per_minute = left.number_input("Votes per minute per participant", 1, 600, DEFAULT_VOTES_PER_MINUTE)
        max_tokens = right.number_input("Max tokens per answer", 1, 32768, DEFAULT_MAX_TOKENS)
        created = st.form_submit_button("Create arena", type="primary")
    if created:
        setup = ArenaSetup(name, tuple(models), tuple(prompts.splitlines()), int(per_minute), int(max_tokens))
        try:
            arena = arenas.create(setup, arena_owner())
        except UsageError as exc:
            st.error(plain(str(exc)))
            return
        st.session_state["arena-open"] = arena.id
        st.session_state["arena-pick"] = arena.id  # "Your arenas" below shows the new one
        st.success(plain(f"Arena {arena.name!r} created: share its join link."))


def owner_controls(arenas: Arenas, arena_id: str, is_open: bool) -> None:
    """Close or reopen, reset (confirmed), and export the votes."""
    user = arena_owner()
    c1, c2, c3, c4 = st.columns(4)
    try:
        if is_open and c1.button("Close arena", key="arena-close"):
            arenas.close(arena_id, user)
            st.rerun()
        if not is_open and c1.button("Reopen arena", key="arena-reopen"):
            arenas.reopen(arena_id, user)
            st.rerun()
        sure = c2.checkbox("Yes, delete every vote", key="arena-reset-sure")
        if c2.button("Reset votes", key="arena-reset", disabled=not sure):
            st.success(f"Deleted {arenas.reset(arena_id, user)} votes and their battles.")
        c3.download_button(
            "Export CSV", arenas.export(arena_id, user, "csv"), "arena-votes.csv", "text/csv", key="arena-csv"
        )
        c4.download_button(
            "Export JSON (vote log)",
            arenas.export(arena_id, user, "jsonl"),
            "arena-votes.jsonl",
            "application/jsonl",
            key="arena-jsonl",
        )
    except UsageError as exc:
        st.error(plain(str(exc)))


def address_form(arenas: Arenas, arena_id: str, saved: str) -> None:
    """The app's address as participants reach it (the join link and QR code use it)."""
    with st.form("arena-address-form"):
        address = st.text_input(
            "The app's address as participants reach it (optional)",
            value=saved,
            placeholder="http://192.168.1.20:8501",
            help="Blank: the address this page was opened with. Phones cannot reach localhost.",
            key=f"arena-address-{arena_id}",
        )
        if st.form_submit_button("Save address"):
            try:
                arenas.set_address(arena_id, arena_owner(), address)
            except UsageError as exc:
                st.error(plain(str(exc)))
            else:
                st.rerun()


def owned_arena(arenas: Arenas) -> None:
    """One of the user's arenas: join link and QR, counts, controls, leaderboard."""
    owner = arena_owner()
    with database_answers():
        owned = arenas.owned(owner)
    if not owned:
        st.caption("No arena yet: create one above.")
        return
    ids = [a.id for a in owned]
    if st.session_state.get("arena-pick") not in ids:  # none picked yet, or it was deleted
        st.session_state["arena-pick"] = ids[0]
    names = {
        a.id: f"{a.name} · {'open' if a.is_open else 'closed'} · {a.created_at:%Y-%m-%d %H:%M}" for a in owned
    }
    arena_id = st.selectbox("Your arenas", ids, format_func=names.get, key="arena-pick")
    arena = next(a for a in owned if a.id == arena_id)
    address_form(arenas, arena.id, arena.address or "")
    link = join_link(arena.id, page_url(), arena.address)
    left, right = st.columns([1, 2])
    with left:
        render_join(link)
    with right:
        st.markdown(f"**Pool:** {plain(', '.join(arena.models))}")
        st.page_link(
            "pages/arena_presenter.py", label="Open the presenter view", query_params={JOIN_PARAM: arena.id}
        )
        owner_controls(arenas, arena.id, arena.is_open)
    with database_answers():
        standings = arenas.standings(arena.id, viewer=owner)
    st.metric(
        "Votes",
        standings.activity.votes,
        help=f"{standings.activity.participants} joined, {standings.activity.battles} battles",
    )
    render_standings(standings)


def owner_key_section(arenas: Arenas) -> None:
    """A local app: this session's owner key, to keep, and a key from another session to use here."""
    with st.expander("Owner key: manage your arenas after a reload or from another tab"):
        st.caption(
            "In a local app anyone who opens this page can make arenas, so an arena is managed only from "
            "the browser tab that made it, which holds this key. Keep it to manage your arenas after a "
            "reload or in another tab. Anyone who has it can close, reset and export them: do not show it "
            "on a projector."
        )
        st.code(st.session_state[OWNER_KEY_STATE], language=None)
        with st.form("arena-owner-key-form"):
            typed = st.text_input("Use an owner key", type="password", key="arena-owner-key-typed")
            if st.form_submit_button("Use this key"):
                try:
                    arenas.owner_for_key(typed)
                except UsageError as exc:
                    st.error(plain(str(exc)))
                else:
                    st.session_state[OWNER_KEY_STATE] = typed.strip()
                    st.session_state.pop("arena-pick", None)
                    st.rerun()


arena_param = st.query_params.get(JOIN_PARAM)
service = arena_service()
if arena_param:
    participant_view(service, arena_param)
    st.stop()
st.title("Arena")
st.caption(
    plain(
        "Participants join from a link or QR code, get one prompt answered by two models of the pool shown as "
        f"Model A and Model B, may follow up, then vote; names show after the vote. {TIE_CONVENTION.capitalize()}."
    )
)
with st.expander("Create an arena", expanded=not st.session_state.get("arena-open")):
    create_form(service)
owned_arena(service)
if not hosted_policy().enabled:
    owner_key_section(service)
