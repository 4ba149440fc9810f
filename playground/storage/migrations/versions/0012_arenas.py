"""arenas, arena_participants, arena_battles, arena_turns and arena_votes: blind battles between two models.

- arenas: a named pool of models (and optional prompts) with its owner, whether it is closed, the votes a
  participant may cast per minute, the max tokens of each answer, and the app's address as participants
  reach it (for the join link; NULL: the address the owner's browser used).
- arena_participants: who joined an arena: a display name (local mode) or a signed-in user (hosted mode;
  one participant per user and arena).
- arena_battles: one participant's battle: the two models drawn, model_a shown as "Model A".
- arena_turns: each turn's prompt and, per side (a or b), the finished call (NULL while it answers).
- arena_votes: a participant's vote on a battle (model_a, model_b, tie or tie (bothbad)); one per battle
  and participant.

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def _arena_fk(column: str = "arena_id") -> sa.Column:
    return sa.Column(column, sa.String(32), sa.ForeignKey("arenas.id", ondelete="CASCADE"), nullable=False)


def upgrade() -> None:
    op.create_table(
        "arenas",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("owner", sa.String(512), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("models", sa.JSON(), nullable=False),
        sa.Column("prompts", sa.JSON(), nullable=False),
        sa.Column("votes_per_minute", sa.Integer(), nullable=False),
        sa.Column("max_tokens", sa.Integer(), nullable=False),
        sa.Column("address", sa.String(300), nullable=True),
        sa.UniqueConstraint("owner", "name", name="uq_arenas_owner_name"),
    )
    op.create_index("ix_arenas_owner", "arenas", ["owner"])
    op.create_table(
        "arena_participants",
        sa.Column("id", sa.String(32), primary_key=True),
        _arena_fk(),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("user_id", sa.String(512), nullable=True),
        sa.Column("joined_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("arena_id", "user_id", name="uq_arena_participants_user"),
    )
    op.create_index("ix_arena_participants_arena_id", "arena_participants", ["arena_id"])
    op.create_table(
        "arena_battles",
        sa.Column("id", sa.String(32), primary_key=True),
        _arena_fk(),
        sa.Column(
            "participant_id",
            sa.String(32),
            sa.ForeignKey("arena_participants.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("model_a", sa.String(200), nullable=False),
        sa.Column("model_b", sa.String(200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_arena_battles_arena_id", "arena_battles", ["arena_id"])
    op.create_index("ix_arena_battles_participant_id", "arena_battles", ["participant_id"])
    op.create_table(
        "arena_turns",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column(
            "battle_id", sa.String(32), sa.ForeignKey("arena_battles.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("turn_index", sa.Integer(), nullable=False),
        sa.Column("side", sa.String(1), nullable=False),
        sa.Column("prompt", sa.Text(), nullable=False),
        sa.Column("result", sa.JSON(), nullable=True),
        sa.UniqueConstraint("battle_id", "turn_index", "side", name="uq_arena_turns_turn_side"),
    )
    op.create_index("ix_arena_turns_battle_id", "arena_turns", ["battle_id"])
    op.create_table(
        "arena_votes",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        _arena_fk(),
        sa.Column(
            "battle_id", sa.String(32), sa.ForeignKey("arena_battles.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column(
            "participant_id",
            sa.String(32),
            sa.ForeignKey("arena_participants.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("winner", sa.String(16), nullable=False),
        sa.Column("voted_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("battle_id", "participant_id", name="uq_arena_votes_battle_participant"),
    )
    op.create_index("ix_arena_votes_arena_id", "arena_votes", ["arena_id"])
    op.create_index("ix_arena_votes_participant_voted_at", "arena_votes", ["participant_id", "voted_at"])


def downgrade() -> None:
    op.drop_table("arena_votes")
    op.drop_table("arena_turns")
    op.drop_table("arena_battles")
    op.drop_table("arena_participants")
    op.drop_table("arenas")
