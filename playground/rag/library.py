"""A user's document collections: add files (parse, chunk, embed, store), search them, list and remove them.

Pages and the CLI call only `Library`. Adding is per file: a file that cannot be read, chunked or embedded
is reported with its reason and nothing of it is stored, while the others (and everything indexed
before) stay. Search is by vector (the collection's embedding model, in the database) or by BM25 (bm25s,
the lexical baseline, over the collection's chunk texts).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from typing import Literal

import numpy as np

from playground.core.errors import UsageError
from playground.core.policy import LOCAL_USER, User
from playground.core.specs import ModelSpec
from playground.engine.registry import Keys
from playground.hosting.gate import Gate, LimitExceededError
from playground.rag.chunking import ChunkingError, chunk_text
from playground.rag.documents import DocumentError, parse_document
from playground.rag.embedding import EmbeddingError, Payer, embed_texts, embedding_model
from playground.rag.prompting import Passage
from playground.storage.runs import Store
from playground.storage.vectors import Collection, CollectionStore, NewChunk, StoredChunk

SearchMethod = Literal["vector", "bm25"]
DEFAULT_CHUNK_TOKENS, DEFAULT_OVERLAP_TOKENS = 256, 32
MAX_K = 50


@dataclass(frozen=True)
class FileOutcome:
    """What became of one file given to a collection."""

    name: str
    chunks: int = 0
    replaced: bool = False  # a document of that name was there and was replaced
    error: str | None = None
    embed_seconds: float = 0.0
    cost_usd: Decimal | None = None
    cost_source: str = ""

    @property
    def ok(self) -> bool:
        """True when the file was stored."""
        return self.error is None


@dataclass(frozen=True)
class Found:
    """A search's chunks, best first, and what their scores mean (with the weak-match floor, if any)."""

    passages: tuple[Passage, ...]
    note: str

    @property
    def weak(self) -> int:
        """How many of the chunks are weak matches."""
        return sum(1 for p in self.passages if p.weak)


class Library:
    """`user`'s collections in the store, embedded with models from `specs` using `keys`; every embedding
    call is the user's, admitted by `gate` (default: the process's one) and charged in the usage ledger."""

    def __init__(
        self,
        store: Store,
        specs: Mapping[str, ModelSpec],
        keys: Keys | None = None,
        user: User = LOCAL_USER,
        gate: Gate | None = None,
    ) -> None:
        self.collections = CollectionStore(store)
        self.specs, self.keys, self.user, self.gate = specs, keys, user, gate

    @property
    def owner(self) -> str:
        """Whose collections these are (the user's id)."""
        return self.user.id

    def payer(self, collection: Collection) -> Payer:
        """Who pays for embedding calls made for `collection`: this library's user."""
        return Payer(self.user, self.collections.store, self.gate, collection.id)

    def vector_problem(self) -> str | None:
        """Why this database cannot search by vector (BM25 still works), or None."""
        return self.collections.problem()

    def embedders(self) -> list[str]:
        """The embedding models known here (a collection uses one of them)."""
        return sorted(k for k, s in self.specs.items() if s.task == "embeddings")

    def create(self, name: str, embedder: str, chunk_size: int, overlap: int) -> Collection:
        """A new empty collection; UsageError for an unknown embedder, bad sizes or a taken name."""
        self._spec(embedder)
        try:
            chunk_text("check", chunk_size, overlap)  # the sizes, checked before anything is stored
        except ChunkingError as exc:
            raise UsageError(str(exc)) from exc
        return self.collections.create(self.owner, name, embedder, chunk_size, overlap)

    def get(self, name: str) -> Collection:
        """The collection by name; UsageError naming the ones there are."""
        found = self.collections.find(self.owner, name)
        if found is None:
            names = ", ".join(c.name for c in self.list()) or "none yet"
            raise UsageError(f"no collection named {name!r} (yours: {names})")
        return found

    def list(self) -> list[Collection]:
        """Every collection of the owner, with counts."""
        return self.collections.list(self.owner)

    def remove(self, name: str) -> None:
        """Delete a collection and all it holds."""
        self.collections.remove(self.get(name))

    def add(self, collection: Collection, files: Sequence[tuple[str, bytes]]) -> list[FileOutcome]:
        """Parse, chunk, embed and store each file; one outcome per file, in order. Each file's embedding
        is admitted on its own: one refused by a limit is reported with the limit and nothing of it is
        sent or stored."""
        spec = self._spec(collection.embedder)
        model = None
        outcomes = []
        for name, data in files:
            try:
                document = parse_document(name, data)
                chunks = chunk_text(
                    document.text, collection.chunk_size, collection.overlap, markdown=document.markdown
                )
                texts = [c.text for c in chunks]
                model = model or embedding_model(spec, self.keys)
                with self.payer(collection).admit(spec, texts) as bill:
                    run = embed_texts(spec, model, texts, bill)
                replaced = self.collections.add_document(
                    collection,
                    document.name,
                    document.kind,
                    document.text,
                    [NewChunk(c.index, c.start, c.end, c.tokens, c.text) for c in chunks],
                    run.vectors,
                )
            except (DocumentError, ChunkingError, EmbeddingError) as exc:
                outcomes.append(FileOutcome(name, error=str(exc)))
                continue
            except LimitExceededError as exc:
                outcomes.append(FileOutcome(name, error=f"{name} was not embedded: {exc}"))
                continue
            outcomes.append(
                FileOutcome(name, len(chunks), replaced, None, run.seconds, run.cost_usd, run.cost_source)
            )
        return outcomes

    def search(
        self, collection: Collection, query: str, k: int = 5, method: SearchMethod = "vector"
    ) -> list[Passage]:
        """The k chunks that best match `query`, best first, numbered from 1."""
        if not query.strip():
            raise UsageError("type a question or some words to search for")
        if not 1 <= k <= MAX_K:
            raise UsageError(f"k is from 1 to {MAX_K}")
        if collection.chunks == 0:
            raise UsageError(f"the collection {collection.name!r} has no chunks yet: add documents first")
        if method == "bm25":
            return lexical_search(self.chunks(collection), query, k)
        spec = self._spec(collection.embedder)
        model = embedding_model(spec, self.keys)
        with self.payer(collection).admit(spec, [query]) as bill:
            run = embed_texts(spec, model, [query], bill)
        hits = self.collections.search(collection, collection.embedder, run.vectors[0], k)
        floor = spec.relevance_floor
        return [
            _passage(i + 1, h.chunk, h.score, "vector", floor is not None and h.score < floor)
            for i, h in enumerate(hits)
        ]

    def find(self, collection: Collection, query: str, k: int = 5, method: SearchMethod = "vector") -> Found:
        """`search`, with the note saying what the scores mean (what pages and the CLI show)."""
        return Found(tuple(self.search(collection, query, k, method)), self.score_note(collection, method))

    def score_note(self, collection: Collection, method: SearchMethod) -> str:
        """What a search's scores mean, and when a chunk is marked a weak match (pages and CLI say it)."""
        if method == "bm25":
            return (
                "Score: BM25 (bm25s), the question's words found in the chunk, rarer words weighing more; "
                "it has no fixed scale, only the order counts."
            )
        floor = self._spec(collection.embedder).relevance_floor
        meaning = "Score: cosine similarity of the chunk and the question with " + collection.embedder
        if floor is None:
            return (
                f"{meaning}. No relevance floor is known for this model (relevance_floor in the models "
                "file), so the scores only order the chunks: read them before trusting them."
            )
        return (
            f"{meaning}. Below {floor:.2f}, the floor measured for it on a labelled set "
            "(bench/bench_relevance.py), a chunk is marked weak match: it probably does not answer the "
            "question, whatever its rank."
        )

    def chunks(self, collection: Collection) -> tuple[StoredChunk, ...]:
        """A collection's chunks in document and position order, read once per content (reading them
        took 212 of BM25's 222 ms a query over 10,000 chunks)."""
        return _chunks_of(self.collections, collection)

    def spec(self, key: str) -> ModelSpec:
        """The embedding model `key`; UsageError naming the known ones when it is not one."""
        return self._spec(key)

    def _spec(self, key: str) -> ModelSpec:
        spec = self.specs.get(key)
        if spec is None or spec.task != "embeddings":
            raise UsageError(
                f"{key!r} is not an embedding model here; known: {', '.join(self.embedders()) or 'none'}"
            )
        return spec


def default_embedder(specs: Mapping[str, ModelSpec]) -> str:
    """The embedding model a new collection uses unless one is chosen: the bundled local one (no key, no
    network), else the first known; UsageError when there is none."""
    known = sorted((not s.is_local, k) for k, s in specs.items() if s.task == "embeddings")
    if not known:
        raise UsageError("no embedding model is configured: add one to the models file")
    return known[0][1]


def lexical_search(chunks: Sequence[StoredChunk], query: str, k: int) -> list[Passage]:
    """BM25 over the chunks' texts (bm25s), the k best with a score above 0, best first."""
    ranked = bm25_ranking(_bm25(tuple(c.text for c in chunks)), query, min(k, len(chunks)))
    return [_passage(n + 1, chunks[i], s, "bm25") for n, (i, s) in enumerate(ranked)]


def bm25_ranking(index: object, query: str, k: int) -> list[tuple[int, float]]:
    """The k best (text index, BM25 score) of `index` for `query` with a score above 0, best first."""
    import bm25s

    tokens = bm25s.tokenize([query], stopwords="en", show_progress=False)
    if not tokens.vocab:
        return []  # only stopwords: nothing to match
    found, scores = index.retrieve(tokens, k=k, show_progress=False)  # type: ignore[attr-defined]
    return [(int(i), float(s)) for i, s in zip(found[0], scores[0], strict=True) if s > 0]


_CHUNK_CACHE: dict[tuple[int, str, int, int], tuple[StoredChunk, ...]] = {}


def _chunks_of(store: CollectionStore, collection: Collection) -> tuple[StoredChunk, ...]:
    # Keyed by the database too (id of its store), and by what changes when a document is added,
    # replaced or removed (the count and the newest chunk id).
    key = (id(store.store), collection.id, collection.chunks, collection.last_chunk)
    if key not in _CHUNK_CACHE:
        if len(_CHUNK_CACHE) >= 8:
            _CHUNK_CACHE.pop(next(iter(_CHUNK_CACHE)))
        _CHUNK_CACHE[key] = tuple(store.chunks(collection))
    return _CHUNK_CACHE[key]


@lru_cache(maxsize=8)
def _bm25(texts: tuple[str, ...]) -> object:
    """A BM25 index of a collection's texts, kept for the next query on the same texts."""
    return bm25_index(texts)


def bm25_index(texts: Sequence[str]) -> object:
    """A new BM25 index (bm25s) of `texts`, English stopwords left out."""
    import logging

    import bm25s

    logging.getLogger("bm25s").setLevel(logging.WARNING)  # it sets its own logger to DEBUG on import
    index = bm25s.BM25()
    index.index(bm25s.tokenize(list(texts), stopwords="en", show_progress=False), show_progress=False)
    return index


def _passage(
    number: int, chunk: StoredChunk, score: float, method: SearchMethod, weak: bool = False
) -> Passage:
    rounded = float(np.round(score, 6))
    return Passage(number, chunk.document, chunk.position, rounded, chunk.text, chunk.id, method, weak)
