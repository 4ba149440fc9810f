"""The one interface every provider adapter implements, and the chunks it yields."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Literal, Protocol

Role = Literal["system", "user", "assistant"]


@dataclass(frozen=True)
class Message:
    """One chat message."""

    role: Role
    content: str


@dataclass(frozen=True)
class ChatRequest:
    """What to send: chat messages, or raw text for base models, plus sampling parameters."""

    messages: tuple[Message, ...] = ()
    raw_text: str | None = None
    temperature: float | None = None
    top_p: float | None = None
    max_tokens: int | None = None
    seed: int | None = None
    stop: tuple[str, ...] = ()

    @property
    def is_completion(self) -> bool:
        """True when this request is plain text completion, not chat."""
        return self.raw_text is not None


@dataclass(frozen=True)
class TextDelta:
    """A piece of generated text."""

    text: str


@dataclass(frozen=True)
class Usage:
    """Token counts for one call; `source` is "reported" (by the API) or "counted" (model tokenizer)."""

    input_tokens: int
    output_tokens: int
    source: Literal["reported", "counted"] = "reported"


@dataclass(frozen=True)
class Finish:
    """Why generation stopped, as the provider says it (stop, length, ...)."""

    reason: str | None


@dataclass(frozen=True)
class Queued:
    """A call's place in line for a model other calls are using: `ahead` calls go first. Queued(0) means
    its turn has come: the time before it was waiting, not latency."""

    ahead: int


Chunk = TextDelta | Usage | Finish | Queued


@dataclass
class CancelToken:
    """Lets the runner abort a call from another thread; adapters register how to abort theirs."""

    _event: threading.Event = field(default_factory=threading.Event)
    _callbacks: list[Callable[[], None]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def cancelled(self) -> bool:
        """True once cancel() has been called."""
        return self._event.is_set()

    def on_cancel(self, callback: Callable[[], None]) -> None:
        """Run `callback` on cancel (at once if already cancelled)."""
        with self._lock:
            if not self._event.is_set():
                self._callbacks.append(callback)
                return
        _quietly(callback)

    def cancel(self) -> None:
        """Cancel: set the flag and run every registered abort callback once."""
        with self._lock:
            if self._event.is_set():
                return
            self._event.set()
            callbacks, self._callbacks = self._callbacks, []
        for callback in callbacks:
            _quietly(callback)


def _quietly(callback: Callable[[], None]) -> None:
    # Aborting is best effort: a stream that is already closed may raise on close().
    try:
        callback()
    except Exception:  # noqa: BLE001
        pass


class Provider(Protocol):
    """A model behind one interface: stream a request, yield chunks; never time or price."""

    def prepare(self) -> None:
        """Import the SDK, build the client or load the model, so none of it is timed as latency."""
        ...

    def stream(self, request: ChatRequest, cancel: CancelToken) -> Iterator[Chunk]:
        """Yield TextDelta chunks, then at most one Usage and one Finish.

        A provider that queues calls (local models) first yields Queued(n) as its place changes, then
        Queued(0) when its turn comes; the runner times TTFT from there and reports the wait apart.
        """
        ...

    def count_tokens(self, request: ChatRequest) -> int | None:
        """Exact input token count with the model's own tokenizer, or None if unknown."""
        ...
