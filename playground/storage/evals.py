"""Evaluations in the same database as runs: the setup (with its rows, so it can resume) and every finished cell."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
    delete,
    false,
    func,
    select,
)
from sqlalchemy.orm import Mapped, mapped_column

from playground.core.policy import LOCAL_OWNER
from playground.core.results import RunResult
from playground.core.scores import Score
from playground.storage.runs import SAVE_WAIT_S, Store, StoreUnavailableError, TableBase
from playground.storage.writer import Pending

# An evaluation's writer waits this long for one cell before it stops the run (the cell stays queued and
# is saved when the database is back; resume then runs only what is missing).
CELL_WAIT_S = 60.0


class EvalRow(TableBase):
    __tablename__ = "evals"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    name: Mapped[str] = mapped_column(String(300))
    setup: Mapped[dict[str, Any]] = mapped_column(JSON)
    dataset: Mapped[dict[str, Any]] = mapped_column(JSON)  # name, columns, rows: what resume runs on
    owner: Mapped[str] = mapped_column(String(512), index=True, server_default=LOCAL_OWNER)


class EvalCellRow(TableBase):
    __tablename__ = "eval_cells"
    __table_args__ = (
        UniqueConstraint("eval_id", "row_index", "model", "shots", "rag", name="uq_eval_cells_cell"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    eval_id: Mapped[str] = mapped_column(ForeignKey("evals.id", ondelete="CASCADE"), index=True)
    row_index: Mapped[int] = mapped_column(Integer)
    model: Mapped[str] = mapped_column(String(200))
    shots: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    prompt: Mapped[str] = mapped_column(Text)
    expected: Mapped[str | None] = mapped_column(Text, nullable=True)
    result: Mapped[dict[str, Any]] = mapped_column(JSON)
    scores: Mapped[dict[str, Any]] = mapped_column(JSON)
    judge: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    examples: Mapped[list[int] | None] = mapped_column(JSON, nullable=True)
    sent: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    rag: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    retrieved: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON, nullable=True)


@dataclass(frozen=True)
class Arm:
    """One way an evaluation asks every row: a model, shown `shots` examples first. Summaries, charts and
    the matrix have one entry per arm; without few-shot prompting there is one arm per model."""

    model: str
    shots: int = 0
    label: str = ""  # the model key, with " · 3-shot" and " · rag" when the evaluation compares those
    rag: bool = False

    def holds(self, cell: Cell) -> bool:
        """True for this arm's cells."""
        return (cell.model, cell.shots, cell.rag) == (self.model, self.shots, self.rag)

    @property
    def key(self) -> tuple[str, int, bool]:
        """What a cell of this arm matches on."""
        return (self.model, self.shots, self.rag)


def arms_of(models: Sequence[str], shots: Sequence[int], rag: Sequence[bool] = (False,)) -> list[Arm]:
    """The arms of an evaluation, model by model, fewest examples first, without retrieval first."""
    return [
        Arm(
            m,
            k,
            m
            + ("" if list(shots) == [0] else f" · {k}-shot")
            + ("" if list(rag) == [False] else " · rag" if r else " · plain"),
            r,
        )
        for m in models
        for k in sorted(shots)
        for r in sorted(rag)
    ]


def cell_count(setup: dict[str, Any], dataset: dict[str, Any]) -> int:
    """How many cells an evaluation has: rows × models × example counts (one, 0, before few-shot)."""
    variants = len(setup.get("shots") or [0]) * len(setup.get("rag") or [False])
    return len(dataset["rows"]) * len(setup["models"]) * variants


@dataclass
class Cell:
    """One dataset row answered by one model (after `shots` examples), with its scores (and the judge's
    call, if any). `prompt` is the row's own prompt; `sent` the whole prompt as sent, examples included."""

    row_index: int
    model: str
    prompt: str
    expected: str | None
    result: RunResult
    scores: dict[str, Score] = field(default_factory=dict)
    judge: RunResult | None = None
    shots: int = 0
    examples: tuple[int, ...] = ()  # the rows shown as examples, in order
    sent: dict[str, Any] | None = None  # ChatRequest.prompt_json() of the call (None before revision 0007)
    rag: bool = False  # sent after the chunks retrieved for its prompt
    retrieved: tuple[dict[str, Any], ...] = ()  # those chunks: source, position, chunk_id, score (best first)

    def to_json(self) -> dict[str, Any]:
        """JSON-ready form (exports)."""
        return {
            "row_index": self.row_index,
            "model": self.model,
            "shots": self.shots,
            "examples": list(self.examples),
            "rag": self.rag,
            "retrieved": list(self.retrieved),
            "prompt": self.prompt,
            "expected": self.expected,
            "result": self.result.to_json(),
            "scores": {name: score.to_json() for name, score in self.scores.items()},
            "judge": self.judge.to_json() if self.judge else None,
            "sent": self.sent,
        }


@dataclass(frozen=True)
class StoredEval:
    """An evaluation as saved: its setup, dataset and the cells finished so far."""

    id: str
    created_at: datetime
    name: str
    setup: dict[str, Any]
    dataset: dict[str, Any]
    cells: list[Cell]
    owner: str = LOCAL_OWNER

    @property
    def shots(self) -> list[int]:
        """The numbers of examples it compares ([0] before few-shot prompting)."""
        return list(self.setup.get("shots") or [0])

    @property
    def arms(self) -> list[Arm]:
        """Its arms: each model with each number of examples."""
        return arms_of(self.setup["models"], self.shots, self.setup.get("rag") or [False])

    @property
    def total_cells(self) -> int:
        """Rows × models × example counts."""
        return cell_count(self.setup, self.dataset)

    @property
    def complete(self) -> bool:
        """True when every row has an answer from every model."""
        return len(self.cells) >= self.total_cells


@dataclass(frozen=True)
class EvalListing:
    """One line of the evaluation history."""

    id: str
    created_at: datetime
    name: str
    models: list[str]
    done: int
    total: int


class EvalStore:
    """Saves evaluations next to runs (same database, same engine)."""

    def __init__(self, store: Store) -> None:
        self.store = store  # its migrations made the eval tables too

    def create(
        self, name: str, setup: dict[str, Any], dataset: dict[str, Any], *, owner: str = LOCAL_OWNER
    ) -> str:
        """Record an evaluation for `owner` before any model is called; returns its id.

        StoreUnavailableError if the database does not take it: nothing has been sent yet."""
        eval_id = uuid.uuid4().hex
        row = EvalRow(
            id=eval_id,
            created_at=datetime.now(UTC),
            name=name,
            setup=json.loads(json.dumps(setup, default=str)),
            dataset=dataset,
            owner=owner,
        )
        pending = self.store.writer.save(
            f"evaluation {eval_id}", lambda session: session.add(row), SAVE_WAIT_S
        )
        if not pending.saved.is_set():
            raise StoreUnavailableError(
                f"the history database did not take the new evaluation ({pending.failed or pending.last_error})"
            )
        return eval_id

    def record_call(
        self, owner: str, kind: str, eval_id: str, result: RunResult, admission_id: str | None = None
    ) -> None:
        """Put one finished call of an evaluation (an answer or the judge's) in the usage ledger, charged
        under `admission_id`."""
        self.store.record_call(owner, kind, eval_id, result, admission_id)

    def add_cell(self, eval_id: str, cell: Cell, wait_s: float | None = CELL_WAIT_S) -> Pending:
        """Save one finished cell (as it finishes), waiting up to `wait_s` for the database; the writer
        goes on retrying after. A second save of the same cell is refused by the database and ignored."""
        row = EvalCellRow(
            eval_id=eval_id,
            row_index=cell.row_index,
            model=cell.model,
            shots=cell.shots,
            examples=list(cell.examples),
            sent=cell.sent,
            rag=cell.rag,
            retrieved=list(cell.retrieved) or None,
            prompt=cell.prompt,
            expected=cell.expected,
            result=cell.result.to_json(),
            scores={name: score.to_json() for name, score in cell.scores.items()},
            judge=cell.judge.to_json() if cell.judge else None,
        )
        return self.store.writer.save(
            f"row {cell.row_index} of {cell.model} ({cell.shots}-shot) in evaluation {eval_id}",
            lambda session: session.add(row),
            wait_s,
        )

    def get(self, eval_id: str) -> StoredEval | None:
        """One evaluation with its finished cells, or None."""
        with self.store.reading() as session:
            row = session.get(EvalRow, eval_id)
            if row is None:
                return None
            cells = session.scalars(
                select(EvalCellRow)
                .where(EvalCellRow.eval_id == eval_id)
                .order_by(EvalCellRow.row_index, EvalCellRow.model, EvalCellRow.shots, EvalCellRow.rag)
            )
            return StoredEval(
                row.id, row.created_at, row.name, row.setup, row.dataset, [_cell(c) for c in cells], row.owner
            )

    def list(self, limit: int = 100, *, owner: str | None = None) -> list[EvalListing]:
        """Newest first (only `owner`'s when given), with how many cells are done out of how many."""
        counts = (
            select(EvalCellRow.eval_id, func.count().label("done")).group_by(EvalCellRow.eval_id).subquery()
        )
        query = (
            select(EvalRow, counts.c.done)
            .outerjoin(counts, counts.c.eval_id == EvalRow.id)
            .order_by(EvalRow.created_at.desc())
            .limit(limit)
        )
        if owner is not None:
            query = query.where(EvalRow.owner == owner)
        with self.store.reading() as session:
            return [
                EvalListing(
                    row.id,
                    row.created_at,
                    row.name,
                    list(row.setup["models"]),
                    done or 0,
                    cell_count(row.setup, row.dataset),
                )
                for row, done in session.execute(query)
            ]

    def done_count(self, eval_id: str) -> int:
        """How many cells of an evaluation are saved (a page following a worker reads this each second)."""
        query = select(func.count()).select_from(EvalCellRow).where(EvalCellRow.eval_id == eval_id)
        with self.store.reading() as session:
            return session.scalar(query) or 0

    def delete(self, eval_id: str, *, owner: str | None = None) -> bool:
        """Delete an evaluation and its cells (only if `owner` owns it, when given); True if it was deleted.

        UsageError if it is queued or running on a worker: stop it first."""
        from playground.storage.jobs import JobStore  # the queue's table refers to this one

        JobStore(self.store).check_deletable(eval_id)
        with self.store.reading(write=True) as session:
            owned = select(EvalRow.id).where(EvalRow.id == eval_id)
            if owner is not None and session.scalar(owned.where(EvalRow.owner == owner)) is None:
                return False
            session.execute(delete(EvalCellRow).where(EvalCellRow.eval_id == eval_id))
            return bool(session.execute(delete(EvalRow).where(EvalRow.id == eval_id)).rowcount)


def _cell(row: EvalCellRow) -> Cell:
    return Cell(
        row_index=row.row_index,
        model=row.model,
        prompt=row.prompt,
        expected=row.expected,
        result=RunResult.from_json(row.result),
        scores={name: Score.from_json(value) for name, value in row.scores.items()},
        judge=RunResult.from_json(row.judge) if row.judge else None,
        shots=row.shots,
        examples=tuple(row.examples or ()),
        sent=row.sent,
        rag=bool(row.rag),
        retrieved=tuple(row.retrieved or ()),
    )
