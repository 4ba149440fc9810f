"""Embedding models compared on a collection: metrics checked by hand on questions whose ranks are known,
the bundled embedder, BM25 and an OpenAI-shaped one on the scripted server, questions written by the local
SmolLM2 and labelled, the CLI, the Documents page's view, and every bad input's one message."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import text

from playground.core.errors import UsageError
from playground.core.specs import load_specs
from playground.evals.embedders import Judged, compare_embedders, resolve_gold, score_rankings
from playground.evals.questions import GeneratedQuestions, GoldQuestion, QuestionsError, UploadedQuestions
from playground.rag.library import Library
from playground.storage import Store
from playground.storage.vectors import StoredChunk
from tests.conftest import remote_spec
from tests.scripted_server import ScriptedServer

FILES = {
    "cells.md": "The mitochondria is the powerhouse of the cell.",
    "plants.md": "Chlorophyll makes leaves green and captures sunlight.",
    "rockets.md": "Rockets burn fuel to climb into orbit.",
}
# BM25 ranks known by hand: q1's words are only in cells.md (rank 1); q2 shares two words with rockets.md
# and one with its gold plants.md (rank 2); q3 shares no word with any chunk (nothing found).
QUESTIONS = (
    b'{"question": "powerhouse mitochondria", "gold_files": ["cells.md"]}\n'
    b'{"question": "rockets fuel sunlight", "gold_chunks": "plants.md#1"}\n'
    b"\n"
    b'{"question": "quantum entanglement", "gold_files": "rockets.md"}\n'
)


def ndcg_one_gold(rank: int | None) -> float:
    """nDCG@10 of one relevant item found at `rank` (binary gains): 1 / log2(rank + 1)."""
    return 0.0 if rank is None or rank > 10 else 1 / math.log2(rank + 1)


def expected_from_ranks(ranks: tuple[int | None, ...]) -> dict[str, float]:
    """Every metric from the first gold's rank per question (one gold item each)."""
    n = len(ranks)
    return {
        "recall@1": sum(r is not None and r <= 1 for r in ranks) / n,
        "recall@5": sum(r is not None and r <= 5 for r in ranks) / n,
        "recall@10": sum(r is not None and r <= 10 for r in ranks) / n,
        "MRR": sum(1 / r for r in ranks if r) / n,
        "nDCG@10": sum(ndcg_one_gold(r) for r in ranks) / n,
    }


@pytest.fixture
def library(scripted: ScriptedServer) -> Library:
    """A library with the bundled embedder's collection of three one-chunk files, plus scripted models."""
    bow = remote_spec(
        scripted.url("embed~dims=256"),
        key="bow",
        task="embeddings",
        price_input_per_mtok=Decimal("0.02"),
        price_output_per_mtok=Decimal("0"),
    )
    broken = remote_spec(scripted.url("status~code=400"), key="broken", task="embeddings")
    lib = Library(Store(), {**load_specs(), "bow": bow, "broken": broken})
    outcomes = lib.add(lib.create("bio", "wordllama-256", 64, 8), [(n, t.encode()) for n, t in FILES.items()])
    assert all(o.ok for o in outcomes), [o.error for o in outcomes]
    return lib


def stored_vectors(lib: Library) -> list[tuple[str, int, bytes | str]]:
    """Every vector row of the store, as the database holds it."""
    with lib.collections.store.engine.connect() as connection:
        rows = connection.execute(
            text("select embedder, chunk_id, embedding from chunk_vectors order by 1, 2")
        )
        return [(e, c, v if isinstance(v, str) else bytes(v)) for e, c, v in rows]  # pgvector: text


def test_metrics_match_the_ranks_by_hand_and_nothing_indexed_changes(library: Library):
    before = stored_vectors(library)
    result = compare_embedders(library, "bio", UploadedQuestions("q.jsonl", QUESTIONS), ["wordllama-256"])
    wordllama, bm25 = result.results
    assert (wordllama.name, bm25.name) == ("wordllama-256", "bm25") and wordllama.ok and bm25.ok
    assert bm25.ranks == (1, 2, None)
    means = {name: m.mean for name, m in bm25.metrics.items()}
    assert means == pytest.approx(
        {
            "recall@1": 1 / 3,
            "recall@5": 2 / 3,
            "recall@10": 2 / 3,
            "MRR": 0.5,
            "nDCG@10": (1 + 1 / math.log2(3)) / 3,
        }
    )
    # The bundled model's ranks are its own; its metrics must be what those ranks give by hand.
    assert wordllama.ranks[0] == 1  # the question's words are the gold chunk's
    assert {n: m.mean for n, m in wordllama.metrics.items()} == pytest.approx(
        expected_from_ranks(wordllama.ranks)
    )
    for candidate in result.results:
        for name, metric in candidate.metrics.items():
            assert metric.low is not None and metric.high is not None, name
            assert 0.0 <= metric.low <= metric.mean <= metric.high <= 1.0, (candidate.name, name, metric)
    assert bm25.metrics["recall@1"].low > 0 and bm25.metrics["recall@1"].high < 1  # Wilson, not a point
    assert wordllama.cost_text == "local" and bm25.cost_text == "local" and wordllama.seconds_per_1k > 0
    assert stored_vectors(library) == before  # the comparison's own vectors are gone, the collection's intact
    (projection,) = result.projections
    assert {c.file for c in projection.chunks} == set(FILES) and len(projection.questions) == 3
    assert [q.rank for q in projection.questions] == list(wordllama.ranks)


def test_a_gold_file_is_found_once_by_any_chunk_and_a_gold_chunk_by_itself():
    chunks = [
        StoredChunk(1, "a.md", 0, 0, 10, 3, "a one"),
        StoredChunk(2, "a.md", 1, 10, 20, 3, "a two"),
        StoredChunk(3, "b.md", 0, 0, 10, 3, "b one"),
        StoredChunk(4, "b.md", 1, 10, 20, 3, "b two"),
    ]
    (judged,) = resolve_gold([GoldQuestion("q", gold_chunks=("b.md#2",), gold_files=("a.md",))], chunks, "c")
    assert judged.relevant == {"file:a.md", "chunk:4"}
    metrics = score_rankings([judged], [chunks])  # a.md's second chunk finds nothing new; b.md#2 is 4th
    ideal = 1 + 1 / math.log2(3)
    assert {n: m.mean for n, m in metrics.items()} == pytest.approx(
        {
            "recall@1": 0.5,
            "recall@5": 1.0,
            "recall@10": 1.0,
            "MRR": 1.0,
            "nDCG@10": (1 + 1 / math.log2(5)) / ideal,
        }
    )
    assert metrics["MRR"].low is None  # one question: no interval is claimed
    nothing = score_rankings(
        [judged, Judged(judged.question, frozenset(), frozenset({"chunk:3"}))], [chunks, []]
    )
    assert nothing["recall@10"].mean == pytest.approx(0.5)  # a question with nothing retrieved scores 0


def test_an_openai_shaped_embedder_is_priced_per_1000_chunks_and_a_failing_one_spares_the_others(
    library: Library, scripted: ScriptedServer
):
    result = compare_embedders(
        library,
        "bio",
        UploadedQuestions("q.jsonl", QUESTIONS),
        ["bow", "broken", "text-embedding-3-small"],
        bm25=False,
    )
    bow, broken, openai = result.results
    assert bow.ok and bow.token_source == "reported" and bow.cost_source == "override"
    # The scripted server reports one token per word; 22 words in the three chunks at $0.02 per million.
    words = sum(len(t.split()) for t in FILES.values())
    assert bow.cost_per_1k == Decimal("0.02") * words / 1_000_000 * 1000 / 3
    assert bow.cost_text.startswith("$0.000") and bow.spent_usd > bow.cost_usd
    assert bow.ranks[:2] == (1, 2)  # bags of words: q1 shares 2 words with its gold, q2 fewer than elsewhere
    asked = [r for r in scripted.requests if r["path"].startswith("/embed~dims=256")]
    assert asked[-1]["body"]["input"] == [
        "powerhouse mitochondria",
        "rockets fuel sunlight",
        "quantum entanglement",
    ]
    assert broken.error == "request refused (400): scripted failure"  # at run time: the others go on
    assert openai.error == "text-embedding-3-small needs an API key: set OPENAI_API_KEY"
    assert [p.embedder for p in result.projections] == ["bow"]
    rows = result.rows()
    assert rows[1]["note"].startswith("not compared:") and rows[0]["cost / 1,000 chunks"] == bow.cost_text


def test_questions_written_by_the_local_smollm2_are_labelled(library: Library):
    from playground.evals import evaluation_store

    result = compare_embedders(library, "bio", GeneratedQuestions("smollm2-135m", 2, seed=1))
    asked = result.questions
    assert len(asked.questions) + len(asked.skipped) == 2 and asked.questions
    assert all(q.label == "generated by smollm2-135m" and q.gold_chunks for q in asked.questions)
    assert "generated by smollm2-135m from 2 sampled chunks" in asked.label
    saved = evaluation_store(library.collections.store).get(asked.eval_id or "")
    assert saved is not None and saved.setup["models"] == ["smollm2-135m"]  # the calls are on record
    for line in result.to_json():
        assert line["questions"]["generated_by"] == ["smollm2-135m"]
        assert all(q["label"] == "generated by smollm2-135m" for q in line["per_question"])
    assert [r.name for r in result.results] == ["wordllama-256", "bm25"]  # the collection's own by default


def test_bad_input_gets_one_clear_message(library: Library):
    upload = UploadedQuestions("q.jsonl", QUESTIONS)
    with pytest.raises(UsageError, match=r"no collection named 'nope' \(yours: bio\)"):
        compare_embedders(library, "nope", upload)
    library.create("empty", "wordllama-256", 64, 8)
    with pytest.raises(UsageError, match="'empty' has no chunks yet"):
        compare_embedders(library, "empty", upload)
    cases = {
        ("q.jsonl", b'{"question": "a", "gold_files": "cells.md"}\n{"question": "b", gold}\n'): (
            r"q\.jsonl line 2: not valid JSON"
        ),
        (
            "q.csv",
            b'question,gold_chunks\n"two\nlines",cells.md#1\nwhat,\n',
        ): r"q\.csv line 4: no gold chunks or files",
        (
            "q.csv",
            b"question,answer\nwhat,x\n",
        ): r"q\.csv: needs a column 'question' and a column 'gold_chunks'",
        (
            "q.jsonl",
            b'{"question": " ", "gold_files": "cells.md"}\n',
        ): r"q\.jsonl line 1: the question is empty",
        ("q.txt", b"question\n"): r"q\.txt: use a \.csv or \.jsonl file",
    }
    for (name, data), message in cases.items():
        with pytest.raises(QuestionsError, match=message):
            compare_embedders(library, "bio", UploadedQuestions(name, data))
    missing = b'{"question": "a", "gold_files": ["nope.md"], "gold_chunks": "cells.md#4|999999"}\n'
    with pytest.raises(UsageError) as raised:
        compare_embedders(library, "bio", UploadedQuestions("q.jsonl", missing))
    assert str(raised.value).startswith(
        "not in the collection 'bio': line 1: gold file 'nope.md'; line 1: gold chunk 'cells.md#4'; "
        "line 1: gold chunk '999999'"
    )
    with pytest.raises(UsageError, match="'gpt-4o-mini' is not an embedding model here"):
        compare_embedders(library, "bio", upload, ["gpt-4o-mini"])
    with pytest.raises(UsageError, match="wordllama-256 does not answer prompts"):
        compare_embedders(library, "bio", GeneratedQuestions("wordllama-256", 2))
    with pytest.raises(UsageError, match="choose at least one embedding model, or keep BM25"):
        compare_embedders(library, "bio", upload, ["bm25"], bm25=False)


def test_the_cli_compares_in_json_and_in_80_columns(tmp_path: Path):
    for name, body in FILES.items():
        (tmp_path / name).write_text(body)
    questions = tmp_path / "q.jsonl"
    questions.write_bytes(QUESTIONS)

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "playground", *args]
        env = {**__import__("os").environ, "COLUMNS": "80"}
        return subprocess.run(command, capture_output=True, text=True, timeout=240, env=env)

    added = cli("docs", "add", *(str(tmp_path / n) for n in FILES), "-c", "bio", "--chunk-size", "64")
    assert added.returncode == 0, added.stderr
    found = cli("embeddings", "compare", "-c", "bio", "--questions", str(questions), "--json")
    assert found.returncode == 0, found.stderr
    wordllama, bm25 = (json.loads(line) for line in found.stdout.splitlines())
    assert (wordllama["embedder"], bm25["embedder"]) == ("wordllama-256", "bm25")
    assert bm25["metrics"]["MRR"]["mean"] == pytest.approx(0.5) and bm25["cost_per_1k_chunks"] == "local"
    assert (
        wordllama["cost_per_1k_chunks_usd"] is None
        and wordllama["questions"]["source"] == "3 questions uploaded (q.jsonl)"
    )
    table = cli(
        "embeddings",
        "compare",
        "-c",
        "bio",
        "--questions",
        str(questions),
        "--embed",
        "text-embedding-3-small",
    )
    assert table.returncode == 1  # one candidate could not run: said, and BM25 still compared
    assert "text-embedding-3-small not compared: text-embedding-3-small needs an API key" in table.stderr
    assert "bm25" in table.stdout and "0.50" in table.stdout and "recall@10" in table.stdout
    assert max(len(line) for line in table.stdout.splitlines()) <= 80
    saved = tmp_path / "gen.jsonl"
    written = cli(
        "embeddings", "compare", "-c", "bio", "--generate", "2", "--generator", "smollm2-135m",
        "--save-questions", str(saved),
    )  # fmt: skip
    assert written.returncode == 0, written.stderr
    assert "questions generated by smollm2-135m from 2 sampled chunks" in written.stdout
    assert "(generated by smollm2-135m; gold " in written.stdout
    again = cli("embeddings", "compare", "-c", "bio", "--questions", str(saved), "--json", "--no-bm25")
    (line,) = (json.loads(x) for x in again.stdout.splitlines())
    assert (
        line["questions"]["generated_by"] == ["smollm2-135m"]
        and "generated by smollm2-135m" in line["questions"]["source"]
    )
    wrong = cli("embeddings", "compare", "-c", "nope", "--questions", str(questions))
    assert wrong.returncode == 2 and wrong.stderr.startswith("error: no collection named 'nope'")
    neither = cli("embeddings", "compare", "-c", "bio")
    assert (
        neither.returncode == 2 and "give --questions FILE, or --generate N --generator KEY" in neither.stderr
    )


def test_the_documents_page_compares_embedders_with_generated_questions(library: Library):
    from streamlit.testing.v1 import AppTest

    app = str(Path(__file__).resolve().parent.parent / "app.py")
    at = AppTest.from_file(app, default_timeout=180)
    at.switch_page("pages/documents.py").run()
    assert not at.exception, at.exception
    assert at.selectbox(key="doc-collection").value == "bio"
    at.radio(key="emb-origin").set_value("generate").run()
    at.selectbox(key="emb-generator").set_value("smollm2-135m")
    at.number_input(key="emb-count").set_value(2)
    at.multiselect(key="emb-models").set_value(["wordllama-256", "text-embedding-3-small"])
    at.button(key="emb-run").click().run()
    assert not at.exception, at.exception
    assert [e.value for e in at.error] == [
        "text-embedding-3-small not compared: text-embedding-3-small needs an API key: set OPENAI\\_API\\_KEY"
    ]
    assert "2 questions generated by smollm2-135m from 2 sampled chunks" in " ".join(
        m.value for m in at.markdown
    )
    table = at.dataframe[0].value
    assert list(table["embedder"]) == ["wordllama-256", "text-embedding-3-small", "bm25"]
    assert table.loc[2, "cost / 1,000 chunks"] == "local"
    questions = at.dataframe[1].value
    assert len(questions) >= 1 and set(questions["from"]) == {"generated by smollm2-135m"}
    assert at.selectbox(key="emb-projection").value == "wordllama-256"
    assert at.get("plotly_chart"), "the projection is drawn"


@pytest.fixture(params=["sqlite", "pgvector"])
def vector_db(request: pytest.FixtureRequest, clean_env: Path) -> str:
    """The store's database with vector search: SQLite (sqlite-vec), or PostgreSQL with pgvector."""
    if request.param == "sqlite":
        return f"sqlite:///{clean_env}"
    from tests import postgres

    return postgres.fresh_database(request.getfixturevalue("pgvector_cluster"))


def test_the_database_ranks_each_candidate_as_exact_cosine_does(vector_db: str):
    import numpy as np

    from playground.hosting.billing import Bill
    from playground.rag.embedding import EMBED_CALL, embed_texts, embedding_model

    specs = load_specs()
    free = Bill(EMBED_CALL)  # a local model: no admission, and no ledger for the oracle's calls
    lib = Library(Store(vector_db), specs)
    lib.add(lib.create("bio", "wordllama-256", 64, 8), [(n, t.encode()) for n, t in FILES.items()])
    before = stored_vectors(lib)
    result = compare_embedders(
        lib, "bio", UploadedQuestions("q.jsonl", QUESTIONS), ["wordllama-256"], bm25=False
    )
    # The oracle: every chunk and question embedded here, ranked by exact cosine similarity in numpy.
    model = embedding_model(specs["wordllama-256"])
    chunks = lib.chunks(lib.get("bio"))
    vectors = embed_texts(specs["wordllama-256"], model, [c.text for c in chunks], free).vectors
    asked = embed_texts(
        specs["wordllama-256"],
        model,
        ["powerhouse mitochondria", "rockets fuel sunlight", "quantum entanglement"],
        free,
    ).vectors
    gold = ["cells.md", "plants.md", "rockets.md"]
    expected = tuple(
        [chunks[i].document for i in np.argsort(-(vectors @ q), kind="stable")].index(g) + 1
        for q, g in zip(asked, gold, strict=True)
    )
    assert result.results[0].ranks == expected
    assert stored_vectors(lib) == before
