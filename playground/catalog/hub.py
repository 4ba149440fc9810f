"""Search the Hugging Face Hub for models and turn a hit into a spec run through Inference Providers."""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from typing import Any

from playground.core.specs import ModelSpec

# Hub pipeline tags for the catalog's tasks. A text-generation model tagged "conversational" has a chat
# template (chat); without it, it is driven as plain completion.
PIPELINE_TAGS: dict[str, str] = {
    "chat": "text-generation",
    "completion": "text-generation",
    "embeddings": "feature-extraction",
    "image-to-text": "image-text-to-text",
    "text-to-image": "text-to-image",
    "speech-to-text": "automatic-speech-recognition",
    "text-to-speech": "text-to-speech",
}
_TASK_OF_TAG = {
    "feature-extraction": "embeddings",
    "sentence-similarity": "embeddings",
    "text-to-image": "text-to-image",
    "automatic-speech-recognition": "speech-to-text",
    "text-to-speech": "text-to-speech",
}
SORTS = ("downloads", "likes", "trending_score", "last_modified")
# What each hit carries; asked for explicitly so one request returns the card facts we show.
EXPAND = ["pipeline_tag", "tags", "downloads", "likes", "library_name", "gated", "cardData", "config"]


class HubUnavailableError(RuntimeError):
    """The Hub could not be searched (offline, blocked, or an error answer); the message says which."""


@dataclass(frozen=True)
class HubQuery:
    """One Hub search: free text plus task, library and license filters, sorted by downloads or likes."""

    search: str = ""
    task: str | None = None  # one of PIPELINE_TAGS' keys
    library: str | None = None  # e.g. "transformers", "gguf"
    license: str | None = None  # e.g. "apache-2.0"
    sort: str = "downloads"
    limit: int = 20
    served_by_inference_providers: bool = True

    def list_models_kwargs(self) -> dict[str, Any]:
        """The keyword arguments for `HfApi.list_models` (anonymous: no token, so hits are public)."""
        if self.sort not in SORTS:
            raise ValueError(f"unknown sort {self.sort!r}; one of {', '.join(SORTS)}")
        filters = [f for f in (self.library, f"license:{self.license}" if self.license else None) if f]
        kwargs: dict[str, Any] = {
            "search": self.search.strip() or None,
            "pipeline_tag": PIPELINE_TAGS.get(self.task) if self.task else None,
            "filter": filters or None,
            "sort": self.sort,
            "limit": max(1, min(self.limit, 100)),
            "expand": EXPAND,
            # token=False: never send the server's HF_TOKEN; a shared cache of public hits stays safe.
            "token": False,
        }
        if self.served_by_inference_providers:
            kwargs["inference_provider"] = "all"
        return {k: v for k, v in kwargs.items() if v is not None}


@dataclass(frozen=True)
class HubModel:
    """One Hub hit with the card facts the catalog shows; unknown facts are None."""

    id: str
    task: str | None
    pipeline_tag: str | None
    library: str | None
    license: str | None
    downloads: int | None
    likes: int | None
    gated: bool
    architecture: str | None
    stage: str | None
    base_models: tuple[str, ...] = field(default_factory=tuple)

    def as_spec(self) -> ModelSpec:
        """A session model for this hit, called through Inference Providers (needs HF_TOKEN)."""
        return ModelSpec(
            key=f"hf:{self.id}",
            provider="huggingface",
            model=self.id,
            hf_provider="auto",
            api_key_env="HF_TOKEN",
            task=self.task or "chat",
            license=self.license,
            license_url=f"https://huggingface.co/{self.id}",
            open_weights=True,  # weights published on the Hub (possibly gated: see `gated`)
            stage=self.stage,
            architecture=self.architecture,
            description=f"Found on the Hugging Face Hub ({self.downloads or 0} downloads, {self.likes or 0} likes).",
            source="hub",
        )


def _architecture(config: dict[str, Any] | None) -> str | None:
    """From the transformers class name in the model's config, when it says; otherwise unknown."""
    names = (config or {}).get("architectures") or []
    for name in names:
        if name.endswith("ForCausalLM"):
            return "decoder-only"
        if name.endswith(("ForConditionalGeneration", "ForSeq2SeqLM")) and (config or {}).get(
            "model_type"
        ) in (
            "t5",
            "mt5",
            "bart",
            "mbart",
            "pegasus",
            "marian",
            "flan-t5",
            "umt5",
            "whisper",
        ):
            return "encoder-decoder"
        if name.endswith(("ForMaskedLM", "Model")) and (config or {}).get("model_type") in (
            "bert",
            "roberta",
            "xlm-roberta",
            "deberta-v2",
            "modernbert",
            "distilbert",
        ):
            return "encoder-only"
    return None


def hub_model(info: Any) -> HubModel:
    """Our view of a `huggingface_hub.ModelInfo`."""
    tags = list(info.tags or [])
    card = info.card_data.to_dict() if getattr(info, "card_data", None) is not None else {}
    license_ = card.get("license") or next(
        (t.split(":", 1)[1] for t in tags if t.startswith("license:")), None
    )
    if isinstance(license_, list):
        license_ = ", ".join(license_)
    base = card.get("base_model") or []
    base_models = tuple([base] if isinstance(base, str) else base)
    tag = info.pipeline_tag
    if tag == "text-generation":
        task = "chat" if "conversational" in tags else "completion"
    else:
        task = _TASK_OF_TAG.get(tag or "")
    # Stage from facts only: a chat template ("conversational") or a declared base model means tuned;
    # otherwise unknown (a model without either may still be tuned).
    stage = "instruct" if ("conversational" in tags or base_models) else None
    return HubModel(
        id=info.id,
        task=task,
        pipeline_tag=tag,
        library=info.library_name,
        license=license_,
        downloads=info.downloads,
        likes=info.likes,
        gated=bool(info.gated),
        architecture=_architecture(info.config),
        stage=stage,
        base_models=base_models,
    )


def search_hub(query: HubQuery, *, endpoint: str | None = None, timeout_s: float = 8) -> list[HubModel]:
    """Search the Hub; raises HubUnavailableError with a clear message when it cannot be reached in time."""
    from huggingface_hub import HfApi

    kwargs = query.list_models_kwargs()
    outcome: dict[str, Any] = {}

    def fetch() -> None:
        try:
            # token=False: never the server's HF_TOKEN. Answers are cached for every session, so a
            # token's private models would show to everyone; in hosted mode it is not theirs to use.
            api = HfApi(endpoint=endpoint or os.environ.get("HF_ENDPOINT"), token=False)
            outcome["hits"] = [hub_model(info) for info in api.list_models(**kwargs)]
        except Exception as exc:  # noqa: BLE001 - classified below, on the caller's thread
            outcome["error"] = exc

    # huggingface_hub has no timeout on this call and retries network errors with backoff, so an
    # offline machine would wait a long while; the search runs on a daemon thread with a deadline.
    worker = threading.Thread(target=fetch, daemon=True, name="hub-search")
    worker.start()
    worker.join(timeout_s)
    if worker.is_alive():
        raise HubUnavailableError(
            f"the Hugging Face Hub did not answer within {timeout_s:g} s (offline or blocked); "
            "the rest of the catalog still works"
        )
    error = outcome.get("error")
    if error is None:
        return outcome["hits"]
    from huggingface_hub.errors import HfHubHTTPError

    if isinstance(error, HfHubHTTPError):
        status = error.response.status_code if error.response is not None else "an error"
        raise HubUnavailableError(f"the Hugging Face Hub answered {status}; try again later") from error
    raise HubUnavailableError(
        f"the Hugging Face Hub cannot be reached ({type(error).__name__}); the rest of the catalog still works"
    ) from error
