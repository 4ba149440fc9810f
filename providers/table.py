"""Every adapter, keyed by provider and task, as huggingface_hub keys its provider table.

The facts about a provider live on its adapter class (name, tasks, accepted parameters, runs locally,
price id, snippet); this table only collects the classes. Importing it imports no SDK: adapters import
theirs when a call is prepared.
"""

from __future__ import annotations

from providers.base import Provider
from providers.errors import ProviderError
from providers.huggingface import HuggingFaceProvider
from providers.llamacpp import LlamaCppProvider
from providers.openai_compat import AzureOpenAIProvider, OpenAIProvider
from providers.wordllama import WordLlamaEmbedder

ADAPTERS: dict[str, type[Provider]] = {
    cls.name: cls
    for cls in (OpenAIProvider, AzureOpenAIProvider, HuggingFaceProvider, LlamaCppProvider, WordLlamaEmbedder)
}
TABLE: dict[str, dict[str, type[Provider]]] = {
    name: {task: cls for task in cls.tasks} for name, cls in ADAPTERS.items()
}


class UnsupportedTaskError(ProviderError):
    """No adapter serves this (provider, task) pair."""

    kind = "unsupported"


def adapter_class(provider: str) -> type[Provider]:
    """The adapter class of a provider (its facts), whatever the task."""
    try:
        return ADAPTERS[provider]
    except KeyError:
        raise UnsupportedTaskError(f"unknown provider {provider!r}; known: {', '.join(ADAPTERS)}") from None


def adapter_for(provider: str, task: str) -> type[Provider]:
    """The adapter class serving `task` on `provider`; one clear error for a pair nothing serves."""
    by_task = TABLE.get(provider)
    if by_task is None:
        adapter_class(provider)  # raises: unknown provider
    assert by_task is not None
    if task not in by_task:
        served = ", ".join(by_task) or "nothing"
        raise UnsupportedTaskError(
            f"the {provider} adapter does not serve {task} models (it serves: {served})"
        )
    return by_task[task]
