"""Model Playground: the Streamlit app shell (page config, hosted-mode sign-in, and navigation only)."""

from collections.abc import Callable

import streamlit as st

from pages.common.ui import (
    SHELL_FLAG,
    WANTED_PAGE,
    WANTED_QUERY,
    access_refused,
    auth_settings,
    current_user,
    hosted_policy,
    server_options,
    shared_store,
)
from playground.arena import ARENA_PATH, JOIN_PARAM, PRESENTER_PATH
from playground.core import HostingConfigError, plain
from playground.hosting import hardening_problems

# No icons: Streamlit's :material/ icons make every visitor's browser fetch a font from a public CDN,
# which an offline or hosted instance must not need.
st.set_page_config(page_title="Model Playground", layout="wide")
st.session_state[SHELL_FLAG] = True


def refusal_page() -> None:
    """What every visitor sees while a hosted server's settings are unsafe: each one to fix."""
    st.error("This hosted instance refuses to start until its administrator fixes its settings:")
    st.markdown("\n".join(f"- {plain(p)}" for p in hardening_problems(server_options(), auth_settings())))


def login_page() -> None:
    """A hosted instance's only page until the visitor signs in (st.login: OpenID Connect)."""
    st.title("Model Playground")
    st.write("This is a shared instance: sign in to compare and evaluate models.")
    wanted = {**st.session_state.get(WANTED_QUERY, {}), **st.query_params.to_dict()}
    if wanted.get(JOIN_PARAM):  # signing in lands on the app's first page (Streamlit's redirect)
        st.info("You opened an arena's join link: sign in, then open the link again to join.")
    st.button("Log in", type="primary", on_click=st.login, key="login")


def app_pages(hosted: bool) -> list:
    """The pages this visitor may open (Admin only for a hosted instance's admins)."""
    pages = [
        st.Page("pages/compare.py", title="Compare", default=True),
        st.Page("pages/catalog.py", title="Catalog"),
        st.Page("pages/evaluate.py", title="Evaluate"),
        st.Page("pages/documents.py", title="Documents"),
        st.Page("pages/speech.py", title="Speech"),
        st.Page("pages/images.py", title="Images"),
        st.Page("pages/tune.py", title="Tune"),
        st.Page("pages/history.py", title="History"),
        st.Page("pages/deploy.py", title="Deploy"),
        st.Page("pages/arena.py", title="Arena", url_path=ARENA_PATH),
        st.Page("pages/arena_presenter.py", title="Arena presenter", url_path=PRESENTER_PATH),
        st.Page("pages/settings.py", title="Settings"),
    ]
    if hosted and hosted_policy().is_admin(current_user()):
        pages.append(st.Page("pages/admin.py", title="Admin"))
    return pages


def signed_in_sidebar() -> None:
    """Who is signed in, with Log out; the user is remembered once per session (the admin's report)."""
    user = current_user()
    if st.session_state.get("_remembered") != user.id:
        shared_store().remember_user(user.id, user.name, user.email)
        st.session_state["_remembered"] = user.id
    with st.sidebar:
        st.caption("Signed in as")
        st.text(current_user().name)
        st.button("Log out", on_click=st.logout, key="logout")


def only_page(page: Callable[[], None]) -> None:
    """Show one page and stop: the navigation is still set, so no page of pages/ is listed or run."""
    st.navigation([st.Page(page, title="Model Playground")], position="hidden").run()
    st.stop()


def misconfigured_page() -> None:
    """What every visitor sees while a hosted-mode setting in the environment cannot be used."""
    try:
        hosted_policy()
    except HostingConfigError as exc:
        st.error(plain(f"This hosted instance is misconfigured: {exc}"))


try:
    hosted = hosted_policy().enabled
except HostingConfigError:
    only_page(misconfigured_page)
refused = access_refused()
if refused is not None:
    only_page(refusal_page if refused == "hardening" else login_page)
if hosted:
    signed_in_sidebar()
# Every page listed: with Speech, Images, Tune and Deploy the list passed the ten Streamlit shows before
# a "View more" button, which hid Settings and Admin.
navigation = st.navigation(app_pages(hosted), expanded=True)
# A deep link that first ran a page without this shell (see pages/common/ui.py::page_shell) lands here.
wanted = st.session_state.pop(WANTED_PAGE, None)
if wanted:
    st.switch_page(wanted, query_params=st.session_state.pop(WANTED_QUERY, None))
navigation.run()
