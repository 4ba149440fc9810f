"""Fair use of a shared upstream (a hosted API, a self-hosted vLLM/TGI/Ollama server): at most
`max_concurrency` calls at once from this process, in arrival order, and after a 429 every call to that
upstream waits out its Retry-After, while other upstreams go on at full speed.

Every hosted adapter the registry builds is wrapped in `Limited`, which waits for its turn before it
streams and says so the way a local model's queue does (`Queued`), so the runner holds the call's deadline
and reports the wait apart from its latency. An embedding call takes its turn on the same line.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar, cast

from providers import errors
from providers.base import (
    CancelToken,
    ChatRequest,
    Chunk,
    Embedded,
    EmbeddingModel,
    Painter,
    Picture,
    Provider,
    Queued,
    Speaker,
    Speech,
    Transcriber,
    Transcript,
)

T = TypeVar("T")

# After a 429 without Retry-After, calls to that upstream wait this long.
DEFAULT_COOLDOWN_S = 2.0
# A Retry-After longer than this is not waited out here (as the runner's retry policy caps it too).
MAX_COOLDOWN_S = 10.0
_POLL_S = 0.05


class Upstream:
    """One server that several models (and every session) share: its concurrency and its cooldown."""

    def __init__(self, key: str, max_concurrency: int | None) -> None:
        self.key = key
        self.max_concurrency = max_concurrency
        self._lock = threading.Lock()
        self._line: deque[object] = deque()  # waiting calls, oldest first
        self._running = 0
        self._cool_until = 0.0
        # The call that met the 429 retries under its own retry policy (the runner's backoff), not the
        # cooldown it caused: its request (the same object on every attempt) is let through once.
        self._exempt: set[int] = set()

    def limit(self, max_concurrency: int | None) -> None:
        """Tighten the limit (two models on one server: the smaller limit holds)."""
        with self._lock:
            if max_concurrency is not None:
                current = self.max_concurrency
                self.max_concurrency = max_concurrency if current is None else min(current, max_concurrency)

    def cool_down(self, seconds: float, request: ChatRequest | None) -> None:
        """The server said 429 to `request`: every other call to it waits `seconds` (from now) first
        (`request` None: a call that is not retried, such as an embedding, so none is exempt)."""
        with self._lock:
            self._cool_until = max(self._cool_until, time.monotonic() + min(seconds, MAX_COOLDOWN_S))
            if request is not None:
                self._exempt.add(id(request))

    def turns(self, request: ChatRequest | None, cancel: CancelToken) -> Iterator[Queued]:
        """Wait for a turn: yields Queued(ahead, cooling_s) while it waits, then Queued(0) at its turn.
        The caller must call `done()` once its call has ended (whether or not it got a turn)."""
        me = object()
        with self._lock:
            self._line.append(me)
        last: tuple[int, float] | None = None
        try:
            while not cancel.cancelled:
                with self._lock:
                    ahead = self._line.index(me)
                    full = self.max_concurrency is not None and self._running >= self.max_concurrency
                    exempt = id(request) in self._exempt
                    cooling = 0.0 if exempt else max(0.0, self._cool_until - time.monotonic())
                    if ahead == 0 and not full and cooling == 0:
                        self._line.popleft()
                        self._running += 1
                        self._exempt.discard(id(request))
                        me = None
                        break
                place = (ahead + (1 if full else 0), round(cooling))
                if place != last:
                    yield Queued(place[0], cooling_s=cooling)
                    last = place
                time.sleep(_POLL_S)
        finally:
            if me is not None:  # cancelled (or abandoned) while waiting: leave the line
                with self._lock:
                    self._line.remove(me)
        if me is None:
            yield Queued(0)

    def done(self) -> None:
        """A call that had its turn has ended."""
        with self._lock:
            self._running -= 1


_UPSTREAMS: dict[str, Upstream] = {}
_UPSTREAMS_LOCK = threading.Lock()


def upstream_for(key: str, max_concurrency: int | None) -> Upstream:
    """The process-wide Upstream for `key` (its URL), shared by every model and session that calls it."""
    with _UPSTREAMS_LOCK:
        upstream = _UPSTREAMS.setdefault(key, Upstream(key, max_concurrency))
    upstream.limit(max_concurrency)
    return upstream


class Limited:
    """A hosted adapter whose calls take turns on their upstream (see the module's docstring)."""

    def __init__(self, provider: Provider, upstream: Upstream) -> None:
        self.provider = provider
        self.upstream = upstream

    def __getattr__(self, name: str) -> Any:
        return getattr(self.provider, name)  # prepare, count_tokens, and the adapter's own facts

    def stream(self, request: ChatRequest, cancel: CancelToken) -> Iterator[Chunk]:
        """Wait for a turn on the upstream, then stream; a 429 makes the whole upstream cool down."""
        got_turn = False
        try:
            for place in self.upstream.turns(request, cancel):
                got_turn = place.ahead == 0 and not place.cooling_s
                yield place
            if not got_turn:
                return  # cancelled while waiting
            yield from self.provider.stream(request, cancel)
        except errors.RateLimitedError as exc:
            self.upstream.cool_down(exc.retry_after or DEFAULT_COOLDOWN_S, request)
            raise
        finally:
            if got_turn:
                self.upstream.done()

    def embed(self, texts: Sequence[str]) -> Embedded:
        """Wait for a turn on the upstream (with its chat calls), then embed; a 429 makes it cool down."""
        return self._in_turn(lambda: cast(EmbeddingModel, self.provider).embed(texts))

    def transcribe(self, audio: bytes, filename: str) -> Transcript:
        """Wait for a turn on the upstream, then transcribe; a 429 makes it cool down."""
        return self._in_turn(lambda: cast(Transcriber, self.provider).transcribe(audio, filename))

    def speak(self, text: str) -> Speech:
        """Wait for a turn on the upstream, then read aloud; a 429 makes it cool down."""
        return self._in_turn(lambda: cast(Speaker, self.provider).speak(text))

    def paint(self, prompt: str, size: str) -> Picture:
        """Wait for a turn on the upstream, then paint; a 429 makes it cool down."""
        return self._in_turn(lambda: cast(Painter, self.provider).paint(prompt, size))

    def _in_turn(self, call: Callable[[], T]) -> T:
        """One call that is not streamed, in its turn on the upstream (with its chat calls)."""
        for _ in self.upstream.turns(None, CancelToken()):
            pass  # nobody to tell while it waits: the call is not streamed
        try:
            return call()
        except errors.RateLimitedError as exc:
            self.upstream.cool_down(exc.retry_after or DEFAULT_COOLDOWN_S, None)
            raise
        finally:
            self.upstream.done()
