"""Settings: this session's API keys (never stored) and custom OpenAI-compatible endpoints."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

import pandas as pd
import streamlit as st

from pages.common.ui import keyring, page_shell, session_keys, specs
from playground.core import ModelSpec
from playground.engine import usability

page_shell("pages/settings.py")

st.title("Settings")
st.caption(
    "Keys live only in this browser session's memory: never on disk, in the database, logs, exports or URLs."
)
keys = session_keys()
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
            prices = {
                "price_input_per_mtok": Decimal(price_in) if price_in.strip() else None,
                "price_output_per_mtok": Decimal(price_out) if price_out.strip() else None,
            }
        except InvalidOperation:
            st.error("Prices must be numbers.")
        else:
            if not (
                name.strip() and base_url.strip().startswith(("http://", "https://")) and model_id.strip()
            ):
                st.error("Name, an http(s) base URL and a model id are needed.")
            else:
                env_name = f"CUSTOM_KEY_{name.strip().upper().replace('-', '_')}"
                if key.strip():
                    keys[env_name] = key.strip()
                st.session_state.setdefault("custom_specs", {})[name.strip()] = ModelSpec(
                    key=name.strip(),
                    provider="openai",
                    model=model_id.strip(),
                    base_url=base_url.strip(),
                    api_key_env=env_name,
                    source="session",
                    **prices,
                )
                st.success(f"Added {name.strip()}.")

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
