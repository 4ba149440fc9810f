"""What the Arena and the presenter pages both show: the arena service, who owns arenas in this session,
the join link with its QR code, and the leaderboard (ratings, intervals, votes, latency and cost per
answer, win-rate matrix)."""

from __future__ import annotations

import streamlit as st

from pages.common.ui import current_user, gate, hosted_policy, shared_store
from playground.arena import (
    FIGURES_HIDDEN,
    THIS_MACHINE,
    TIE_CONVENTION,
    Arenas,
    Standings,
    join_qr_png,
    local_owner,
    new_owner_key,
)
from playground.core import User, plain

# This browser session's owner key in a local app (see playground/arena/owners.py).
OWNER_KEY_STATE = "arena-owner-key"


def arena_service() -> Arenas:
    """The arenas of this server's history, battling its own models with its own keys (never a
    visitor's), admitted by its gate."""
    return Arenas(shared_store(), gate=gate())


def arena_owner() -> User:
    """Who owns arenas in this session: the signed-in user in hosted mode; in a local app, the holder of
    this browser session's owner key (made on first use), so that other sessions are participants only."""
    if hosted_policy().enabled:
        return current_user()
    if OWNER_KEY_STATE not in st.session_state:
        st.session_state[OWNER_KEY_STATE] = new_owner_key()
    return local_owner(st.session_state[OWNER_KEY_STATE])


def device() -> str:
    """The address this participant connects from. Streamlit gives none for loopback: the server's own
    machine, or a proxy or tunnel running on it, whose X-Forwarded-For names the address it forwards for
    (its last entry, the one the proxy added: earlier ones are the visitor's to write)."""
    try:
        address, headers = st.context.ip_address, st.context.headers
    except (AttributeError, RuntimeError):
        return THIS_MACHINE
    if isinstance(address, str) and address:
        return address
    forwarded = headers.get("X-Forwarded-For") if hasattr(headers, "get") else None
    last = forwarded.split(",")[-1].strip() if isinstance(forwarded, str) else ""
    return last or THIS_MACHINE


def page_url() -> str | None:
    """This page's address as the visitor's browser opened it (None when unknown, as in tests)."""
    try:
        return st.context.url
    except (AttributeError, RuntimeError):
        return None


def render_join(link: str, qr_width: int = 220) -> None:
    """The join link as text (never a clickable link built from a header) and its QR code."""
    st.image(join_qr_png(link), width=qr_width, caption="Scan to join")
    st.code(link, language=None, wrap_lines=True)


def leaderboard_rows(standings: Standings, as_markdown: bool) -> list[dict[str, object]]:
    """The leaderboard's rows; for st.table (which renders markdown) every text cell goes through plain."""
    rows = standings.table_rows()
    if not as_markdown:
        return rows
    return [{k: plain(v) if isinstance(v, str) else v for k, v in row.items()} for row in rows]


def render_standings(standings: Standings, presenter: bool = False) -> None:
    """The leaderboard with what it rests on, then the win-rate matrix (and intervals beside it)."""
    from playground.arena import charts  # plotly loads only once there is a board to draw

    board = standings.board
    if board.ratings:
        if presenter:
            st.table(leaderboard_rows(standings, as_markdown=True), hide_index=True)
        else:
            st.dataframe(leaderboard_rows(standings, as_markdown=False), hide_index=True, key="arena-board")
    for note in board.notes:
        st.info(plain(note))
    figures = (
        "Latency: median total time of a model's answers in voted battles here (measured by the runner); "
        "cost: median per answer (genai-prices or the model's price; local models cost nothing, unknown "
        "prices are not counted as $0)."
        if standings.figures_shown
        else FIGURES_HIDDEN
    )
    st.caption(
        plain(
            f"Bradley–Terry ratings fitted by choix on {board.votes} votes, Elo scale (1000 = the mean model); "
            f"95% intervals from {board.bootstrap} bootstrap rounds; models whose intervals overlap share a "
            f"rank; {TIE_CONVENTION}. {figures}"
        )
    )
    if len(board.ratings) >= 2:
        size = 20 if presenter else 12
        left, right = st.columns(2)
        theme = None if presenter else "streamlit"  # Streamlit's theme would set its own small type
        left.plotly_chart(charts.ratings_figure(board, size), key=f"arena-ratings-{presenter}", theme=theme)
        right.plotly_chart(charts.win_rate_figure(board, size), key=f"arena-matrix-{presenter}", theme=theme)
