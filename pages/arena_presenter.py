"""Arena presenter view: full screen for a projector, large type, the join link and QR code, the live vote
count and the leaderboard, refreshed every few seconds by a fragment (no reload, no busy loop)."""

from __future__ import annotations

import streamlit as st

from pages.common.arena_view import arena_owner, arena_service, page_url, render_join, render_standings
from pages.common.ui import database_answers, page_shell
from playground.arena import JOIN_PARAM, Arenas, UsageError, join_link
from playground.core import plain

page_shell("pages/arena_presenter.py")

REFRESH_S = 2.0
# Our own constant stylesheet (no outside text in it): no sidebar or toolbar, and type a room can read.
PRESENTER_CSS = """
<style>
[data-testid="stSidebar"], [data-testid="stSidebarCollapsedControl"], header[data-testid="stHeader"],
[data-testid="stToolbar"] { display: none !important; }
.block-container { padding-top: 1rem; max-width: 100% !important; }
h1 { font-size: 3.2rem !important; }
[data-testid="stMarkdownContainer"] p, [data-testid="stMarkdownContainer"] li { font-size: 1.6rem; }
[data-testid="stMetricValue"], [data-testid="stMetricValue"] * { font-size: 4.5rem !important; }
[data-testid="stMetricLabel"] p { font-size: 1.8rem !important; }
[data-testid="stTable"] td, [data-testid="stTable"] th { font-size: 1.5rem !important; padding: 0.5rem 1rem; }
[data-testid="stCode"] code { font-size: 1.3rem !important; }
</style>
"""


def pick_arena(arenas: Arenas) -> None:
    """Without ?arena=: choose one of the user's arenas (it then goes in the address, to share)."""
    with database_answers():
        owned = arenas.owned(arena_owner())
    if not owned:
        st.info("Create an arena on the Arena page first.")
        return
    names = {a.id: a.name for a in owned}
    chosen = st.selectbox("Arena to present", list(names), format_func=names.get, key="presenter-pick")
    if st.button("Present", type="primary", key="presenter-go"):
        st.query_params[JOIN_PARAM] = chosen
        st.rerun()


@st.fragment(run_every=REFRESH_S)
def live_board(arenas: Arenas, arena_id: str) -> None:
    """Votes and leaderboard, redrawn every REFRESH_S seconds (votes unchanged: the board is not refitted).
    A projected screen is public: latency and cost per answer show only once the arena is closed."""
    with database_answers(stop=False):
        activity = arenas.activity(arena_id)  # one cheap query: the count shows before the board is refitted
        left, right = st.columns(2)
        left.metric("Votes", activity.votes)
        right.metric("Joined", activity.participants)
        render_standings(arenas.standings(arena_id), presenter=True)


arena_param = st.query_params.get(JOIN_PARAM)
service = arena_service()
if not arena_param:
    st.title("Arena presenter")
    pick_arena(service)
    st.stop()
try:
    with database_answers():
        arena = service.get(arena_param)
except UsageError as exc:
    st.error(plain(str(exc)))
    st.stop()
st.html(PRESENTER_CSS)
st.title(plain(arena.name))
link = join_link(arena.id, page_url(), arena.address)
qr, board = st.columns([1, 3])
with qr:
    st.markdown("**Join and vote:**")
    render_join(link, qr_width=320)
    if not arena.is_open:
        st.warning("Closed: no more votes.")
with board:
    live_board(service, arena.id)
