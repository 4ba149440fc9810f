"""run_media: the files a run keeps beside its answers.

A speech or image comparison is kept as a run (its kind is its task); the audio or image it was given
(model "") and the speech or pictures its models made are kept here, so History and share links show
them from the server's own bytes. Deleting a run deletes its files.

Revision ID: 0015
Revises: 0014
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "run_media",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("run_id", sa.String(32), sa.ForeignKey("runs.id", ondelete="CASCADE"), nullable=False),
        sa.Column("model", sa.String(200), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("mime", sa.String(64), nullable=False),
        sa.Column("data", sa.LargeBinary, nullable=False),
    )
    op.create_index("ix_run_media_run_id", "run_media", ["run_id"])


def downgrade() -> None:
    op.drop_index("ix_run_media_run_id", table_name="run_media")
    op.drop_table("run_media")
