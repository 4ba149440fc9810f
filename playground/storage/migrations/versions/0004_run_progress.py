"""Run progress: partial answers are saved as they stream, and a run says whether its process finished it.

- results.status: "done" for a finished call, "streaming" for the text saved so far of one still going
  (a killed server keeps it).
- runs.finished_at: set when every model of the run has ended; runs.heartbeat_at: refreshed while it runs.
  A run with neither a finish nor a recent heartbeat was interrupted.
Runs saved before this revision were finished by their process: finished_at = created_at.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("results") as batch:
        batch.add_column(sa.Column("status", sa.String(16), nullable=False, server_default="done"))
    with op.batch_alter_table("runs") as batch:
        batch.add_column(sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=True))
    runs = sa.table(
        "runs",
        sa.column("created_at", sa.DateTime(timezone=True)),
        sa.column("finished_at", sa.DateTime(timezone=True)),
    )
    op.execute(runs.update().values(finished_at=runs.c.created_at))


def downgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.drop_column("heartbeat_at")
        batch.drop_column("finished_at")
    with op.batch_alter_table("results") as batch:
        batch.drop_column("status")
