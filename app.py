"""Model Playground: the Streamlit app shell (page config, hosted-mode login, and navigation only)."""

import streamlit as st

from pages.common.ui import SHELL_FLAG, WANTED_PAGE, current_user, hosted_policy
from playground.core import HostingConfigError, plain
from playground.hosting import REQUIRED_OPTIONS, hardening_problems

# No icons: Streamlit's :material/ icons make every visitor's browser fetch a font from a public CDN,
# which an offline or hosted instance must not need.
st.set_page_config(page_title="Model Playground", layout="wide")
st.session_state[SHELL_FLAG] = True


def auth_settings() -> dict[str, object] | None:
    """The [auth] section of the secrets (None when there is no secrets file or no section)."""
    try:
        auth = st.secrets.get("auth")
    except (FileNotFoundError, KeyError, ValueError):
        return None
    return dict(auth) if auth else None


def require_hosted_setup() -> bool:
    """In hosted mode: refuse to serve until the server is hardened and the visitor is signed in.

    Returns True when the app is hosted (and the visitor signed in); stops the script otherwise."""
    try:
        policy = hosted_policy()
    except HostingConfigError as exc:
        st.error(plain(f"This hosted instance is misconfigured: {exc}"))
        st.stop()
    if not policy.enabled:
        return False
    options = {
        name: st.get_option(name) for name in [*REQUIRED_OPTIONS, "server.maxUploadSize", "server.address"]
    }
    problems = hardening_problems(options, auth_settings())
    if problems:
        st.error("This hosted instance refuses to start until its administrator fixes its settings:")
        st.markdown("\n".join(f"- {plain(p)}" for p in problems))
        st.stop()
    if not st.user.is_logged_in:
        st.title("Model Playground")
        st.write("This is a shared instance: sign in to compare and evaluate models.")
        st.button("Log in", type="primary", on_click=st.login, key="login")
        st.stop()
    user = current_user()
    with st.sidebar:
        st.caption("Signed in as")
        st.text(user.name)
        st.button("Log out", on_click=st.logout, key="logout")
    return True


hosted = require_hosted_setup()
pages = [
    st.Page("pages/compare.py", title="Compare", default=True),
    st.Page("pages/catalog.py", title="Catalog"),
    st.Page("pages/evaluate.py", title="Evaluate"),
    st.Page("pages/history.py", title="History"),
    st.Page("pages/settings.py", title="Settings"),
]
if hosted and hosted_policy().is_admin(current_user()):
    pages.append(st.Page("pages/admin.py", title="Admin"))
navigation = st.navigation(pages)
# A deep link that first ran a page without this shell (see pages/common/ui.py::page_shell) lands here.
wanted = st.session_state.pop(WANTED_PAGE, None)
if wanted:
    st.switch_page(wanted)
navigation.run()
