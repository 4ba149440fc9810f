"""Image comparisons as History and share links show them: a kept run (see `StoredRun.kind`) and its
files read back into the results the Images page shows."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from playground.core.results import RunResult
from playground.images.service import DESCRIBE, PAINT, PaintResult, picture_of
from playground.storage.media import INPUT, StoredMedia
from playground.storage.runs import StoredRun
from providers import pictures
from providers.base import Picture
from providers.errors import BadImageError


@dataclass(frozen=True)
class KeptQuestion:
    """A kept image-to-text comparison: the image it was given, the prompt, each model's answer."""

    image: StoredMedia | None
    prompt: str
    results: list[RunResult]


@dataclass(frozen=True)
class KeptPainting:
    """A kept text-to-image comparison: the prompt, the size asked for, each model's picture."""

    prompt: str
    size: str
    results: list[PaintResult]


def kept_images(run: StoredRun, files: Sequence[StoredMedia]) -> KeptQuestion | KeptPainting | None:
    """A kept image comparison from its run and files; None for a run of another kind."""
    if run.kind == DESCRIBE:
        image = next((f for f in files if f.model == INPUT), None)
        return KeptQuestion(image, run.prompt, run.results_in_order())
    if run.kind == PAINT:
        size = str(run.params.get("size") or "")
        made = {f.model: f for f in files}
        return KeptPainting(
            run.prompt,
            size,
            [picture_of(r, _picture(made.get(r.model)), size) for r in run.results_in_order()],
        )
    return None


def _picture(file: StoredMedia | None) -> Picture | None:
    """A kept picture as the page shows it (None: the model made none, or it cannot be read)."""
    if file is None:
        return None
    try:
        facts = pictures.inspect(file.data, file.name)
    except BadImageError:
        return None
    return Picture(file.data, facts.mime, facts.width, facts.height)
