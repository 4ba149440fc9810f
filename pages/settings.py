"""Settings: this session's API keys (never stored) and custom OpenAI-compatible endpoints."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from pages.common.state import api_keys, custom_specs
from pages.common.ui import hosted_policy, keyring, page_shell, specs
from playground.core import EndpointError, custom_endpoint_spec, plain
from playground.engine import usability

page_shell("pages/settings.py")

st.title("Settings")
st.caption(
    "Keys live only in this browser session's memory: never on disk, in the database, logs, exports or URLs."
)
keys = api_keys()
# In hosted mode a URL a user types is a request the server makes: off unless the admin lists hosts.
urls_allowed = hosted_policy().user_urls_allowed
with st.form("keys"):
    entered = {
        var: st.text_input(
            label, type="password", key=f"key-{var}", placeholder="set" if keys.get(var) else ""
        )
        for var, label in (
            ("OPENAI_API_KEY", "OpenAI API key"),
            ("AZURE_OPENAI_API_KEY", "Azure OpenAI API key"),
            *([("AZURE_OPENAI_ENDPOINT", "Azure OpenAI endpoint")] if urls_allowed else []),
            ("HF_TOKEN", "Hugging Face token"),
        )
    }
    if st.form_submit_button("Save keys for this session"):
        refused = None
        try:  # a URL the server would call for this user: refused now if it may not (hosted mode)
            if endpoint := entered.get("AZURE_OPENAI_ENDPOINT", "").strip():
                hosted_policy().check_user_url(endpoint)
        except EndpointError as exc:
            refused = str(exc)
            entered.pop("AZURE_OPENAI_ENDPOINT")
        for var, value in entered.items():
            if value.strip():
                keys[var] = value.strip()
            # Clear the widget so the value is not kept in widget state.
            st.session_state.pop(f"key-{var}", None)
        if refused:
            st.error(plain(f"Azure OpenAI endpoint not saved: {refused}"))
        else:
            st.rerun()
if keys and st.button("Forget my keys", key="forget"):
    keys.clear()
    st.rerun()

st.subheader("Custom OpenAI-compatible endpoint")
if not urls_allowed:
    st.info(
        "This shared instance does not let users add their own endpoints: its administrator has not "
        "listed any allowed hosts (PLAYGROUND_ALLOWED_ENDPOINT_HOSTS)."
    )
with st.form("custom"):
    name = st.text_input("Name (model key)")
    base_url = st.text_input("Base URL", placeholder="http://127.0.0.1:8000/v1")
    model_id = st.text_input("Model id")
    key = st.text_input("API key (optional)", type="password")
    price_in = st.text_input("Input price, USD per million tokens (optional)")
    price_out = st.text_input("Output price, USD per million tokens (optional)")
    if st.form_submit_button("Add for this session", disabled=not urls_allowed):
        try:
            spec = custom_endpoint_spec(name, base_url, model_id, price_in, price_out)
            hosted_policy().check_user_url(spec.base_url or "")
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
