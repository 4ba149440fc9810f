"""What a call will cost at most and whether it fits, computed before anything is sent."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from playground.core.params import DEFAULT_MAX_TOKENS
from playground.core.specs import ModelSpec
from playground.engine.pricing import price_for
from playground.engine.tokens import estimator_for
from providers.base import ChatRequest, Provider

# Input tokens counted per image a request shows (the tokenizers here count text only): OpenAI's count for
# gpt-4o-mini's worst high-detail image (2,833 + 6 tiles x 5,667); other vision models count far fewer.
# The server's reported usage, with the image's real tokens, is what is charged.
IMAGE_TOKENS_ALLOWANCE = 36_835


class PreflightError(ValueError):
    """A request that must not be sent (e.g. longer than the context window)."""


@dataclass(frozen=True)
class Estimate:
    """What a call will cost at most, computed before sending."""

    model: str
    input_tokens: int
    input_counted_by: str  # counted (model tokenizer) | estimated:<encoding>
    max_output_tokens: int
    max_cost_usd: Decimal | None
    cost_source: str
    context_window: int | None

    @property
    def fits(self) -> bool:
        """True when input plus max output fit the context window (or it is unknown)."""
        return (
            self.context_window is None or self.input_tokens + self.max_output_tokens <= self.context_window
        )

    def overflow_message(self) -> str:
        """One line naming both token counts."""
        return (
            f"{self.model}: prompt is {self.input_tokens} tokens ({self.input_counted_by}) + "
            f"{self.max_output_tokens} max output tokens, over its {self.context_window}-token context window"
        )


def estimate(spec: ModelSpec, provider: Provider, request: ChatRequest) -> Estimate:
    """Input tokens (exact when the model's tokenizer is at hand), max output and max cost."""
    counted = provider.count_tokens(request)
    if counted is not None:
        input_tokens, counted_by = counted, "counted"
    else:
        estimator = estimator_for(spec.model)
        input_tokens, counted_by = estimator.count_request(request), f"estimated:{estimator.name}"
    input_tokens += IMAGE_TOKENS_ALLOWANCE * len(request.images)
    max_output = request.max_tokens or DEFAULT_MAX_TOKENS
    price = price_for(spec)
    return Estimate(
        model=spec.key,
        input_tokens=input_tokens,
        input_counted_by=counted_by,
        max_output_tokens=max_output,
        max_cost_usd=price.cost(input_tokens, max_output) if price else None,
        cost_source=price.source if price else ("local" if spec.is_local else "unknown"),
        context_window=spec.context_window,
    )


def estimate_embedding(spec: ModelSpec, texts: Sequence[str]) -> Estimate:
    """What embedding `texts` with `spec` will cost at most: their tokens estimated with tiktoken (an
    embedding has no output). A local model's are not counted: it has no price to compute."""
    price = price_for(spec)
    if spec.is_local and price is None:
        return Estimate(spec.key, 0, "not counted", 0, None, "local", spec.context_window)
    estimator = estimator_for(spec.model)
    tokens = sum(estimator.count_text(text) for text in texts)
    return Estimate(
        model=spec.key,
        input_tokens=tokens,
        input_counted_by=f"estimated:{estimator.name}",
        max_output_tokens=0,
        max_cost_usd=price.cost(tokens, 0) if price else None,
        cost_source=price.source if price else "unknown",
        context_window=spec.context_window,
    )


def check_fits(estimates: list[Estimate]) -> None:
    """Raise PreflightError naming every model whose context window the request overflows."""
    over = [e.overflow_message() for e in estimates if not e.fits]
    if over:
        raise PreflightError("; ".join(over))
