"""The catalog: facts, filters and sorting, the CLI's JSON, Hub search (loopback Hub), and the page."""

from __future__ import annotations

import json
import os
import socket
import threading
import time
from collections.abc import Iterator
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest
from streamlit.testing.v1 import AppTest
from typer.testing import CliRunner

from playground.catalog.entries import CatalogFilter, catalog, filter_and_sort
from playground.catalog.hub import HubQuery, HubUnavailableError, search_hub
from playground.cli.main import app as cli_app
from playground.core.specs import load_specs
from playground.storage.runs import Store
from tests.conftest import closed_port_url

APP = str(Path(__file__).resolve().parent.parent / "app.py")

HUB_HITS = [
    {
        "id": "acme/tiny-chat",
        "pipeline_tag": "text-generation",
        "tags": ["transformers", "conversational", "license:apache-2.0"],
        "downloads": 1200,
        "likes": 30,
        "library_name": "transformers",
        "gated": False,
        "cardData": {"license": "apache-2.0", "base_model": "acme/tiny-base"},
        "config": {"architectures": ["LlamaForCausalLM"], "model_type": "llama"},
    },
    {
        "id": "acme/tiny-base",
        "pipeline_tag": "text-generation",
        "tags": ["transformers"],
        "downloads": 50,
        "likes": 2,
        "library_name": "transformers",
        "gated": "auto",
        "config": {"architectures": ["SomethingNew"], "model_type": "new"},
    },
]


@pytest.fixture
def fake_hub() -> Iterator[tuple[str, list[dict]]]:
    """A loopback stand-in for the Hub's /api/models that records each query it gets."""
    seen: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            url = urlparse(self.path)
            seen.append(
                {"path": url.path, "query": parse_qs(url.query), "auth": self.headers.get("authorization")}
            )
            body = json.dumps(HUB_HITS).encode()
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", seen
    finally:
        server.shutdown()


def entries():
    return catalog(load_specs(), {})


def test_unknown_facts_stay_unknown_and_prices_carry_their_source():
    by_key = {e.key: e for e in entries()}
    assert by_key["gpt-4o-mini"].architecture is None  # not published by OpenAI: not guessed
    assert by_key["gpt-4o-mini"].price_source.startswith("genai-prices:20")
    assert by_key["gpt-4o-mini"].price_input_per_mtok == Decimal("0.15")
    assert (
        by_key["hf-qwen2.5-7b"].price_source == "unknown"
        and by_key["hf-qwen2.5-7b"].price_input_per_mtok is None
    )
    smol, gemma = by_key["smollm2-135m"], by_key["gemma3-270m"]
    assert smol.price_source == gemma.price_source == "local"
    assert (smol.stage, gemma.stage, gemma.task) == ("instruct", "base", "completion")
    assert smol.quantization == "Q4_1" and gemma.quantization == "Q4_K_M"
    assert 50e6 < smol.size_on_disk_bytes < 200e6 and 150e6 < gemma.size_on_disk_bytes < 400e6
    assert "own tokenizer" in smol.token_counting
    assert "cl100k_base" in by_key["gpt-4o-mini"].token_counting
    embedding = by_key["text-embedding-3-small"]
    assert not embedding.usable and "OPENAI_API_KEY" in embedding.usable_reason  # served, but no key here


def test_filters_open_instruct_chat_and_unknown_never_passes():
    where = CatalogFilter(tasks=["chat"], open_weights=True, stage="instruct")
    assert [e.key for e in filter_and_sort(entries(), where)] == [
        "hf-llama-3.1-8b",
        "hf-qwen2.5-7b",
        "smollm2-135m",
    ]
    by_arch = filter_and_sort(entries(), CatalogFilter(architectures=["decoder-only"]))
    assert "gpt-4o-mini" not in [e.key for e in by_arch]  # unknown architecture does not pass a filter on it
    cheap = filter_and_sort(entries(), CatalogFilter(max_input_price=Decimal("0.12")))
    local = {
        "smollm2-135m",
        "gemma3-270m",
        "wordllama-256",
        "whisper-tiny-en",
        "piper-joe",
    }  # local: no price
    assert {e.key for e in cheap} == {"gpt-4.1-nano", "text-embedding-3-small", *local}
    usable = filter_and_sort(entries(), CatalogFilter(usable_only=True))
    assert {e.key for e in usable} == local  # no keys in the test env
    big = filter_and_sort(entries(), CatalogFilter(min_context=200_000, text="GPT"))
    assert {e.key for e in big} == {"gpt-4.1-mini", "gpt-4.1-nano"}


def test_sorting_puts_unknown_last_either_way():
    for descending in (False, True):
        rows = filter_and_sort(entries(), CatalogFilter(), "price_input_per_mtok", descending)
        prices = [e.price_input_per_mtok for e in rows]
        known = [p for p in prices if p is not None]
        assert known == sorted(known, reverse=descending)
        assert prices[len(known) :] == [None] * (len(prices) - len(known))


def test_cli_models_json_prints_the_page_facts():
    result = CliRunner().invoke(cli_app, ["models", "--json"])
    assert result.exit_code == 0
    printed = {row["key"]: row for row in map(json.loads, result.stdout.splitlines())}
    assert printed == {e.key: e.to_json() for e in entries()}
    assert printed["gpt-4o-mini"]["price_input_per_mtok"] == "0.150" or printed["gpt-4o-mini"][
        "price_input_per_mtok"
    ].startswith("0.15")


def test_hub_request_building():
    kwargs = HubQuery(
        search=" llama ", task="chat", library="gguf", license="apache-2.0", sort="likes"
    ).list_models_kwargs()
    assert kwargs["search"] == "llama" and kwargs["pipeline_tag"] == "text-generation"
    assert kwargs["filter"] == ["gguf", "license:apache-2.0"] and kwargs["sort"] == "likes"
    assert kwargs["inference_provider"] == "all" and kwargs["token"] is False  # anonymous search
    bare = HubQuery(served_by_inference_providers=False).list_models_kwargs()
    assert {"search", "pipeline_tag", "filter", "inference_provider"}.isdisjoint(bare)
    with pytest.raises(ValueError, match="unknown sort"):
        HubQuery(sort="stars").list_models_kwargs()


def test_hub_search_end_to_end_on_a_loopback_hub(fake_hub, monkeypatch):
    url, seen = fake_hub
    monkeypatch.setenv("HF_TOKEN", "hf_test_SERVER_SECRET")
    hits = search_hub(HubQuery(search="tiny", task="chat", sort="downloads"), endpoint=url)
    (request,) = seen
    assert request["path"] == "/api/models"
    assert request["query"]["search"] == ["tiny"] and request["query"]["pipeline_tag"] == ["text-generation"]
    assert request["auth"] is None  # anonymous: the server's HF_TOKEN is never sent
    chat, base = hits
    assert (chat.task, chat.stage, chat.architecture, chat.license) == (
        "chat",
        "instruct",
        "decoder-only",
        "apache-2.0",
    )
    assert (base.task, base.stage, base.architecture, base.license, base.gated) == (
        "completion",
        None,
        None,
        None,
        True,
    )
    spec = chat.as_spec()
    assert (spec.provider, spec.model, spec.api_key_env, spec.source) == (
        "huggingface",
        "acme/tiny-chat",
        "HF_TOKEN",
        "hub",
    )


def test_hub_offline_gives_a_clear_message_fast():
    started = time.perf_counter()
    with pytest.raises(HubUnavailableError, match="rest of the catalog still works"):
        search_hub(HubQuery(search="x"), endpoint=closed_port_url().removesuffix("/v1"), timeout_s=3)
    assert time.perf_counter() - started < 4


@pytest.mark.network
def test_hub_live_search():
    try:
        socket.create_connection(("huggingface.co", 443), timeout=3).close()
    except OSError:
        pytest.skip("no network to huggingface.co")
    hits = search_hub(HubQuery(search="SmolLM2", task="chat", limit=5, served_by_inference_providers=False))
    assert hits and all("/" in h.id for h in hits)


def catalog_page() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=180)
    at.switch_page("pages/catalog.py")
    return at.run()


def hub_submit(at: AppTest):
    return next(b for b in at.button if b.label == "Search the Hub")


def test_page_filter_sort_card_try_and_send_to_compare(caplog):
    at = catalog_page()
    assert not at.exception, at.exception
    at.radio(key="cat-weights").set_value("open weights")
    at.radio(key="cat-stage").set_value("instruct")
    at.multiselect(key="cat-tasks").set_value(["chat"])
    at.run()
    assert at.caption[0].value.startswith(f"3 of {len(load_specs())} models")
    assert at.selectbox(key="cat-card").options == ["hf-llama-3.1-8b", "hf-qwen2.5-7b", "smollm2-135m"]
    assert len(at.get("plotly_chart")) == 1  # context windows; none of the three has a price:
    assert any(i.value.startswith("No price chart: no model in view has a price") for i in at.info)
    at.selectbox(key="cat-sort").set_value("context_window")
    at.toggle(key="cat-desc").set_value(True)
    at.run()
    assert at.selectbox(key="cat-card").options == ["hf-llama-3.1-8b", "hf-qwen2.5-7b", "smollm2-135m"]
    at.toggle(key="cat-desc").set_value(False)
    at.run()
    assert at.selectbox(key="cat-card").options == ["smollm2-135m", "hf-qwen2.5-7b", "hf-llama-3.1-8b"]

    at.selectbox(key="cat-card").set_value("smollm2-135m")
    at.run()
    card = " ".join(m.value for m in at.markdown)
    assert "apache-2.0" in card and "Q4_1" in card and "MB" in card and "own tokenizer" in card
    at.button(key="try-smollm2-135m").click().run()
    assert not at.exception, at.exception
    assert any("TTFT" in c.value and "(counted)" in c.value for c in at.caption)
    assert any(r.kind == "compare" and r.models == ["smollm2-135m"] for r in Store().list_runs())

    at.multiselect(key="cat-pick").set_value(["smollm2-135m", "hf-qwen2.5-7b"]).run()
    from streamlit.elements.lib import policies

    policies._shown_default_value_warning = False  # Streamlit logs it once per process
    with caplog.at_level("WARNING", logger="streamlit.elements.lib.policies"):
        at.button(key="cat-compare").click().run()
    assert not at.exception, at.exception
    assert "set via the Session State API" not in caplog.text  # the selection came with no warning
    assert at.multiselect(key="models").value == ["smollm2-135m", "hf-qwen2.5-7b"]
    assert any("set HF_TOKEN" in w.value.replace("\\", "") for w in at.warning)  # the unusable one says why


def test_page_hub_offline_leaves_the_catalog_working(monkeypatch):
    monkeypatch.setenv("HF_ENDPOINT", closed_port_url().removesuffix("/v1"))
    at = catalog_page()
    at.text_input(key="hub-text").input("llama")
    hub_submit(at).click().run()
    assert not at.exception, at.exception
    assert any("rest of the catalog still works" in w.value for w in at.warning)
    assert at.caption[0].value.startswith(f"{len(load_specs())} of {len(load_specs())} models")


def test_page_hub_hit_added_to_session_models(fake_hub, monkeypatch):
    url, _ = fake_hub
    monkeypatch.setenv("HF_ENDPOINT", url)
    at = catalog_page()
    at.text_input(key="hub-text").input("tiny-hit-test")
    hub_submit(at).click().run()
    assert not at.exception, at.exception
    at.selectbox(key="hub-pick").set_value("acme/tiny-chat")
    at.button(key="hub-add").click().run()
    assert "hf:acme/tiny-chat" in at.session_state["custom_specs"]
    assert "hf:acme/tiny-chat" in at.selectbox(key="cat-card").options
    assert os.environ.get("HF_TOKEN") is None


def test_the_catalog_says_what_each_model_is_used_for_and_never_sends_an_embedding_model_to_compare():
    by_key = {e.key: e for e in catalog(load_specs())}
    words = by_key["wordllama-256"]
    assert words.usable and not words.answers_prompts and words.used_for.startswith("Documents")
    assert words.token_counting.startswith("not counted")
    assert by_key["smollm2-135m"].answers_prompts and "Compare" in by_key["smollm2-135m"].used_for
    at = AppTest.from_file(str(Path(__file__).resolve().parent.parent / "app.py"), default_timeout=60)
    at.switch_page("pages/catalog.py").run()
    assert "wordllama-256" not in at.multiselect(key="cat-pick").options
    at.selectbox(key="cat-card").set_value("wordllama-256").run()
    assert not at.exception and any("try it in Documents" in c.value for c in at.caption)
    assert not [t for t in at.text_area if t.key == "try-prompt-wordllama-256"]
