"""Turn a ModelSpec plus the caller's keys into a provider adapter; say whether a model is usable now."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping

from playground.core.specs import BUILTIN_SOURCE, ModelSpec
from playground.engine.runner import DEFAULT_DEADLINE_S
from providers.base import CallTarget, Provider
from providers.errors import MissingKeyError, ProviderError
from providers.local_models import is_available
from providers.table import UnsupportedTaskError, adapter_for

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


# How each adapter is built from a spec and the caller's keys. What an adapter is (tasks, parameters,
# price id, snippet, local or not) is declared on its class: providers/table.py.
_BUILDERS: dict[str, Callable[[ModelSpec, Keys], Provider]] = {
    "openai": _openai,
    "azure": _azure,
    "huggingface": _huggingface,
    "llamacpp": _llamacpp,
}


def build_provider(spec: ModelSpec, keys: Keys | None = None) -> Provider:
    """The adapter for a spec, with keys from `keys` (default: the process environment); an
    UnsupportedTaskError names a (provider, task) pair no adapter serves."""
    adapter_for(spec.provider, spec.task)
    return _BUILDERS[spec.provider](spec, os.environ if keys is None else keys)


def call_target(spec: ModelSpec) -> CallTarget:
    """Where a spec's calls go, for "View code" (variables that hold keys, never keys)."""
    return CallTarget(
        model=spec.model,
        base_url=spec.base_url,
        key_env=spec.api_key_env,
        endpoint_env=spec.endpoint_env,
        api_version=spec.api_version,
        hf_provider=spec.hf_provider,
        context_window=spec.context_window,
        model_file=spec.gguf,
    )


def usability(spec: ModelSpec, keys: Keys | None = None) -> tuple[bool, str]:
    """(usable now, why or why not) without calling or loading anything."""
    keys = os.environ if keys is None else keys
    try:
        adapter_for(spec.provider, spec.task)
    except UnsupportedTaskError as exc:
        return False, exc.message
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
