"""Every adapter, keyed by provider and task, as huggingface_hub keys its provider table.

The facts about a provider live on its adapter class (name, tasks, accepted parameters, runs locally,
price id, snippet); this table only collects the classes. Importing it imports no SDK: adapters import
theirs when a call is prepared.
"""

from __future__ import annotations

from providers.base import Provider
from providers.errors import ProviderError
from providers.huggingface import HuggingFaceProvider
from providers.huggingface_media import HuggingFacePainter, HuggingFaceSpeaker, HuggingFaceTranscriber
from providers.llamacpp import LlamaCppProvider
from providers.openai_compat import AzureOpenAIProvider, OpenAIProvider
from providers.openai_images import AzurePainter, OpenAIPainter
from providers.openai_speech import AzureSpeaker, AzureTranscriber, OpenAISpeaker, OpenAITranscriber
from providers.speech_local import PiperSpeaker, WhisperTranscriber
from providers.wordllama import WordLlamaEmbedder

# Every adapter class. A provider's first class here is the one that states its facts (local or not,
# price id, accepted parameters); a provider may have one more class per further task (speech on OpenAI and Hugging Face).
_CLASSES: tuple[type[Provider], ...] = (
    OpenAIProvider,
    AzureOpenAIProvider,
    HuggingFaceProvider,
    LlamaCppProvider,
    WordLlamaEmbedder,
    WhisperTranscriber,  # type: ignore[misc]
    PiperSpeaker,  # type: ignore[misc]
    OpenAITranscriber,
    OpenAISpeaker,
    AzureTranscriber,
    AzureSpeaker,
    OpenAIPainter,
    AzurePainter,
    HuggingFaceTranscriber,
    HuggingFaceSpeaker,
    HuggingFacePainter,
)
ADAPTERS: dict[str, type[Provider]] = {}
TABLE: dict[str, dict[str, type[Provider]]] = {}
for _cls in _CLASSES:
    ADAPTERS.setdefault(_cls.name, _cls)
    TABLE.setdefault(_cls.name, {}).update({task: _cls for task in _cls.tasks})


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
