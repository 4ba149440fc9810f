"""Fine-tuning jobs on OpenAI's API and Azure OpenAI, through the official SDK's `files` and
`fine_tuning.jobs` resources: upload a training file, create a job, read its state and events, cancel it.

The SDK client comes ready-made from the chat adapter (providers/openai_compat.py), so the key, the URL,
the egress guard and the "nothing from the server's environment" rules are the ones every call has. What
comes back is plain dataclasses; every SDK failure is the project's ProviderError, the key redacted.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

from providers.chat_stream import redacted
from providers.openai_compat import map_openai_error

# Job states the API reports that end a job: nothing more happens upstream, nothing more is spent.
ENDED_STATES = ("succeeded", "failed", "cancelled")
# Most events read in one follow; older ones were read by earlier follows (events come newest first).
EVENTS_PAGE = 100

_T = TypeVar("_T")


@dataclass(frozen=True)
class UpstreamEvent:
    """One `fine_tuning.job.event`: its id, time (Unix seconds), level, message, and for a metrics
    event its step and training loss (the API's `data.step`, `data.train_loss`)."""

    id: str
    created_at: int
    level: str
    message: str
    step: int | None = None
    train_loss: float | None = None

    def to_json(self) -> dict[str, Any]:
        """JSON-ready form (saved with the job)."""
        return {
            "id": self.id,
            "created_at": self.created_at,
            "level": self.level,
            "message": self.message,
            "step": self.step,
            "train_loss": self.train_loss,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> UpstreamEvent:
        """Inverse of to_json."""
        return cls(**data)


@dataclass(frozen=True)
class UpstreamJob:
    """A `fine_tuning.job` as last read: id, status, the tuned model once it succeeded, tokens trained,
    and the failure's message."""

    id: str
    status: str
    model: str
    fine_tuned_model: str | None
    trained_tokens: int | None
    error: str | None

    @property
    def ended(self) -> bool:
        """True once nothing more happens to it (succeeded, failed or cancelled)."""
        return self.status in ENDED_STATES


class FineTuner:
    """One provider account's fine-tuning API, over an `openai.OpenAI` or `openai.AzureOpenAI` client."""

    def __init__(self, client: Any, api_key: str | None = None, *, visitor_url: bool = False) -> None:
        self.client = client
        self.api_key = api_key
        self.visitor_url = visitor_url
        # No key (a URL the visitor typed, without a key of theirs): no Authorization header at all, as the
        # chat adapter sends (the SDK otherwise refuses to send a request without credentials).
        self.headers: dict[str, Any] = {}
        if not api_key:
            import openai

            self.headers = {"extra_headers": {"Authorization": openai.Omit()}}

    def _call(self, what: Callable[[], _T]) -> _T:
        try:
            return what()
        except Exception as exc:  # noqa: BLE001 - every SDK failure becomes one ProviderError
            raise redacted(map_openai_error(exc, show_body=not self.visitor_url), self.api_key) from exc

    def upload(self, name: str, data: bytes) -> str:
        """Upload a chat-format JSONL training file (purpose "fine-tune"); its file id."""
        uploaded = self._call(
            lambda: self.client.files.create(file=(name, data), purpose="fine-tune", **self.headers)
        )
        return str(uploaded.id)

    def create(
        self, model: str, training_file: str, epochs: int, suffix: str | None, seed: int
    ) -> UpstreamJob:
        """Start a supervised job on `model` with `training_file`, for `epochs` epochs."""
        options: dict[str, Any] = {
            "model": model,
            "training_file": training_file,
            "seed": seed,
            "method": {"type": "supervised", "supervised": {"hyperparameters": {"n_epochs": epochs}}},
        }
        if suffix:
            options["suffix"] = suffix
        return _job(self._call(lambda: self.client.fine_tuning.jobs.create(**options, **self.headers)))

    def retrieve(self, job_id: str) -> UpstreamJob:
        """The job as it is now."""
        return _job(self._call(lambda: self.client.fine_tuning.jobs.retrieve(job_id, **self.headers)))

    def events(self, job_id: str, after: str | None = None) -> list[UpstreamEvent]:
        """The job's events newer than event `after` (all, first time), oldest first."""

        def read() -> list[UpstreamEvent]:
            page = self.client.fine_tuning.jobs.list_events(job_id, limit=EVENTS_PAGE, **self.headers)
            newest_first: list[UpstreamEvent] = []
            for item in _items(page):  # newest first: stop at the last one already read
                if item.id == after:
                    break
                newest_first.append(_event(item))
            return newest_first[::-1]

        return self._call(read)

    def cancel(self, job_id: str) -> UpstreamJob:
        """Ask the provider to cancel the job; the job as it then is."""
        return _job(self._call(lambda: self.client.fine_tuning.jobs.cancel(job_id, **self.headers)))


def _items(page: Any) -> Iterator[Any]:
    # The SDK's cursor page fetches further pages on iteration (has_more); it stops at `after` above.
    yield from page


def _job(job: Any) -> UpstreamJob:
    error = getattr(job, "error", None)
    message = None
    if error is not None and (getattr(error, "message", None) or getattr(error, "code", None)):
        message = f"{error.code}: {error.message}" if getattr(error, "code", None) else str(error.message)
    return UpstreamJob(
        id=str(job.id),
        status=str(job.status),
        model=str(job.model),
        fine_tuned_model=job.fine_tuned_model,
        trained_tokens=job.trained_tokens,
        error=message,
    )


def _event(item: Any) -> UpstreamEvent:
    data = item.data if isinstance(item.data, dict) else {}
    step, loss = data.get("step"), data.get("train_loss")
    return UpstreamEvent(
        id=str(item.id),
        created_at=int(item.created_at),
        level=str(item.level),
        message=str(item.message),
        step=int(step) if isinstance(step, int | float) else None,
        train_loss=float(loss) if isinstance(loss, int | float) else None,
    )


__all__ = ["ENDED_STATES", "FineTuner", "UpstreamEvent", "UpstreamJob"]
