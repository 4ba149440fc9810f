"""Cost of a call as Decimal USD with its source: override, genai-prices:<data date>, local or unknown."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from functools import cache
from pathlib import Path

from playground.core.specs import ModelSpec
from providers.table import adapter_class, adapter_for

MTOK = Decimal(1_000_000)

# Which genai-prices provider id prices each of our adapters' calls.


@dataclass(frozen=True)
class Price:
    """USD per million input and output tokens, and where the figures come from."""

    input_per_mtok: Decimal
    output_per_mtok: Decimal
    source: str

    def cost(self, input_tokens: int, output_tokens: int) -> Decimal:
        """Dollars for these token counts."""
        return (self.input_per_mtok * input_tokens + self.output_per_mtok * output_tokens) / MTOK


@cache
def genai_prices_data_date() -> str:
    """The date the bundled genai-prices data was last checked, as its data date.

    genai-prices ships no explicit snapshot date, but its price comments record when prices were
    verified ("verified on 2026-10-14"); the newest such date not in the future is the freshest fact
    the snapshot holds. Falls back to the package version when none is found.
    """
    import genai_prices
    import genai_prices.data as data_module

    text = Path(data_module.__file__).read_text(encoding="utf-8")
    today = date.today().isoformat()
    checked = re.findall(r"(?:verified|checked)\b[^'\"]{0,40}?(\d{4}-\d{2}-\d{2})", text)
    dates = [d for d in checked if d <= today]
    return max(dates) if dates else f"v{genai_prices.__version__}"


def _genai_price(spec: ModelSpec) -> Price:
    """Per-token prices from genai-prices; raises LookupError when it has no price."""
    found = _genai_price_of(spec.provider, spec.model, spec.base_url)
    if found is None:
        raise LookupError(f"genai-prices has no price for {spec.model!r}")
    return found


@cache
def _genai_price_of(provider: str, model: str, base_url: str | None) -> Price | None:
    # Cached per (provider, model, URL): a lookup scans genai-prices' tables (about 1.7 ms), and an
    # evaluation prices every one of its thousands of calls with the same few models.
    import genai_prices

    provider_id = adapter_class(provider).price_id
    usage = genai_prices.Usage(input_tokens=1_000_000, output_tokens=1_000_000)
    try:
        if base_url and provider == "openai":
            # An OpenAI-compatible server elsewhere: genai-prices matches providers by API URL.
            calc = genai_prices.calc_price(usage, model, provider_api_url=base_url)
        else:
            calc = genai_prices.calc_price(usage, model, provider_id=provider_id)
    except LookupError:
        return None
    return Price(calc.input_price, calc.output_price, f"genai-prices:{genai_prices_data_date()}")


def price_for(spec: ModelSpec) -> Price | None:
    """The per-token price that applies to a spec, or None for local models, unknown prices and speech
    models (priced per unit of work: `speech_price_for`)."""
    if spec.is_speech or spec.task == "text-to-image":
        return None
    if spec.has_price_override:
        assert spec.price_input_per_mtok is not None and spec.price_output_per_mtok is not None
        return Price(spec.price_input_per_mtok, spec.price_output_per_mtok, "override")
    if spec.is_local:
        return None
    try:
        return _genai_price(spec)
    except LookupError:
        return None


def cost_source(spec: ModelSpec) -> str:
    """Where a spec's cost figure comes from: override, genai-prices:<date>, local or unknown."""
    price: Price | SpeechPrice | ImagePrice | None = (
        speech_price_for(spec)
        if spec.is_speech
        else image_price_for(spec)
        if spec.task == "text-to-image"
        else price_for(spec)
    )
    if price is not None:
        return price.source
    return "local" if spec.is_local else "unknown"


def cost_of(
    spec: ModelSpec, input_tokens: int | None, output_tokens: int | None
) -> tuple[Decimal | None, str]:
    """(cost in USD or None, cost_source) for one call's token counts."""
    price = price_for(spec)
    if price is None:
        return None, cost_source(spec)
    if input_tokens is None or output_tokens is None:
        return None, price.source
    return price.cost(input_tokens, output_tokens), price.source


SECONDS_PER_MINUTE = Decimal(60)
CHARS_PER_UNIT = Decimal(1_000)


@dataclass(frozen=True)
class SpeechPrice:
    """What a speech model costs per unit of its work, and where the figure comes from: USD per minute of
    audio heard (speech-to-text) or per 1,000 characters read aloud (text-to-speech)."""

    usd: Decimal
    unit: str  # "audio minute" | "1,000 characters"
    source: str

    def cost(self, *, audio_seconds: float | None = None, characters: int | None = None) -> Decimal:
        """Dollars for this much audio heard, or this many characters read aloud (whichever the unit is)."""
        if self.unit == "audio minute":
            assert audio_seconds is not None
            return self.usd * Decimal(str(audio_seconds)) / SECONDS_PER_MINUTE
        assert characters is not None
        return self.usd * characters / CHARS_PER_UNIT

    def __str__(self) -> str:
        return f"${self.usd.normalize():f} / {self.unit}"


def speech_price_for(spec: ModelSpec) -> SpeechPrice | None:
    """The price of a speech model's work: the spec's own figure, else genai-prices' (audio hours for
    speech-to-text, million characters for text-to-speech); None for local models and unknown prices
    (a model genai-prices prices per audio token, such as gpt-4o-mini-transcribe, is unknown here)."""
    unit = "audio minute" if spec.task == "speech-to-text" else "1,000 characters"
    own = spec.price_per_audio_minute if spec.task == "speech-to-text" else spec.price_per_1k_chars
    if own is not None:
        return SpeechPrice(own, unit, "override")
    if spec.is_local or not spec.is_speech or not _priced_by_genai(spec):
        return None
    found = _genai_unit_price(spec.provider, spec.model, spec.base_url, spec.task)
    return None if found is None else SpeechPrice(found, unit, f"genai-prices:{genai_prices_data_date()}")


def _priced_by_genai(spec: ModelSpec) -> bool:
    """False when the spec's adapter says genai-prices holds no per-unit figure of its provider's (Hugging
    Face): its model is then unknown, never priced as another provider's model of the same name."""
    return getattr(adapter_for(spec.provider, spec.task), "priced_by_genai", True)


@cache
def _genai_unit_price(provider: str, model: str, base_url: str | None, task: str) -> Decimal | None:
    import genai_prices

    provider_id = adapter_class(provider).price_id
    try:
        if base_url and provider == "openai":
            calc = genai_prices.calc_price(genai_prices.Usage(), model, provider_api_url=base_url)
        else:
            calc = genai_prices.calc_price(genai_prices.Usage(), model, provider_id=provider_id)
    except LookupError:
        return None
    prices = calc.model_price
    if task == "speech-to-text":
        per_hour = getattr(prices, "input_audio_hours", None) or getattr(prices, "audio_hours", None)
        return None if per_hour is None else per_hour / SECONDS_PER_MINUTE
    per_million = getattr(prices, "input_mchars", None)
    return None if per_million is None else per_million / CHARS_PER_UNIT


def speech_cost_of(
    spec: ModelSpec, *, audio_seconds: float | None = None, characters: int | None = None
) -> tuple[Decimal | None, str]:
    """(cost in USD or None, cost_source) of one speech call: `audio_seconds` heard (speech-to-text) or
    `characters` read aloud (text-to-speech). Local models are `local`, never $0."""
    price = speech_price_for(spec)
    if price is None:
        return None, "local" if spec.is_local else "unknown"
    return price.cost(audio_seconds=audio_seconds, characters=characters), price.source


# The size a picture's price is stated for: OpenAI prices each size (and quality) apart.
PRICED_SIZE = "1024x1024"


@dataclass(frozen=True)
class ImagePrice:
    """What one picture of a text-to-image model costs at `size`, and where the figure comes from."""

    usd: Decimal
    size: str
    source: str

    def cost(self, size: str) -> Decimal | None:
        """Dollars for one picture of `size`; None for another size (its price is not known here)."""
        return self.usd if size == self.size else None

    def __str__(self) -> str:
        return f"${self.usd.normalize():f} / image ({self.size})"


def image_price_for(spec: ModelSpec) -> ImagePrice | None:
    """The price of one picture: the spec's own `price_per_image` (at 1024x1024); None otherwise.
    genai-prices (checked) has no per-image figure: dall-e-3 is absent and gpt-image-1 is priced per
    image token, which only the answer tells, so a model without the spec's figure is unknown, never $0."""
    if spec.task != "text-to-image" or spec.price_per_image is None:
        return None
    return ImagePrice(spec.price_per_image, PRICED_SIZE, "override")


def image_cost_of(spec: ModelSpec, size: str) -> tuple[Decimal | None, str]:
    """(cost in USD or None, cost_source) of one picture of `size`; another size than the priced one is
    unknown (say so, with the size) rather than guessed."""
    price = image_price_for(spec)
    if price is None:
        return None, "local" if spec.is_local else "unknown"
    cost = price.cost(size)
    return cost, price.source if cost is not None else f"unknown at {size}"
