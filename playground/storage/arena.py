"""Arenas in the same database as runs: their pools, participants, blind battles, each turn's answers, votes.

Every check that must hold against a second session doing the same thing at the same moment (one vote per
participant and battle, the votes-per-minute limit, one turn at a time per battle, a closed arena) is made
inside the write transaction that records the action, with a unique constraint behind the vote.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from sqlalchemy import (
    JSON,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    delete,
    func,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column

from playground.core.errors import UsageError
from playground.core.results import RunResult
from playground.core.votes import WINNERS, Vote, Winner
from playground.storage.runs import Store, TableBase, as_utc

Side = Literal["a", "b"]
SIDES: tuple[Side, ...] = ("a", "b")


ALREADY_VOTED = "You have already voted on this battle: one vote per battle."


class ArenaError(UsageError):
    """An arena action refused (closed arena, double vote, no such battle, too many votes a minute, …):
    one line that says why; nothing was changed."""


class ArenaRow(TableBase):
    __tablename__ = "arenas"
    __table_args__ = (UniqueConstraint("owner", "name", name="uq_arenas_owner_name"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    owner: Mapped[str] = mapped_column(String(512), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    models: Mapped[list[str]] = mapped_column(JSON)
    prompts: Mapped[list[str]] = mapped_column(JSON)
    votes_per_minute: Mapped[int] = mapped_column(Integer)
    max_tokens: Mapped[int] = mapped_column(Integer)
    address: Mapped[str | None] = mapped_column(
        String(300), nullable=True
    )  # the app as participants reach it


class ParticipantRow(TableBase):
    __tablename__ = "arena_participants"
    __table_args__ = (
        UniqueConstraint("arena_id", "user_id", name="uq_arena_participants_user"),
        Index("ix_arena_participants_arena_device", "arena_id", "device"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    arena_id: Mapped[str] = mapped_column(ForeignKey("arenas.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    user_id: Mapped[str | None] = mapped_column(String(512), nullable=True)  # hosted mode's signed-in user
    joined_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # A local app's participant: the digest of the address they joined from (their votes per minute are
    # also counted per device, since anyone may join again under a new name).
    device: Mapped[str | None] = mapped_column(String(64), nullable=True)


class BattleRow(TableBase):
    __tablename__ = "arena_battles"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    arena_id: Mapped[str] = mapped_column(ForeignKey("arenas.id", ondelete="CASCADE"), index=True)
    participant_id: Mapped[str] = mapped_column(
        ForeignKey("arena_participants.id", ondelete="CASCADE"), index=True
    )
    model_a: Mapped[str] = mapped_column(String(200))  # shown as "Model A" (left) until the vote
    model_b: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class TurnRow(TableBase):
    __tablename__ = "arena_turns"
    __table_args__ = (UniqueConstraint("battle_id", "turn_index", "side", name="uq_arena_turns_turn_side"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    battle_id: Mapped[str] = mapped_column(ForeignKey("arena_battles.id", ondelete="CASCADE"), index=True)
    turn_index: Mapped[int] = mapped_column(Integer)
    side: Mapped[str] = mapped_column(String(1))
    prompt: Mapped[str] = mapped_column(Text)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)  # NULL while it answers


class VoteRow(TableBase):
    __tablename__ = "arena_votes"
    __table_args__ = (
        UniqueConstraint("battle_id", "participant_id", name="uq_arena_votes_battle_participant"),
        Index("ix_arena_votes_participant_voted_at", "participant_id", "voted_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    arena_id: Mapped[str] = mapped_column(ForeignKey("arenas.id", ondelete="CASCADE"), index=True)
    battle_id: Mapped[str] = mapped_column(ForeignKey("arena_battles.id", ondelete="CASCADE"))
    participant_id: Mapped[str] = mapped_column(ForeignKey("arena_participants.id", ondelete="CASCADE"))
    winner: Mapped[str] = mapped_column(String(16))
    voted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


@dataclass(frozen=True)
class StoredArena:
    """An arena as saved: its pool of models, optional prompts, owner and limits."""

    id: str
    name: str
    owner: str
    created_at: datetime
    closed_at: datetime | None
    models: tuple[str, ...]
    prompts: tuple[str, ...]
    votes_per_minute: int
    max_tokens: int
    address: str | None = None  # the app's address for the join link (None: as the owner's browser has it)

    @property
    def is_open(self) -> bool:
        """True while it takes battles and votes."""
        return self.closed_at is None


@dataclass(frozen=True)
class Participant:
    """Someone who joined an arena: a display name, and the signed-in user's id in hosted mode (in a local
    app, `device`: the digest of the address they joined from)."""

    id: str
    arena_id: str
    name: str
    user_id: str | None
    joined_at: datetime
    device: str | None = None


@dataclass(frozen=True)
class Turn:
    """One prompt of a battle and each side's answer (None while that side is still answering)."""

    index: int
    prompt: str
    a: RunResult | None
    b: RunResult | None

    def side(self, side: Side) -> RunResult | None:
        """The answer of one side."""
        return self.a if side == "a" else self.b


@dataclass(frozen=True)
class StoredBattle:
    """One participant's battle between two models of the pool, with its turns and the vote if cast."""

    id: str
    arena_id: str
    participant_id: str
    model_a: str
    model_b: str
    created_at: datetime
    turns: tuple[Turn, ...] = ()
    winner: Winner | None = None

    def model(self, side: Side) -> str:
        """The model behind one side."""
        return self.model_a if side == "a" else self.model_b

    @property
    def answering(self) -> bool:
        """True while an answer of its last turn has not ended."""
        return any(t.a is None or t.b is None for t in self.turns)

    @property
    def failed(self) -> bool:
        """True when an answer ended in an error: the battle cannot be voted on."""
        return any(r is not None and not r.ok for t in self.turns for r in (t.a, t.b))

    def not_votable_reason(self) -> str | None:
        """Why a vote on it is refused now (None: it may be voted on)."""
        if self.winner is not None:
            return ALREADY_VOTED
        if not self.turns:
            return "This battle has no answers yet."
        if self.failed:
            return "An answer in this battle failed, so it cannot be voted on."
        if self.answering:
            return "The models are still answering this battle."
        return None


@dataclass(frozen=True)
class StoredVote:
    """A vote as saved, with its battle's two models."""

    battle_id: str
    participant_id: str
    model_a: str
    model_b: str
    winner: Winner
    voted_at: datetime
    first_prompt: str = ""
    turns: int = 0

    def as_vote(self) -> Vote:
        """The vote-log form (judge: the participant's opaque id; tstamp: Unix seconds)."""
        return Vote(self.model_a, self.model_b, self.winner, self.participant_id, self.voted_at.timestamp())


@dataclass(frozen=True)
class PairCount:
    """How much one pair of models was drawn in an arena: battles started and votes cast."""

    battles: int = 0
    votes: int = 0


@dataclass(frozen=True)
class ArenaActivity:
    """An arena's counts, cheap to read every few seconds (the presenter view)."""

    participants: int = 0
    battles: int = 0
    votes: int = 0
    last_vote_at: datetime | None = None


class ArenaStore:
    """Arenas in the same database as runs (its migrations made the arena tables)."""

    def __init__(self, store: Store) -> None:
        self.store = store

    # --- arenas -------------------------------------------------------------------------------------
    def create(
        self,
        name: str,
        owner: str,
        models: Sequence[str],
        prompts: Sequence[str],
        votes_per_minute: int,
        max_tokens: int,
    ) -> StoredArena:
        """Save a new arena; ArenaError if `owner` already has one of that name."""
        row = ArenaRow(
            id=uuid.uuid4().hex,
            name=name,
            owner=owner,
            created_at=datetime.now(UTC),
            models=list(models),
            prompts=list(prompts),
            votes_per_minute=votes_per_minute,
            max_tokens=max_tokens,
        )
        taken = ArenaError(f"You already have an arena named {name!r}: choose another name.")
        with self.store.reading(write=True) as session:
            if session.scalar(select(ArenaRow.id).where(ArenaRow.owner == owner, ArenaRow.name == name)):
                raise taken
            _flush_unique(session, row, taken)
            return _arena(row)

    def get(self, arena_id: str) -> StoredArena | None:
        """One arena, or None."""
        with self.store.reading() as session:
            row = session.get(ArenaRow, arena_id)
            return _arena(row) if row is not None else None

    def list(self, owner: str | None = None, name: str | None = None) -> list[StoredArena]:
        """Arenas, newest first: only `owner`'s and only those named `name`, when given."""
        query = select(ArenaRow).order_by(ArenaRow.created_at.desc())
        if owner is not None:
            query = query.where(ArenaRow.owner == owner)
        if name is not None:
            query = query.where(ArenaRow.name == name)
        with self.store.reading() as session:
            return [_arena(row) for row in session.scalars(query)]

    def set_closed(self, arena_id: str, closed: bool) -> None:
        """Close an arena (no more battles or votes) or open it again."""
        with self.store.reading(write=True) as session:
            closed_at = datetime.now(UTC) if closed else None
            session.execute(update(ArenaRow).where(ArenaRow.id == arena_id).values(closed_at=closed_at))

    def set_address(self, arena_id: str, address: str | None) -> None:
        """Save the app's address for the join link (None: the address the owner's browser uses)."""
        with self.store.reading(write=True) as session:
            session.execute(update(ArenaRow).where(ArenaRow.id == arena_id).values(address=address))

    def reset(self, arena_id: str) -> int:
        """Delete an arena's battles, their answers and votes (the pool and participants stay); returns
        how many votes were deleted."""
        with self.store.reading(write=True) as session:
            votes = _count(session, VoteRow, VoteRow.arena_id == arena_id)
            battles = select(BattleRow.id).where(BattleRow.arena_id == arena_id)
            # Deleted child tables first: the ORM's bulk deletes do not rely on the database's cascades.
            session.execute(delete(VoteRow).where(VoteRow.arena_id == arena_id))
            session.execute(delete(TurnRow).where(TurnRow.battle_id.in_(battles)))
            session.execute(delete(BattleRow).where(BattleRow.arena_id == arena_id))
            return votes

    # --- participants -------------------------------------------------------------------------------
    def join(self, arena_id: str, name: str, user_id: str | None, device: str | None = None) -> Participant:
        """A new participant, or (hosted mode) the one this user already is in this arena; `device`: the
        digest of the address a local app's participant joins from."""
        with self.store.reading(write=True) as session:
            _open_arena(session, arena_id, "join")
            if user_id is not None:
                found = session.scalars(
                    select(ParticipantRow).where(
                        ParticipantRow.arena_id == arena_id, ParticipantRow.user_id == user_id
                    )
                ).first()
                if found is not None:
                    return _participant(found)
            row = ParticipantRow(
                id=uuid.uuid4().hex,
                arena_id=arena_id,
                name=name,
                user_id=user_id,
                joined_at=datetime.now(UTC),
                device=device,
            )
            session.add(row)
            session.flush()
            return _participant(row)

    def participant(self, participant_id: str) -> Participant | None:
        """One participant, or None."""
        with self.store.reading() as session:
            row = session.get(ParticipantRow, participant_id)
            return _participant(row) if row is not None else None

    # --- battles ------------------------------------------------------------------------------------
    def pair_counts(self, arena_id: str) -> dict[frozenset[str], PairCount]:
        """Battles and votes so far per pair of models (either side) in an arena."""
        battles = select(BattleRow.model_a, BattleRow.model_b, func.count(VoteRow.id)).outerjoin(
            VoteRow, VoteRow.battle_id == BattleRow.id
        )
        battles = battles.where(BattleRow.arena_id == arena_id).group_by(BattleRow.id)
        counts: dict[frozenset[str], PairCount] = {}
        with self.store.reading() as session:
            for model_a, model_b, votes in session.execute(battles):
                pair = frozenset((model_a, model_b))
                seen = counts.get(pair, PairCount())
                counts[pair] = PairCount(seen.battles + 1, seen.votes + votes)
        return counts

    def start_battle(
        self, arena_id: str, participant_id: str, model_a: str, model_b: str, prompt: str
    ) -> str:
        """Save a new battle and reserve its first turn; returns the battle's id."""
        battle_id = uuid.uuid4().hex
        with self.store.reading(write=True) as session:
            _open_arena(session, arena_id, "start a battle in")
            _own_participant(session, arena_id, participant_id)
            session.add(
                BattleRow(
                    id=battle_id,
                    arena_id=arena_id,
                    participant_id=participant_id,
                    model_a=model_a,
                    model_b=model_b,
                    created_at=datetime.now(UTC),
                )
            )
            session.flush()
            session.add_all(_pending_turn(battle_id, 0, prompt))
        return battle_id

    def start_turn(self, battle_id: str, participant_id: str, prompt: str) -> StoredBattle:
        """Reserve the next turn of a battle (a follow-up); ArenaError when the battle cannot go on: it is
        not the participant's, its arena is closed, it was voted on, failed, or still answers."""
        with self.store.reading(write=True) as session:
            battle = _battle_of(session, battle_id, participant_id)
            _open_arena(session, battle.arena_id, "follow up in")
            if battle.winner is not None:
                raise ArenaError("This battle was voted on: start a new battle to ask more.")
            if battle.failed:
                raise ArenaError("An answer in this battle failed, so it cannot go on: start a new battle.")
            if battle.answering:
                raise ArenaError("The models are still answering: wait for both answers, then follow up.")
            session.add_all(_pending_turn(battle_id, len(battle.turns), prompt))
            return battle

    def finish_answer(self, battle_id: str, turn_index: int, side: Side, result: RunResult) -> None:
        """Save one side's finished call in its reserved turn."""
        where = (TurnRow.battle_id == battle_id, TurnRow.turn_index == turn_index, TurnRow.side == side)
        with self.store.reading(write=True) as session:
            session.execute(update(TurnRow).where(*where).values(result=result.to_json()))

    def battle(self, battle_id: str) -> StoredBattle | None:
        """One battle with its turns and vote, or None."""
        with self.store.reading() as session:
            row = session.get(BattleRow, battle_id)
            return _battle(session, row) if row is not None else None

    def answers(self, arena_id: str) -> list[RunResult]:
        """Every finished answer of an arena's voted battles (its latency and cost figures). A battle not
        voted on yet is left out: its answers moving a median while it is blind would tell its
        participant something about which model is answering."""
        query = (
            select(TurnRow.result)
            .join(BattleRow, BattleRow.id == TurnRow.battle_id)
            .join(VoteRow, VoteRow.battle_id == BattleRow.id)
            .where(BattleRow.arena_id == arena_id, TurnRow.result.is_not(None))
        )
        with self.store.reading() as session:
            return [RunResult.from_json(data) for data in session.scalars(query)]

    # --- votes --------------------------------------------------------------------------------------
    def vote(
        self, battle_id: str, participant_id: str, winner: Winner, now: datetime | None = None
    ) -> StoredBattle:
        """Record a participant's vote on their battle; ArenaError (nothing saved) for a battle that does
        not exist or is not theirs, a closed arena, a battle not votable (answering, failed, voted) or a
        participant over the arena's votes per minute. Returns the battle with its vote."""
        if winner not in WINNERS:
            raise ArenaError(f"A vote is one of {', '.join(WINNERS)}, not {winner!r}.")
        now = now or datetime.now(UTC)
        with self.store.reading(write=True) as session:
            voters = _lock_voters(session, participant_id)
            battle = _battle_of(session, battle_id, participant_id)
            arena = _open_arena(session, battle.arena_id, "vote in")
            reason = battle.not_votable_reason()
            if reason is not None:
                raise ArenaError(reason)
            _check_rate(session, participant_id, voters, arena.votes_per_minute, now)
            row = VoteRow(
                arena_id=battle.arena_id,
                battle_id=battle_id,
                participant_id=participant_id,
                winner=winner,
                voted_at=now,
            )
            # A second vote at the same moment (another tab) passes the check above on PostgreSQL; the
            # unique constraint refuses it.
            _flush_unique(session, row, ArenaError(ALREADY_VOTED))
        return replace(battle, winner=winner)

    def votes(self, arena_id: str) -> list[StoredVote]:
        """An arena's votes, oldest first, with each battle's models, first prompt and number of turns."""
        turns = (
            select(TurnRow.battle_id, func.count(TurnRow.id).label("n"), func.min(TurnRow.id).label("first"))
            .where(TurnRow.side == "a")
            .group_by(TurnRow.battle_id)
            .subquery()
        )
        query = (
            select(VoteRow, BattleRow.model_a, BattleRow.model_b, TurnRow.prompt, turns.c.n)
            .join(BattleRow, BattleRow.id == VoteRow.battle_id)
            .outerjoin(turns, turns.c.battle_id == BattleRow.id)
            .outerjoin(TurnRow, TurnRow.id == turns.c.first)
            .where(VoteRow.arena_id == arena_id)
            .order_by(VoteRow.voted_at, VoteRow.id)
        )
        with self.store.reading() as session:
            return [
                StoredVote(
                    row.battle_id,
                    row.participant_id,
                    model_a,
                    model_b,
                    row.winner,  # type: ignore[arg-type] - only Winner values are written
                    as_utc(row.voted_at),
                    prompt or "",
                    n or 0,
                )
                for row, model_a, model_b, prompt, n in session.execute(query)
            ]

    def activity(self, arena_id: str) -> ArenaActivity:
        """How many have joined, battled and voted in an arena, and when the last vote came."""
        with self.store.reading() as session:
            last = session.scalar(select(func.max(VoteRow.voted_at)).where(VoteRow.arena_id == arena_id))
            return ArenaActivity(
                participants=_count(session, ParticipantRow, ParticipantRow.arena_id == arena_id),
                battles=_count(session, BattleRow, BattleRow.arena_id == arena_id),
                votes=_count(session, VoteRow, VoteRow.arena_id == arena_id),
                last_vote_at=as_utc(last) if last is not None else None,
            )


def _count(session: Session, table: type[TableBase], where: Any) -> int:
    return session.scalar(select(func.count()).select_from(table).where(where)) or 0


def _pending_turn(battle_id: str, index: int, prompt: str) -> list[TurnRow]:
    return [TurnRow(battle_id=battle_id, turn_index=index, side=side, prompt=prompt) for side in SIDES]


def _open_arena(session: Session, arena_id: str, action: str) -> StoredArena:
    row = session.get(ArenaRow, arena_id)
    if row is None:
        raise ArenaError(f"There is no arena {arena_id!r}: check the join link.")
    if row.closed_at is not None:
        raise ArenaError(f"The arena {row.name!r} is closed: you cannot {action} it any more.")
    return _arena(row)


def _own_participant(session: Session, arena_id: str, participant_id: str) -> None:
    row = session.get(ParticipantRow, participant_id)
    if row is None or row.arena_id != arena_id:
        raise ArenaError("You have not joined this arena: join it first.")


def _battle_of(session: Session, battle_id: str, participant_id: str) -> StoredBattle:
    row = session.get(BattleRow, battle_id)
    if row is None:
        raise ArenaError(f"There is no battle {battle_id!r} (it may have been deleted by a reset).")
    if row.participant_id != participant_id:
        raise ArenaError("This battle is another participant's: you can vote only on your own battles.")
    return _battle(session, row)


def _lock_voters(session: Session, participant_id: str) -> list[str]:
    """Lock the participant's row, and those of the other participants who joined from its device, until
    the vote is saved; returns their ids. On PostgreSQL (READ COMMITTED) two votes at the same moment would
    otherwise both count the votes before either and both pass the limit; the second now waits for the
    first and counts it. SQLite's write transaction (BEGIN IMMEDIATE) serialises them already."""
    device = session.scalar(select(ParticipantRow.device).where(ParticipantRow.id == participant_id))
    same = ParticipantRow.id == participant_id
    if device is not None:
        arena_id = select(ParticipantRow.arena_id).where(same).scalar_subquery()
        same = same | ((ParticipantRow.arena_id == arena_id) & (ParticipantRow.device == device))
    # One statement, in id order: two devices' votes never lock the same rows in opposite orders.
    query = select(ParticipantRow.id).where(same).order_by(ParticipantRow.id).with_for_update()
    return list(session.scalars(query))


def _check_rate(
    session: Session, participant_id: str, voters: Sequence[str], per_minute: int, now: datetime
) -> None:
    """ArenaError when the participant, or its device (all of `voters`), voted `per_minute` times in the
    last minute."""
    since = now - timedelta(minutes=1)
    recent = session.execute(
        select(VoteRow.participant_id, VoteRow.voted_at)
        .where(VoteRow.participant_id.in_(voters or [participant_id]), VoteRow.voted_at > since)
        .order_by(VoteRow.voted_at)
    ).all()
    own = [at for who, at in recent if who == participant_id]
    for votes, who in ((own, "You have"), ([at for _, at in recent], "This device has")):
        if len(votes) >= per_minute:
            wait = (as_utc(votes[0]) + timedelta(minutes=1) - now).total_seconds()
            raise ArenaError(
                f"{who} voted {len(votes)} times in the last minute; this arena takes at most {per_minute} "
                f"votes a minute from each participant and each device. Try again in {max(wait, 1):.0f} s."
            )


def _arena(row: ArenaRow) -> StoredArena:
    return StoredArena(
        id=row.id,
        name=row.name,
        owner=row.owner,
        created_at=as_utc(row.created_at),
        closed_at=as_utc(row.closed_at) if row.closed_at is not None else None,
        models=tuple(row.models),
        prompts=tuple(row.prompts),
        votes_per_minute=row.votes_per_minute,
        max_tokens=row.max_tokens,
        address=row.address,
    )


def _participant(row: ParticipantRow) -> Participant:
    return Participant(row.id, row.arena_id, row.name, row.user_id, as_utc(row.joined_at), row.device)


def _battle(session: Session, row: BattleRow) -> StoredBattle:
    turns: dict[int, dict[str, Any]] = {}
    query = select(TurnRow).where(TurnRow.battle_id == row.id).order_by(TurnRow.turn_index, TurnRow.side)
    for turn in session.scalars(query):
        entry = turns.setdefault(turn.turn_index, {"prompt": turn.prompt})
        entry[turn.side] = RunResult.from_json(turn.result) if turn.result is not None else None
    winner = session.scalar(select(VoteRow.winner).where(VoteRow.battle_id == row.id))
    return StoredBattle(
        id=row.id,
        arena_id=row.arena_id,
        participant_id=row.participant_id,
        model_a=row.model_a,
        model_b=row.model_b,
        created_at=as_utc(row.created_at),
        turns=tuple(Turn(i, t["prompt"], t.get("a"), t.get("b")) for i, t in sorted(turns.items())),
        winner=winner,  # type: ignore[arg-type] - only Winner values are written
    )


def _flush_unique(session: Session, row: TableBase, refusal: ArenaError) -> None:
    """Add `row` now; `refusal` if a unique constraint refuses it (the transaction is then rolled back)."""
    session.add(row)
    try:
        session.flush()
    except IntegrityError as exc:
        raise refusal from exc
