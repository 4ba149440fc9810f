"""Model Playground: the Streamlit app shell (page config and navigation only)."""

import streamlit as st

from pages.common.ui import SHELL_FLAG, WANTED_PAGE

# No icons: Streamlit's :material/ icons make every visitor's browser fetch a font from a public CDN,
# which an offline or hosted instance must not need.
st.set_page_config(page_title="Model Playground", layout="wide")
st.session_state[SHELL_FLAG] = True

navigation = st.navigation(
    [
        st.Page("pages/compare.py", title="Compare", default=True),
        st.Page("pages/catalog.py", title="Catalog"),
        st.Page("pages/evaluate.py", title="Evaluate"),
        st.Page("pages/history.py", title="History"),
        st.Page("pages/settings.py", title="Settings"),
    ]
)
# A deep link that first ran a page without this shell (see pages/common/ui.py::page_shell) lands here.
wanted = st.session_state.pop(WANTED_PAGE, None)
if wanted:
    st.switch_page(wanted)
navigation.run()
