"""Collections of a user's documents, their chunks, and each chunk's vector per embedding model, in the store.

Vector search runs in the database, on one code path for both engines: a chunk's vector is an `Embedding`
column (float32 blob on SQLite, pgvector's `vector` on PostgreSQL) and `cosine_distance` compiles to
sqlite-vec's `vec_distance_cosine` or pgvector's `<=>`. Nothing is searched by hand in Python and there is
no second store. The search is exact (a scan of the collection's vectors for one model): tens of thousands
of chunks take milliseconds (bench/bench_retrieval.py).
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
from sqlalchemy import (
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    bindparam,
    delete,
    func,
    select,
    text,
)
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.types import TypeDecorator

from playground.core.errors import UsageError
from playground.storage.runs import Store, TableBase, as_utc


class VectorSearchUnavailableError(UsageError):
    """This database cannot search vectors; the message says what is missing and how to add it."""


class Embedding(TypeDecorator[np.ndarray]):
    """A vector: float32 bytes on SQLite (sqlite-vec reads them), pgvector's `vector` on PostgreSQL."""

    impl = LargeBinary
    cache_ok = True

    def load_dialect_impl(self, dialect: Any) -> Any:
        if dialect.name == "postgresql":
            from pgvector.sqlalchemy import Vector

            return dialect.type_descriptor(Vector())
        return dialect.type_descriptor(LargeBinary())

    def process_bind_param(self, value: Any, dialect: Any) -> Any:
        if value is None:
            return None
        vector = np.asarray(value, dtype=np.float32)
        return vector if dialect.name == "postgresql" else vector.tobytes()

    def process_result_value(self, value: Any, dialect: Any) -> np.ndarray | None:
        if value is None:
            return None
        if isinstance(value, bytes | memoryview):
            return np.frombuffer(bytes(value), dtype=np.float32)
        return np.asarray(value, dtype=np.float32)


class cosine_distance(FunctionElement[float]):  # noqa: N801 - an SQL function, named as one
    """1 − cosine similarity of two vectors, computed by the database."""

    type = Float()
    inherit_cache = True
    name = "cosine_distance"


@compiles(cosine_distance, "sqlite")
def _sqlite_distance(element: cosine_distance, compiler: Any, **kw: Any) -> str:
    a, b = list(element.clauses)
    return f"vec_distance_cosine({compiler.process(a, **kw)}, {compiler.process(b, **kw)})"


@compiles(cosine_distance, "postgresql")
def _pg_distance(element: cosine_distance, compiler: Any, **kw: Any) -> str:
    a, b = list(element.clauses)
    return f"({compiler.process(a, **kw)} <=> {compiler.process(b, **kw)})"


class CollectionRow(TableBase):
    __tablename__ = "collections"
    __table_args__ = (UniqueConstraint("owner", "name", name="uq_collections_owner_name"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    owner: Mapped[str] = mapped_column(String(512), index=True)
    name: Mapped[str] = mapped_column(String(200))
    embedder: Mapped[str] = mapped_column(String(200))  # the model its search uses
    chunk_size: Mapped[int] = mapped_column(Integer)
    overlap: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class DocumentRow(TableBase):
    __tablename__ = "documents"
    __table_args__ = (UniqueConstraint("collection_id", "name", name="uq_documents_collection_name"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    collection_id: Mapped[str] = mapped_column(ForeignKey("collections.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(500))
    kind: Mapped[str] = mapped_column(String(16))
    chars: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    added_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ChunkRow(TableBase):
    __tablename__ = "chunks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    collection_id: Mapped[str] = mapped_column(ForeignKey("collections.id", ondelete="CASCADE"), index=True)
    document_id: Mapped[str] = mapped_column(ForeignKey("documents.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)  # its place in the document, from 0
    start: Mapped[int] = mapped_column(Integer)  # character offsets in the document's text
    end: Mapped[int] = mapped_column(Integer)
    tokens: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text)


class ChunkVectorRow(TableBase):
    __tablename__ = "chunk_vectors"
    __table_args__ = (Index("ix_chunk_vectors_collection_embedder", "collection_id", "embedder"),)

    chunk_id: Mapped[int] = mapped_column(ForeignKey("chunks.id", ondelete="CASCADE"), primary_key=True)
    embedder: Mapped[str] = mapped_column(String(200), primary_key=True)
    collection_id: Mapped[str] = mapped_column(String(32))
    embedding: Mapped[np.ndarray] = mapped_column(Embedding)


@dataclass(frozen=True)
class Collection:
    """A named set of documents, chunked one way and searched with one embedding model."""

    id: str
    owner: str
    name: str
    embedder: str
    chunk_size: int
    overlap: int
    created_at: datetime
    documents: int = 0
    chunks: int = 0
    last_chunk: int = 0  # the newest chunk's id: with `chunks`, tells whether its content changed


@dataclass(frozen=True)
class NewChunk:
    """A chunk to store: where it is in its document, and its text."""

    position: int
    start: int
    end: int
    tokens: int
    text: str


@dataclass(frozen=True)
class StoredChunk:
    """A chunk as stored, with the name of its document."""

    id: int
    document: str
    position: int
    start: int
    end: int
    tokens: int
    text: str


@dataclass(frozen=True)
class VectorHit:
    """A chunk found by a vector search: its cosine similarity to the query (1 is the same direction)."""

    chunk: StoredChunk
    score: float


class CollectionStore:
    """Collections, documents, chunks and their vectors, beside the runs (same database and engine)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._problem: tuple[str | None] | None = None

    def problem(self) -> str | None:
        """Why this database cannot search vectors, or None when it can (asked once per store: an
        extension added later needs a restart, as the README says)."""
        if self._problem is None:
            self._problem = (self._find_problem(),)
        return self._problem[0]

    def _find_problem(self) -> str | None:
        engine = self.store.engine
        try:
            with engine.connect() as connection:
                if engine.dialect.name == "sqlite":
                    connection.execute(text("select vec_version()"))
                    return None
                udt = connection.execute(
                    text(
                        "select udt_name from information_schema.columns "
                        "where table_name = 'chunk_vectors' and column_name = 'embedding'"
                    )
                ).scalar()
        except DBAPIError:
            return (
                "this SQLite cannot load the sqlite-vec extension (install pysqlite3-binary, or use a Python "
                "built with loadable SQLite extensions)"
            )
        if udt != "vector":
            return (
                "the PostgreSQL server has no pgvector: install it, run `CREATE EXTENSION vector;` as a "
                "superuser, then recreate the chunk_vectors table (see the README)"
            )
        return None

    def _check(self) -> None:
        if problem := self.problem():
            raise VectorSearchUnavailableError(f"Vector search is not available: {problem}.")

    def create(self, owner: str, name: str, embedder: str, chunk_size: int, overlap: int) -> Collection:
        """A new empty collection; UsageError if `owner` already has one by that name."""
        name = name.strip()
        if not name:
            raise UsageError("a collection needs a name")
        if self.find(owner, name) is not None:
            raise UsageError(f"you already have a collection named {name!r}")
        row = CollectionRow(
            id=uuid.uuid4().hex,
            owner=owner,
            name=name,
            embedder=embedder,
            chunk_size=chunk_size,
            overlap=overlap,
            created_at=datetime.now(UTC),
        )
        with self.store.reading(write=True) as session:
            session.add(row)
        return _collection(row)

    def find(self, owner: str, name: str) -> Collection | None:
        """`owner`'s collection by name, with its counts, or None."""
        with self.store.reading() as session:
            row = session.scalar(
                select(CollectionRow).where(CollectionRow.owner == owner, CollectionRow.name == name)
            )
            return self._counted(session, row) if row else None

    def list(self, owner: str) -> list[Collection]:
        """`owner`'s collections, by name, with their counts."""
        with self.store.reading() as session:
            rows = session.scalars(
                select(CollectionRow).where(CollectionRow.owner == owner).order_by(CollectionRow.name)
            )
            return [self._counted(session, row) for row in rows]

    @staticmethod
    def _counted(session: Any, row: CollectionRow) -> Collection:
        documents = session.scalar(select(func.count()).where(DocumentRow.collection_id == row.id))
        chunks, last = session.execute(
            select(func.count(), func.max(ChunkRow.id)).where(ChunkRow.collection_id == row.id)
        ).one()
        return _collection(row, documents or 0, chunks or 0, last or 0)

    def remove(self, collection: Collection) -> None:
        """Delete a collection with its documents, chunks and vectors."""
        with self.store.reading(write=True) as session:
            ids = select(ChunkRow.id).where(ChunkRow.collection_id == collection.id)
            session.execute(delete(ChunkVectorRow).where(ChunkVectorRow.chunk_id.in_(ids)))
            session.execute(delete(ChunkRow).where(ChunkRow.collection_id == collection.id))
            session.execute(delete(DocumentRow).where(DocumentRow.collection_id == collection.id))
            session.execute(delete(CollectionRow).where(CollectionRow.id == collection.id))

    def add_document(
        self,
        collection: Collection,
        name: str,
        kind: str,
        content: str,
        chunks: Sequence[NewChunk],
        vectors: np.ndarray,
    ) -> bool:
        """Store one document with its chunks and their vectors (collection's model), in one transaction:
        nothing is half added. A document of the same name is replaced; True if one was."""
        self._check()
        if len(chunks) != len(vectors):
            raise ValueError(f"{len(chunks)} chunks but {len(vectors)} vectors")
        with self.store.reading(write=True) as session:
            replaced = self._drop_document(session, collection.id, name)
            document = DocumentRow(
                id=uuid.uuid4().hex,
                collection_id=collection.id,
                name=name,
                kind=kind,
                chars=len(content),
                sha256=hashlib.sha256(content.encode()).hexdigest(),
                added_at=datetime.now(UTC),
            )
            session.add(document)
            session.flush()  # before its chunks: no relationship tells the ORM the order
            rows = [ChunkRow(collection_id=collection.id, document_id=document.id, **vars(c)) for c in chunks]
            session.add_all(rows)
            session.flush()  # the chunks' ids, for their vectors
            session.add_all(
                ChunkVectorRow(
                    chunk_id=r.id, embedder=collection.embedder, collection_id=collection.id, embedding=v
                )
                for r, v in zip(rows, vectors, strict=True)
            )
        return replaced

    @staticmethod
    def _drop_document(session: Any, collection_id: str, name: str) -> bool:
        old = session.scalar(
            select(DocumentRow.id).where(DocumentRow.collection_id == collection_id, DocumentRow.name == name)
        )
        if old is None:
            return False
        ids = select(ChunkRow.id).where(ChunkRow.document_id == old)
        session.execute(delete(ChunkVectorRow).where(ChunkVectorRow.chunk_id.in_(ids)))
        session.execute(delete(ChunkRow).where(ChunkRow.document_id == old))
        session.execute(delete(DocumentRow).where(DocumentRow.id == old))
        return True

    def search(self, collection: Collection, embedder: str, query: np.ndarray, k: int) -> list[VectorHit]:
        """The k chunks nearest to `query` among the collection's vectors from `embedder`, nearest first."""
        self._check()
        distance = cosine_distance(ChunkVectorRow.embedding, bindparam("query", query, type_=Embedding()))
        statement = (
            select(ChunkRow, DocumentRow.name, distance.label("distance"))
            .join(ChunkVectorRow, ChunkVectorRow.chunk_id == ChunkRow.id)
            .join(DocumentRow, DocumentRow.id == ChunkRow.document_id)
            .where(ChunkVectorRow.collection_id == collection.id, ChunkVectorRow.embedder == embedder)
            .order_by(distance, ChunkRow.id)
            .limit(k)
        )
        with self.store.reading() as session:
            return [
                VectorHit(_chunk(row, name), 1.0 - float(d)) for row, name, d in session.execute(statement)
            ]

    def chunks(self, collection: Collection) -> list[StoredChunk]:
        """Every chunk of a collection, in document and position order (BM25 and comparisons read them)."""
        statement = (
            select(ChunkRow, DocumentRow.name)
            .join(DocumentRow, DocumentRow.id == ChunkRow.document_id)
            .where(ChunkRow.collection_id == collection.id)
            .order_by(DocumentRow.name, ChunkRow.position)
        )
        with self.store.reading() as session:
            return [_chunk(row, name) for row, name in session.execute(statement)]

    def vectors(self, collection: Collection, embedder: str) -> dict[int, np.ndarray]:
        """Chunk id -> vector, for the chunks `embedder` has embedded."""
        statement = select(ChunkVectorRow.chunk_id, ChunkVectorRow.embedding).where(
            ChunkVectorRow.collection_id == collection.id, ChunkVectorRow.embedder == embedder
        )
        with self.store.reading() as session:
            return {chunk_id: vector for chunk_id, vector in session.execute(statement)}

    def add_vectors(self, collection: Collection, embedder: str, vectors: dict[int, np.ndarray]) -> None:
        """Keep another model's vectors for chunks already stored (to compare embedding models)."""
        self._check()
        with self.store.reading(write=True) as session:
            session.add_all(
                ChunkVectorRow(chunk_id=i, embedder=embedder, collection_id=collection.id, embedding=v)
                for i, v in vectors.items()
            )

    def drop_vectors(self, collection: Collection, embedder: str) -> None:
        """Delete `embedder`'s vectors of the collection (a comparison's own, when it ends); refused for
        the collection's own model, whose vectors its search uses."""
        if embedder == collection.embedder:
            raise ValueError(f"{embedder} is {collection.name!r}'s own embedding model: its vectors stay")
        with self.store.reading(write=True) as session:
            session.execute(
                delete(ChunkVectorRow).where(
                    ChunkVectorRow.collection_id == collection.id, ChunkVectorRow.embedder == embedder
                )
            )


def _collection(row: CollectionRow, documents: int = 0, chunks: int = 0, last: int = 0) -> Collection:
    return Collection(
        row.id,
        row.owner,
        row.name,
        row.embedder,
        row.chunk_size,
        row.overlap,
        as_utc(row.created_at),
        documents,
        chunks,
        last,
    )


def _chunk(row: ChunkRow, document: str) -> StoredChunk:
    return StoredChunk(row.id, document, row.position, row.start, row.end, row.tokens, row.text)
