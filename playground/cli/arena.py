"""`playground arena …`: a leaderboard from a vote log, and an arena's votes exported from the store."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Literal

import typer
from rich.console import Console

from playground.arena.ratings import DEFAULT_BOOTSTRAP, TIE_CONVENTION, Leaderboard, leaderboard
from playground.arena.service import Arenas
from playground.arena.votelog import read_vote_log
from playground.cli.common import Command, CommandGroup, fail_usage
from playground.cli.tables import print_table
from playground.core.errors import UsageError
from playground.core.policy import User
from playground.storage.runs import Store

arena_app = typer.Typer(
    no_args_is_help=True,
    help="Blind arenas: a leaderboard from a vote log, and an arena's votes.",
    cls=CommandGroup,
)
out = Console()


@arena_app.command("ratings", cls=Command)
def ratings_command(
    votes: Annotated[
        Path,
        typer.Argument(
            metavar="VOTES.jsonl", help="Vote log: one JSON object per line with model_a, model_b, winner."
        ),
    ],
    as_json: Annotated[
        bool, typer.Option("--json", metavar="", help="One JSON document instead of a table.")
    ] = False,
    bootstrap: Annotated[
        int, typer.Option("--bootstrap", min=1, metavar="N", help="Bootstrap rounds for the 95% intervals.")
    ] = DEFAULT_BOOTSTRAP,
    seed: Annotated[
        int, typer.Option("--seed", metavar="N", help="Seed of the bootstrap (same seed, same intervals).")
    ] = 0,
) -> None:
    """Bradley–Terry ratings with bootstrap 95% intervals from VOTES (winner: model_a, model_b, tie or
    tie (bothbad); the public Chatbot Arena logs read as they are)."""
    try:
        board = leaderboard(read_vote_log(votes), bootstrap, seed)
    except UsageError as exc:
        raise fail_usage(str(exc)) from exc
    if as_json:
        print(json.dumps(board.to_json(), indent=2))
        return
    _print_board(board)


def _print_board(board: Leaderboard) -> None:
    headers = ("rank", "model", "rating", "95% interval", "votes", "wins / ties / losses")
    rows = [
        (
            r.rank,
            r.model,
            f"{r.rating:.0f}",
            f"{r.lower:.0f} – {r.upper:.0f}",
            r.votes,
            f"{r.wins} / {r.ties} / {r.losses}",
        )
        for r in board.ratings
    ]
    # The model's name is the key column (never cut); the tally goes first when the terminal is narrow.
    print_table(out, headers, rows, keys=("model",), rank=("rank", "rating", "95% interval", "votes"))
    out.print(
        f"{board.votes} votes · Bradley–Terry (choix), Elo scale (1000 = the mean model) · "
        f"{board.bootstrap} bootstrap rounds, seed {board.seed} · {TIE_CONVENTION}",
        highlight=False,
    )
    for note in board.notes:
        out.print(note, highlight=False)


@arena_app.command("export", cls=Command)
def export_command(
    name: Annotated[str, typer.Argument(metavar="NAME", help="The arena's name (or id).")],
    fmt: Annotated[
        Literal["jsonl", "csv"],
        typer.Option(
            "--format", metavar="jsonl|csv", help="jsonl: a vote log (arena ratings reads it); csv: a table."
        ),
    ] = "jsonl",
    output: Annotated[
        Path | None, typer.Option("--output", "-o", metavar="PATH", help="Write here instead of stdout.")
    ] = None,
) -> None:
    """Write an arena's votes as a JSON Lines vote log or as CSV (safe to open in a spreadsheet)."""
    try:
        arenas = Arenas(Store())
        arena = arenas.find(name)
        # Whoever runs the CLI holds the database itself, so it exports as the arena's owner.
        text = arenas.export(arena.id, User(arena.owner, "operator"), fmt)
    except UsageError as exc:
        raise fail_usage(str(exc)) from exc
    if output is None:
        sys.stdout.write(text)
    else:
        output.write_text(text, encoding="utf-8")
        print(f"the votes of {arena.name!r} written to {output}", file=sys.stderr)
