"""Where a labelled set's files come from: the folder of its CSV, or the files uploaded with it. Shared by
the speech and image sets; each names its own error."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

from playground.core.errors import UsageError

FileSource = Callable[[str], bytes]


def files_beside(csv_path: Path, error: type[UsageError]) -> FileSource:
    """Reads a file the CSV names from the CSV's own folder: a set names its own files, never anything
    elsewhere on the machine (`error` for a name outside the folder, or a file that cannot be read)."""
    folder = csv_path.resolve().parent

    def read(name: str) -> bytes:
        path = (folder / name).resolve()
        if not path.is_relative_to(folder):
            raise error(f"{name} is outside the set's folder")
        try:
            return path.read_bytes()
        except OSError as exc:
            raise error(f"cannot read {name}: {exc.strerror}") from exc

    return read


def files_uploaded(uploads: Mapping[str, bytes], error: type[UsageError]) -> FileSource:
    """Reads a file the CSV names from the files uploaded with it (`error` for one not uploaded)."""

    def read(name: str) -> bytes:
        if name not in uploads:
            raise error(f"{name} is named in the CSV but was not uploaded")
        return uploads[name]

    return read
