"""eval_cells: with or without retrieval is part of a cell's key, and a cell keeps what retrieval found.

- rag: the row's prompt was sent after the chunks retrieved from the evaluation's collection (false for
  every cell saved before this revision).
- retrieved: those chunks (document, position, chunk id, score), for recall@k and MRR against gold sources.
The unique key becomes (eval_id, row_index, model, shots, rag): the table is rebuilt as in 0007.

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

COLUMNS = "id, eval_id, row_index, model, shots, prompt, expected, result, scores, judge, examples, sent"


def _table(name: str, with_rag: bool) -> None:
    extra = [
        sa.Column("rag", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("retrieved", sa.JSON(), nullable=True),
    ]
    key = (
        ("eval_id", "row_index", "model", "shots", "rag")
        if with_rag
        else ("eval_id", "row_index", "model", "shots")
    )
    op.create_table(
        name,
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("eval_id", sa.String(32), sa.ForeignKey("evals.id", ondelete="CASCADE"), nullable=False),
        sa.Column("row_index", sa.Integer(), nullable=False),
        sa.Column("model", sa.String(200), nullable=False),
        sa.Column("shots", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("prompt", sa.Text(), nullable=False),
        sa.Column("expected", sa.Text(), nullable=True),
        sa.Column("result", sa.JSON(), nullable=False),
        sa.Column("scores", sa.JSON(), nullable=False),
        sa.Column("judge", sa.JSON(), nullable=True),
        sa.Column("examples", sa.JSON(), nullable=True),
        sa.Column("sent", sa.JSON(), nullable=True),
        *(extra if with_rag else []),
        sa.UniqueConstraint(*key, name="uq_eval_cells_cell"),
    )


def _swap(with_rag: bool, where: str = "") -> None:
    if op.get_bind().dialect.name == "postgresql":  # constraint names are per schema there: free the name
        op.execute("ALTER TABLE eval_cells RENAME CONSTRAINT uq_eval_cells_cell TO uq_eval_cells_cell_old")
    _table("eval_cells_next", with_rag)
    op.execute(f"INSERT INTO eval_cells_next ({COLUMNS}) SELECT {COLUMNS} FROM eval_cells {where}")
    op.drop_table("eval_cells")
    op.rename_table("eval_cells_next", "eval_cells")
    op.create_index("ix_eval_cells_eval_id", "eval_cells", ["eval_id"])
    if op.get_bind().dialect.name == "postgresql":  # ids were copied: the sequence goes on after them
        op.execute(
            "SELECT setval(pg_get_serial_sequence('eval_cells', 'id'), COALESCE(MAX(id), 0) + 1, false) "
            "FROM eval_cells"
        )


def upgrade() -> None:
    _swap(with_rag=True)


def downgrade() -> None:
    _swap(with_rag=False, where="WHERE rag = false")
