"""`playground worker`: run queued evaluations from the store until stopped (any machine that reaches it)."""

from __future__ import annotations

import signal
import sys
from datetime import UTC, datetime
from types import FrameType
from typing import Annotated

import typer

from playground.cli.common import EXIT_OK, fail_usage
from playground.core.errors import UsageError
from playground.core.policy import HostingConfigError
from playground.core.specs import SpecError, load_specs
from playground.evals.jobs import GRACE_S, LEASE_S, EvalWorker
from playground.storage.runs import Store, shown_url


def _say(line: str) -> None:
    print(f"{datetime.now(UTC):%Y-%m-%d %H:%M:%S} {line}", file=sys.stderr, flush=True)


def worker_command(
    models_file: Annotated[
        str | None,
        typer.Option(
            "--models-file", metavar="PATH", help="Extra models TOML (the app's PLAYGROUND_MODELS_FILE)."
        ),
    ] = None,
    once: Annotated[bool, typer.Option("--once", metavar="", help="Exit when the queue is empty.")] = False,
    lease: Annotated[
        float,
        typer.Option(
            "--lease",
            min=2.0,
            metavar="SECONDS",
            help="Seconds without renewal before another worker takes a job.",
        ),
    ] = LEASE_S,
    grace: Annotated[
        float,
        typer.Option(
            "--grace", min=0.0, metavar="SECONDS", help="Seconds calls in flight may finish after SIGTERM."
        ),
    ] = GRACE_S,
    name: Annotated[
        str | None,
        typer.Option("--name", metavar="NAME", help="This worker's name (default host:pid:random)."),
    ] = None,
) -> None:
    """Take evaluations queued by the app (or `playground eval --queue`) and run them.

    The database is $PLAYGROUND_DB, as for the app. SIGTERM or Ctrl-C lets the calls in flight finish and be
    saved, then hands the job back to the queue; a second one cancels them at once."""
    try:
        specs = load_specs(models_file)
        store = Store()
        worker = EvalWorker(
            store, specs, lease_s=lease, renew_s=min(1.0, lease / 10), grace_s=grace, name=name, report=_say
        )
    except (UsageError, SpecError, HostingConfigError) as exc:
        raise fail_usage(str(exc)) from exc

    def stop(signum: int, _frame: FrameType | None) -> None:
        busy = worker.busy
        _say(
            f"{signal.Signals(signum).name}: "
            + ("finishing the calls in flight, then handing the job back" if busy else "stopping")
        )
        worker.shutdown()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    worker.warm_up()
    _say(f"worker {worker.id} on {shown_url(store.url)}: waiting for evaluations")
    ran = worker.serve(once=once)
    _say(f"worker {worker.id}: stopped after {ran} job(s)")
    raise typer.Exit(EXIT_OK)
