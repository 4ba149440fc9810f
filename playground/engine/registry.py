"""Turn a ModelSpec plus the caller's keys into a provider adapter; say whether a model is usable now."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from playground.core.specs import ModelSpec
from playground.engine.upstream import Limited, upstream_for
from providers.base import CallTarget, Provider
from providers.errors import MissingKeyError, ProviderError
from providers.table import UnsupportedTaskError, adapter_class, adapter_for

if TYPE_CHECKING:
    from providers.egress import EgressPolicy


@dataclass(frozen=True)
class Keyring:
    """The keys and endpoints a call may use, by whose they are: this visitor's (typed in a dashboard
    session) and the server's (its environment). A key of the server's goes only to a URL of the
    server's configuration; a URL a visitor supplied gets only that visitor's own key."""

    visitor: Mapping[str, str] = field(default_factory=dict)
    server: Mapping[str, str] = field(default_factory=dict)
    # Hosted mode: every URL a visitor supplied goes through this guard (providers.egress.EgressPolicy),
    # and models a visitor brought (Settings endpoints, Hub finds) never use a server key.
    egress: EgressPolicy | None = None
    hosted: bool = False

    def visitors(self, name: str | None) -> str:
        """The visitor's own value for a variable ("" if none)."""
        return (self.visitor.get(name or "") or "").strip()

    def servers(self, name: str | None) -> str:
        """The server's value for a variable ("" if none)."""
        return (self.server.get(name or "") or "").strip()


# A plain mapping is the caller's own configuration (the CLI: the operator's environment).
Keys = Mapping[str, str] | Keyring


def keyring_of(keys: Keys | None) -> Keyring:
    """The keys as a Keyring (default: the process environment, as the server's)."""
    if isinstance(keys, Keyring):
        return keys
    return Keyring(server=os.environ if keys is None else keys)


def visitor_target(spec: ModelSpec, keys: Keys | None) -> bool:
    """True when a visitor supplied the URL this spec's calls go to: a session endpoint's base URL, or an
    Azure endpoint typed in Settings (a Hub find goes to the Hugging Face router, the server's URL)."""
    ring = keyring_of(keys)
    if spec.base_url:
        return spec.from_visitor
    return bool(spec.endpoint_env and ring.visitors(spec.endpoint_env))


def api_key(spec: ModelSpec, keys: Keys | None) -> str | None:
    """The key for a spec; raises MissingKeyError naming the variable to set."""
    if not spec.api_key_env:
        return None  # e.g. a local OpenAI-compatible server that needs no key
    ring = keyring_of(keys)
    if own := ring.visitors(spec.api_key_env):
        return own
    if visitor_target(spec, ring):
        if not spec.base_url:  # an Azure endpoint typed in Settings: Azure always needs a key
            raise MissingKeyError(
                f"{spec.key} goes to the endpoint you typed, so it needs your own key: set "
                f"{spec.api_key_env} in Settings (the server's key never goes to a URL you supplied)"
            )
        return None  # the visitor's URL with no key of theirs: no key at all, never the server's
    if ring.hosted and spec.from_visitor:
        # A shared server's keys are for the admin's models only; a Hub find goes to the server's
        # Hugging Face URL, but on the visitor's behalf.
        raise MissingKeyError(
            f"{spec.key} is a model you added, so it needs your own key: set {spec.api_key_env} in Settings "
            "(on this shared server, the server's keys are only for the models its admin configured)"
        )
    if server := ring.servers(spec.api_key_env):
        return server
    if spec.base_url:
        return None  # a configured URL whose key variable is unset: a local server may need none
    raise MissingKeyError(f"{spec.key} needs an API key: set {spec.api_key_env}")


def _endpoint(spec: ModelSpec, keys: Keys | None) -> str:
    ring = keyring_of(keys)
    endpoint = spec.base_url or ring.visitors(spec.endpoint_env) or ring.servers(spec.endpoint_env)
    if not endpoint:
        raise MissingKeyError(f"{spec.key} needs an endpoint: set {spec.endpoint_env or 'base_url'}")
    return endpoint


def _timeout(spec: ModelSpec) -> float:
    return spec.deadline_s


def _guard(spec: ModelSpec, keys: Keys) -> EgressPolicy | None:
    """The egress guard for this spec's calls: only for a URL a visitor supplied, in hosted mode."""
    ring = keyring_of(keys)
    return ring.egress if visitor_target(spec, ring) else None


def _openai(spec: ModelSpec, keys: Keys) -> Provider:
    from providers.openai_compat import OpenAIProvider

    return OpenAIProvider(
        model=spec.model,
        api_key=api_key(spec, keys),
        base_url=spec.base_url,
        timeout_s=_timeout(spec),
        visitor_url=visitor_target(spec, keys),
        egress=_guard(spec, keys),
    )


def _azure(spec: ModelSpec, keys: Keys) -> Provider:
    from providers.openai_compat import DEFAULT_AZURE_API_VERSION, AzureOpenAIProvider

    return AzureOpenAIProvider(
        deployment=spec.model,
        api_key=api_key(spec, keys),
        endpoint=_endpoint(spec, keys),
        api_version=spec.api_version or DEFAULT_AZURE_API_VERSION,
        timeout_s=_timeout(spec),
        visitor_url=visitor_target(spec, keys),
        egress=_guard(spec, keys),
    )


def _huggingface(spec: ModelSpec, keys: Keys) -> Provider:
    from providers.huggingface import HuggingFaceProvider

    return HuggingFaceProvider(**_huggingface_options(spec, keys))


def _llamacpp(spec: ModelSpec, keys: Keys) -> Provider:
    from providers.llamacpp import LlamaCppProvider

    return LlamaCppProvider(
        gguf=spec.gguf or spec.model, context_window=spec.context_window or 4096, lora=spec.lora
    )


# How each adapter is built from a spec and the caller's keys. What an adapter is (tasks, parameters,
# price id, snippet, local or not) is declared on its class: providers/table.py.
def _wordllama(spec: ModelSpec, keys: Keys) -> Provider:
    from providers.wordllama import WordLlamaEmbedder, dims_of

    return WordLlamaEmbedder(dims=dims_of(spec.model))  # type: ignore[return-value]


def _whisper(spec: ModelSpec, keys: Keys) -> Provider:
    from providers.speech_local import WhisperTranscriber

    return WhisperTranscriber(model=spec.model)  # type: ignore[return-value]


def _piper(spec: ModelSpec, keys: Keys) -> Provider:
    from providers.speech_local import PiperSpeaker

    return PiperSpeaker(voice=spec.model)  # type: ignore[return-value]


def _openai_options(spec: ModelSpec, keys: Keys) -> dict[str, Any]:
    """What the OpenAI speech and image adapters are built with: the chat adapter's own key and URL handling."""
    return {
        "model": spec.model,
        "api_key": api_key(spec, keys),
        "base_url": spec.base_url,
        "timeout_s": _timeout(spec),
        "visitor_url": visitor_target(spec, keys),
        "egress": _guard(spec, keys),
    }


def _azure_options(spec: ModelSpec, keys: Keys) -> dict[str, Any]:
    """What the Azure speech and image adapters are built with: the chat adapter's own key and endpoint handling."""
    from providers.openai_compat import DEFAULT_AZURE_API_VERSION

    return {
        "deployment": spec.model,
        "api_key": api_key(spec, keys),
        "endpoint": _endpoint(spec, keys),
        "api_version": spec.api_version or DEFAULT_AZURE_API_VERSION,
        "timeout_s": _timeout(spec),
        "visitor_url": visitor_target(spec, keys),
        "egress": _guard(spec, keys),
    }


def _voice(spec: ModelSpec) -> dict[str, Any]:
    return {"voice": str(spec.params["voice"])} if "voice" in spec.params else {}


def _openai_transcriber(spec: ModelSpec, keys: Keys) -> Provider:
    from providers.openai_speech import OpenAITranscriber

    return OpenAITranscriber(**_openai_options(spec, keys))


def _openai_speaker(spec: ModelSpec, keys: Keys) -> Provider:
    from providers.openai_speech import OpenAISpeaker

    return OpenAISpeaker(**_voice(spec), **_openai_options(spec, keys))


def _azure_transcriber(spec: ModelSpec, keys: Keys) -> Provider:
    from providers.openai_speech import AzureTranscriber

    return AzureTranscriber(**_azure_options(spec, keys))


def _azure_speaker(spec: ModelSpec, keys: Keys) -> Provider:
    from providers.openai_speech import AzureSpeaker

    return AzureSpeaker(**_voice(spec), **_azure_options(spec, keys))


def _quality(spec: ModelSpec) -> dict[str, Any]:
    return {"quality": str(spec.params["quality"])} if "quality" in spec.params else {}


def _openai_painter(spec: ModelSpec, keys: Keys) -> Provider:
    from providers.openai_images import OpenAIPainter

    return OpenAIPainter(**_quality(spec), **_openai_options(spec, keys))


def _azure_painter(spec: ModelSpec, keys: Keys) -> Provider:
    from providers.openai_images import AzurePainter

    return AzurePainter(**_quality(spec), **_azure_options(spec, keys))


def _huggingface_options(spec: ModelSpec, keys: Keys) -> dict[str, Any]:
    """What the Hugging Face speech and image adapters are built with: the chat adapter's own."""
    return {
        "model": spec.model,
        "api_key": api_key(spec, keys),
        "base_url": spec.base_url,
        "hf_provider": spec.hf_provider,
        "timeout_s": _timeout(spec),
        "visitor_url": visitor_target(spec, keys),
        "egress": _guard(spec, keys),
    }


def _huggingface_transcriber(spec: ModelSpec, keys: Keys) -> Provider:
    from providers.huggingface_media import HuggingFaceTranscriber

    return HuggingFaceTranscriber(**_huggingface_options(spec, keys))


def _huggingface_speaker(spec: ModelSpec, keys: Keys) -> Provider:
    from providers.huggingface_media import HuggingFaceSpeaker

    return HuggingFaceSpeaker(**_huggingface_options(spec, keys))


def _huggingface_painter(spec: ModelSpec, keys: Keys) -> Provider:
    from providers.huggingface_media import HuggingFacePainter

    return HuggingFacePainter(**_huggingface_options(spec, keys))


_BUILDERS: dict[str, Callable[[ModelSpec, Keys], Provider]] = {
    "openai": _openai,
    "azure": _azure,
    "huggingface": _huggingface,
    "llamacpp": _llamacpp,
    "wordllama": _wordllama,
    "faster-whisper": _whisper,
    "piper": _piper,
}
# A provider whose task has a class of its own (providers/table.py) is built by (provider, task).
_TASK_BUILDERS: dict[tuple[str, str], Callable[[ModelSpec, Keys], Provider]] = {
    ("openai", "speech-to-text"): _openai_transcriber,
    ("openai", "text-to-speech"): _openai_speaker,
    ("azure", "speech-to-text"): _azure_transcriber,
    ("azure", "text-to-speech"): _azure_speaker,
    ("openai", "text-to-image"): _openai_painter,
    ("azure", "text-to-image"): _azure_painter,
    ("huggingface", "speech-to-text"): _huggingface_transcriber,
    ("huggingface", "text-to-speech"): _huggingface_speaker,
    ("huggingface", "text-to-image"): _huggingface_painter,
}


def build_provider(spec: ModelSpec, keys: Keys | None = None) -> Provider:
    """The adapter for a spec, with keys from `keys` (default: the process environment); an
    UnsupportedTaskError names a (provider, task) pair no adapter serves. A hosted adapter takes turns
    on its server with every other call to it (engine/upstream.py)."""
    adapter_for(spec.provider, spec.task)
    ring = keyring_of(keys)
    builder = _TASK_BUILDERS.get((spec.provider, spec.task)) or _BUILDERS[spec.provider]
    provider = builder(spec, ring)
    if spec.is_local:
        return provider  # a local model has its own queue (providers/local_workers.py)
    server = spec.base_url or (_endpoint(spec, ring) if spec.provider == "azure" else spec.provider)
    return Limited(provider, upstream_for(server, spec.max_concurrency))


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
        lora_file=spec.lora,
    )


def usability(spec: ModelSpec, keys: Keys | None = None) -> tuple[bool, str]:
    """(usable now, why or why not) without calling or loading anything."""
    ring = keyring_of(keys)
    try:
        adapter_for(spec.provider, spec.task)
    except UnsupportedTaskError as exc:
        return False, exc.message
    if spec.is_local:
        return adapter_class(spec.provider).availability(spec.gguf or spec.model)  # type: ignore[attr-defined]
    try:
        key = api_key(spec, ring)
        if spec.provider == "azure":
            _endpoint(spec, ring)
    except ProviderError as exc:
        return False, exc.message.split(": ", 1)[-1]
    return (True, f"{spec.api_key_env} set") if key else (True, "no key needed")


class NotTunableError(ProviderError):
    """A model whose provider has no fine-tuning API here, or whose spec does not say `fine_tunable`."""

    kind = "not_tunable"


def build_tuner(spec: ModelSpec, keys: Keys | None = None) -> Any:
    """The fine-tuning API (providers.openai_tuning.FineTuner) of a spec's account: the chat adapter's SDK
    client, so the key and URL rules are those of every call (a server key only to the server's URL)."""
    from providers.openai_tuning import FineTuner

    if not spec.fine_tunable or not getattr(adapter_class(spec.provider), "fine_tunes", False):
        raise NotTunableError(
            f"{spec.key} cannot be fine-tuned here (its models-file entry says fine_tunable)"
        )
    ring = keyring_of(keys)
    adapter: Any = _openai(spec, ring) if spec.provider == "openai" else _azure(spec, ring)
    return FineTuner(adapter.client, adapter.api_key, visitor_url=adapter.visitor_url)
