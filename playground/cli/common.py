"""What every `playground` subcommand shares: exit codes, the one-line usage error, the usage line."""

from __future__ import annotations

import logging
import re
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from typer.core import TyperArgument, TyperCommand, TyperGroup, TyperOption

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


class _OwnWarningsAndAllErrors(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= logging.ERROR or record.name.partition(".")[0] in ("playground", "providers")


def keep_library_chatter_out() -> None:
    """Log records reach the terminal (stderr, `WARNING: …`) when they are the playground's own warnings
    or anyone's errors. A library's warnings stay out: pypdf's "EOF marker not found" about a PDF the
    command already reports as not added, for one. (llama.cpp's own output never reaches this process:
    it stays in the model's worker, see providers/local_workers.py.)"""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s: %(message)s"))
    handler.addFilter(_OwnWarningsAndAllErrors())
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(logging.WARNING)


def fail_usage(message: str) -> typer.Exit:
    """Print `error: <message>` as one unwrapped line on stderr; raise the returned Exit (code 2)."""
    print(f"error: {message}", file=sys.stderr)
    return typer.Exit(EXIT_USAGE)


def _flag(option: TyperOption | None) -> TyperOption | None:
    """--help shown as the flag it is, not as `--help <bool>`."""
    if option is not None:
        option.metavar = ""
    return option


class CommandGroup(TyperGroup):
    """`playground` and `playground docs`: their --help is a flag."""

    def get_help_option(self, ctx: typer.Context) -> TyperOption | None:
        """The help option, shown without a value."""
        return _flag(super().get_help_option(ctx))


class Command(TyperCommand):
    """Every `playground` command: its usage line reads `playground run [OPTIONS] PROMPT`, click's own
    convention (a required argument in capitals, an optional one in brackets), where typer would print
    `{prompt}`, which reads like a placeholder to fill in with braces."""

    def get_help_option(self, ctx: typer.Context) -> TyperOption | None:
        """The help option, shown without a value."""
        return _flag(super().get_help_option(ctx))

    def collect_usage_pieces(self, ctx: typer.Context) -> list[str]:
        """[OPTIONS], then each argument by its metavar."""
        pieces = [self.options_metavar] if self.options_metavar else []
        for param in self.get_params(ctx):
            if isinstance(param, TyperArgument):
                name = param.metavar or (param.name or "").upper()
                name = name if param.required else f"[{name}]"
                pieces.append(name + ("..." if param.nargs != 1 else ""))
            else:
                pieces.extend(param.get_usage_pieces(ctx))
        return pieces


# Options several commands take, said once. A flag's metavar is "": it takes no value (typer would show
# `<bool>`, as if it took one).
ModelKeys = Annotated[
    list[str],
    typer.Option(
        "-m", "--model", metavar="KEY", help="Model key (see `playground models`); repeat for more."
    ),
]
ModelsFile = Annotated[
    str | None,
    typer.Option(
        "--models-file", metavar="PATH", help="Extra models TOML, added to the built-in ones (its keys win)."
    ),
]
MaxTokens = Annotated[
    int, typer.Option("--max-tokens", min=1, metavar="N", help="Most tokens one answer may have.")
]
AsJson = Annotated[bool, typer.Option("--json", metavar="", help="JSON lines instead of tables.")]


def figure_cell(value: float | None, digits: int = 2) -> str:
    """A measured figure as a table cell ("–" when there is none)."""
    return "–" if value is None else f"{value:.{digits}f}"


def money_cell(value: object, source: str) -> str:
    """A cost cell: local models cost nothing to call (never shown as $0), unknown ones are a dash."""
    if source == "local":
        return "local"
    return "–" if value is None else f"${value}"


def file_stem(key: str) -> str:
    """A model key as a file name inside the folder: a models file's key may hold any character."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", key).lstrip(".") or "model"


def write_outputs(folder: Path, files: dict[str, tuple[bytes, str]], console: Console) -> dict[str, str]:
    """Each model's output as <folder>/<model>.<suffix> (`files`: model -> (bytes, suffix)); the paths
    written, by model. A folder that cannot be written is one line on `console`, nothing raised."""
    written = {}
    try:
        folder.mkdir(parents=True, exist_ok=True)
        for model, (data, suffix) in files.items():
            path = folder / f"{file_stem(model)}.{suffix}"
            path.write_bytes(data)
            written[model] = str(path)
    except OSError as exc:
        console.print(f"could not write to {folder}: {exc.strerror}", soft_wrap=True, markup=False)
    return written


def print_kept(console: Console, run_id: str | None) -> None:
    """Where a speech or image comparison was kept: History lists it, and its share link opens it."""
    if run_id is not None:
        console.print(f"Kept in History as run {run_id} (share link: ?run={run_id})", markup=False)
