"""`playground tune-local`: a LoRA fine-tuning of a bundled model on this machine's CPU."""

from __future__ import annotations

import signal
import sys
from pathlib import Path
from types import FrameType
from typing import Annotated

import typer

from playground.cli.common import EXIT_FAILED, fail_usage
from playground.core.errors import UsageError
from playground.lora import LocalTuneJob, TuneEnded, TuneProgress, start_local_tune


def _line(message: TuneProgress) -> str:
    loss = "n/a" if message.loss is None else f"{message.loss:.4f}"
    return (
        f"step {message.step}/{message.steps}  loss {loss}  elapsed {message.elapsed_s:.0f} s  "
        f"left ~{message.left_s:.0f} s (measured {message.step_s:.1f} s/step)"
    )


def _follow(job: LocalTuneJob) -> TuneEnded:
    """Print each step; the first Ctrl-C asks the worker to stop at the next step (it keeps its log)."""

    def stop(_signum: int, _frame: FrameType | None) -> None:
        print("stopping at the next step (Ctrl-C again is ignored until then)", file=sys.stderr, flush=True)
        job.stop()

    previous = signal.signal(signal.SIGINT, stop)
    try:
        for message in job.events():
            if isinstance(message, TuneProgress):
                print(_line(message), flush=True)
        assert job.ended is not None
        return job.ended
    finally:
        signal.signal(signal.SIGINT, previous)


def tune_local_command(
    train: Annotated[
        Path, typer.Argument(metavar="TRAIN.jsonl", help="Chat-format JSONL (OpenAI fine-tuning format).")
    ],
    name: Annotated[
        str, typer.Option("--name", metavar="NAME", help="The tuned model's name: key smollm2-135m+NAME.")
    ],
    base: Annotated[str, typer.Option("--base", metavar="KEY", help="Base model key.")] = "smollm2-135m",
    steps: Annotated[int, typer.Option("--steps", metavar="N", help="Training steps (batch of 4).")] = 60,
    rank: Annotated[int, typer.Option("--rank", metavar="R", help="LoRA rank.")] = 8,
) -> None:
    """Fine-tune a bundled model with LoRA on the CPU, in a worker process; prints progress, then the new
    model key (usable in `playground run -m` and `playground eval -m`). Ctrl-C stops at the next step."""
    try:
        job = start_local_tune(train, name, base, steps=steps, rank=rank)
    except UsageError as exc:
        raise fail_usage(str(exc)) from exc
    print(f"training {base}+{name} in worker process {job.pid}; log: {job.log_path}", flush=True)
    ended = _follow(job)
    model = job.result()
    if model is None:
        print(f"{ended.state}: {ended.message} (log kept: {job.log_path})", file=sys.stderr, flush=True)
        raise typer.Exit(EXIT_FAILED)
    print(f"model key: {model.key}", flush=True)
    print(f"adapter: {model.adapter_path}", flush=True)
