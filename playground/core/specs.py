"""Model specs: the built-in `models.toml` (package data) plus an optional user file that overrides by key."""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, get_args

from providers.base import Task
from providers.table import ADAPTERS, adapter_class

# The built-in models ship inside the package (an installed wheel has them too).
BUILTIN_MODELS_FILE = Path(__file__).resolve().parent / "models.toml"
MODELS_FILE_ENV = "PLAYGROUND_MODELS_FILE"
# The source label of the built-in specs. A user file is labelled by its resolved path, never its name:
# a file the user calls models.toml is still the user's.
BUILTIN_SOURCE = "built-in"
# How long one call may take when neither its model (timeout_s) nor the caller sets a deadline.
DEFAULT_DEADLINE_S = 120.0
# Source labels of models a visitor added in a dashboard session.
VISITOR_SOURCES = ("session", "hub")

PROVIDERS = tuple(ADAPTERS)
TASKS: tuple[str, ...] = get_args(Task)
STAGES = ("base", "instruct")


class SpecError(ValueError):
    """A models file is malformed; the message names the file and line."""


@dataclass(frozen=True)
class ModelSpec:
    """Everything needed to call one model and describe it in the catalog."""

    key: str
    provider: str
    model: str
    base_url: str | None = None
    api_key_env: str | None = None
    endpoint_env: str | None = None  # Azure: env var holding the endpoint URL
    api_version: str | None = None  # Azure
    hf_provider: str | None = None  # Hugging Face Inference Providers choice
    gguf: str | None = None  # llamacpp: bundled model name or a file path
    lora: str | None = None  # llamacpp: a GGUF LoRA adapter file applied on the gguf (a tuned model)
    context_window: int | None = None
    price_input_per_mtok: Decimal | None = None
    price_output_per_mtok: Decimal | None = None
    # Speech models are priced per unit of work, not per token (USD; override genai-prices).
    price_per_audio_minute: Decimal | None = None  # speech-to-text: per minute of audio heard
    price_per_1k_chars: Decimal | None = None  # text-to-speech: per 1,000 characters read aloud
    price_per_image: Decimal | None = None  # text-to-image: per picture (USD; overrides genai-prices)
    # Fine-tuning: whether the provider's fine-tuning API takes this model as a base, and its price per
    # million training tokens (USD; genai-prices has no training prices, so a models file gives it).
    fine_tunable: bool = False
    price_training_per_mtok: Decimal | None = None
    # A chat model that also sees images (vision chat): `playground describe` may choose it.
    accepts_images: bool = False
    timeout_s: float | None = None
    # Calls at once from this process to this model's server, shared by every session (models file);
    # the smallest limit of the models on one server holds.
    max_concurrency: int | None = None
    task: str = "chat"
    # An embedding model's cosine similarity below which a chunk found by meaning is a "weak match"
    # (measured: bench/bench_relevance.py); None: not measured, the scores only order the chunks.
    relevance_floor: float | None = None
    license: str | None = None
    license_url: str | None = None
    open_weights: bool | None = None
    stage: str | None = None
    architecture: str | None = None
    description: str | None = None
    params: Mapping[str, Any] = field(default_factory=dict)
    source: str = BUILTIN_SOURCE

    @property
    def deadline_s(self) -> float:
        """How long one call to this model may take: its own timeout_s, else the default."""
        return self.timeout_s or DEFAULT_DEADLINE_S

    @property
    def is_local(self) -> bool:
        """True for models that run on this machine (no network, no price): its adapter says so."""
        return adapter_class(self.provider).runs_locally

    @property
    def from_visitor(self) -> bool:
        """True for a model a dashboard visitor added (a Settings endpoint, a Hub find), not the server's
        configuration (the built-in file or the operator's models file)."""
        return self.source in VISITOR_SOURCES

    @property
    def is_speech(self) -> bool:
        """True for speech models (speech-to-text, text-to-speech): priced per audio minute or per 1,000
        characters, compared by the speech service, never sent a prompt."""
        return self.task in ("speech-to-text", "text-to-speech")

    @property
    def instead_of_prompts(self) -> str:
        """What a model that answers no prompt does instead, and where to use it (for refusals)."""
        return _INSTEAD_OF_PROMPTS.get(self.task, f"a {self.task} model answers no prompt here")

    @property
    def sees_images(self) -> bool:
        """True for models that answer about an image: image-to-text ones, and chat ones that accept
        images; the images service's `describe_compare` runs them."""
        return self.task == "image-to-text" or (self.task == "chat" and self.accepts_images)

    @property
    def generates_text(self) -> bool:
        """True for models that answer prompts (chat or completion): the ones Compare and Evaluate run."""
        return self.task in ("chat", "completion")

    @property
    def is_completion(self) -> bool:
        """True when this model is driven with plain text completion, not chat."""
        return self.task == "completion"

    @property
    def has_price_override(self) -> bool:
        """True when the spec sets both prices itself."""
        return self.price_input_per_mtok is not None and self.price_output_per_mtok is not None


_INSTEAD_OF_PROMPTS = {
    "embeddings": "an embedding model turns text into vectors; use it for documents (playground docs)",
    "speech-to-text": "a speech-to-text model transcribes audio; compare it with playground transcribe",
    "text-to-speech": "a text-to-speech model reads text aloud; compare it with playground speak",
    "text-to-image": "a text-to-image model paints a prompt; compare it with playground paint",
    "image-to-text": "an image-to-text model answers about an image; compare it with playground describe",
}

_FIELD_TYPES: dict[str, tuple[type, ...]] = {
    "provider": (str,),
    "model": (str,),
    "base_url": (str,),
    "api_key_env": (str,),
    "endpoint_env": (str,),
    "api_version": (str,),
    "hf_provider": (str,),
    "gguf": (str,),
    "lora": (str,),
    "context_window": (int,),
    "price_input_per_mtok": (int, float, str),
    "price_output_per_mtok": (int, float, str),
    "price_per_audio_minute": (int, float, str),
    "price_per_1k_chars": (int, float, str),
    "price_per_image": (int, float, str),
    "fine_tunable": (bool,),
    "price_training_per_mtok": (int, float, str),
    "accepts_images": (bool,),
    "timeout_s": (int, float),
    "max_concurrency": (int,),
    "task": (str,),
    "relevance_floor": (int, float),
    "license": (str,),
    "license_url": (str,),
    "open_weights": (bool,),
    "stage": (str,),
    "architecture": (str,),
    "description": (str,),
    "params": (dict,),
}


def _line_of(text: str, key: str) -> int:
    pattern = re.compile(rf"^[ \t]*\[[ \t]*models\.\"?{re.escape(key)}\"?[ \t]*\]", re.MULTILINE)
    match = pattern.search(text)
    return text.count("\n", 0, match.start()) + 1 if match else 1


def _decimal(value: Any, where: str) -> Decimal:
    try:
        result = Decimal(str(value))
    except InvalidOperation as exc:
        raise SpecError(f"{where}: not a number: {value!r}") from exc
    if result < 0:
        raise SpecError(f"{where}: a price cannot be negative")
    return result


def _spec_from_table(key: str, table: Any, where: str, source: str) -> ModelSpec:
    if not isinstance(table, dict):
        raise SpecError(f"{where}: [models.{key}] must be a table")
    unknown = sorted(set(table) - set(_FIELD_TYPES))
    if unknown:
        known = ", ".join(sorted(_FIELD_TYPES))
        raise SpecError(f"{where}: unknown field(s) {', '.join(unknown)} (known: {known})")
    for name, value in table.items():
        allowed = _FIELD_TYPES[name]
        # bool is an int subclass in Python; refuse it where a number is meant.
        if not isinstance(value, allowed) or (isinstance(value, bool) and bool not in allowed):
            raise SpecError(f"{where}: field {name!r} has the wrong type ({type(value).__name__})")
    for required in ("provider", "model"):
        if required not in table:
            raise SpecError(f"{where}: [models.{key}] needs a {required!r} field")
    if table["provider"] not in PROVIDERS:
        raise SpecError(f"{where}: unknown provider {table['provider']!r} (known: {', '.join(PROVIDERS)})")
    task = table.get("task", "chat")
    if task not in TASKS:
        raise SpecError(f"{where}: unknown task {task!r} (known: {', '.join(TASKS)})")
    stage = table.get("stage")
    if stage is not None and stage not in STAGES:
        raise SpecError(f"{where}: unknown stage {stage!r} (known: {', '.join(STAGES)})")
    values = dict(table)
    for price in (
        "price_input_per_mtok",
        "price_output_per_mtok",
        "price_per_audio_minute",
        "price_per_1k_chars",
        "price_per_image",
        "price_training_per_mtok",
    ):
        if price in values:
            values[price] = _decimal(values[price], where)
    for price, its_task in (
        ("price_per_audio_minute", "speech-to-text"),
        ("price_per_1k_chars", "text-to-speech"),
        ("price_per_image", "text-to-image"),
    ):
        if price in values and task != its_task:
            raise SpecError(f"{where}: {price} prices a {its_task} model, not a {task} one")
    if values.get("price_per_image") == 0:
        raise SpecError(f"{where}: price_per_image cannot be 0 (leave it out: the price is then unknown)")
    if values.get("accepts_images") and (
        task != "chat" or not getattr(adapter_class(table["provider"]), "sees_images", False)
    ):
        raise SpecError(f"{where}: accepts_images is for chat models of a provider that sends images")
    if values.get("fine_tunable") and (
        task != "chat" or not getattr(adapter_class(table["provider"]), "fine_tunes", False)
    ):
        raise SpecError(f"{where}: fine_tunable is for chat models of a provider with a fine-tuning API")
    if "timeout_s" in values:
        values["timeout_s"] = float(values["timeout_s"])
        if values["timeout_s"] <= 0:
            raise SpecError(f"{where}: timeout_s must be positive")
    for count in ("context_window", "max_concurrency"):
        if count in values and values[count] <= 0:
            raise SpecError(f"{where}: {count} must be positive")
    if "relevance_floor" in values:
        values["relevance_floor"] = float(values["relevance_floor"])
        if task != "embeddings" or not -1 <= values["relevance_floor"] <= 1:
            raise SpecError(
                f"{where}: relevance_floor is a cosine similarity (-1 to 1) of an embeddings model"
            )
    return ModelSpec(key=key, source=source, **values)


def parse_models_text(text: str, source: str) -> dict[str, ModelSpec]:
    """Parse one models file's text into specs by key; errors name the file and line."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SpecError(f"{source}: malformed TOML: {exc}") from exc
    unknown_top = sorted(set(data) - {"models"})
    if unknown_top:
        raise SpecError(f"{source}: unknown top-level key(s): {', '.join(unknown_top)}")
    models = data.get("models", {})
    if not isinstance(models, dict):
        raise SpecError(f"{source}: 'models' must be a table of [models.KEY] sections")
    specs = {}
    for key, table in models.items():
        where = f"{source}, line {_line_of(text, key)}"
        specs[key] = _spec_from_table(key, table, where, source)
    return specs


def _read_models_file(path: Path, source: str | None = None) -> dict[str, ModelSpec]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise SpecError(f"{path}: models file not found") from exc
    except UnicodeDecodeError as exc:
        raise SpecError(f"{path}: not UTF-8 text") from exc
    return parse_models_text(text, source or str(path.resolve()))


def load_specs(
    models_file: str | os.PathLike[str] | None = None,
    env: Mapping[str, str] | None = None,
) -> dict[str, ModelSpec]:
    """Built-in specs, then the user's file (argument, else $PLAYGROUND_MODELS_FILE) on top by key."""
    env = os.environ if env is None else env
    specs = _read_models_file(BUILTIN_MODELS_FILE, BUILTIN_SOURCE)
    user_file = models_file or env.get(MODELS_FILE_ENV)
    if user_file:
        specs.update(_read_models_file(Path(user_file)))
    return specs


def with_overrides(spec: ModelSpec, **changes: Any) -> ModelSpec:
    """A copy of spec with some fields changed (e.g. a CLI --timeout)."""
    known = {f.name for f in fields(ModelSpec)}
    return replace(spec, **{k: v for k, v in changes.items() if k in known and v is not None})


# Far above any model's price per million tokens; also keeps Decimal arithmetic in range.
MAX_PRICE_PER_MTOK = Decimal(10_000)


class EndpointError(ValueError):
    """A custom endpoint that cannot become a model: the message says what to fix."""


def custom_endpoint_spec(
    name: str, base_url: str, model_id: str, price_in: str = "", price_out: str = ""
) -> ModelSpec:
    """A visitor's OpenAI-compatible endpoint as a session model. Its key, if any, belongs under the
    spec's own `api_key_env` in that session's keys (never the server's)."""
    name, base_url, model_id = name.strip(), base_url.strip(), model_id.strip()
    if not (name and base_url.startswith(("http://", "https://")) and model_id):
        raise EndpointError("Name, an http(s) base URL and a model id are needed.")
    try:
        prices = {
            "price_input_per_mtok": Decimal(price_in) if price_in.strip() else None,
            "price_output_per_mtok": Decimal(price_out) if price_out.strip() else None,
        }
    except InvalidOperation:
        raise EndpointError("Prices must be numbers.") from None
    for price in prices.values():
        # Decimal accepts exponents far past what its arithmetic can carry (1e999999999): bound it.
        if price is not None and (not price.is_finite() or not 0 <= price <= MAX_PRICE_PER_MTOK):
            raise EndpointError(
                f"Prices must be numbers from 0 to {MAX_PRICE_PER_MTOK} (USD per million tokens)."
            )
    return ModelSpec(
        key=name,
        provider="openai",
        model=model_id,
        base_url=base_url,
        api_key_env=f"CUSTOM_KEY_{name.upper().replace('-', '_')}",
        source="session",
        **prices,
    )
