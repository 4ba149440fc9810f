"""`playground deploy`, `deployments`, `undeploy` and `deploy-recipe`: models served as OpenAI-compatible
endpoints (llama.cpp's server), and recipes for vLLM and TGI."""

from __future__ import annotations

import os
from typing import Annotated

import typer
from rich.console import Console

from playground.cli.common import EXIT_FAILED, fail_usage
from playground.cli.tables import print_table
from playground.core.errors import UsageError
from playground.core.policy import HostedPolicy
from playground.core.specs import SpecError, load_specs
from playground.deploy import DeployError, Deployments, recipe
from playground.storage.runs import Store

out = Console()
err = Console(stderr=True)


def _deployments(models_file: str | None = None) -> Deployments:
    # The command line runs on the server's machine as its operator: hosted mode's admins-only rule is
    # for the app's visitors.
    try:
        return Deployments(Store(), load_specs(models_file), policy=HostedPolicy())
    except (UsageError, SpecError) as exc:
        raise fail_usage(str(exc)) from exc


def deploy_command(
    model: Annotated[
        str, typer.Argument(metavar="MODEL", help="A local model's key (smollm2-135m) or a GGUF path.")
    ],
    port: Annotated[int, typer.Option("--port", metavar="N", help="Port to listen on (1024-65535).")],
    api_key_env: Annotated[
        str | None,
        typer.Option(
            "--api-key-env",
            metavar="VAR",
            help="Environment variable holding the key clients must send (default: a new key, shown once).",
        ),
    ] = None,
    lora: Annotated[
        str | None, typer.Option("--lora", metavar="PATH", help="A LoRA adapter GGUF for this model.")
    ] = None,
    host: Annotated[str, typer.Option("--host", metavar="IP", help="Address to listen on.")] = "127.0.0.1",
    wait: Annotated[
        float, typer.Option("--wait", min=0.0, metavar="SECONDS", help="Seconds to wait for it to be ready.")
    ] = 120.0,
    models_file: Annotated[
        str | None, typer.Option("--models-file", metavar="PATH", help="Extra models TOML.")
    ] = None,
) -> None:
    """Serve MODEL as an OpenAI-compatible endpoint (llama.cpp's server, in a process of its own that
    outlives this command; a key is always required). `playground undeploy ID` stops it."""
    service = _deployments(models_file)
    try:
        launched = service.deploy(model, port, api_key_env=api_key_env, lora=lora, host=host)
    except DeployError as exc:
        raise fail_usage(str(exc)) from exc
    deployment = launched.deployment
    if launched.generated_key:
        # The key lives only in the server's environment: this is the one time it is shown.
        os.environ[deployment.api_key_env] = launched.generated_key
        print(f"key (shown once): export {deployment.api_key_env}={launched.generated_key}")
    health = service.wait_ready(deployment.id, wait)
    print(f"deployment {deployment.id}: {health.state} ({health.detail})")
    print(f"url: {deployment.url}   model: {deployment.served_name}   log: {deployment.log_path}")
    if health.state == "failed":
        tail = service.get(deployment.id).log_tail or ""
        err.print(tail, markup=False, highlight=False)
        raise typer.Exit(EXIT_FAILED)
    print(service.view(service.get(deployment.id)).snippet)


def deployments_command(
    all_: Annotated[bool, typer.Option("--all", metavar="", help="Stopped and failed ones too.")] = False,
) -> None:
    """Deployments of the store ($PLAYGROUND_DB) with their health now, newest first."""
    service = _deployments()
    rows = [
        [
            v.deployment.id,
            v.deployment.served_name,
            v.health.state,
            v.deployment.url,
            v.deployment.api_key_env,
            f"{v.deployment.started_at:%Y-%m-%d %H:%M:%S}",
            v.deployment.machine,
            v.health.detail,
        ]
        for v in service.listed(include_final=all_)
    ]
    if not rows:
        print("no deployments" + ("" if all_ else " running (--all lists stopped ones too)"))
        return
    headers = ["id", "model", "health", "url", "key variable", "started (UTC)", "machine", "detail"]
    print_table(out, headers, rows, keys=["id"], rank=["model", "health", "url", "key variable"])


def undeploy_command(
    deployment_id: Annotated[
        str, typer.Argument(metavar="ID", help="The deployment's id (`playground deployments`).")
    ],
) -> None:
    """Stop a deployment's server (its whole process group) and record it stopped."""
    service = _deployments()
    try:
        stopped = service.stop(deployment_id)
    except DeployError as exc:
        raise fail_usage(str(exc)) from exc
    print(f"deployment {stopped.id}: {stopped.state}")


def deploy_recipe_command(
    engine: Annotated[str, typer.Argument(metavar="ENGINE", help="vllm or tgi.")],
    hub_model: Annotated[str, typer.Argument(metavar="HUB_MODEL", help="A Hub model id: owner/name.")],
    port: Annotated[int, typer.Option("--port", metavar="N", help="Port the engine listens on.")] = 8000,
    host: Annotated[
        str, typer.Option("--host", metavar="HOST", help="Where the playground reaches it.")
    ] = "127.0.0.1",
) -> None:
    """A command line, a docker compose file and the models-file entry for serving HUB_MODEL with vLLM or
    TGI (nothing is fetched or run here)."""
    try:
        made = recipe(engine, hub_model, port, host)
    except DeployError as exc:
        raise fail_usage(str(exc)) from exc
    print(f"# {made.engine}: {made.notes}\n# command line\n{made.command}\n")
    print(f"# compose.yaml\n{made.compose}")
    print(f"# models file entry (--models-file / PLAYGROUND_MODELS_FILE)\n{made.entry.toml()}", end="")
