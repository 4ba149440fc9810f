"""The `playground` command: list models, run one prompt on several at once, live in the terminal."""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer
from rich.cells import cell_len
from rich.console import Console, Group
from rich.live import Live
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from playground.catalog.entries import catalog, table_rows
from playground.cli.arena import arena_app
from playground.cli.common import (
    EXIT_FAILED,
    EXIT_OK,
    Command,
    CommandGroup,
    MaxTokens,
    ModelsFile,
    keep_library_chatter_out,
)
from playground.cli.common import fail_usage as _fail_usage
from playground.cli.deploy import deploy_command, deploy_recipe_command, deployments_command, undeploy_command
from playground.cli.docs import ask_command, docs_app
from playground.cli.embeddings import embeddings_app
from playground.cli.evaluate import eval_command
from playground.cli.images import describe_command, describe_eval_command, paint_command
from playground.cli.serve import serve_command
from playground.cli.speech import speak_command, transcribe_command, transcribe_eval_command
from playground.cli.tables import print_table
from playground.cli.tune import tune_app
from playground.cli.tune_local import tune_local_command
from playground.cli.worker import worker_command
from playground.compare.conversation import Conversation
from playground.compare.service import Comparison, Plan, UsageError, plan_comparison, plan_follow_up
from playground.compare.stats import spread_rows
from playground.core.format import metrics_line
from playground.core.params import DEFAULT_MAX_TOKENS, Params
from playground.core.results import RunResult, is_run_id
from playground.core.specs import SpecError, load_specs
from playground.engine.fanout import Delta, Done, Waiting
from playground.lora import with_tuned_models
from playground.storage.runs import Store, default_db_url, shown_url

app = typer.Typer(add_completion=False, no_args_is_help=True, help=__doc__, cls=CommandGroup)
out = Console()
err = Console(stderr=True)

app.command("eval", cls=Command)(eval_command)
app.command("worker", cls=Command)(worker_command)
app.command("tune-local", cls=Command)(tune_local_command)
app.add_typer(docs_app, name="docs")
app.add_typer(embeddings_app, name="embeddings")
app.add_typer(arena_app, name="arena")
app.add_typer(tune_app, name="tune")
app.command("ask", cls=Command)(ask_command)
app.command("transcribe", cls=Command)(transcribe_command)
app.command("speak", cls=Command)(speak_command)
app.command("transcribe-eval", cls=Command)(transcribe_eval_command)
app.command("describe", cls=Command)(describe_command)
app.command("paint", cls=Command)(paint_command)
app.command("describe-eval", cls=Command)(describe_eval_command)
app.command("deploy", cls=Command)(deploy_command)
app.command("deployments", cls=Command)(deployments_command)
app.command("undeploy", cls=Command)(undeploy_command)
app.command("deploy-recipe", cls=Command)(deploy_recipe_command)
app.command(
    "serve", cls=Command, context_settings={"allow_extra_args": True, "ignore_unknown_options": True}
)(serve_command)


# The `models` columns that stay longest in a narrow terminal: can I use it, where does it run, what for.
MODELS_RANK = (
    "usable now",
    "provider",
    "task",
    "context",
    "input $/Mtok",
    "output $/Mtok",
    "stage",
    "open weights",
    "license",
    "price source",
    "architecture",
)


@app.command("models", cls=Command)
def models_command(
    models_file: ModelsFile = None,
    as_json: Annotated[bool, typer.Option("--json", metavar="", help="One JSON object per model.")] = False,
) -> None:
    """List model keys, provider, whether usable now, and catalog facts."""
    try:
        specs = with_tuned_models(load_specs(models_file))
    except SpecError as exc:
        raise _fail_usage(str(exc)) from exc
    entries = catalog(specs)
    if as_json:
        for entry in entries:
            print(json.dumps(entry.to_json()))
        return
    rows = table_rows(entries)
    headers = list(rows[0]) if rows else ["model"]
    print_table(out, headers, [list(row.values()) for row in rows], keys=["model"], rank=MODELS_RANK)


@app.command("run", cls=Command)
def run_command(
    prompt: Annotated[str, typer.Argument(metavar="PROMPT", help="The prompt to send to every model.")],
    model: Annotated[
        list[str] | None,
        typer.Option(
            "-m", "--model", metavar="KEY", help="Model key (see `playground models`); repeat for more."
        ),
    ] = None,
    continue_run: Annotated[
        str | None,
        typer.Option(
            "--continue",
            metavar="RUN_ID",
            help="Send PROMPT as the next turn of run RUN_ID's conversation: each of its models is sent "
            "its own earlier answers first, with the run's system prompt and parameters.",
        ),
    ] = None,
    system: Annotated[str | None, typer.Option("--system", metavar="TEXT", help="System prompt.")] = None,
    temperature: Annotated[
        float | None,
        typer.Option(
            "--temperature",
            min=0.0,
            max=2.0,
            metavar="T",
            help="Sampling temperature: 0 picks the likeliest token, higher varies more (default: each model's).",
        ),
    ] = None,
    top_p: Annotated[
        float | None,
        typer.Option(
            "--top-p",
            min=0.0,
            max=1.0,
            metavar="P",
            help="Nucleus sampling: draw from the likeliest tokens that together hold P of the probability "
            "(default: each model's).",
        ),
    ] = None,
    max_tokens: MaxTokens = DEFAULT_MAX_TOKENS,
    seed: Annotated[
        int | None,
        typer.Option(
            "--seed", metavar="N", help="Sampling seed, for repeatable answers where the model takes one."
        ),
    ] = None,
    repeat: Annotated[
        int, typer.Option("--repeat", min=1, metavar="K", help="Run each model K times (spread of timings).")
    ] = 1,
    warmup: Annotated[
        bool, typer.Option("--warmup", metavar="", help="One unrecorded call per model first.")
    ] = False,
    timeout: Annotated[
        float | None, typer.Option("--timeout", min=0.1, metavar="SECONDS", help="Deadline of each call.")
    ] = None,
    models_file: ModelsFile = None,
    as_json: Annotated[bool, typer.Option("--json", metavar="", help="One JSON object per result.")] = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", metavar="", help="Call nothing; show tokens and max cost.")
    ] = False,
) -> None:
    """Send PROMPT to every -m model at once and compare them (or continue a run with --continue)."""
    conversation, store = None, None
    try:
        specs = with_tuned_models(load_specs(models_file))
        if continue_run is not None:
            if (
                model
                or system is not None
                or temperature is not None
                or top_p is not None
                or seed is not None
            ):
                raise UsageError(
                    "--continue goes on with the run's own models, system prompt and parameters: "
                    "leave out -m, --system, --temperature, --top-p and --seed"
                )
            conversation = _conversation(store := Store(), continue_run)
            plan = plan_follow_up(conversation, prompt, specs, timeout_s=timeout)
            for key, why in plan.left_out.items():
                err.print(f"{key} left out: {why}", markup=False)
        else:
            plan = plan_comparison(
                prompt,
                model or [],
                specs,
                system=system,
                params=Params(temperature=temperature, top_p=top_p, max_tokens=max_tokens, seed=seed),
                timeout_s=timeout,
            )
    except (SpecError, UsageError) as exc:
        raise _fail_usage(str(exc)) from exc
    if dry_run:
        _print_dry_run(plan, as_json)
        raise typer.Exit(EXIT_OK)
    try:
        comparison = Comparison(plan, store or Store(), repeat=repeat, warmup=warmup)
    except UsageError as exc:  # the database cannot be used (StoreUnavailableError)
        raise _fail_usage(str(exc)) from exc
    try:
        results = _run_json(comparison) if as_json else _run_live(comparison)
    except KeyboardInterrupt:
        comparison.cancel()
        err.print("stopped")
        raise typer.Exit(EXIT_FAILED) from None
    if repeat > 1 and not as_json:
        _print_spread(results)
    if conversation is not None and not as_json and comparison.run_id:
        _print_conversation_totals(comparison.store or Store(), comparison.run_id)
    raise typer.Exit(EXIT_OK if all(r.ok for r in results) else EXIT_FAILED)


def _conversation(store: Store, run_id: str) -> Conversation:
    """The conversation run `run_id` ends (UsageError if there is no such run)."""
    if not is_run_id(run_id):
        raise UsageError(f"--continue takes a run id (32 hexadecimal characters), not {run_id!r}")
    turns = store.conversation(run_id)
    if not turns:
        raise UsageError(f"no run {run_id} in the history ({shown_url(default_db_url())})")
    return Conversation(turns)


def _print_conversation_totals(store: Store, run_id: str) -> None:
    """Each model's tokens and cost over the whole conversation, after a follow-up (read through the
    store that saved its answers)."""
    conversation = Conversation(store.conversation(run_id))
    out.print(f"conversation so far ({len(conversation.turns)} turns):")
    for totals in conversation.totals():
        out.print(f"  {totals.model}: {totals.line()}", markup=False)


def _print_dry_run(plan: Plan, as_json: bool) -> None:
    rows = []
    for m in plan.models:
        est = m.estimate
        assert est is not None
        rows.append(
            {
                "model": est.model,
                "input_tokens": est.input_tokens,
                "input_counted_by": est.input_counted_by,
                "max_output_tokens": est.max_output_tokens,
                "max_cost_usd": None if est.max_cost_usd is None else str(est.max_cost_usd),
                "cost_source": est.cost_source,
                "context_window": est.context_window,
            }
        )
    if as_json:
        for row in rows:
            print(json.dumps(row))
        return
    headers = ["model", "input tokens", "max output", "max cost (USD)", "context window"]
    lines = [
        [
            row["model"],
            f"{row['input_tokens']} ({row['input_counted_by']})",
            str(row["max_output_tokens"]),
            f"{row['max_cost_usd'] or 'n/a'} ({row['cost_source']})",
            str(row["context_window"] or "unknown"),
        ]
        for row in rows
    ]
    print_table(out, headers, lines, keys=["model"], rank=["max cost (USD)", "input tokens", "max output"])
    out.print(f"total max cost: {plan.total_max_cost()} USD (known prices only)")


def _run_json(comparison: Comparison) -> list[RunResult]:
    results = []
    for event in comparison.events():
        if isinstance(event, Done):
            results.append(event.result)
            print(json.dumps(event.result.to_json()), flush=True)
    return results


def _run_live(comparison: Comparison) -> list[RunResult]:
    keys = [m.spec.key for m in comparison.plan.models]
    texts = {k: "" for k in keys}
    finals: dict[str, RunResult] = {}
    results: list[RunResult] = []
    queued: dict[str, Waiting] = {}

    per_row = panels_per_row(keys, out.width)

    def render() -> Table:
        grid = Table.grid(expand=True, padding=(0, 1))
        for _ in range(per_row):
            grid.add_column(ratio=1)
        panels: list[Panel | str] = []
        for key in keys:
            result = finals.get(key)
            body: list[Text] = [Text(texts[key])]
            if result is not None and result.error:
                body.append(Text(f"\n{result.error}", style="red"))
            body.append(
                Text(
                    "\n" + (metrics_line(result) if result is not None else _status(queued.get(key))),
                    style="dim",
                )
            )
            panels.append(Panel(Group(*body), title=Text(key)))
        panels += [""] * (-len(panels) % per_row)  # the last row's empty places
        for start in range(0, len(panels), per_row):
            grid.add_row(*panels[start : start + per_row])
        return grid

    with Live(render(), console=out, refresh_per_second=10, transient=False) as live:
        for event in comparison.events():
            if isinstance(event, Waiting):
                queued[event.model] = event
            elif isinstance(event, Delta):
                if event.repeat_index == 0 or event.model not in finals:
                    texts[event.model] += event.text
            elif isinstance(event, Done):
                results.append(event.result)
                if event.result.repeat_index == 0:
                    finals[event.model] = event.result
            live.update(render())
    out.print(f"\nrun {comparison.run_id} saved")
    return results


# A live panel is at least this wide (its text wraps inside it), and always wide enough for its title.
PANEL_MIN_WIDTH = 32


def panels_per_row(keys: list[str], width: int) -> int:
    """How many answer panels sit side by side at `width`: each keeps its whole model key in its title
    (plus the border and the spaces around it) and room to read; more models go on the next rows."""
    needed = max(PANEL_MIN_WIDTH, *(cell_len(key) + 6 for key in keys)) + 1  # + the grid's padding
    return max(1, min(len(keys), (width + 1) // needed))


def _status(waiting: Waiting | None) -> str:
    if waiting is not None and waiting.cooling_s:
        return f"waiting {waiting.cooling_s:.0f} s: its server asked to slow down (429)…"
    return f"queued ({waiting.ahead} ahead)…" if waiting is not None and waiting.ahead else "running…"


def _print_spread(results: list[RunResult]) -> None:
    headers = ["model", "metric", "n", "min", "p50", "p90", "max"]
    lines = [["-" if value is None else str(value) for value in row.values()] for row in spread_rows(results)]
    print_table(out, headers, lines, keys=["model", "metric"], rank=["p50", "p90", "n", "min", "max"])


def main() -> None:
    """Console-script entry point."""
    keep_library_chatter_out()
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(EXIT_FAILED)


if __name__ == "__main__":
    main()
