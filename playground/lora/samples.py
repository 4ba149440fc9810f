"""The shipped sample: a fixed answer style ("Answer: ..." first) to train, and held-out questions to
check it on. The held-out CSV is an ordinary evaluation dataset (columns question, expected): with the
template "{question}" and the regex metric, the expected column is the pattern every answer must match."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

_PACKAGE = "playground.lora.sample_data"
TRAIN_FILE = "answer_style_train.jsonl"
HELDOUT_FILE = "answer_style_heldout.csv"
SAMPLE_PATTERN = r"^\s*Answer:"  # the style the sample teaches, as the regex metric's pattern


@dataclass(frozen=True)
class HeldOutQuestion:
    """One evaluation row: a question never seen in training and the pattern its answer should match."""

    question: str
    expected: str


def sample_training_set() -> Path:
    """The shipped training file (a real file: package data is installed unzipped)."""
    return Path(str(resources.files(_PACKAGE).joinpath(TRAIN_FILE)))


def sample_heldout_path() -> Path:
    """The shipped held-out CSV, for Evaluate."""
    return Path(str(resources.files(_PACKAGE).joinpath(HELDOUT_FILE)))


def sample_heldout_set() -> list[HeldOutQuestion]:
    """The held-out rows."""
    text = resources.files(_PACKAGE).joinpath(HELDOUT_FILE).read_text(encoding="utf-8")
    return [HeldOutQuestion(row["question"], row["expected"]) for row in csv.DictReader(io.StringIO(text))]
