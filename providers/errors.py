"""The project's own error types; adapters map SDK exceptions to these at their boundary."""

from __future__ import annotations

import re
from datetime import UTC


class ProviderError(Exception):
    """Base of every error a provider call can end with; `kind` is a stable machine name."""

    kind = "error"
    retryable = False

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.retry_after = retry_after


class MissingKeyError(ProviderError):
    """No API key is configured; the message names the environment variable to set."""

    kind = "missing_key"


class AuthError(ProviderError):
    """The key was refused (401/403)."""

    kind = "auth"


class RateLimitedError(ProviderError):
    """429: too many requests; may carry retry_after seconds."""

    kind = "rate_limited"
    retryable = True


class DeadlineExceededError(ProviderError):
    """The call passed its wall-clock deadline."""

    kind = "timeout"


class ConnectionFailedError(ProviderError):
    """The server could not be reached or dropped the connection."""

    kind = "connection"
    retryable = True


class BadRequestError(ProviderError):
    """The server refused the request (400/422): bad parameters."""

    kind = "bad_request"


class BadAudioError(BadRequestError):
    """An audio file that cannot be used: empty, not audio, corrupt, or too long; the message names it."""

    kind = "bad_audio"


class BadImageError(BadRequestError):
    """An image that cannot be used: empty, not an image, corrupt, or too large; the message names it."""

    kind = "bad_image"


class ContextOverflowError(BadRequestError):
    """The prompt plus max tokens do not fit the model's context window."""

    kind = "context_overflow"


class ModelNotFoundError(ProviderError):
    """The model id does not exist at that endpoint (404)."""

    kind = "model_not_found"


class ServerError(ProviderError):
    """5xx from the server."""

    kind = "server_error"
    retryable = True


class BadResponseError(ProviderError):
    """The server answered with something that is not a valid response (malformed stream, HTML...)."""

    kind = "bad_response"


class CancelledError(ProviderError):
    """The caller stopped the run."""

    kind = "cancelled"


class WorkerCrashedError(ProviderError):
    """The process running a local model died (SIGILL, SIGSEGV, SIGKILL...); the message names the signal."""

    kind = "crashed"


class QueueTimeoutError(ProviderError):
    """A local call waited longer than the queue limit for a model other calls were using."""

    kind = "queue_timeout"


class EgressRefusedError(ProviderError):
    """The server may not call a URL a user typed, or the address its host resolves to (hosted mode, see
    providers/egress.py); the message names the rule. Retrying cannot change the answer."""

    kind = "egress_refused"


def from_kind(kind: str, message: str) -> ProviderError:
    """The error type for a stable `kind` name (errors that crossed a process boundary as text)."""
    for error_type in _all_error_types():
        if error_type.kind == kind:
            return error_type(message)
    return ProviderError(message)


def _all_error_types() -> list[type[ProviderError]]:
    found, todo = [], [ProviderError]
    while todo:
        current = todo.pop()
        found.append(current)
        todo.extend(current.__subclasses__())
    return found


_CONTEXT_HINTS = re.compile(
    r"context[_ ]length|context window|maximum context|too many tokens|exceeds? the context|n_ctx",
    re.IGNORECASE,
)


def looks_like_context_overflow(message: str) -> bool:
    """True when a 400 message says the prompt did not fit the context window."""
    return bool(_CONTEXT_HINTS.search(message))


def redact(text: str, secrets: list[str | None]) -> str:
    """Remove every secret, and any recognisable fragment the SDK echoes of it, from text."""
    for secret in secrets:
        if not secret:
            continue
        text = text.replace(secret, "***")
        # OpenAI echoes keys masked as "sk-abc***wxyz": drop the visible head and tail too.
        if len(secret) >= 8:
            text = text.replace(secret[:6], "***").replace(secret[-4:], "***")
    return text


def status_error(status: int, message: str, *, retry_after: float | None = None) -> ProviderError:
    """Map an HTTP status code and message to the matching ProviderError."""
    if status in (401, 403):
        return AuthError(f"authentication failed ({status}): {message}")
    if status == 404:
        return ModelNotFoundError(f"model or endpoint not found (404): {message}")
    if status == 429:
        return RateLimitedError(f"rate limited (429): {message}", retry_after=retry_after)
    if status in (400, 413, 422):
        if looks_like_context_overflow(message):
            return ContextOverflowError(f"prompt does not fit the context window: {message}")
        return BadRequestError(f"request refused ({status}): {message}")
    if status >= 500:
        return ServerError(f"server error ({status}): {message}")
    if 300 <= status < 400:
        # Only a guarded client (a user's URL in hosted mode) hands a redirect back: it follows none.
        return BadResponseError(
            f"the server answered with a redirect ({status}), which is not followed: {message}"
        )
    return ProviderError(f"unexpected HTTP status {status}: {message}")


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds form), or None."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        # An HTTP-date: compute seconds from now.
        from datetime import datetime
        from email.utils import parsedate_to_datetime

        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        return max(0.0, (when - datetime.now(UTC)).total_seconds())
