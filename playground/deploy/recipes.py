"""Configuration for real serving engines (vLLM, TGI) for a Hub model, and the models-file entry that
points the playground at a served model.

Nothing here serves or fetches anything: a recipe is text the user runs where there are GPUs. Keys stay in
environment variables (`${VAR}` in a shell or compose file), never in the generated text.
"""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass

from playground.core.specs import ModelSpec, parse_models_text
from playground.deploy.ggufs import DeployError

ENGINES = ("vllm", "tgi")
# Pinned images: a recipe that names `latest` changes under its users.
VLLM_IMAGE = "vllm/vllm-openai:v0.9.2"
TGI_IMAGE = "ghcr.io/huggingface/text-generation-inference:3.3.2"
GENERATED_SOURCE = "generated models-file entry"


@dataclass(frozen=True)
class EndpointEntry:
    """A served model as one `[models.KEY]` entry of a models file."""

    key: str
    provider: str  # "openai" (any OpenAI-compatible server) or "huggingface" (TGI's own client)
    model: str  # the model id the server answers to
    base_url: str
    api_key_env: str
    task: str = "chat"
    context_window: int | None = None

    def toml(self) -> str:
        """The entry's TOML text. Written by hand because the project reads TOML (tomllib) but has no
        writer; every value is a JSON string or an integer, and JSON's string escapes are TOML's."""
        lines = [f"[models.{json.dumps(self.key)}]"]
        for name in ("provider", "model", "base_url", "api_key_env", "task"):
            lines.append(f"{name} = {json.dumps(getattr(self, name))}")
        if self.context_window:
            lines.append(f"context_window = {int(self.context_window)}")
        return "\n".join(lines) + "\n"

    def spec(self) -> ModelSpec:
        """The entry as the playground loads it (through the models-file parser itself)."""
        return parse_models_text(self.toml(), GENERATED_SOURCE)[self.key]


def endpoint_entry(
    key: str,
    model: str,
    base_url: str,
    api_key_env: str,
    *,
    task: str = "chat",
    context_window: int | None = None,
) -> EndpointEntry:
    """An OpenAI-compatible endpoint (llama.cpp's server, vLLM) as a models-file entry."""
    return EndpointEntry(key, "openai", model, base_url, api_key_env, task, context_window)


@dataclass(frozen=True)
class Recipe:
    """How to serve one Hub model with one engine, and how the playground then reaches it."""

    engine: str
    hub_model: str
    command: str  # a shell command line
    compose: str  # a docker compose file (YAML)
    entry: EndpointEntry
    notes: str


def checked_hub_id(text: str) -> str:
    """A Hub model id (`owner/name`), checked by huggingface_hub's own rules; nothing is fetched."""
    from huggingface_hub.errors import HFValidationError
    from huggingface_hub.utils import validate_repo_id

    model = text.strip()
    if model.count("/") != 1:
        raise DeployError(
            f"{model!r} is not a Hub model id: write it as owner/name (e.g. Qwen/Qwen2.5-0.5B-Instruct)"
        )
    try:
        validate_repo_id(model)
    except HFValidationError as exc:
        raise DeployError(f"{model!r} is not a Hub model id: {exc}") from None
    return model


def recipe(engine: str, hub_model: str, port: int = 8000, host: str = "127.0.0.1") -> Recipe:
    """The recipe for `engine` (vllm or tgi) serving `hub_model` on `port`; DeployError on bad input."""
    engine = engine.strip().lower()
    if engine not in ENGINES:
        raise DeployError(f"unknown serving engine {engine!r}: choose one of {', '.join(ENGINES)}")
    model = checked_hub_id(hub_model)
    if not 1 <= int(port) <= 65535:
        raise DeployError(f"port must be from 1 to 65535, not {port}")
    return _vllm(model, int(port), host) if engine == "vllm" else _tgi(model, int(port), host)


def _key_name(model: str) -> str:
    return "deployed-" + model.split("/")[1].lower()


def _vllm(model: str, port: int, host: str) -> Recipe:
    key_env = "VLLM_API_KEY"
    command = f'vllm serve {shlex.quote(model)} --host 0.0.0.0 --port {port} --api-key "${key_env}"'
    compose = _yaml({
        "services": {
            "vllm": {
                "image": VLLM_IMAGE,
                "command": ["--model", model, "--port", str(port)],
                # vLLM reads its key from VLLM_API_KEY; compose refuses to start while it is unset.
                "environment": {key_env: f"${{{key_env}:?set {key_env} to the key clients must send}}",
                                "HF_TOKEN": "${HF_TOKEN:-}"},
                "ports": [f"{port}:{port}"],
                "volumes": ["~/.cache/huggingface:/root/.cache/huggingface"],
                "ipc": "host",
                "deploy": _gpus(),
            }
        }
    })  # fmt: skip
    entry = endpoint_entry(_key_name(model), model, f"http://{host}:{port}/v1", key_env)
    notes = "vLLM serves the OpenAI API at /v1 (chat models need a chat template in their tokenizer config)."
    return Recipe("vllm", model, command, compose, entry, notes)


def _tgi(model: str, port: int, host: str) -> Recipe:
    key_env = "TGI_API_KEY"
    command = (
        f'docker run --gpus all --shm-size 1g -p {port}:80 -v "$PWD/data:/data" '
        f'-e API_KEY="${key_env}" -e HF_TOKEN {TGI_IMAGE} --model-id {shlex.quote(model)}'
    )
    compose = _yaml({
        "services": {
            "tgi": {
                "image": TGI_IMAGE,
                "command": ["--model-id", model],
                "environment": {"API_KEY": f"${{{key_env}:?set {key_env} to the key clients must send}}",
                                "HF_TOKEN": "${HF_TOKEN:-}"},
                "ports": [f"{port}:80"],
                "volumes": ["./data:/data"],
                "shm_size": "1g",
                "deploy": _gpus(),
            }
        }
    })  # fmt: skip
    entry = EndpointEntry(_key_name(model), "huggingface", model, f"http://{host}:{port}/v1", key_env)
    notes = "TGI serves its Messages API (OpenAI's chat completions) at /v1; the playground calls it with huggingface_hub."
    return Recipe("tgi", model, command, compose, entry, notes)


def _gpus() -> dict[str, object]:
    return {
        "resources": {
            "reservations": {"devices": [{"driver": "nvidia", "count": "all", "capabilities": ["gpu"]}]}
        }
    }


def _yaml(document: dict[str, object]) -> str:
    import yaml

    return yaml.safe_dump(document, sort_keys=False, default_flow_style=False)
