"""Catalog: every model the app knows, filtered and sorted, model cards with Try it, and a Hub search."""

from __future__ import annotations

from decimal import Decimal

import streamlit as st

from pages.common import state
from pages.common.ui import (
    current_user,
    gate,
    hosted_policy,
    keyring,
    page_shell,
    render_answer,
    render_chart_grid,
    shared_store,
    specs,
)
from playground.catalog import (
    ARCHITECTURES,
    SORT_KEYS,
    SORTS,
    CatalogEntry,
    CatalogFilter,
    HubModel,
    HubQuery,
    HubUnavailableError,
    catalog,
    filter_and_sort,
    search_hub,
    table_rows,
    yes_no_unknown,
)
from playground.compare import Comparison, UsageError, plan_comparison
from playground.core import PROVIDERS, TASKS, Params, plain, safe_markdown
from playground.engine import Done, genai_prices_data_date

page_shell("pages/catalog.py")

SAMPLE_PROMPT = "Explain in two sentences what a context window is."


@st.cache_data(ttl=600, show_spinner="Searching the Hugging Face Hub…")
def cached_hub_search(query: HubQuery) -> list[HubModel]:
    """Hub answers are public (searched without a token), so they are shared briefly across sessions."""
    return search_hub(query)


def show_card(entry: CatalogEntry) -> None:
    """One model's card: what it is, its limits and prices with sources, and a Try it box."""
    st.subheader(plain(entry.key))
    if entry.description:
        st.markdown(safe_markdown(entry.description))
    left, right = st.columns(2)
    left.markdown("\n".join(_identity_lines(entry)))
    right.markdown("\n".join(_use_lines(entry)))
    if entry.stage == "base":
        st.info(
            "A base model: pre-trained only, driven as plain text completion. It continues your text rather "
            "than answering it; compare it with an instruct-tuned model to see what instruction tuning adds."
        )
    elif entry.stage == "instruct" and entry.price_source == "local":
        st.info("Instruction-tuned: it answers prompts through its own chat template.")
    if entry.answers_prompts:
        try_it(entry)
    elif entry.task == "embeddings":
        st.caption("An embedding model answers no prompt: try it in Documents, as a collection's model.")
    elif entry.task in ("speech-to-text", "text-to-speech"):
        st.caption(plain(f"A speech model answers no prompt: {entry.used_for}."))
    elif entry.task in ("image-to-text", "text-to-image"):
        st.caption(plain(f"An image model: {entry.used_for}."))


def _identity_lines(entry: CatalogEntry) -> list[str]:
    # Hub finds bring these fields from model cards: each is shown as plain text, the license link too.
    license_text = plain(entry.license or "unknown")
    if entry.license_url:
        license_text += " " + plain(f"({entry.license_url})")
    return [
        f"- **Provider:** {plain(entry.provider)} · **model id:** {plain(entry.model)}",
        f"- **Task:** {plain(entry.task)} · **stage:** {plain(entry.stage or 'unknown')}",
        f"- **Architecture:** {plain(entry.architecture or 'unknown')}",
        f"- **License:** {license_text} · **open weights:** {yes_no_unknown(entry.open_weights)}",
        f"- **Context window:** {entry.context_window or 'unknown'} tokens",
        f"- **Listed in:** {plain(_listed_in(entry.source))}",
    ]


def _listed_in(source: str) -> str:
    """Where a model comes from; on a shared instance a models file's path on the server is not shown."""
    if hosted_policy().enabled and source.startswith("/"):
        return "the server's models file"
    return source


def _use_lines(entry: CatalogEntry) -> list[str]:
    if entry.price_source == "local":
        price = "local: runs on this machine, no per-token price"
    elif entry.unit_price is not None:
        price = plain(f"{entry.unit_price} ({entry.price_source})")
    elif entry.price_input_per_mtok is None:
        price = "unknown (no price in genai-prices and no override)"
    else:
        price = (
            f"input ${entry.price_input_per_mtok} / output ${entry.price_output_per_mtok} per million tokens "
            f"({entry.price_source})"
        )
    lines = [
        f"- **Price:** {price}",
        f"- **Token counting:** {entry.token_counting}",
        f"- **Parameters accepted:** {', '.join(entry.accepted_params) or 'unknown'}",
        f"- **Usable now:** {'yes' if entry.usable else 'no'} ({entry.usable_reason})",
        f"- **Used for:** {entry.used_for}",
    ]
    if entry.size_on_disk_bytes is not None:
        size = entry.size_on_disk_bytes / 1e6
        lines.append(f"- **On disk:** {size:.1f} MB, quantization {entry.quantization or 'unknown'}")
    return lines


def try_it(entry: CatalogEntry) -> None:
    """A sample prompt to this one model, saved to the history like any run."""
    st.markdown("**Try it**")
    prompt = st.text_area("Sample prompt", SAMPLE_PROMPT, key=f"try-prompt-{entry.key}", height=68)
    if st.button("Try it", key=f"try-{entry.key}", disabled=not entry.usable):
        try:  # admitted under the user's limits and budget (hosted mode) like any comparison
            plan = plan_comparison(prompt, [entry.key], specs(), params=Params(max_tokens=96), keys=keyring())
            comparison = Comparison(plan, shared_store(), user=current_user(), gate=gate())
        except UsageError as exc:
            st.error(plain(str(exc)))
        else:
            with st.spinner(f"Running {entry.key}…"):
                done = [e.result for e in comparison.events() if isinstance(e, Done)]
            st.session_state["try-result"] = (entry.key, done[0])
    tried = st.session_state.get("try-result")
    if tried and tried[0] == entry.key:
        render_answer(tried[1])


def hub_search_section() -> None:
    """Search the Hub and add a hit to this session's models (before the catalog is drawn, so it shows)."""
    with st.form("hub"):
        h1, h2, h3, h4, h5 = st.columns(5)
        hub_text = h1.text_input("Search", key="hub-text")
        hub_task = h2.selectbox("Task", ["any", *TASKS], key="hub-task")
        hub_library = h3.text_input("Library (e.g. transformers, gguf)", key="hub-library")
        hub_license = h4.text_input("License (e.g. apache-2.0)", key="hub-license")
        hub_sort = h5.selectbox("Sort by", SORTS, key="hub-sort")
        served = st.checkbox("Only models served by Inference Providers", value=True, key="hub-served")
        searched = st.form_submit_button("Search the Hub")
    if searched:
        query = HubQuery(
            search=hub_text,
            task=None if hub_task == "any" else hub_task,
            library=hub_library.strip() or None,
            license=hub_license.strip() or None,
            sort=hub_sort,
            served_by_inference_providers=served,
        )
        try:
            st.session_state["hub-hits"] = cached_hub_search(query)
        except HubUnavailableError as exc:
            st.session_state.pop("hub-hits", None)
            st.warning(plain(str(exc)))
    hits: list[HubModel] | None = st.session_state.get("hub-hits")
    if hits is not None:
        if not hits:
            st.info("No Hub model matches.")
        else:
            st.dataframe(
                [
                    {
                        "model": h.id,
                        "task": h.task or "unknown",
                        "library": h.library or "unknown",
                        "license": h.license or "unknown",
                        "stage": h.stage or "unknown",
                        "architecture": h.architecture or "unknown",
                        "downloads": h.downloads,
                        "likes": h.likes,
                        "gated": "yes" if h.gated else "no",
                    }
                    for h in hits
                ],
                hide_index=True,
            )
            hit_id = st.selectbox("Hub model", [h.id for h in hits], key="hub-pick")
            if st.button("Add to this session's models", key="hub-add"):
                spec = next(h for h in hits if h.id == hit_id).as_spec()
                state.custom_specs()[spec.key] = spec
                st.success(
                    plain(
                        f"Added {spec.key}: it runs through Inference Providers with your HF_TOKEN (Settings)."
                    )
                )


st.title("Model catalog")
with st.expander("Add models from the Hugging Face Hub"):
    hub_search_section()
ring = keyring()
all_specs = specs()
entries = catalog(all_specs, ring)

with st.expander("Filters", expanded=True):
    c1, c2, c3, c4 = st.columns(4)
    text = c1.text_input("Search by name", key="cat-text")
    tasks = c2.multiselect("Task", TASKS, key="cat-tasks")
    licenses = c3.multiselect(
        "License", sorted({e.license for e in entries if e.license}), key="cat-licenses"
    )
    providers = c4.multiselect("Provider", PROVIDERS, key="cat-providers")
    c1, c2, c3, c4 = st.columns(4)
    weights = c1.radio("Weights", ["any", "open weights", "proprietary"], key="cat-weights", horizontal=True)
    stage = c2.radio("Stage", ["any", "base", "instruct"], key="cat-stage", horizontal=True)
    architectures = c3.multiselect("Architecture", ARCHITECTURES, key="cat-arch")
    usable_only = c4.checkbox("Usable now (key or endpoint present)", key="cat-usable")
    c1, c2 = st.columns(2)
    context = c1.select_slider(
        "Context window (tokens)",
        options=[0, 4_096, 8_192, 32_768, 131_072, 1_000_000, 2_000_000],
        value=(0, 2_000_000),
        key="cat-context",
    )
    max_price = c2.number_input(
        "Max input price, USD per million tokens (0 = any; local models always pass)",
        min_value=0.0,
        value=0.0,
        step=0.05,
        key="cat-price",
    )

where = CatalogFilter(
    text=text,
    tasks=tasks,
    licenses=licenses,
    providers=providers,
    architectures=architectures,
    open_weights={"any": None, "open weights": True, "proprietary": False}[weights],
    stage=None if stage == "any" else stage,
    min_context=context[0] or None,
    max_context=None if context[1] >= 2_000_000 else context[1],
    max_input_price=Decimal(str(max_price)) if max_price > 0 else None,
    usable_only=usable_only,
)
s1, s2 = st.columns([3, 1])
sort_by = s1.selectbox("Sort by", SORT_KEYS, key="cat-sort")
descending = s2.toggle("Descending", key="cat-desc")
shown = filter_and_sort(entries, where, sort_by, descending)
st.caption(
    f"{len(shown)} of {len(entries)} models · prices from genai-prices data of {genai_prices_data_date()}"
)
if not shown:
    st.info("No model matches these filters.")
else:
    st.dataframe(table_rows(shown), hide_index=True, key="cat-table")
    from playground.catalog import charts  # plotly only once there is a table

    render_chart_grid(charts.catalog_charts(shown), "cat")

    picked = st.multiselect("Send to Compare", [e.key for e in shown if e.answers_prompts], key="cat-pick")
    if st.button("Compare selected", key="cat-compare", disabled=not picked):
        state.choose_compare_models(picked)
        st.switch_page("pages/compare.py")

    card_key = st.selectbox("Model card", [e.key for e in shown], key="cat-card")
    show_card(next(e for e in shown if e.key == card_key))
