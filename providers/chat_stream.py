"""Relay an OpenAI-format chunk stream (openai SDK or huggingface_hub) as the project's chunks."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

from providers import errors
from providers.base import CancelToken, Chunk, Finish, TextDelta, Usage


def _choice_text(choice: Any) -> str | None:
    delta = getattr(choice, "delta", None)
    if delta is not None:
        return getattr(delta, "content", None)
    return getattr(choice, "text", None)  # legacy completions stream


def relay(
    chunks: Iterable[Any],
    cancel: CancelToken,
    close: Callable[[], None],
    map_error: Callable[[Exception], errors.ProviderError],
) -> Iterator[Chunk]:
    """Text deltas as they come, then the reported usage (if any) and the finish reason."""
    usage: Usage | None = None
    finish: str | None = None
    try:
        for chunk in chunks:
            if cancel.cancelled:
                break
            reported = getattr(chunk, "usage", None)
            if reported is not None and reported.completion_tokens is not None:
                usage = Usage(int(reported.prompt_tokens or 0), int(reported.completion_tokens))
            for choice in chunk.choices or ():
                text = _choice_text(choice)
                if text:
                    yield TextDelta(text)
                if choice.finish_reason:
                    finish = choice.finish_reason
    except Exception as exc:  # noqa: BLE001 - every failure is mapped to the project's types
        if cancel.cancelled:
            return  # the stream was closed on purpose
        raise map_error(exc) from exc
    finally:
        close()
    if usage is not None:
        yield usage
    yield Finish(finish)


def redacted(error: errors.ProviderError, key: str | None) -> errors.ProviderError:
    """The same error with the key (and fragments of it) removed from its message."""
    error.message = errors.redact(error.message, [key])
    error.args = (error.message,)
    return error
