"""How close a transcript is to what was said: word and character error rates (jiwer), on normalised text.

Normalisation, the same for both sides (as bench/speech_models.md measured): lower-case; curly apostrophes
made straight; hyphens and dashes become spaces; every other character outside a-z, 0-9 and the apostrophe
is removed; apostrophes at a word's edges (quotes) are removed; whitespace collapsed. So "Well - it's
twenty-one!" and "well it's twenty one" are the same words; "21" and "twenty one" are not (no number
normalisation: a model writing digits for spoken numbers is counted wrong).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_DASHES = re.compile(r"[-\u2010-\u2015]")
_OTHER = re.compile(r"[^a-z0-9'\s]")
_EDGE_QUOTES = re.compile(r"(?<!\w)'|'(?!\w)")


def normalised(text: str) -> str:
    """The text as it is scored (see the module's docstring)."""
    text = text.lower().replace("\u2019", "'").replace("\u2018", "'")
    text = _EDGE_QUOTES.sub(" ", _OTHER.sub("", _DASHES.sub(" ", text)))
    return " ".join(text.split())


@dataclass(frozen=True)
class Accuracy:
    """A transcript against its reference: word error rate and character error rate (0 is perfect; above
    1 is possible when the transcript adds words)."""

    wer: float
    cer: float


def accuracy(reference: str, transcript: str) -> Accuracy | None:
    """WER and CER of `transcript` against `reference`, both normalised; None for a reference with no
    words (nothing to score against)."""
    import jiwer

    truth, heard = normalised(reference), normalised(transcript)
    if not truth:
        return None
    if not heard:  # jiwer refuses an empty hypothesis; every word was missed
        return Accuracy(1.0, 1.0)
    return Accuracy(float(jiwer.wer(truth, heard)), float(jiwer.cer(truth, heard)))
