"""eval_cells: one cell per row, model and number of examples (few-shot prompting), with the prompt sent.

- shots: how many examples the prompt showed before the row (0 for every cell saved before this revision).
- examples: the dataset rows used as those examples, in the order shown.
- sent: the exact prompt sent (chat messages, or the text of a base model's completion).
The unique key becomes (eval_id, row_index, model, shots). SQLite cannot change a table's constraints in
place, so the table is rebuilt (the same way on PostgreSQL: one path), every saved cell kept.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

COLUMNS = "id, eval_id, row_index, model, prompt, expected, result, scores, judge"


def upgrade() -> None:
    op.create_table(
        "eval_cells_new",
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
        sa.UniqueConstraint("eval_id", "row_index", "model", "shots", name="uq_eval_cells_cell"),
    )
    op.execute(f"INSERT INTO eval_cells_new ({COLUMNS}, shots) SELECT {COLUMNS}, 0 FROM eval_cells")
    op.drop_table("eval_cells")
    op.rename_table("eval_cells_new", "eval_cells")
    op.create_index("ix_eval_cells_eval_id", "eval_cells", ["eval_id"])
    if op.get_bind().dialect.name == "postgresql":  # ids were copied: the sequence goes on after them
        op.execute(
            "SELECT setval(pg_get_serial_sequence('eval_cells', 'id'), COALESCE(MAX(id), 0) + 1, false) "
            "FROM eval_cells"
        )


def downgrade() -> None:
    # The old key has room for one cell per row and model: only the cells without examples go back.
    op.create_table(
        "eval_cells_old",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("eval_id", sa.String(32), sa.ForeignKey("evals.id", ondelete="CASCADE"), nullable=False),
        sa.Column("row_index", sa.Integer(), nullable=False),
        sa.Column("model", sa.String(200), nullable=False),
        sa.Column("prompt", sa.Text(), nullable=False),
        sa.Column("expected", sa.Text(), nullable=True),
        sa.Column("result", sa.JSON(), nullable=False),
        sa.Column("scores", sa.JSON(), nullable=False),
        sa.Column("judge", sa.JSON(), nullable=True),
        sa.UniqueConstraint("eval_id", "row_index", "model"),
    )
    op.execute(f"INSERT INTO eval_cells_old ({COLUMNS}) SELECT {COLUMNS} FROM eval_cells WHERE shots = 0")
    op.drop_table("eval_cells")
    op.rename_table("eval_cells_old", "eval_cells")
    op.create_index("ix_eval_cells_eval_id", "eval_cells", ["eval_id"])
