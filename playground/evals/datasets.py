"""Evaluation datasets: CSV or JSONL, one case per row, read whole or refused with one clear message."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from playground.core.sizes import megabytes_limit

MAX_MB_ENV = "PLAYGROUND_MAX_DATASET_MB"
DEFAULT_MAX_MB = 10.0
SAMPLES_PACKAGE = "playground.evals.samples"


class DatasetError(ValueError):
    """A dataset that cannot be used; the message names the file and, where it applies, the line."""


@dataclass(frozen=True)
class Dataset:
    """Rows of text columns, in file order."""

    name: str
    columns: tuple[str, ...]
    rows: tuple[dict[str, str], ...]


def max_bytes() -> int:
    """The size limit for one dataset: $PLAYGROUND_MAX_DATASET_MB (default 10 MB)."""
    try:
        return megabytes_limit(MAX_MB_ENV, DEFAULT_MAX_MB)
    except ValueError as exc:
        raise DatasetError(str(exc)) from exc


def parse_dataset(name: str, data: bytes, limit_bytes: int | None = None) -> Dataset:
    """Parse CSV (header row first) or JSONL (one object per line), chosen by the file name's suffix."""
    limit = max_bytes() if limit_bytes is None else limit_bytes
    if len(data) > limit:
        raise DatasetError(
            f"{name} is {len(data) / 1e6:.1f} MB, over the {limit / 1e6:g} MB limit ({MAX_MB_ENV})"
        )
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise DatasetError(
            f"{name} is not UTF-8 text (line {line}): save it as UTF-8 and upload it again"
        ) from exc
    if not text.strip():
        raise DatasetError(f"{name} is empty")
    suffix = Path(name).suffix.lower()
    if suffix == ".csv":
        return _parse_csv(name, text)
    if suffix in (".jsonl", ".ndjson"):
        return _parse_jsonl(name, text)
    raise DatasetError(f"{name}: use a .csv or .jsonl file")


def load_dataset(path: str | Path) -> Dataset:
    """A dataset from a file path."""
    path = Path(path)
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise DatasetError(f"cannot read {path}: {exc.strerror}") from exc
    if size > max_bytes():
        raise DatasetError(
            f"{path.name} is {size / 1e6:.1f} MB, over the {max_bytes() / 1e6:g} MB limit ({MAX_MB_ENV})"
        )
    return parse_dataset(path.name, path.read_bytes())


def _parse_csv(name: str, text: str) -> Dataset:
    # The stdlib csv module handles quoting and embedded newlines; strict mode turns bad quoting
    # into an error with a line number instead of a silently merged row.
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = next(reader)
        columns = tuple(h.strip() for h in header)
        if not all(columns):
            raise DatasetError(f"{name} line 1: every column needs a name in the header row")
        duplicates = sorted({c for c in columns if columns.count(c) > 1})
        if duplicates:
            raise DatasetError(f"{name} line 1: column named twice: {', '.join(duplicates)}")
        rows = []
        for record in reader:
            if not any(cell.strip() for cell in record):
                continue  # blank line
            if len(record) != len(columns):
                raise DatasetError(
                    f"{name} line {reader.line_num}: {len(record)} fields where the header has {len(columns)}"
                )
            rows.append(dict(zip(columns, record, strict=True)))
    except csv.Error as exc:
        raise DatasetError(f"{name} line {reader.line_num}: malformed CSV ({exc})") from exc
    if not rows:
        raise DatasetError(f"{name} has a header but no rows")
    return Dataset(name, columns, tuple(rows))


def _parse_jsonl(name: str, text: str) -> Dataset:
    rows: list[dict[str, str]] = []
    columns: dict[str, None] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DatasetError(f"{name} line {number}: not valid JSON ({exc.msg})") from exc
        if not isinstance(value, dict):
            raise DatasetError(
                f"{name} line {number}: each line must be a JSON object, not {type(value).__name__}"
            )
        row = {str(k): v if isinstance(v, str) else json.dumps(v) for k, v in value.items()}
        columns.update(dict.fromkeys(row))
        rows.append(row)
    if not rows:
        raise DatasetError(f"{name} is empty")
    return Dataset(name, tuple(columns), tuple(rows))


def sample_names() -> list[str]:
    """The datasets shipped with the project."""
    folder = resources.files(SAMPLES_PACKAGE)
    return sorted(p.name for p in folder.iterdir() if p.name.endswith((".csv", ".jsonl")))


def load_sample(name: str) -> Dataset:
    """One shipped dataset by file name."""
    if name not in sample_names():
        raise DatasetError(f"no sample dataset {name!r}; samples: {', '.join(sample_names())}")
    return parse_dataset(name, resources.files(SAMPLES_PACKAGE).joinpath(name).read_bytes())


@dataclass(frozen=True)
class Preset:
    """A ready evaluation for a dataset: template, metrics, output length and (for json_schema) a schema.
    Empty for a dataset that has none."""

    template: str = ""
    metrics: tuple[str, ...] = ()
    max_tokens: int | None = None
    schema: str | None = None


def sample_preset(name: str) -> Preset:
    """The ready-made evaluation of a shipped dataset (an empty Preset for others)."""
    import tomllib

    presets = tomllib.loads(resources.files(SAMPLES_PACKAGE).joinpath("presets.toml").read_text("utf-8"))
    table = presets["presets"].get(name, {})
    return Preset(
        template=str(table.get("template", "")),
        metrics=tuple(table.get("metrics", ())),
        max_tokens=int(table["max_tokens"]) if "max_tokens" in table else None,
        schema=table.get("schema"),
    )
