"""deployments: models served as OpenAI-compatible endpoints (llama.cpp's server in a process of its own).

One row per deployment: the model and files it serves, the machine, process group and address of its
server, the NAME of the environment variable holding its key (never the key), when it started, and its
last known state (starting, ready, failed with its log's last lines, stopped).

Revision ID: 0017
Revises: 0016
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "deployments",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("owner", sa.String(512), nullable=False),
        sa.Column("model", sa.Text(), nullable=False),
        sa.Column("served_name", sa.String(256), nullable=False),
        sa.Column("gguf_path", sa.Text(), nullable=False),
        sa.Column("lora_path", sa.Text(), nullable=True),
        sa.Column("machine", sa.String(256), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("host", sa.String(256), nullable=False),
        sa.Column("port", sa.Integer(), nullable=False),
        sa.Column("api_key_env", sa.String(128), nullable=False),
        sa.Column("log_path", sa.Text(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("stopped_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("log_tail", sa.Text(), nullable=True),
    )
    op.create_index("ix_deployments_owner", "deployments", ["owner"])
    op.create_index("ix_deployments_started_at", "deployments", ["started_at"])


def downgrade() -> None:
    op.drop_index("ix_deployments_started_at", table_name="deployments")
    op.drop_index("ix_deployments_owner", table_name="deployments")
    op.drop_table("deployments")
