"""An audio file as a speech comparison takes it: decoded once, its length known, its limits checked."""

from __future__ import annotations

import mimetypes
import os
from dataclasses import dataclass

from playground.core.errors import UsageError
from providers import audio
from providers.errors import BadAudioError

MAX_AUDIO_ENV = "PLAYGROUND_MAX_AUDIO_S"
DEFAULT_MAX_AUDIO_S = 600.0  # ten minutes: Whisper's 30 s windows make anything longer slow on a CPU


class AudioFileError(UsageError):
    """An audio file that cannot be compared: empty, not audio, corrupt, or too long; one line naming it."""


@dataclass(frozen=True)
class AudioFile:
    """One audio file to transcribe: its name, its bytes as uploaded, and its length in seconds."""

    name: str
    data: bytes
    seconds: float


def max_audio_seconds() -> float:
    """The longest audio a comparison takes, from $PLAYGROUND_MAX_AUDIO_S (default 600)."""
    raw = os.environ.get(MAX_AUDIO_ENV, "").strip()
    try:
        limit = float(raw) if raw else DEFAULT_MAX_AUDIO_S
    except ValueError as exc:
        raise UsageError(f"{MAX_AUDIO_ENV} must be a number of seconds, not {raw!r}") from exc
    if limit <= 0:
        raise UsageError(f"{MAX_AUDIO_ENV} must be positive, not {raw!r}")
    return limit


def read_audio(data: bytes, name: str) -> AudioFile:
    """The file decoded once (PyAV) to learn its length; AudioFileError naming it when it is empty, not
    audio, corrupt, or over the limit. Nothing is sent to any model before this passes."""
    limit = max_audio_seconds()
    try:
        seconds = audio.seconds_of(audio.decode(data, name))
    except BadAudioError as exc:
        raise AudioFileError(exc.message) from exc
    if seconds > limit:
        raise AudioFileError(
            f"{name} is {seconds:,.0f} s long, over the {limit:,.0f} s limit ({MAX_AUDIO_ENV})"
        )
    return AudioFile(name, data, seconds)


def audio_mime(name: str) -> str:
    """The media type a player needs for a file of this name (by its extension)."""
    return mimetypes.guess_type(name)[0] or "application/octet-stream"
