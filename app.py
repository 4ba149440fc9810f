"""Model Playground: the Streamlit app shell (page config and navigation only)."""

import streamlit as st

st.set_page_config(page_title="Model Playground", page_icon="🧪", layout="wide")

navigation = st.navigation(
    [
        st.Page("pages/compare.py", title="Compare", icon="⚖️", default=True),
        st.Page("pages/history.py", title="History", icon="🕘"),
        st.Page("pages/settings.py", title="Settings", icon="🔑"),
    ]
)
navigation.run()
