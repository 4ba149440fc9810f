"""arena_participants.device: the device a participant of a local app joined from, hashed with the arena.

In a local app anyone may join again under a new display name (a reload joins anew), so an arena's
votes-per-minute limit is also kept per device: the address the participant connects from, stored only as
a SHA-256 digest salted with the arena's id (NULL in hosted mode, where a participant is a signed-in user,
and for participants joined before this revision).

Revision ID: 0013
Revises: 0012
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("arena_participants") as table:
        table.add_column(sa.Column("device", sa.String(64), nullable=True))
    op.create_index("ix_arena_participants_arena_device", "arena_participants", ["arena_id", "device"])


def downgrade() -> None:
    op.drop_index("ix_arena_participants_arena_device", table_name="arena_participants")
    with op.batch_alter_table("arena_participants") as table:
        table.drop_column("device")
