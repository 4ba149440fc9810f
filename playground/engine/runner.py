"""The one runner that times, counts, prices and guards every model's call the same way."""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal

from playground.core.params import DEFAULT_MAX_TOKENS
from playground.core.results import LENGTH_ENFORCED, CallError, RunResult, utc_now_iso
from playground.core.specs import ModelSpec
from playground.engine.preflight import estimate
from playground.engine.pricing import cost_of, price_for
from playground.engine.tokens import Estimator, estimator_for
from providers import errors
from providers.base import (
    CancelToken,
    ChatRequest,
    Chunk,
    Finish,
    Provider,
    Queued,
    TextDelta,
    Usage,
)

# Decode speed needs a measurable decode time. Text that arrives in one burst after the first token (a
# buffering proxy, a server that sends a finished answer in pieces at once) took microseconds to read,
# not to generate: 10 tokens over 50 µs showed as 187,000 tokens/s. Below this it is left undefined.
MIN_DECODE_S = 0.01


@dataclass(frozen=True)
class RetryPolicy:
    """Retries happen only before the first token, only for 429/5xx/connection errors."""

    max_attempts: int = 3
    base_backoff_s: float = 0.5
    max_backoff_s: float = 10.0  # also the cap on a server's Retry-After

    def wait_s(self, attempt: int, error: errors.ProviderError) -> float:
        """Seconds to wait after failed attempt number `attempt` (1-based)."""
        if error.retry_after is not None:
            return min(error.retry_after, self.max_backoff_s)
        return min(self.base_backoff_s * 2 ** (attempt - 1), self.max_backoff_s)


_END = object()


class _Pump:
    """Reads a provider's chunks on a worker thread so the caller can wait with a wall-clock deadline."""

    def __init__(self, chunks: Iterator[Chunk]) -> None:
        self._queue: queue.Queue[object] = queue.Queue()
        self._chunks = chunks
        self._thread = threading.Thread(target=self._run, daemon=True, name="provider-stream")
        self._thread.start()

    def _run(self) -> None:
        try:
            for chunk in self._chunks:
                self._queue.put(chunk)
        except BaseException as exc:  # noqa: BLE001 - handed to the caller's thread
            self._queue.put(exc)
        finally:
            self._queue.put(_END)

    def next(self, timeout: float) -> object:
        """The next chunk, an exception, _END, or raise queue.Empty after `timeout` seconds."""
        return self._queue.get(timeout=max(timeout, 0.0))


# How often a waiting runner looks at the cancel flag.
_POLL_S = 0.05


# Where a hosted answer is cut when its tokens are only estimated (another model's tokenizer): twice its
# max tokens, plus 16. A server that ignores max_tokens is still cut near it, and never charged past
# what was admitted.
ESTIMATE_SLACK = (2, 16)


@dataclass
class _OutputCap:
    """A hosted call's output held to the request's max tokens, counted the project's own way (tiktoken):
    a server that ignores max_tokens is cut there, so it cannot be paid for more than was admitted.

    Each piece is counted alone (cheap); only when those counts pass the cap is the whole text counted,
    and cut at exactly `limit` tokens if it really is over."""

    limit: int
    estimator: Estimator
    counted: int = 0  # tokens so far: exact after a recount, then plus each piece's own count

    def take(self, before: list[str], piece: str) -> tuple[str, bool]:
        """The part of `piece` within the cap, and whether the stream must be cut after it."""
        self.counted += self.estimator.count_text(piece)
        if self.counted <= self.limit:
            return piece, False
        prefix = "".join(before)
        tokens = self.estimator.encoding.encode(prefix + piece, disallowed_special=())
        self.counted = len(tokens)
        if self.counted <= self.limit:
            return piece, False
        kept = self.estimator.encoding.decode_bytes(tokens[: self.limit]).decode("utf-8", errors="ignore")
        self.counted = self.limit
        return (kept[len(prefix) :] if kept.startswith(prefix) else ""), True


@dataclass
class _Attempt:
    text: list[str]
    started: float = 0.0  # when this attempt began, or its turn came: TTFT and total count from here
    queue_wait_s: float | None = None
    ttft_s: float | None = None
    usage: Usage | None = None
    finish: str | None = None
    cancelled: bool = False
    cap: _OutputCap | None = None  # None: no cap (a local model's own worker stops at max tokens)


@dataclass
class _Deadline:
    """A call's wall-clock bound. A queued call's bound is its own time: it is held while the call waits
    behind others (the provider bounds that wait) and starts again when its turn comes."""

    timeout_s: float
    at: float
    held: bool = False

    def remaining(self) -> float:
        """Seconds left (infinite while held)."""
        return float("inf") if self.held else self.at - time.perf_counter()

    def expired_error(self) -> errors.DeadlineExceededError:
        """The error for a call that passed its deadline."""
        return errors.DeadlineExceededError(f"no complete answer within the {self.timeout_s:g} s deadline")


def _run_attempt(
    provider: Provider,
    request: ChatRequest,
    deadline: _Deadline,
    cancel: CancelToken,
    on_delta: Callable[[str], None] | None,
    on_queue: Callable[[Queued], None] | None,
    attempt: _Attempt,
) -> None:
    """Stream one attempt into `attempt`. Raises ProviderError on failure."""
    token = CancelToken()
    cancel.on_cancel(token.cancel)
    provider.prepare()
    attempt.started = time.perf_counter()
    deadline.held = False
    pump = _Pump(provider.stream(request, token))
    try:
        while True:
            remaining = deadline.remaining()
            if remaining <= 0:
                raise deadline.expired_error()
            if cancel.cancelled:
                attempt.cancelled = True
                return
            try:
                item = pump.next(min(remaining, _POLL_S))
            except queue.Empty:
                continue
            if item is _END:
                # A stream cut short by a cancel ends quietly, without a finish reason.
                attempt.cancelled = attempt.finish is None and cancel.cancelled
                return
            if isinstance(item, BaseException):
                _raise_failure(item, attempt, cancel, deadline)
                return
            _take(item, attempt, deadline, on_delta, on_queue)
            if attempt.finish == LENGTH_ENFORCED:
                return  # the stream is stopped below: nothing past the cap is read or paid for
    finally:
        token.cancel()  # stop the stream if we leave early (deadline, cancel, error)


def _raise_failure(item: BaseException, attempt: _Attempt, cancel: CancelToken, deadline: _Deadline) -> None:
    """Turn what the stream raised into the call's error; a failure after a cancel is just the cancel."""
    if attempt.cancelled or cancel.cancelled:
        attempt.cancelled = True
        return
    if deadline.remaining() <= 0:
        raise deadline.expired_error()
    if isinstance(item, errors.ProviderError):
        raise item
    raise errors.BadResponseError(f"unexpected failure: {type(item).__name__}: {item}") from item


def _take(
    item: object,
    attempt: _Attempt,
    deadline: _Deadline,
    on_delta: Callable[[str], None] | None,
    on_queue: Callable[[Queued], None] | None,
) -> None:
    """Record one chunk of the stream."""
    if isinstance(item, TextDelta) and item.text:
        if attempt.ttft_s is None:
            attempt.ttft_s = time.perf_counter() - attempt.started
        text, cut = attempt.cap.take(attempt.text, item.text) if attempt.cap else (item.text, False)
        if cut:
            attempt.finish = LENGTH_ENFORCED
        if text:
            attempt.text.append(text)
            if on_delta is not None:
                on_delta(text)
    elif isinstance(item, Queued):
        if item.waiting:
            deadline.held = True  # waiting for a turn is not generation time: the provider bounds it
        else:  # its turn: the call's own time starts now
            now = time.perf_counter()
            attempt.queue_wait_s = now - attempt.started
            attempt.started = now
            deadline.at, deadline.held = now + deadline.timeout_s, False
        if on_queue is not None:
            on_queue(item)
    elif isinstance(item, Usage):
        attempt.usage = item
    elif isinstance(item, Finish):
        attempt.finish = item.reason


def _interruptible_sleep(seconds: float, cancel: CancelToken) -> None:
    end = time.perf_counter() + seconds
    while not cancel.cancelled and (left := end - time.perf_counter()) > 0:
        time.sleep(min(left, _POLL_S))


def run_model(
    spec: ModelSpec,
    provider: Provider,
    request: ChatRequest,
    *,
    timeout_s: float | None = None,
    cancel: CancelToken | None = None,
    on_delta: Callable[[str], None] | None = None,
    on_queue: Callable[[Queued], None] | None = None,
    retry: RetryPolicy | None = None,
    run_id: str | None = None,
    repeat_index: int = 0,
) -> RunResult:
    """Call one model and measure it: TTFT, total, decode speed, tokens and cost, each with its source.

    `on_queue(place)` hears a call's place in line while it waits for its model or its server."""
    timeout_s = timeout_s or spec.deadline_s
    cancel = cancel or CancelToken()
    retry = retry or RetryPolicy()
    result = RunResult(model=spec.key, run_id=run_id, started_at=utc_now_iso(), repeat_index=repeat_index)
    deadline = _Deadline(timeout_s, time.perf_counter() + timeout_s)
    while True:
        result.attempts += 1
        attempt = _Attempt(text=[], started=time.perf_counter(), cap=_cap_for(spec, request))
        try:
            _run_attempt(provider, request, deadline, cancel, on_delta, on_queue, attempt)
            failure = None
        except errors.ProviderError as exc:
            failure = exc
        if failure is not None and _should_retry(failure, attempt, result.attempts, retry, cancel):
            wait = retry.wait_s(result.attempts, failure)
            if wait < deadline.remaining():
                _interruptible_sleep(wait, cancel)
                continue
        break
    _record(result, attempt, failure, time.perf_counter(), left_queued=deadline.held)
    _account_tokens(spec, provider, request, attempt, result)
    return result


def _cap_for(spec: ModelSpec, request: ChatRequest) -> _OutputCap | None:
    """The output cap of a hosted call: the max tokens it was admitted (and estimated) for, counted with
    the model's own tokenizer; with another one, the count is an estimate and the cap leaves room
    (ESTIMATE_SLACK) so an honest answer that the estimate's vocabulary splits finer (Hindi in cl100k
    takes about three times the tokens) is not cut. The charge stays at most the admitted maximum."""
    if spec.is_local:
        return None
    limit = request.max_tokens or DEFAULT_MAX_TOKENS
    estimator = estimator_for(spec.model)
    if not estimator.counts_exactly(spec.model):
        limit = limit * ESTIMATE_SLACK[0] + ESTIMATE_SLACK[1]
    return _OutputCap(limit, estimator)


def _should_retry(
    failure: errors.ProviderError | None,
    attempt: _Attempt,
    attempts: int,
    retry: RetryPolicy,
    cancel: CancelToken,
) -> bool:
    """Only retryable errors, only before the first token, within the attempt budget, never after Stop."""
    return (
        failure is not None
        and failure.retryable
        and attempt.ttft_s is None
        and attempts < retry.max_attempts
        and not cancel.cancelled
    )


def _record(
    result: RunResult,
    attempt: _Attempt,
    failure: errors.ProviderError | None,
    finished: float,
    *,
    left_queued: bool,
) -> None:
    """Text, timings and outcome of the last attempt (a call that ended in the queue never ran)."""
    result.text = "".join(attempt.text)
    result.ttft_s = attempt.ttft_s
    if left_queued:
        result.queue_wait_s, result.total_s = finished - attempt.started, None
    else:
        result.queue_wait_s, result.total_s = attempt.queue_wait_s, finished - attempt.started
    result.finish_reason = "cancelled" if attempt.cancelled else attempt.finish
    if attempt.cancelled:
        result.error = CallError("cancelled", "stopped by the user; partial text kept")
    elif failure is not None:
        result.error = CallError(failure.kind, failure.message)


def _account_tokens(
    spec: ModelSpec, provider: Provider, request: ChatRequest, attempt: _Attempt, result: RunResult
) -> None:
    """Tokens by one rule: reported by the API, else counted by the model's tokenizer, else estimated."""
    if attempt.usage is not None:
        result.input_tokens = attempt.usage.input_tokens
        result.output_tokens = attempt.usage.output_tokens
        result.usage_source = attempt.usage.source
    elif result.text or result.error is None:
        estimator = estimator_for(spec.model)
        counted = _safe_count(provider, request)
        result.input_tokens = counted if counted is not None else estimator.count_request(request)
        result.output_tokens = estimator.count_text(result.text)
        result.usage_source = f"estimated:{estimator.name}"
    # else: failed before any text; the server may not have billed it, so no tokens are claimed.
    if (
        result.output_tokens is not None
        and result.output_tokens > 1
        and result.ttft_s is not None
        and result.total_s is not None
        and result.total_s - result.ttft_s >= MIN_DECODE_S
    ):
        result.output_tokens_per_s = result.output_tokens / (result.total_s - result.ttft_s)
    result.cost_usd, result.cost_source = cost_of(spec, result.input_tokens, result.output_tokens)
    result.max_cost_usd = _admitted_max(spec, provider, request)
    if attempt.usage is None and result.cost_usd is not None and result.max_cost_usd is not None:
        # Counted here, never more than admitted (the cap cut the text at max tokens); a cost the API
        # reported stays as reported, and any excess shows to the admin as over-admission.
        result.cost_usd = min(result.cost_usd, result.max_cost_usd)


def _admitted_max(spec: ModelSpec, provider: Provider, request: ChatRequest) -> Decimal | None:
    """The most the call was admitted to cost: the pre-run estimate's (None without a price)."""
    if price_for(spec) is None:
        return None
    try:
        return estimate(spec, provider, request).max_cost_usd
    except Exception:  # noqa: BLE001 - counting is best effort; without it, no maximum is claimed
        return None


def _safe_count(provider: Provider, request: ChatRequest) -> int | None:
    try:
        return provider.count_tokens(request)
    except Exception:  # noqa: BLE001 - counting is best effort; the estimate is labelled as such
        return None
