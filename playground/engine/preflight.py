"""What a call will cost at most and whether it fits, computed before anything is sent."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from playground.core.params import DEFAULT_MAX_TOKENS
from playground.core.specs import ModelSpec
from playground.engine.pricing import price_for
from playground.engine.tokens import estimator_for
from providers.base import ChatRequest, Provider


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


def check_fits(estimates: list[Estimate]) -> None:
    """Raise PreflightError naming every model whose context window the request overflows."""
    over = [e.overflow_message() for e in estimates if not e.fits]
    if over:
        raise PreflightError("; ".join(over))
