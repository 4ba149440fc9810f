"""Turn a ModelSpec plus the caller's keys into a provider adapter; say whether a model is usable now."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping

from playground.core.specs import BUILTIN_SOURCE, ModelSpec
from playground.engine.runner import DEFAULT_DEADLINE_S
from providers.base import Provider
from providers.errors import MissingKeyError, ProviderError
from providers.local_models import is_available

Keys = Mapping[str, str]


def api_key(spec: ModelSpec, keys: Keys) -> str | None:
    """The key for a spec from the caller's keys; raises MissingKeyError naming the variable to set."""
    if not spec.api_key_env:
        return None  # e.g. a local OpenAI-compatible server that needs no key
    value = (keys.get(spec.api_key_env) or "").strip()
    if value:
        return value
    if spec.base_url and spec.source != BUILTIN_SOURCE:
        return None  # a user-added URL with a blank key sends no key, never the server's own
    raise MissingKeyError(f"{spec.key} needs an API key: set {spec.api_key_env}")


def _endpoint(spec: ModelSpec, keys: Keys) -> str:
    endpoint = spec.base_url or (keys.get(spec.endpoint_env or "") or "").strip()
    if not endpoint:
        raise MissingKeyError(f"{spec.key} needs an endpoint: set {spec.endpoint_env or 'base_url'}")
    return endpoint


def _timeout(spec: ModelSpec) -> float:
    return spec.timeout_s or DEFAULT_DEADLINE_S


def _openai(spec: ModelSpec, keys: Keys) -> Provider:
    from providers.openai_compat import OpenAIProvider

    return OpenAIProvider(
        model=spec.model, api_key=api_key(spec, keys), base_url=spec.base_url, timeout_s=_timeout(spec)
    )


def _azure(spec: ModelSpec, keys: Keys) -> Provider:
    from providers.openai_compat import AzureOpenAIProvider

    return AzureOpenAIProvider(
        deployment=spec.model,
        api_key=api_key(spec, keys),
        endpoint=_endpoint(spec, keys),
        api_version=spec.api_version or "2024-10-21",
        timeout_s=_timeout(spec),
    )


def _huggingface(spec: ModelSpec, keys: Keys) -> Provider:
    from providers.huggingface import HuggingFaceProvider

    return HuggingFaceProvider(
        model=spec.model,
        api_key=api_key(spec, keys),
        base_url=spec.base_url,
        hf_provider=spec.hf_provider,
        timeout_s=_timeout(spec),
    )


def _llamacpp(spec: ModelSpec, keys: Keys) -> Provider:
    from providers.llamacpp import LlamaCppProvider

    return LlamaCppProvider(gguf=spec.gguf or spec.model, context_window=spec.context_window or 4096)


# The registry: an explicit dict from provider name to the function that builds its adapter.
ADAPTERS: dict[str, Callable[[ModelSpec, Keys], Provider]] = {
    "openai": _openai,
    "azure": _azure,
    "huggingface": _huggingface,
    "llamacpp": _llamacpp,
}


# Sampling parameters each adapter passes on to its model (the rest of ChatRequest is messages/text).
ACCEPTED_PARAMS: dict[str, tuple[str, ...]] = {
    "openai": ("temperature", "top_p", "max_tokens", "seed", "stop"),
    "azure": ("temperature", "top_p", "max_tokens", "seed", "stop"),
    "huggingface": ("temperature", "top_p", "max_tokens", "seed", "stop"),
    "llamacpp": ("temperature", "top_p", "max_tokens", "seed", "stop"),
}
# The playground sends text prompts and streams text back: chat and plain completion models only.
RUNNABLE_TASKS = ("chat", "completion")


def build_provider(spec: ModelSpec, keys: Keys | None = None) -> Provider:
    """The adapter for a spec, with keys from `keys` (default: the process environment)."""
    return ADAPTERS[spec.provider](spec, os.environ if keys is None else keys)


def usability(spec: ModelSpec, keys: Keys | None = None) -> tuple[bool, str]:
    """(usable now, why or why not) without calling or loading anything."""
    keys = os.environ if keys is None else keys
    if spec.task not in RUNNABLE_TASKS:
        return False, f"{spec.task} model: the playground runs only chat and completion models"
    if spec.is_local:
        return is_available(spec.gguf or spec.model)
    try:
        api_key(spec, keys)
        if spec.provider == "azure":
            _endpoint(spec, keys)
    except ProviderError as exc:
        return False, exc.message.split(": ", 1)[-1]
    if spec.api_key_env and (keys.get(spec.api_key_env) or "").strip():
        return True, f"{spec.api_key_env} set"
    return True, "no key needed"
