"""Files a run keeps beside its answers: the audio or image a speech or image comparison was given, and
the speech or pictures its models made. History and share links show them from here, as the server's own
bytes (no URL a model gave is ever stored or fetched)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy import ForeignKey, Integer, LargeBinary, String, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from playground.core.policy import LOCAL_OWNER
from playground.core.results import RunResult
from playground.storage.runs import SAVE_WAIT_S, Pending, Store, TableBase

INPUT = ""  # the model name of the file a run was given (its models' files carry their key)
# A file larger than this is not kept (the run and its results are): ten minutes of 48 kHz stereo WAV is
# over 100 MB, and every History row would carry it. OpenAI's own upload limit for audio is 25 MB.
MAX_KEPT_BYTES = 25 * 1024 * 1024


class MediaRow(TableBase):
    __tablename__ = "run_media"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), index=True)
    model: Mapped[str] = mapped_column(String(200))
    name: Mapped[str] = mapped_column(String(255))
    mime: Mapped[str] = mapped_column(String(64))
    data: Mapped[bytes] = mapped_column(LargeBinary)


@dataclass(frozen=True)
class StoredMedia:
    """One file of a run: whose it is (a model's key, or INPUT for what the run was given), its name, its
    type and its bytes."""

    model: str
    name: str
    mime: str
    data: bytes


def add_media(store: Store, run_id: str, files: Sequence[StoredMedia]) -> Pending:
    """Save files beside a run's answers (waits as `Store.add_result` does); one over MAX_KEPT_BYTES is
    left out."""
    kept = [f for f in files if len(f.data) <= MAX_KEPT_BYTES]

    def write(session: Session) -> None:
        session.add_all(
            MediaRow(run_id=run_id, model=f.model, name=f.name, mime=f.mime, data=f.data) for f in kept
        )

    return store.writer.save(f"{len(files)} file(s) of run {run_id}", write, SAVE_WAIT_S)


def read_media(store: Store, run_id: str) -> list[StoredMedia]:
    """A run's files, in the order they were saved (`Store.media_of`)."""
    with store.reading() as session:
        rows = session.scalars(select(MediaRow).where(MediaRow.run_id == run_id).order_by(MediaRow.id))
        return [StoredMedia(r.model, r.name, r.mime, r.data) for r in rows]


@dataclass
class KeptRun:
    """A comparison of single calls (speech, images) kept in History as a run of `kind` (its task), so it
    is listed, opened, shared and exported as a text comparison is. `store` None (a library call with no
    history): nothing is kept."""

    store: Store | None
    run_id: str
    kind: str
    prompt: str
    models: list[str]
    params: dict[str, Any] = field(default_factory=dict)
    owner: str = LOCAL_OWNER

    def __enter__(self) -> KeptRun:
        if self.store is not None:
            self.store.create_run(
                self.prompt, self.models, self.params, kind=self.kind, owner=self.owner, run_id=self.run_id
            )
        return self

    def keep(self, result: RunResult, files: Sequence[StoredMedia] = ()) -> RunResult:
        """Save one model's result (and the files it made) in the run; the result as kept, naming its run
        (unchanged when nothing is kept)."""
        if self.store is None:
            return result
        kept = replace(result, run_id=self.run_id)
        self.store.add_result(self.run_id, kept)
        if files:
            add_media(self.store, self.run_id, files)
        return kept

    def given(self, files: Sequence[StoredMedia]) -> None:
        """Save the files the run was given (model INPUT)."""
        if self.store is not None and files:
            add_media(self.store, self.run_id, files)

    def __exit__(self, *exc: object) -> None:
        if self.store is not None:
            self.store.finish_run(self.run_id)
