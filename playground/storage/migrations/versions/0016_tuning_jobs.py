"""tuning_jobs: fine-tuning jobs (hosted APIs now; a local job is another `kind` later).

One row per job: its owner, kind (openai, azure, local), the base model's key and the provider's model id,
the upstream job and training file ids, the state, the tuned model's id once it succeeded, epochs, the
checked training tokens and the tokens the provider reports it trained, the estimated cost (decimal
string) and its source, the training price used (per million tokens), the cost of the tokens a succeeded
job trained (settled once: the ledger gets its difference from the estimate), the events read so far
(JSON, appended: a failed or cancelled job keeps them), the held-out examples (for base vs tuned), the
failure's message, and when it was created and last updated.

Revision ID: 0016
Revises: 0015
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "tuning_jobs",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("owner", sa.String(512), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("model_key", sa.String(200), nullable=False),
        sa.Column("provider_model", sa.String(200), nullable=False),
        sa.Column("upstream_id", sa.String(200), nullable=True),
        sa.Column("training_file_id", sa.String(200), nullable=True),
        sa.Column("state", sa.String(32), nullable=False),
        sa.Column("fine_tuned_model", sa.String(300), nullable=True),
        sa.Column("epochs", sa.Integer(), nullable=False),
        sa.Column("training_tokens", sa.Integer(), nullable=False),
        sa.Column("trained_tokens", sa.Integer(), nullable=True),
        sa.Column("estimated_cost_usd", sa.String(40), nullable=True),
        sa.Column("cost_source", sa.String(200), nullable=False),
        sa.Column("price_per_mtok", sa.String(40), nullable=True),
        sa.Column("settled_usd", sa.String(40), nullable=True),
        sa.Column("events", sa.JSON(), nullable=False),
        sa.Column("holdout", sa.JSON(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_tuning_jobs_owner_created_at", "tuning_jobs", ["owner", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_tuning_jobs_owner_created_at", table_name="tuning_jobs")
    op.drop_table("tuning_jobs")
