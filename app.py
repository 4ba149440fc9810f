"""Model Playground: the Streamlit app shell (page config and navigation only)."""

import streamlit as st

st.set_page_config(page_title="Model Playground", page_icon=":material/science:", layout="wide")

navigation = st.navigation(
    [
        st.Page("pages/compare.py", title="Compare", icon=":material/compare_arrows:", default=True),
        st.Page("pages/catalog.py", title="Catalog", icon=":material/menu_book:"),
        st.Page("pages/history.py", title="History", icon=":material/history:"),
        st.Page("pages/settings.py", title="Settings", icon=":material/key:"),
    ]
)
navigation.run()
