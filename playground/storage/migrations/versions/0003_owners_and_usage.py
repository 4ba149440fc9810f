"""Owners and the usage ledger: runs and evaluations belong to a user; every call's cost is recorded.

Existing rows get the owner "local" (the one user of a local app). The ledger is filled from the calls
already saved, so spend and the admin report include them.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

LOCAL_OWNER = "local"  # playground.core.policy.LOCAL_OWNER, spelled here so the migration never changes


def upgrade() -> None:
    for table in ("runs", "evals"):
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("owner", sa.String(512), nullable=False, server_default=LOCAL_OWNER))
            batch.create_index(f"ix_{table}_owner", ["owner"])
    usage = op.create_table(
        "usage",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("owner", sa.String(512), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("ref_id", sa.String(32), nullable=False),
        sa.Column("model", sa.String(200), nullable=False),
        sa.Column("cost_usd", sa.String(40), nullable=True),
        sa.Column("cost_source", sa.String(64), nullable=False),
        sa.Column("error_kind", sa.String(32), nullable=True),
    )
    op.create_index("ix_usage_owner_at", "usage", ["owner", "at"])
    op.create_index("ix_usage_at", "usage", ["at"])
    _fill_usage(usage)


# The tables as they are at this revision (typed, so dates come back as datetimes on every database).
_runs = sa.table("runs", sa.column("id", sa.String), sa.column("created_at", sa.DateTime(timezone=True)))
_results = sa.table(
    "results",
    sa.column("run_id", sa.String),
    sa.column("model", sa.String),
    sa.column("cost_usd", sa.String),
    sa.column("cost_source", sa.String),
    sa.column("error_kind", sa.String),
)
_evals = sa.table("evals", sa.column("id", sa.String), sa.column("created_at", sa.DateTime(timezone=True)))
_cells = sa.table(
    "eval_cells",
    sa.column("eval_id", sa.String),
    sa.column("model", sa.String),
    sa.column("result", sa.JSON),
    sa.column("judge", sa.JSON),
)


def _fill_usage(usage: sa.Table) -> None:
    connection = op.get_bind()
    calls = connection.execute(
        sa.select(
            _runs.c.id,
            _runs.c.created_at,
            _results.c.model,
            _results.c.cost_usd,
            _results.c.cost_source,
            _results.c.error_kind,
        ).join(_results, _results.c.run_id == _runs.c.id)
    )
    rows = [
        _usage_row("run", run_id, at, model, cost, source, error)
        for run_id, at, model, cost, source, error in calls
    ]
    cells = connection.execute(
        sa.select(_evals.c.id, _evals.c.created_at, _cells.c.model, _cells.c.result, _cells.c.judge).join(
            _cells, _cells.c.eval_id == _evals.c.id
        )
    )
    for eval_id, at, model, result, judge in cells:
        for kind, call in (("eval", result), ("judge", judge)):
            if call:
                error = (call.get("error") or {}).get("kind")
                rows.append(
                    _usage_row(
                        kind,
                        eval_id,
                        at,
                        call.get("model") or model,
                        call.get("cost_usd"),
                        call.get("cost_source"),
                        error,
                    )
                )
    if rows:
        op.bulk_insert(usage, rows)


def _usage_row(kind, ref_id, at, model, cost, source, error):  # noqa: ANN001, ANN202 - one ledger row
    return {
        "owner": LOCAL_OWNER,
        "at": at,
        "kind": kind,
        "ref_id": ref_id,
        "model": model,
        "cost_usd": cost,
        "cost_source": source or "unknown",
        "error_kind": error,
    }


def downgrade() -> None:
    op.drop_index("ix_usage_at", table_name="usage")
    op.drop_index("ix_usage_owner_at", table_name="usage")
    op.drop_table("usage")
    for table in ("evals", "runs"):
        with op.batch_alter_table(table) as batch:
            batch.drop_index(f"ix_{table}_owner")
            batch.drop_column("owner")
