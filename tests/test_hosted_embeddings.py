"""Hosted mode and embedding calls: a paid embedding model (the scripted server's `embed` scenario, priced
in its spec as an admin's models file would) is admitted under the user's limits and daily budget before
any call is sent, charged to the user in the usage ledger, and takes turns on its server like chat calls.
On SQLite (sqlite-vec) and on PostgreSQL (pgvector), where the ledger is summed and the vectors stored."""

from __future__ import annotations

import threading
from decimal import Decimal
from pathlib import Path

import pytest

from playground.compare import Comparison, plan_comparison
from playground.core import HostedPolicy, Params, User
from playground.core.policy import Limits
from playground.core.specs import ModelSpec, load_specs
from playground.engine import Keyring
from playground.engine.pricing import price_for
from playground.evals import UploadedQuestions, compare_embedders
from playground.hosting import Gate, LimitExceededError, usage_report
from playground.hosting.billing import Bill
from playground.rag import Library
from playground.rag.embedding import EMBED_CALL, Payer, embed_texts, embedding_model
from playground.storage import Store
from tests.scripted_server import ScriptedServer

ALICE = User("https://id.example|alice", "Alice", "alice@example.com")
KEYS = Keyring(server={"ADMIN_KEY": "server-secret"}, hosted=True)
CELLS = b"The mitochondria is the powerhouse of the cell. Leaves are green because of chlorophyll."
ROCKETS = b"Rockets burn fuel to climb. " * 60


def hosted(**limits: object) -> Gate:
    return Gate(HostedPolicy(enabled=True, limits=Limits(**limits)))


def paid_embedder(scripted: ScriptedServer, scenario: str = "embed~dims=64", **fields: object) -> ModelSpec:
    """An admin's embedding model on the scripted server, with the server's key, at 1,000 USD per million
    input tokens (so a few words cost a visible amount)."""
    values: dict[str, object] = {
        "key": "paid-embed",
        "provider": "openai",
        "model": "text-embedding-3-small",
        "task": "embeddings",
        "base_url": scripted.url(scenario),
        "api_key_env": "ADMIN_KEY",
        "price_input_per_mtok": Decimal(1000),
        "price_output_per_mtok": Decimal(0),
    }
    values.update(fields)
    return ModelSpec(**values)  # type: ignore[arg-type]


def embed_requests(scripted: ScriptedServer, spec: ModelSpec) -> list[dict]:
    path = spec.base_url.removeprefix(f"http://127.0.0.1:{scripted.port}")  # type: ignore[union-attr]
    return [r for r in scripted.requests if r["path"].startswith(path)]


def billed_words(requests: list[dict]) -> int:
    """The tokens the scripted server reported for these requests: the words of their inputs."""
    return sum(len(str(text).split()) for r in requests for text in r["body"]["input"])


@pytest.fixture(params=["sqlite", "pgvector"])
def vector_db(request: pytest.FixtureRequest, clean_env: Path) -> str:
    """The store's database with vector search: SQLite (sqlite-vec), or PostgreSQL with pgvector."""
    if request.param == "sqlite":
        return f"sqlite:///{clean_env}"
    from tests import postgres

    return postgres.fresh_database(request.getfixturevalue("pgvector_cluster"))


def test_paid_embeddings_are_charged_and_refused_past_the_budget_before_any_call(
    scripted: ScriptedServer, vector_db: str
):
    spec = paid_embedder(scripted)
    store = Store(vector_db)
    price = price_for(spec)
    assert price is not None
    gate = hosted(daily_usd=Decimal("0.05"))
    library = Library(store, {spec.key: spec}, KEYS, ALICE, gate)
    docs = library.create("docs", spec.key, 64, 8)
    scripted.requests.clear()

    added = library.add(docs, [("cells.md", CELLS)])
    assert added[0].ok
    sent = embed_requests(scripted, spec)
    charged = price.cost(billed_words(sent), 0)  # the server's reported tokens at the spec's price
    assert added[0].cost_usd == charged and added[0].cost_source == "override"
    assert store.spent_since(ALICE.id, _today()) == charged  # in the ledger, as Alice's

    # A file whose estimated cost passes what is left of the budget: refused before anything is sent.
    scripted.requests.clear()
    refused = library.add(library.get("docs"), [("rockets.md", ROCKETS)])
    assert not refused[0].ok and embed_requests(scripted, spec) == []
    assert "rockets.md was not embedded" in (refused[0].error or "")
    assert "PLAYGROUND_USER_DAILY_USD" in (refused[0].error or "")
    assert "this embedding (" in (refused[0].error or "") and "with paid-embed) may cost up to" in (
        refused[0].error or ""
    )
    kept = library.get("docs")
    assert (kept.documents, kept.chunks) == (1, added[0].chunks)  # nothing indexed is lost

    # A search embeds its query: charged as well, and the store reads every row back exactly.
    found = library.search(kept, "what is the powerhouse of the cell", k=1)
    assert "mitochondria" in found[0].text
    spent = store.spent_since(ALICE.id, _today())
    assert spent == price.cost(billed_words(embed_requests(scripted, spec)), 0) + charged
    ledger = [r for r in usage_report(store).records if r.kind == EMBED_CALL]
    assert {r.owner for r in ledger} == {ALICE.id} and {r.ref_id for r in ledger} == {docs.id}
    assert sum((r.cost_usd for r in ledger if r.cost_usd), Decimal(0)) == spent
    rows = usage_report(store).spend_by("owner", "model")
    assert rows[0]["spend (USD)"] == spent and rows[0]["runs"] == 0  # embeddings are not runs


def test_a_search_past_the_budget_is_refused_with_the_limit_and_sends_nothing(scripted: ScriptedServer):
    spec = paid_embedder(scripted)
    store = Store()
    library = Library(store, {spec.key: spec}, KEYS, ALICE, hosted())
    docs = library.create("docs", spec.key, 64, 8)
    assert library.add(docs, [("cells.md", CELLS)])[0].ok
    spent = store.spent_since(ALICE.id, _today())
    broke = Library(store, {spec.key: spec}, KEYS, ALICE, hosted(daily_usd=spent))
    scripted.requests.clear()
    with pytest.raises(LimitExceededError, match=r"daily limit is .* \(PLAYGROUND_USER_DAILY_USD\)"):
        broke.search(broke.get("docs"), "powerhouse of the cell")
    assert embed_requests(scripted, spec) == []
    assert broke.search(broke.get("docs"), "powerhouse", method="bm25")  # words need no embedding


def test_an_unpriced_hosted_embedder_is_refused_unless_allowed_and_a_local_one_is_never_zero(
    scripted: ScriptedServer,
):
    unpriced = paid_embedder(scripted, price_input_per_mtok=None, price_output_per_mtok=None, model="m")
    local = load_specs()["wordllama-256"]
    store = Store()
    specs = {unpriced.key: unpriced, local.key: local}
    library = Library(store, specs, KEYS, ALICE, hosted())
    scripted.requests.clear()
    refused = library.add(library.create("u", unpriced.key, 64, 8), [("cells.md", CELLS)])
    assert "No price is known for paid-embed" in (refused[0].error or "")
    assert embed_requests(scripted, unpriced) == []
    allowed = Library(store, specs, KEYS, ALICE, hosted(unpriced_allowed=frozenset({"paid-embed"})))
    assert allowed.add(allowed.get("u"), [("cells.md", CELLS)])[0].ok
    # The bundled local model needs no admission (it costs nothing) and is charged as "local", never $0.
    offline = library.add(library.create("l", local.key, 64, 8), [("cells.md", CELLS)])
    assert offline[0].ok and offline[0].cost_usd is None and offline[0].cost_source == "local"
    store.writer.flush(10)  # a local model's calls hold no budget: their rows are written in the background
    records = [r for r in usage_report(store).records if r.model == local.key]
    assert records and all(r.cost_usd is None and r.cost_source == "local" for r in records)
    unknown = [r for r in usage_report(store).records if r.model == unpriced.key]
    assert unknown and all(r.cost_usd is None and r.cost_source == "unknown" for r in unknown)


def test_an_embedding_counts_as_a_run_going(scripted: ScriptedServer):
    spec = paid_embedder(scripted)
    chat = ModelSpec(
        key="paid",
        provider="openai",
        model="gpt-4o-mini",
        base_url=scripted.url("ok~tokens=3~gap=0.5"),
        api_key_env="ADMIN_KEY",
        price_input_per_mtok=Decimal(1),
        price_output_per_mtok=Decimal(1),
    )
    store = Store()
    gate = hosted(concurrent_runs=1)
    library = Library(store, {spec.key: spec}, KEYS, ALICE, gate)
    docs = library.create("docs", spec.key, 64, 8)
    plan = plan_comparison("hi", ["paid"], {"paid": chat}, params=Params(max_tokens=10), keys=KEYS)
    going = Comparison(plan, store, user=ALICE, gate=gate)
    scripted.requests.clear()
    refused = library.add(docs, [("cells.md", CELLS)])
    assert "the limit is 1 at once (PLAYGROUND_MAX_CONCURRENT_RUNS)" in (refused[0].error or "")
    assert embed_requests(scripted, spec) == []
    list(going.events())
    assert library.add(docs, [("cells.md", CELLS)])[0].ok  # the run ended: its place is free


def test_compare_embedders_charges_the_user_and_reports_a_refused_candidate(scripted: ScriptedServer):
    spec = paid_embedder(scripted)
    store = Store()
    specs = {**load_specs(), spec.key: spec}
    library = Library(store, specs, KEYS, ALICE, hosted())
    docs = library.create("bio", "wordllama-256", 64, 8)
    assert library.add(docs, [("cells.md", CELLS), ("rockets.md", ROCKETS)])[0].ok
    questions = UploadedQuestions(
        "q.jsonl", b'{"question": "powerhouse of the cell", "gold_files": "cells.md"}\n'
    )
    scripted.requests.clear()
    compared = compare_embedders(library, "bio", questions, ["paid-embed"], bm25=False)
    result = compared.results[0]
    assert result.ok and result.spent_usd is not None
    charged = [r for r in usage_report(store).records if r.model == spec.key]
    assert {(r.owner, r.kind, r.ref_id) for r in charged} == {(ALICE.id, EMBED_CALL, docs.id)}
    assert sum((r.cost_usd for r in charged if r.cost_usd), Decimal(0)) == result.spent_usd
    assert result.spent_usd == price_for(spec).cost(billed_words(embed_requests(scripted, spec)), 0)  # type: ignore[union-attr]

    spent = store.spent_since(ALICE.id, _today())
    broke = Library(store, specs, KEYS, ALICE, hosted(daily_usd=spent))
    scripted.requests.clear()
    again = compare_embedders(broke, "bio", questions, ["paid-embed", "wordllama-256"], bm25=True)
    assert [r.ok for r in again.results] == [False, True, True]  # the others are compared
    assert "PLAYGROUND_USER_DAILY_USD" in (again.results[0].error or "")
    assert embed_requests(scripted, spec) == []  # chunks and questions admitted together: none sent


def test_embedding_calls_take_turns_on_their_server(scripted: ScriptedServer):
    spec = paid_embedder(scripted, "embed~dims=16~delay=0.3~id=turns", max_concurrency=1)
    model = embedding_model(spec, KEYS)
    errors: list[BaseException] = []

    def embed() -> None:
        try:
            embed_texts(spec, model, ["one two three"], Bill(EMBED_CALL))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    scripted.reset_peak("embed")
    threads = [threading.Thread(target=embed) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert errors == [] and scripted.peak("embed") == 1  # one call at a time reached the server


def test_a_429_on_an_embedding_makes_its_server_cool_down(scripted: ScriptedServer):
    import time

    from playground.rag.embedding import EmbeddingError

    spec = paid_embedder(scripted, "ratelimit~fail=1~after=1~id=embedcool")
    model = embedding_model(spec, KEYS)
    with pytest.raises(EmbeddingError, match="rate limited"):
        embed_texts(spec, model, ["one"], Bill(EMBED_CALL))
    began = time.monotonic()
    run = embed_texts(spec, model, ["one two"], Bill(EMBED_CALL))
    assert time.monotonic() - began >= 0.8 and run.input_tokens == 2  # it waited out the Retry-After


def _today():
    from playground.core.policy import day_start

    return day_start()


def test_similar_examples_ranked_by_a_paid_embedder_are_admitted_and_charged(scripted: ScriptedServer):
    from playground.evals.runner import SHOTS_REF
    from playground.rag.embedding import similarity_ranker

    spec = paid_embedder(scripted)
    store = Store()
    rows = ["the cat sat on the mat", "a dog ran in the park", "the cat slept on the mat"]
    scripted.requests.clear()
    broke = similarity_ranker(spec, Payer(ALICE, store, hosted(daily_usd=Decimal(0)), SHOTS_REF), KEYS)
    with pytest.raises(LimitExceededError, match="this embedding \\(3 texts with paid-embed\\)"):
        broke(rows)
    assert embed_requests(scripted, spec) == []
    ranked = similarity_ranker(spec, Payer(ALICE, store, hosted(), SHOTS_REF), KEYS)(rows)
    assert ranked[0][1] == 2  # the other cat sentence is the nearest
    charged = [r for r in usage_report(store).records if r.kind == EMBED_CALL]
    assert [(r.owner, r.ref_id) for r in charged] == [(ALICE.id, SHOTS_REF)]
    assert charged[0].cost_usd == price_for(spec).cost(billed_words(embed_requests(scripted, spec)), 0)  # type: ignore[union-attr]
