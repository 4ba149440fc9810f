"""collections, documents, chunks and chunk_vectors: retrieval over a user's documents, in the same store.

A chunk's vector is kept per embedding model (chunk_vectors), so one collection can be searched, and its
embedding models compared, without parsing or chunking again.
- SQLite: vectors are float32 blobs, searched with the sqlite-vec extension's distance functions.
- PostgreSQL: pgvector's `vector` type. The extension is created here if the server has it (a superuser
  may have to run `CREATE EXTENSION vector` first); on a server without it the column is `bytea`, and
  retrieval says pgvector is missing instead of failing.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.exc import DBAPIError

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def _vector_type() -> sa.types.TypeEngine:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return sa.LargeBinary()
    savepoint = bind.begin_nested()  # a failed CREATE EXTENSION must not abort the migration
    try:
        bind.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS vector")
    except DBAPIError:
        savepoint.rollback()
        return sa.LargeBinary()
    savepoint.commit()
    from pgvector.sqlalchemy import Vector

    return Vector()


def upgrade() -> None:
    op.create_table(
        "collections",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("owner", sa.String(512), nullable=False, index=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("embedder", sa.String(200), nullable=False),
        sa.Column("chunk_size", sa.Integer(), nullable=False),
        sa.Column("overlap", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("owner", "name", name="uq_collections_owner_name"),
    )
    op.create_table(
        "documents",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column(
            "collection_id",
            sa.String(32),
            sa.ForeignKey("collections.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("name", sa.String(500), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("chars", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("collection_id", "name", name="uq_documents_collection_name"),
    )
    op.create_index("ix_documents_collection_id", "documents", ["collection_id"])
    op.create_table(
        "chunks",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column(
            "collection_id",
            sa.String(32),
            sa.ForeignKey("collections.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column(
            "document_id", sa.String(32), sa.ForeignKey("documents.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("start", sa.Integer(), nullable=False),
        sa.Column("end", sa.Integer(), nullable=False),
        sa.Column("tokens", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
    )
    op.create_index("ix_chunks_collection_id", "chunks", ["collection_id"])
    op.create_index("ix_chunks_document_id", "chunks", ["document_id"])
    op.create_table(
        "chunk_vectors",
        sa.Column("chunk_id", sa.Integer(), sa.ForeignKey("chunks.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("embedder", sa.String(200), primary_key=True),
        sa.Column("collection_id", sa.String(32), nullable=False),
        sa.Column("embedding", _vector_type(), nullable=False),
    )
    op.create_index("ix_chunk_vectors_collection_embedder", "chunk_vectors", ["collection_id", "embedder"])


def downgrade() -> None:
    op.drop_table("chunk_vectors")
    op.drop_table("chunks")
    op.drop_table("documents")
    op.drop_table("collections")
