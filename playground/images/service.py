"""Image models compared: one image asked about by several vision models, or one prompt painted by several
text-to-image models. Every model runs in its own thread, and one failing never stops the others.

An answer about an image goes through the engine's runner (`run_model`), as any chat call does, so its
TTFT, tokens and cost come from the one timer and the one pricing; a picture is timed here (the call
alone: `prepare` first, untimed) and priced per image (`engine.pricing.image_cost_of`).
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, TypeVar, cast

from playground.core.errors import UsageError
from playground.core.results import CallError, RunResult
from playground.core.specs import ModelSpec, load_specs
from playground.engine.calls import call_error, each_at_once, pick_models
from playground.engine.preflight import estimate
from playground.engine.pricing import image_cost_of
from playground.engine.registry import Keys, build_provider
from playground.engine.runner import run_model
from playground.hosting.billing import Bill
from playground.images.billing import ImagePayer, Priced
from playground.images.image_input import ImageFile
from playground.storage.media import INPUT, KeptRun, StoredMedia
from providers.base import ChatRequest, Message, Painter, Picture, Provider

DESCRIBE, PAINT = "image-to-text", "text-to-image"  # the tasks, and the kinds of the runs kept
DEFAULT_SIZE = "1024x1024"  # the size every built-in image model is priced at
MAX_PROMPT_CHARS = 4_000  # dall-e-3's limit for one prompt (gpt-image-1 takes more)
_SIZE = re.compile(r"^[1-9][0-9]{1,4}x[1-9][0-9]{1,4}$")

R = TypeVar("R")


class ImagesError(UsageError):
    """An image comparison that cannot start (no model, an unknown one, one of another kind, an empty or
    too long prompt, a malformed size); one line, nothing sent."""


@dataclass(frozen=True)
class PaintResult:
    """One text-to-image model's picture of the prompt, what it took and cost; `error` says why there is
    none."""

    model: str
    picture: Picture | None
    seconds: float | None
    size: str
    cost_usd: Decimal | None
    cost_source: str  # override | local | unknown | unknown at <size>
    error: CallError | None = None
    run_id: str | None = None  # the run it is kept in (History, share link); None: not kept

    @property
    def ok(self) -> bool:
        """True when the model answered with a picture."""
        return self.error is None

    def to_json(self) -> dict[str, Any]:
        """JSON-ready facts (money as a decimal string; the picture as its facts, not its bytes)."""
        picture = self.picture
        return {
            "model": self.model,
            "seconds": self.seconds,
            "size": self.size,
            "width": None if picture is None else picture.width,
            "height": None if picture is None else picture.height,
            "mime": None if picture is None else picture.mime,
            "bytes": None if picture is None else len(picture.data),
            "cost_usd": None if self.cost_usd is None else str(self.cost_usd),
            "cost_source": self.cost_source,
            "error": None if self.error is None else self.error.to_json(),
            "run_id": self.run_id,
        }


# An answer about an image is a chat call's result: text, TTFT, total seconds, tokens, cost, error.
DescribeResult = RunResult


def _checked_prompt(prompt: str, what: str) -> str:
    prompt = prompt.strip()
    if not prompt:
        raise ImagesError(f"the prompt is empty: {what}")
    if len(prompt) > MAX_PROMPT_CHARS:
        raise ImagesError(f"the prompt is {len(prompt):,} characters; at most {MAX_PROMPT_CHARS:,}")
    return prompt


def describe_compare(
    image: ImageFile,
    prompt: str,
    models: Sequence[str],
    *,
    max_tokens: int = ChatRequest.DEFAULT_MAX_TOKENS,
    specs: Mapping[str, ModelSpec] | None = None,
    keys: Keys | None = None,
    payer: ImagePayer | None = None,
) -> list[RunResult]:
    """Every model's answer to `prompt` about `image` (from `read_image`), in the order asked, each one
    run by the engine's runner. LimitExceededError before anything is sent when the user's limits refuse
    the hosted calls."""
    prompt = _checked_prompt(prompt, "ask something about the image")
    chosen = pick_models(specs or load_specs(), models, "image-to-text", lambda s: s.sees_images, ImagesError)
    request = ChatRequest(
        messages=(Message("user", prompt),), max_tokens=max_tokens, images=(image.as_input(),)
    )
    built = {spec.key: _built(spec, keys) for spec in chosen}
    calls = [Priced(spec, _describe_max_cost(spec, built[spec.key], request)) for spec in chosen]
    payer = payer or ImagePayer()
    detail = f"{image.name} with {len(calls)} model{'s' * (len(calls) > 1)}"
    kept = payer.keep(DESCRIBE, prompt, models, {"max_tokens": max_tokens})
    with payer.admit(calls, detail, max_tokens, ref_id=kept.run_id) as bill, kept:
        kept.given([StoredMedia(INPUT, image.name, image.mime, image.data)])
        return each_at_once(
            calls, lambda call: _describe_one(call.spec, built[call.spec.key], request, bill, kept)
        )


@dataclass(frozen=True)
class ImageAsk:
    """One image and what to ask about it."""

    image: ImageFile
    prompt: str


def describe_each(
    asks: Sequence[ImageAsk],
    models: Sequence[str],
    *,
    max_tokens: int = ChatRequest.DEFAULT_MAX_TOKENS,
    specs: Mapping[str, ModelSpec] | None = None,
    keys: Keys | None = None,
    payer: ImagePayer | None = None,
) -> list[list[RunResult]]:
    """Every model's answer about every image (per ask, the models in the order asked), for an evaluation:
    the whole set admitted once before anything is sent, so it never stops half paid for; each image's
    models run at once. Not kept as runs: an evaluation reports them."""
    if not asks:
        raise ImagesError("the set holds no images")
    chosen = pick_models(specs or load_specs(), models, "image-to-text", lambda s: s.sees_images, ImagesError)
    requests = [
        ChatRequest(
            messages=(Message("user", _checked_prompt(ask.prompt, f"ask about {ask.image.name}")),),
            max_tokens=max_tokens,
            images=(ask.image.as_input(),),
        )
        for ask in asks
    ]
    built = {spec.key: _built(spec, keys) for spec in chosen}
    calls = [Priced(spec, _describe_max_cost(spec, built[spec.key], r)) for r in requests for spec in chosen]
    detail = f"{len(asks)} images with {len(chosen)} model{'s' * (len(chosen) > 1)}"
    with (payer or ImagePayer()).admit(calls, detail, max_tokens) as bill:
        return [
            each_at_once(chosen, lambda spec, r=request: _describe_one(spec, built[spec.key], r, bill, None))
            for request in requests
        ]


def _built(spec: ModelSpec, keys: Keys | None) -> Provider | CallError:
    """The spec's adapter, or why it cannot be built (no key, say): that model's error, not everyone's."""
    try:
        return build_provider(spec, keys)
    except Exception as exc:  # noqa: BLE001 - one model that cannot start never stops the others
        return call_error(exc)


def _describe_max_cost(
    spec: ModelSpec, provider: Provider | CallError, request: ChatRequest
) -> Decimal | None:
    """The most one answer may cost: the engine's estimate, which allows for the images' tokens too."""
    if isinstance(provider, CallError):
        return None
    return estimate(spec, provider, request).max_cost_usd


def _describe_one(
    spec: ModelSpec, provider: Provider | CallError, request: ChatRequest, bill: Bill, kept: KeptRun | None
) -> RunResult:
    """One model's answer, run and measured by the runner, then charged (it reached the model); kept
    (a comparison's; an evaluation's are reported, not kept as runs)."""
    if isinstance(provider, CallError):
        result = RunResult(spec.key, error=provider)
    else:
        try:
            provider.prepare()
        except Exception as exc:  # noqa: BLE001 - one model that cannot start never stops the others
            result = RunResult(spec.key, error=call_error(exc))
        else:
            result = run_model(spec, provider, request)
            bill.charge(result)
    return kept.keep(result) if kept is not None else result


def paint_compare(
    prompt: str,
    models: Sequence[str],
    size: str = DEFAULT_SIZE,
    *,
    specs: Mapping[str, ModelSpec] | None = None,
    keys: Keys | None = None,
    payer: ImagePayer | None = None,
) -> list[PaintResult]:
    """Every model's picture of `prompt` at `size` ("WIDTHxHEIGHT"), in the order asked: the picture,
    seconds and cost per image. LimitExceededError before anything is sent when the user's limits refuse
    the hosted calls."""
    prompt = _checked_prompt(prompt, "describe the picture to paint")
    if not _SIZE.match(size):
        raise ImagesError(f"size must be WIDTHxHEIGHT, such as {DEFAULT_SIZE}, not {size!r}")
    chosen = pick_models(
        specs or load_specs(), models, "text-to-image", lambda s: s.task == "text-to-image", ImagesError
    )
    calls = [Priced(spec, image_cost_of(spec, size)[0]) for spec in chosen]
    payer = payer or ImagePayer()
    detail = f"one {size} picture with {len(calls)} model{'s' * (len(calls) > 1)}"
    kept = payer.keep(PAINT, prompt, models, {"size": size})
    with payer.admit(calls, detail, ref_id=kept.run_id) as bill, kept:
        return each_at_once(calls, lambda call: _paint_one(call, prompt, size, keys, bill, kept))


def _paint_one(
    call: Priced, prompt: str, size: str, keys: Keys | None, bill: Bill, kept: KeptRun
) -> PaintResult:
    """One model's picture: prepared, timed, charged (it reached the model), kept."""
    spec = call.spec
    try:
        model = cast(Painter, build_provider(spec, keys))
        model.prepare()
    except Exception as exc:  # noqa: BLE001 - one model that cannot start never stops the others
        failed = RunResult(spec.key, cost_source=image_cost_of(spec, size)[1], error=call_error(exc))
        return picture_of(kept.keep(failed), None, size)
    began = time.perf_counter()
    try:
        picture, error = model.paint(prompt, size), None
    except Exception as exc:  # noqa: BLE001 - the call's failure is this model's result
        picture, error = None, call_error(exc)
    seconds = time.perf_counter() - began
    cost, source = image_cost_of(spec, size)
    cost = cost if error is None else None  # a failed call's charge is unknown (the ledger says so)
    done = RunResult(
        spec.key,
        total_s=seconds,
        cost_usd=cost,
        cost_source=source,
        attempts=1,
        error=error,
        max_cost_usd=call.max_cost_usd,
    )
    bill.charge(done)
    made = [] if picture is None else [StoredMedia(spec.key, f"{spec.key}.png", picture.mime, picture.data)]
    return picture_of(kept.keep(done, made), picture, size)


def picture_of(result: RunResult, picture: Picture | None, size: str) -> PaintResult:
    """A painting call's result as the comparison shows it (also how History shows a kept one)."""
    return PaintResult(
        result.model,
        picture,
        result.total_s,
        size,
        result.cost_usd,
        result.cost_source,
        result.error,
        result.run_id,
    )
