"""Model Playground: the Streamlit app shell (page config and navigation only)."""

import streamlit as st

from pages.common.ui import SHELL_FLAG, WANTED_PAGE

st.set_page_config(page_title="Model Playground", page_icon=":material/science:", layout="wide")
st.session_state[SHELL_FLAG] = True

navigation = st.navigation(
    [
        st.Page("pages/compare.py", title="Compare", icon=":material/compare_arrows:", default=True),
        st.Page("pages/catalog.py", title="Catalog", icon=":material/menu_book:"),
        st.Page("pages/evaluate.py", title="Evaluate", icon=":material/fact_check:"),
        st.Page("pages/history.py", title="History", icon=":material/history:"),
        st.Page("pages/settings.py", title="Settings", icon=":material/key:"),
    ]
)
# A deep link that first ran a page without this shell (see pages/common/ui.py::page_shell) lands here.
wanted = st.session_state.pop(WANTED_PAGE, None)
if wanted:
    st.switch_page(wanted)
navigation.run()
