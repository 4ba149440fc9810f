"""eval_jobs and eval_workers: evaluations queued for `playground worker` processes.

- eval_jobs: one row per evaluation that was queued (not for one run in its page): its state, how many cells it has (rows × models), the worker
  holding it and until when (its lease), whether its owner asked it to stop, why it failed.
- eval_workers: each worker process, as last seen: the pages show whether any is alive.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "eval_jobs",
        sa.Column("eval_id", sa.String(32), sa.ForeignKey("evals.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("owner", sa.String(512), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("cells", sa.Integer, nullable=False),
        sa.Column("queued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("worker", sa.String(200), nullable=True),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("claims", sa.Integer, nullable=False, server_default="0"),
        sa.Column("stop_requested", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("error", sa.Text, nullable=True),
    )
    op.create_index("ix_eval_jobs_state_queued_at", "eval_jobs", ["state", "queued_at"])
    op.create_table(
        "eval_workers",
        sa.Column("id", sa.String(200), primary_key=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("job", sa.String(32), nullable=True),
    )


def downgrade() -> None:
    op.drop_table("eval_workers")
    op.drop_index("ix_eval_jobs_state_queued_at", table_name="eval_jobs")
    op.drop_table("eval_jobs")
