"""What every `playground` subcommand shares: exit codes and the one-line usage error."""

from __future__ import annotations

import sys

import typer

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def fail_usage(message: str) -> typer.Exit:
    """Print `error: <message>` as one unwrapped line on stderr; raise the returned Exit (code 2)."""
    print(f"error: {message}", file=sys.stderr)
    return typer.Exit(EXIT_USAGE)
