"""The one runner that times, counts, prices and guards every model's call the same way."""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from playground.pricing import cost_of
from playground.results import RunResult, utc_now_iso
from playground.specs import ModelSpec
from playground.tokens import estimator_for
from providers import errors
from providers.base import CancelToken, ChatRequest, Chunk, Finish, Provider, TextDelta, Usage

DEFAULT_DEADLINE_S = 120.0


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


class _Inline:
    """Reads an in-process provider's chunks on the caller's thread.

    Local generation never waits on a network, so checking the deadline between tokens is enough;
    and a second busy thread per token slows llama.cpp's spinning worker threads by about a third on
    a 2-core machine (measured in bench/bench_engine.py).
    """

    def __init__(self, chunks: Iterator[Chunk]) -> None:
        self._chunks = chunks
        self._done = False

    def next(self, timeout: float) -> object:
        """The next chunk, an exception or _END (timeout unused: it never blocks on I/O)."""
        if self._done:
            return _END
        try:
            return next(self._chunks)
        except StopIteration:
            self._done = True
            return _END
        except BaseException as exc:  # noqa: BLE001 - same contract as _Pump
            self._done = True
            return exc


# How often a waiting runner looks at the cancel flag.
_POLL_S = 0.05


@dataclass
class _Attempt:
    text: list[str]
    ttft_s: float | None = None
    usage: Usage | None = None
    finish: str | None = None
    cancelled: bool = False


def _run_attempt(
    provider: Provider,
    request: ChatRequest,
    deadline: float,
    timeout_s: float,
    cancel: CancelToken,
    on_delta: Callable[[str], None] | None,
    attempt: _Attempt,
) -> float:
    """Stream one attempt into `attempt`; returns its start time. Raises ProviderError on failure."""
    token = CancelToken()
    cancel.on_cancel(token.cancel)
    provider.prepare()
    started = time.perf_counter()
    chunks = provider.stream(request, token)
    in_process = getattr(provider, "in_process", False)
    pump = _Inline(chunks) if in_process else _Pump(chunks)
    timer = None
    if in_process:
        # The caller's thread may block inside the provider (waiting for a local model another call
        # holds); cancelling the attempt's token at the deadline is what wakes it.
        timer = threading.Timer(max(0.0, deadline - time.perf_counter()), token.cancel)
        timer.daemon = True
        timer.start()
    try:
        while True:
            remaining = deadline - time.perf_counter()
            if remaining <= 0:
                raise errors.DeadlineExceededError(f"no complete answer within the {timeout_s:g} s deadline")
            if cancel.cancelled:
                attempt.cancelled = True
                return started
            try:
                item = pump.next(min(remaining, _POLL_S))
            except queue.Empty:
                continue
            if item is _END:
                # A stream cut short by a cancel ends quietly, without a finish reason.
                attempt.cancelled = attempt.finish is None and cancel.cancelled
                return started
            if isinstance(item, BaseException):
                if attempt.cancelled or cancel.cancelled:
                    attempt.cancelled = True
                    return started
                if time.perf_counter() >= deadline:
                    raise errors.DeadlineExceededError(
                        f"no complete answer within the {timeout_s:g} s deadline"
                    )
                if isinstance(item, errors.ProviderError):
                    raise item
                raise errors.BadResponseError(f"unexpected failure: {type(item).__name__}: {item}") from item
            if isinstance(item, TextDelta) and item.text:
                if attempt.ttft_s is None:
                    attempt.ttft_s = time.perf_counter() - started
                attempt.text.append(item.text)
                if on_delta is not None:
                    on_delta(item.text)
            elif isinstance(item, Usage):
                attempt.usage = item
            elif isinstance(item, Finish):
                attempt.finish = item.reason
    finally:
        if timer is not None:
            timer.cancel()
        token.cancel()  # stop the stream if we leave early (deadline, cancel, error)


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
    retry: RetryPolicy | None = None,
    run_id: str | None = None,
    repeat_index: int = 0,
) -> RunResult:
    """Call one model and measure it: TTFT, total, decode speed, tokens and cost, each with its source."""
    timeout_s = timeout_s or spec.timeout_s or DEFAULT_DEADLINE_S
    cancel = cancel or CancelToken()
    retry = retry or RetryPolicy()
    result = RunResult(model=spec.key, run_id=run_id, started_at=utc_now_iso(), repeat_index=repeat_index)
    deadline = time.perf_counter() + timeout_s
    attempt = _Attempt(text=[])
    failure: errors.ProviderError | None = None
    started = time.perf_counter()
    while True:
        result.attempts += 1
        attempt = _Attempt(text=[])
        try:
            started = _run_attempt(provider, request, deadline, timeout_s, cancel, on_delta, attempt)
            failure = None
        except errors.ProviderError as exc:
            failure = exc
        if (
            failure is not None
            and failure.retryable
            and attempt.ttft_s is None
            and result.attempts < retry.max_attempts
            and not cancel.cancelled
        ):
            wait = retry.wait_s(result.attempts, failure)
            if time.perf_counter() + wait < deadline:
                _interruptible_sleep(wait, cancel)
                continue
        break
    finished = time.perf_counter()
    result.text = "".join(attempt.text)
    result.ttft_s = attempt.ttft_s
    result.total_s = finished - started
    result.finish_reason = "cancelled" if attempt.cancelled else attempt.finish
    if attempt.cancelled:
        result.error = {"kind": "cancelled", "message": "stopped by the user; partial text kept"}
    elif failure is not None:
        result.error = {"kind": failure.kind, "message": failure.message}
    _account_tokens(spec, provider, request, attempt, result)
    return result


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
        and result.total_s > result.ttft_s
    ):
        result.output_tokens_per_s = result.output_tokens / (result.total_s - result.ttft_s)
    result.cost_usd, result.cost_source = cost_of(spec, result.input_tokens, result.output_tokens)


def _safe_count(provider: Provider, request: ChatRequest) -> int | None:
    try:
        return provider.count_tokens(request)
    except Exception:  # noqa: BLE001 - counting is best effort; the estimate is labelled as such
        return None
