"""Deploy: serve a local model (bundled, tuned, or any GGUF file) as an OpenAI-compatible endpoint with
llama.cpp's server, follow its health, copy its URL and snippet, stop it; recipes for vLLM and TGI."""

from __future__ import annotations

import streamlit as st

from pages.common.ui import current_user, database_answers, hosted_policy, page_shell, shared_store, specs
from playground.core import plain
from playground.deploy import ENGINES, DeployError, Deployments, DeploymentView, recipe

page_shell("pages/deploy.py")

GGUF_CHOICE = "A GGUF file by its path…"
REFRESH_S = 2.0
NEW_KEY = "deploy-new-key"
STARTING_FLAG = "deploy-any-starting"
STATE_BADGE = {
    "ready": ":green-badge[ready]",
    "starting": ":orange-badge[starting]",
    "failed": ":red-badge[failed]",
    "stopped": ":gray-badge[stopped]",
}

st.title("Deploy")
policy = hosted_policy()
user = current_user()
if not policy.is_admin(user):
    st.error("Only the administrators of this hosted instance (PLAYGROUND_ADMINS) deploy models.")
    st.stop()

service = Deployments(shared_store(), specs(), policy=policy)

st.caption(
    "Serves a model as an OpenAI-compatible endpoint: llama.cpp's server in a process of its own, which "
    "keeps running after this page closes. Every call needs its key."
)
with st.form("deploy-form"):
    choice = st.selectbox("Model", [*service.deployable(), GGUF_CHOICE], key="deploy-model")
    path = st.text_input("GGUF file path (for a file)", key="deploy-path")
    lora = st.text_input("LoRA adapter GGUF (optional)", key="deploy-lora")
    left, right = st.columns(2)
    port = left.number_input("Port", 1024, 65535, 8000, key="deploy-port")
    key_env = right.text_input(
        "Key from the environment variable (blank: a new key, shown once)", key="deploy-key-env"
    )
    submitted = st.form_submit_button("Deploy", type="primary", key="deploy-submit")

if submitted:
    model = path if choice == GGUF_CHOICE else choice
    try:
        with st.spinner("Checking and starting the server…"):
            launched = service.deploy(
                model, int(port), api_key_env=key_env or None, lora=lora or None, user=user
            )
    except DeployError as exc:
        st.error(plain(str(exc)))
    else:
        # Kept in this session only (the page reruns while the server starts), until dismissed.
        st.session_state[NEW_KEY] = (
            f"export {launched.deployment.api_key_env}={launched.generated_key}"
            if launched.generated_key
            else None
        )

if st.session_state.get(NEW_KEY):
    st.warning("Its key, shown to you only now: copy it; it is not saved anywhere.")
    st.code(st.session_state[NEW_KEY], language="bash")
    if st.button("I have copied the key", key="deploy-key-copied"):
        st.session_state[NEW_KEY] = None
        st.rerun()


def render_deployment(view: DeploymentView) -> None:
    """One deployment: health, URL, snippet, models-file entry, log of a failed one, Stop."""
    deployment, health = view.deployment, view.health
    with st.container(border=True):
        head, stop = st.columns([5, 1])
        head.markdown(
            f"**{plain(deployment.served_name)}** · {STATE_BADGE.get(health.state, plain(health.state))}"
        )
        head.caption(
            plain(
                f"{health.detail} · started {deployment.started_at:%Y-%m-%d %H:%M:%S} UTC on "
                f"{deployment.machine} · id {deployment.id}"
            )
        )
        if not deployment.final and stop.button("Stop", key=f"deploy-stop-{deployment.id}"):
            try:
                service.stop(deployment.id, user)
            except DeployError as exc:
                st.error(plain(str(exc)))
            st.rerun()
        if deployment.final and deployment.state == "failed" and deployment.log_tail:
            st.caption("The last lines of its log:")
            st.code(deployment.log_tail, language="text")
        if deployment.final:
            return
        st.text(f"URL: {deployment.url}   key: ${deployment.api_key_env}")
        st.code(view.snippet, language="python")
        with st.expander("Models-file entry (use it in Compare, Evaluate and Arena)"):
            st.code(view.models_entry, language="toml")


def deployments_list() -> None:
    """Every deployment with its health now; redrawn every few seconds while one is starting."""
    with database_answers():
        views = service.listed(include_final=show_all)
    if not views:
        st.info("Nothing is deployed.")
    for view in views:
        render_deployment(view)
    starting = any(v.health.state == "starting" for v in views)
    if starting != st.session_state.get(STARTING_FLAG, False):
        st.session_state[STARTING_FLAG] = starting
        st.rerun()  # the whole page: the list's refresh interval follows whether one is starting


st.subheader("Deployments")
show_all = st.toggle("Show stopped and failed ones too", key="deploy-show-all")
st.button("Refresh health", key="deploy-refresh")
st.fragment(run_every=REFRESH_S if st.session_state.get(STARTING_FLAG) else None)(deployments_list)()

st.subheader("Recipes for serving engines")
st.caption(
    "When one machine is not enough: vLLM or TGI on GPUs, for a Hugging Face Hub model. Nothing is fetched "
    "here: copy the command or compose file, then add the models-file entry."
)
engine = st.radio("Engine", ENGINES, horizontal=True, key="recipe-engine")
hub_model = st.text_input("Hub model id (owner/name)", key="recipe-model")
recipe_port = st.number_input("Its port", 1, 65535, 8000, key="recipe-port")
if hub_model.strip():
    try:
        made = recipe(engine, hub_model, int(recipe_port))
    except DeployError as exc:
        st.error(plain(str(exc)))
    else:
        st.caption(plain(made.notes))
        st.code(made.command, language="bash")
        st.code(made.compose, language="yaml")
        st.code(made.entry.toml(), language="toml")
