"""The model catalog: one row of facts per model, filtering and sorting, shared by the page and the CLI."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from decimal import Decimal
from typing import Any

from playground.core.specs import ModelSpec
from playground.engine.pricing import cost_source, image_price_for, price_for, speech_price_for
from playground.engine.registry import Keys, usability
from playground.engine.tokens import estimator_for, preferred_encoding
from providers.local_models import BUNDLED, bundled_size_bytes
from providers.table import UnsupportedTaskError, adapter_class, adapter_for

ARCHITECTURES = ("decoder-only", "encoder-only", "encoder-decoder")


@dataclass(frozen=True)
class CatalogEntry:
    """What the catalog knows about one model; None means unknown (never guessed)."""

    key: str
    provider: str
    model: str
    task: str
    stage: str | None
    architecture: str | None
    license: str | None
    license_url: str | None
    open_weights: bool | None
    context_window: int | None
    price_input_per_mtok: Decimal | None
    price_output_per_mtok: Decimal | None
    price_source: str  # override | genai-prices:<date> | local | unknown
    unit_price: (
        str | None
    )  # a speech or image model's price per unit of work (audio minute, 1,000 characters, image)
    token_counting: str
    accepted_params: tuple[str, ...]
    usable: bool
    usable_reason: str
    source: str  # built-in | the user's file (resolved path) | session | hub
    description: str | None
    quantization: str | None
    size_on_disk_bytes: int | None

    @property
    def used_for(self) -> str:
        """Where this app uses a model of this task."""
        return USES.get(self.task, "listed for reference; not run here")

    @property
    def answers_prompts(self) -> bool:
        """True for models Compare and Evaluate run (chat or completion)."""
        return self.task in ("chat", "completion")

    def to_json(self) -> dict[str, Any]:
        """JSON-ready facts (money as decimal strings)."""
        row = asdict(self)
        for name in ("price_input_per_mtok", "price_output_per_mtok"):
            row[name] = None if row[name] is None else str(row[name])
        row["accepted_params"] = list(self.accepted_params)
        return row


USES = {
    "chat": "Compare, Evaluate, and Ask in Documents",
    "completion": "Compare and Evaluate, as raw text completion",
    "embeddings": "Documents (collections, search by meaning) and few-shot 'similar' examples in Evaluate",
    "speech-to-text": "playground transcribe: transcripts compared (seconds, real-time factor, WER, cost)",
    "text-to-speech": "playground speak: voices compared (seconds, real-time factor, intelligibility, cost)",
    "image-to-text": "playground describe: answers about one image compared (TTFT, seconds, tokens, cost)",
    "text-to-image": "playground paint: pictures of one prompt compared (seconds, cost per image)",
}


def token_counting(spec: ModelSpec) -> str:
    """How the app counts this model's tokens: before the call, and after it."""
    if spec.is_local and spec.task == "embeddings":
        return "not counted: a local embedding model has no price"
    if spec.task in ("speech-to-text", "text-to-speech"):
        return "no tokens: priced per audio minute (speech-to-text) or per 1,000 characters (text-to-speech)"
    if spec.is_local:
        return "counted with the model's own tokenizer (llama.cpp), before and after the call"
    wanted, used = preferred_encoding(spec.model), estimator_for(spec.model).name
    why = "" if used == wanted else f" ({wanted} is not in tiktoken's cache here)"
    return (
        f"before the call: estimated with tiktoken {used}{why}; "
        "after: as reported by the provider, else the same estimate"
    )


def _accepted(spec: ModelSpec) -> tuple[str, ...]:
    """The sampling parameters the class serving this spec's task takes (a speech model: none)."""
    try:
        return adapter_for(spec.provider, spec.task).accepts
    except UnsupportedTaskError:
        return adapter_class(spec.provider).accepts


def entry_for(spec: ModelSpec, keys: Keys | None = None) -> CatalogEntry:
    """The catalog row for one spec."""
    price = price_for(spec)
    unit_price = (
        speech_price_for(spec)
        if spec.is_speech
        else image_price_for(spec)
        if spec.task == "text-to-image"
        else None
    )
    usable, why = usability(spec, keys)
    bundled = BUNDLED.get(spec.gguf or "") if spec.is_local else None
    return CatalogEntry(
        key=spec.key,
        provider=spec.provider,
        model=spec.model,
        task=spec.task,
        stage=spec.stage,
        architecture=spec.architecture,
        license=spec.license,
        license_url=spec.license_url,
        open_weights=spec.open_weights,
        context_window=spec.context_window,
        price_input_per_mtok=price.input_per_mtok if price else None,
        price_output_per_mtok=price.output_per_mtok if price else None,
        price_source=cost_source(spec),
        unit_price=None if unit_price is None else str(unit_price),
        token_counting=token_counting(spec),
        accepted_params=_accepted(spec),
        usable=usable,
        usable_reason=why,
        source=spec.source,
        description=spec.description,
        quantization=bundled.quantization if bundled else None,
        size_on_disk_bytes=bundled_size_bytes(bundled.name) if bundled else None,
    )


def catalog(specs: Mapping[str, ModelSpec], keys: Keys | None = None) -> list[CatalogEntry]:
    """Every model's row, in key order."""
    return [entry_for(specs[key], keys) for key in sorted(specs)]


@dataclass(frozen=True)
class CatalogFilter:
    """What the person filters on; empty or None means "any"."""

    text: str = ""
    tasks: Sequence[str] = ()
    licenses: Sequence[str] = ()
    providers: Sequence[str] = ()
    architectures: Sequence[str] = ()
    open_weights: bool | None = None
    stage: str | None = None  # base | instruct
    min_context: int | None = None
    max_context: int | None = None
    max_input_price: Decimal | None = None  # USD per Mtok; local (free) models pass, unknown ones don't
    usable_only: bool = False

    def accepts(self, entry: CatalogEntry) -> bool:
        """True when the entry passes every filter set; an unknown fact never passes a filter on it."""
        text = self.text.strip().lower()
        checks = [
            not text or text in entry.key.lower() or text in entry.model.lower(),
            not self.tasks or entry.task in self.tasks,
            not self.licenses or entry.license in self.licenses,
            not self.providers or entry.provider in self.providers,
            not self.architectures or entry.architecture in self.architectures,
            self.open_weights is None or entry.open_weights is self.open_weights,
            self.stage is None or entry.stage == self.stage,
            self.min_context is None or (entry.context_window or 0) >= self.min_context,
            self.max_context is None
            or (entry.context_window is not None and entry.context_window <= self.max_context),
            self.max_input_price is None
            or entry.price_source == "local"
            or (
                entry.price_input_per_mtok is not None and entry.price_input_per_mtok <= self.max_input_price
            ),
            not self.usable_only or entry.usable,
        ]
        return all(checks)


SORT_KEYS = ("key", "provider", "context_window", "price_input_per_mtok", "price_output_per_mtok", "task")


def filter_and_sort(
    entries: Sequence[CatalogEntry], where: CatalogFilter, sort_by: str = "key", descending: bool = False
) -> list[CatalogEntry]:
    """Entries passing `where`, sorted by one column; unknown values always sort last."""
    if sort_by not in SORT_KEYS:
        raise ValueError(f"cannot sort by {sort_by!r}; one of {', '.join(SORT_KEYS)}")
    kept = [e for e in entries if where.accepts(e)]
    known = [e for e in kept if getattr(e, sort_by) is not None]
    unknown = [e for e in kept if getattr(e, sort_by) is None]
    return sorted(known, key=lambda e: getattr(e, sort_by), reverse=descending) + unknown


def yes_no_unknown(value: bool | None) -> str:
    """A fact that may be unknown, in words."""
    return {True: "yes", False: "no", None: "unknown"}[value]


def _price_cell(entry: CatalogEntry, per_mtok: Decimal | None, speech: str | None) -> str:
    """A price column's cell: local, the price per million tokens, or a speech model's price per unit of
    work (it has no tokens); unknown spelled out."""
    if entry.price_source == "local":
        return "local"
    value = speech if entry.task in SPEECH_TASKS else _money(per_mtok)
    return "unknown" if value is None else str(value)


SPEECH_TASKS = ("speech-to-text", "text-to-speech")


def table_rows(entries: Sequence[CatalogEntry]) -> list[dict[str, Any]]:
    """Rows for the catalog table: short columns, unknown spelled out."""

    def shown(value: Any) -> Any:
        return "unknown" if value is None else value

    return [
        {
            "model": e.key,
            "provider": e.provider,
            "task": e.task,
            "stage": shown(e.stage),
            "architecture": shown(e.architecture),
            "license": shown(e.license),
            "open weights": yes_no_unknown(e.open_weights),
            "context": "unknown" if e.context_window is None else f"{e.context_window:,}",
            "input $/Mtok": _price_cell(e, e.price_input_per_mtok, e.unit_price),
            "output $/Mtok": _price_cell(e, e.price_output_per_mtok, "n/a"),
            "price source": e.price_source,
            "usable now": "yes" if e.usable else f"no: {e.usable_reason}",
        }
        for e in entries
    ]


def _money(value: Decimal | None) -> str | None:
    return None if value is None else format(value.normalize(), "f")
