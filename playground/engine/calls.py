"""What comparisons of single calls (speech, images) share: choosing their models, running one call per
model at once, and a failure as a typed CallError. Chat calls go through the runner and the fan-out."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from playground.core.errors import UsageError
from playground.core.results import CallError
from playground.core.specs import ModelSpec
from providers.errors import ProviderError

T = TypeVar("T")
R = TypeVar("R")


def pick_models(
    specs: Mapping[str, ModelSpec],
    models: Sequence[str],
    kind: str,
    fits: Callable[[ModelSpec], bool],
    error: type[UsageError],
) -> list[ModelSpec]:
    """The specs of `models`, checked: at least one, all known, none twice, every one `fits` (a model of
    `kind`); `error` (one line naming the models) before anything runs."""
    if not models:
        raise error(f"choose at least one {kind} model")
    if unknown := [key for key in models if key not in specs]:
        known = ", ".join(sorted(k for k, s in specs.items() if fits(s)))
        raise error(f"unknown model {', '.join(map(repr, unknown))}; {kind} models: {known}")
    if wrong := [key for key in models if not fits(specs[key])]:
        raise error(f"{', '.join(wrong)} is a {specs[wrong[0]].task} model, not a {kind} one")
    if twice := sorted({key for key in models if list(models).count(key) > 1}):
        raise error(f"model chosen twice: {', '.join(twice)}")
    return [specs[key] for key in models]


def each_at_once(items: Sequence[T], work: Callable[[T], R], name: str = "calls") -> list[R]:
    """`work` on every item at once, one thread each; the results in the items' order."""
    with ThreadPoolExecutor(max_workers=max(1, len(items)), thread_name_prefix=name) as pool:
        return list(pool.map(work, items))


def call_error(exc: Exception) -> CallError:
    """Any failure of one call as a typed CallError: a ProviderError's kind, else the exception's name."""
    if isinstance(exc, ProviderError):
        return CallError(exc.kind, exc.message)
    return CallError("error", f"{type(exc).__name__}: {exc}")
