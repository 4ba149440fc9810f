"""Speech comparisons as History and share links show them: a kept run (see `StoredRun.kind`) and its
files read back into the results the Speech page shows, their scores computed again from the texts."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from playground.speech.service import (
    SPEAK,
    TRANSCRIBE,
    SpeechResult,
    TranscriptResult,
    reading_of,
    transcript_of,
)
from playground.storage.media import INPUT, StoredMedia
from playground.storage.runs import StoredRun
from providers.audio import wav_facts
from providers.base import Speech
from providers.errors import BadAudioError


@dataclass(frozen=True)
class KeptTranscription:
    """A kept speech-to-text comparison: the audio it was given, what is said in it, the transcripts."""

    audio: StoredMedia | None
    reference: str
    results: list[TranscriptResult]


@dataclass(frozen=True)
class KeptReading:
    """A kept text-to-speech comparison: the text read aloud, each voice."""

    text: str
    listener: str | None
    results: list[SpeechResult]


def kept_speech(run: StoredRun, files: Sequence[StoredMedia]) -> KeptTranscription | KeptReading | None:
    """A kept speech comparison from its run and files; None for a run of another kind."""
    if run.kind == TRANSCRIBE:
        reference = str(run.params.get("reference") or "")
        seconds = float(run.params.get("audio_seconds") or 0.0)
        audio = next((f for f in files if f.model == INPUT), None)
        return KeptTranscription(
            audio, reference, [transcript_of(r, seconds, reference) for r in run.results_in_order()]
        )
    if run.kind == SPEAK:
        listener = run.params.get("listener")
        wavs = {f.model: f.data for f in files}
        results = [
            reading_of(r, _speech(wavs.get(r.model)), run.prompt, r.text if listener and r.ok else None)
            for r in run.results_in_order()
        ]
        return KeptReading(run.prompt, listener, results)
    return None


def _speech(wav: bytes | None) -> Speech | None:
    """A kept WAV as the page plays it (None: the voice made none, or it cannot be read)."""
    if wav is None:
        return None
    try:
        rate, seconds = wav_facts(wav)
    except BadAudioError:
        return None
    return Speech(wav, rate, seconds)
