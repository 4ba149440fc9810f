"""Vector search in the store: sqlite-vec inside SQLite, pgvector inside PostgreSQL, one code path."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from playground.core.errors import UsageError
from playground.storage import Store
from playground.storage.vectors import CollectionStore, NewChunk, VectorSearchUnavailableError
from tests import postgres
from tests.test_migrations import schema_differences


@pytest.fixture(params=["sqlite", "pgvector"])
def vector_db(request: pytest.FixtureRequest, clean_env: Path) -> str:
    """The store's database with vector search: SQLite (sqlite-vec), or PostgreSQL with pgvector."""
    if request.param == "sqlite":
        return f"sqlite:///{clean_env}"
    return postgres.fresh_database(request.getfixturevalue("pgvector_cluster"))


def _unit(rows: np.ndarray) -> np.ndarray:
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def test_migrations_and_models_agree_on_a_vector_database(vector_db: str):
    assert schema_differences(Store(vector_db)) == []


def test_the_database_finds_the_nearest_chunks_by_cosine_similarity(vector_db: str):
    collections = CollectionStore(Store(vector_db))
    assert collections.problem() is None
    docs = collections.create("alice", "notes", "emb-a", 200, 20)
    rng = np.random.default_rng(7)
    vectors = rng.normal(size=(300, 32)).astype(np.float32)
    chunks = [NewChunk(i, i * 10, i * 10 + 10, 3, f"chunk {i}") for i in range(300)]
    assert collections.add_document(docs, "a.md", "md", "text", chunks[:200], vectors[:200]) is False
    collections.add_document(docs, "b.md", "md", "text", chunks[200:], vectors[200:])
    query = vectors[42] + 0.01 * rng.normal(size=32).astype(np.float32)
    hits = collections.search(docs, "emb-a", query, 5)
    # The same order and scores as an exact cosine ranking computed here.
    scores = _unit(vectors) @ _unit(query[None, :])[0]
    expected = np.argsort(-scores)[:5]
    assert [h.chunk.text for h in hits] == [f"chunk {i}" for i in expected]
    assert [round(h.score, 4) for h in hits] == [round(float(scores[i]), 4) for i in expected]
    assert hits[0].chunk.document == "a.md" and hits[0].chunk.position == 42
    # Another model's vectors for the same chunks are kept apart.
    collections.add_vectors(
        docs, "emb-b", {c.id: -v for c, v in zip(collections.chunks(docs), vectors, strict=True)}
    )
    assert collections.search(docs, "emb-b", query, 1)[0].chunk.text != hits[0].chunk.text
    # Replacing a document drops its old chunks and vectors; other collections are untouched.
    other = collections.create("alice", "other", "emb-a", 200, 20)
    collections.add_document(other, "a.md", "md", "text", chunks[:1], vectors[:1])
    assert collections.add_document(docs, "a.md", "md", "new", chunks[:2], vectors[:2]) is True
    listed = {c.name: (c.documents, c.chunks) for c in collections.list("alice")}
    assert listed == {"notes": (2, 102), "other": (1, 1)}
    assert collections.list("bob") == []
    with pytest.raises(UsageError, match="already have a collection named 'notes'"):
        collections.create("alice", "notes", "emb-a", 200, 20)
    collections.remove(docs)
    assert [c.name for c in collections.list("alice")] == ["other"]


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_postgresql_without_pgvector_says_so_and_the_store_still_works(db_url: str):
    store = Store(db_url)  # Debian's PostgreSQL: no pgvector
    collections = CollectionStore(store)
    assert "no pgvector" in (collections.problem() or "")
    docs = collections.create("alice", "notes", "emb", 200, 20)
    with pytest.raises(VectorSearchUnavailableError, match="CREATE EXTENSION vector"):
        collections.add_document(
            docs, "a.md", "md", "t", [NewChunk(0, 0, 1, 1, "t")], np.ones((1, 4), np.float32)
        )
    assert store.list_runs() == []
