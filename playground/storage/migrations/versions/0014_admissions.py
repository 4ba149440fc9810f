"""admissions and admission_holders; usage.admission_id and the calls' admitted maximum cost.

- admission_holders: a process (app replica, CLI, evaluation worker) holding reservations, and when its
  lease runs out without a renewal.
- admissions: a run admitted and still going, its owner, its holder, and the maximum cost reserved for
  it. Every replica reads and writes them, under a per-user lock, so limits hold across replicas.
- usage.admission_id: the admission a call was charged under (its reservation shrinks by the charge);
  NULL for calls made before this revision and in a local app.
- usage.max_cost_usd and results.max_cost_usd: the most the call was admitted to cost (its pre-run
  estimate at the request's max tokens). A call charged more than this (a usage report larger than the
  admitted maximum) shows the difference to the admin as over-admission. NULL: no price was known, or the
  call was made before this revision. Nothing already in the ledger changes meaning.

Revision ID: 0014
Revises: 0013
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "admission_holders",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_admission_holders_expires_at", "admission_holders", ["expires_at"])
    op.create_table(
        "admissions",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("owner", sa.String(512), nullable=False),
        sa.Column("holder", sa.String(64), nullable=False),
        sa.Column("what", sa.String(16), nullable=False),
        sa.Column("reserved_usd", sa.String(40), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_admissions_owner", "admissions", ["owner"])
    op.create_index("ix_admissions_holder", "admissions", ["holder"])
    # Plain ADD COLUMN on both databases: a batch rebuild of `results` on SQLite would drop the table
    # under its foreign keys (see 0010).
    op.add_column("usage", sa.Column("admission_id", sa.String(32), nullable=True))
    op.add_column("usage", sa.Column("max_cost_usd", sa.String(40), nullable=True))
    op.create_index("ix_usage_admission_id", "usage", ["admission_id"])
    op.add_column("results", sa.Column("max_cost_usd", sa.String(40), nullable=True))


def downgrade() -> None:
    op.drop_index("ix_usage_admission_id", table_name="usage")
    for table, column in (("results", "max_cost_usd"), ("usage", "max_cost_usd"), ("usage", "admission_id")):
        if op.get_bind().dialect.name == "sqlite":
            op.execute(f"ALTER TABLE {table} DROP COLUMN {column}")
        else:
            op.drop_column(table, column)
    op.drop_table("admissions")
    op.drop_table("admission_holders")
