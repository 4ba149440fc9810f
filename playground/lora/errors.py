"""The errors of local fine-tuning: each one clear sentence for the page or the terminal."""

from __future__ import annotations

from playground.core.errors import UsageError


class TrainingSetError(UsageError):
    """The training file cannot be used; the message names every bad line (up to a few)."""


class UnknownBaseModelError(UsageError):
    """The base model is not one this machine can fine-tune locally."""


class TunedModelNameError(UsageError):
    """A tuned model's name is not allowed (characters, length) or is already taken."""


class TuneSettingsError(UsageError):
    """A knob of the job (steps, rank, batch size, length) is out of range."""


class AdapterError(UsageError):
    """A LoRA adapter could not be written, or a file is not a LoRA adapter for its base."""


class TuningFailedError(UsageError):
    """The training worker failed; the message is its own, and its log is kept beside the model."""
