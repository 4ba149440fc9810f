"""Settings: this session's API keys (never stored) and custom OpenAI-compatible endpoints."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from pages.common.state import api_keys, custom_specs
from pages.common.ui import keyring, page_shell, specs
from playground.core import EndpointError, custom_endpoint_spec, plain
from playground.engine import usability

page_shell("pages/settings.py")

st.title("Settings")
st.caption(
    "Keys live only in this browser session's memory: never on disk, in the database, logs, exports or URLs."
)
keys = api_keys()
with st.form("keys"):
    entered = {
        var: st.text_input(
            label, type="password", key=f"key-{var}", placeholder="set" if keys.get(var) else ""
        )
        for var, label in (
            ("OPENAI_API_KEY", "OpenAI API key"),
            ("AZURE_OPENAI_API_KEY", "Azure OpenAI API key"),
            ("AZURE_OPENAI_ENDPOINT", "Azure OpenAI endpoint"),
            ("HF_TOKEN", "Hugging Face token"),
        )
    }
    if st.form_submit_button("Save keys for this session"):
        for var, value in entered.items():
            if value.strip():
                keys[var] = value.strip()
        for var in entered:
            # Clear the widget so the value is not kept in widget state.
            st.session_state.pop(f"key-{var}", None)
        st.rerun()
if keys and st.button("Forget my keys", key="forget"):
    keys.clear()
    st.rerun()

st.subheader("Custom OpenAI-compatible endpoint")
with st.form("custom"):
    name = st.text_input("Name (model key)")
    base_url = st.text_input("Base URL", placeholder="http://127.0.0.1:8000/v1")
    model_id = st.text_input("Model id")
    key = st.text_input("API key (optional)", type="password")
    price_in = st.text_input("Input price, USD per million tokens (optional)")
    price_out = st.text_input("Output price, USD per million tokens (optional)")
    if st.form_submit_button("Add for this session"):
        try:
            spec = custom_endpoint_spec(name, base_url, model_id, price_in, price_out)
        except EndpointError as exc:
            st.error(plain(str(exc)))
        else:
            if key.strip() and spec.api_key_env:
                keys[spec.api_key_env] = key.strip()
            custom_specs()[spec.key] = spec
            st.success(plain(f"Added {spec.key}."))

st.subheader("Which models are usable now")
ring = keyring()
st.dataframe(
    pd.DataFrame(
        [
            {
                "model": k,
                "provider": s.provider,
                "usable": usability(s, ring)[0],
                "why": usability(s, ring)[1],
            }
            for k, s in specs().items()
        ]
    ),
    hide_index=True,
)
