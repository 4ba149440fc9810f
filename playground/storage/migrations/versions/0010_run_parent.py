"""runs.parent_id: a follow-up run continues the conversation of the run it names.

Each model of a follow-up is sent the earlier turns of its own conversation: every earlier prompt and
its own earlier answers, read back along this chain. Deleting a run deletes the follow-ups that
continue it (they cannot be replayed without it). Runs saved before this revision start their own
conversation (parent_id NULL).

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        # SQLite adds the column with its reference in place. Rebuilding the table (Alembic's batch mode)
        # would drop `runs`, and with foreign keys on, that deletes every result through ON DELETE CASCADE.
        op.execute(
            "ALTER TABLE runs ADD COLUMN parent_id VARCHAR(32) "
            "CONSTRAINT fk_runs_parent_id REFERENCES runs (id) ON DELETE CASCADE"
        )
    else:
        op.add_column("runs", sa.Column("parent_id", sa.String(32), nullable=True))
        op.create_foreign_key("fk_runs_parent_id", "runs", "runs", ["parent_id"], ["id"], ondelete="CASCADE")
    op.create_index("ix_runs_parent_id", "runs", ["parent_id"])


def downgrade() -> None:
    op.drop_index("ix_runs_parent_id", "runs")
    if op.get_bind().dialect.name == "sqlite":
        op.execute("ALTER TABLE runs DROP COLUMN parent_id")  # allowed: its reference is its own
    else:
        op.drop_constraint("fk_runs_parent_id", "runs", type_="foreignkey")
        op.drop_column("runs", "parent_id")
