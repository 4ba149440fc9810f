"""Speech models compared: one audio file transcribed by several speech-to-text models, or one text read
aloud by several text-to-speech models. This is the one place that times, prices and scores speech calls
(adapters never do); every model runs in its own thread, and one failing never stops the others.

Seconds are the call alone: building the client or loading the model (`prepare`) is done first, untimed,
as the runner does for chat. The real-time factor is those seconds over the audio's seconds (below 1:
faster than the audio lasts).
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any, TypeVar, cast

from playground.core.errors import UsageError
from playground.core.results import CallError, RunResult
from playground.core.specs import ModelSpec, load_specs
from playground.engine.calls import call_error, each_at_once, pick_models
from playground.engine.pricing import cost_source, speech_cost_of
from playground.engine.registry import Keys, build_provider, call_target
from playground.hosting.billing import Bill
from playground.speech.audio_input import AudioFile, audio_mime
from playground.speech.billing import Priced, SpeechPayer
from playground.speech.scoring import Accuracy, accuracy
from playground.storage.media import INPUT, KeptRun, StoredMedia
from providers.base import ChatRequest, Speaker, Speech, Transcriber
from providers.table import adapter_for

TRANSCRIBE, SPEAK = "speech-to-text", "text-to-speech"  # the tasks, and the kinds of the runs kept
DEFAULT_LISTENER = "whisper-tiny-en"  # the bundled model that hears each voice (round-trip intelligibility)
MAX_SPEECH_CHARS = 4_096  # OpenAI's limit for one speech call; Piper would take more, slowly

R = TypeVar("R")


class SpeechError(UsageError):
    """A speech comparison that cannot start (no model, an unknown one, one of another task, empty or
    too long text); one line, nothing sent."""


def _rtf(seconds: float | None, audio_seconds: float | None) -> float | None:
    """Real-time factor: seconds of work per second of audio."""
    return seconds / audio_seconds if seconds is not None and audio_seconds else None


@dataclass(frozen=True)
class TranscriptResult:
    """One speech-to-text model's transcript of the file, what it took, and (with a reference) how right
    it is; `error` says why there is no transcript."""

    model: str
    text: str
    seconds: float | None
    audio_seconds: float
    cost_usd: Decimal | None
    cost_source: str  # override | genai-prices:<date> | local | unknown
    accuracy: Accuracy | None = None
    error: CallError | None = None
    run_id: str | None = None  # the run it is kept in (History, share link); None: not kept

    @property
    def ok(self) -> bool:
        """True when the model answered."""
        return self.error is None

    @property
    def rtf(self) -> float | None:
        """Real-time factor: the call's seconds over the audio's."""
        return _rtf(self.seconds, self.audio_seconds)

    def to_json(self) -> dict[str, Any]:
        """JSON-ready facts (money as a decimal string)."""
        return {
            "model": self.model,
            "text": self.text,
            "seconds": self.seconds,
            "audio_seconds": self.audio_seconds,
            "rtf": self.rtf,
            "wer": None if self.accuracy is None else self.accuracy.wer,
            "cer": None if self.accuracy is None else self.accuracy.cer,
            "cost_usd": None if self.cost_usd is None else str(self.cost_usd),
            "cost_source": self.cost_source,
            "error": None if self.error is None else self.error.to_json(),
            "run_id": self.run_id,
        }


@dataclass(frozen=True)
class SpeechResult:
    """One text-to-speech model's reading of the text (a WAV file), what it took, and how well the bundled
    listener understood it (`heard`, and its WER/CER against the text); `error` says why there is none."""

    model: str
    speech: Speech | None
    seconds: float | None
    characters: int
    cost_usd: Decimal | None
    cost_source: str
    heard: str | None = None
    intelligibility: Accuracy | None = None
    error: CallError | None = None
    run_id: str | None = None  # the run it is kept in (History, share link); None: not kept

    @property
    def ok(self) -> bool:
        """True when the model answered."""
        return self.error is None

    @property
    def audio_seconds(self) -> float | None:
        """How long the speech lasts."""
        return None if self.speech is None else self.speech.seconds

    @property
    def rtf(self) -> float | None:
        """Real-time factor: the call's seconds over the speech's."""
        return _rtf(self.seconds, self.audio_seconds)

    @property
    def cost_per_1k_chars(self) -> Decimal | None:
        """What 1,000 characters cost at this call's rate."""
        return (
            None if self.cost_usd is None or not self.characters else self.cost_usd * 1000 / self.characters
        )

    def to_json(self) -> dict[str, Any]:
        """JSON-ready facts (money as decimal strings; the audio as its size, not its bytes)."""
        per_1k = self.cost_per_1k_chars
        return {
            "model": self.model,
            "seconds": self.seconds,
            "audio_seconds": self.audio_seconds,
            "rtf": self.rtf,
            "sample_rate": None if self.speech is None else self.speech.sample_rate,
            "wav_bytes": None if self.speech is None else len(self.speech.wav),
            "characters": self.characters,
            "cost_usd": None if self.cost_usd is None else str(self.cost_usd),
            "cost_per_1k_chars": None if per_1k is None else str(per_1k),
            "cost_source": self.cost_source,
            "heard": self.heard,
            "round_trip_wer": None if self.intelligibility is None else self.intelligibility.wer,
            "error": None if self.error is None else self.error.to_json(),
            "run_id": self.run_id,
        }


def speech_models(specs: Mapping[str, ModelSpec], models: Sequence[str], task: str) -> list[ModelSpec]:
    """The specs of `models`, all of `task` (SpeechError naming what is wrong, before anything runs)."""
    return pick_models(specs, models, task, lambda spec: spec.task == task, SpeechError)


def transcribe_compare(
    audio: AudioFile,
    models: Sequence[str],
    reference: str | None = None,
    *,
    specs: Mapping[str, ModelSpec] | None = None,
    keys: Keys | None = None,
    payer: SpeechPayer | None = None,
) -> list[TranscriptResult]:
    """Every model's transcript of `audio` (from `read_audio`), in the order asked; with a `reference`
    (what was said), each one's WER and CER (playground.speech.scoring says how text is normalised).
    LimitExceededError before anything is sent when the user's limits refuse the hosted calls."""
    chosen = speech_models(specs or load_specs(), models, "speech-to-text")
    calls = [Priced(spec, speech_cost_of(spec, audio_seconds=audio.seconds)[0]) for spec in chosen]
    payer = payer or SpeechPayer()
    detail = f"{audio.name}, {audio.seconds:,.0f} s, with {len(calls)} model{'s' * (len(calls) > 1)}"
    kept = payer.keep(
        TRANSCRIBE, audio.name, models, {"audio_seconds": audio.seconds, "reference": reference or ""}
    )
    with payer.admit(calls, detail, ref_id=kept.run_id) as bill, kept:
        kept.given([StoredMedia(INPUT, audio.name, audio_mime(audio.name), audio.data)])
        return each_at_once(calls, lambda call: transcribe_one(call, audio, reference, keys, bill, kept))


def _ready(spec: ModelSpec, keys: Keys | None) -> Any:
    """The spec's adapter, built and prepared (client made, model loaded): nothing of it is timed."""
    adapter = build_provider(spec, keys)
    adapter.prepare()
    return adapter


def transcribe_one(
    call: Priced,
    audio: AudioFile,
    reference: str | None,
    keys: Keys | None,
    bill: Bill,
    kept: KeptRun | None = None,
) -> TranscriptResult:
    """One model's transcript: prepared, timed, charged (it reached the model), kept (a comparison's; an
    evaluation's are summed, not kept as runs), scored."""
    spec = call.spec
    try:
        model = cast(Transcriber, _ready(spec, keys))
    except Exception as exc:  # noqa: BLE001 - one model that cannot start never stops the others
        failed = RunResult(spec.key, cost_source=cost_source(spec), error=call_error(exc))
        return transcript_of(kept.keep(failed) if kept is not None else failed, audio.seconds, None)
    began = time.perf_counter()
    try:
        text, error = model.transcribe(audio.data, audio.name).text, None
    except Exception as exc:  # noqa: BLE001 - the call's failure is this model's result
        text, error = "", call_error(exc)
    seconds = time.perf_counter() - began
    cost, source = speech_cost_of(spec, audio_seconds=audio.seconds)
    cost = cost if error is None else None  # a failed call's charge is unknown (the ledger says so)
    done = _ledger_call(spec, text, seconds, cost, source, error, call.max_cost_usd)
    bill.charge(done)
    if kept is not None:
        done = kept.keep(done)
    return transcript_of(done, audio.seconds, reference)


def transcript_of(result: RunResult, audio_seconds: float, reference: str | None) -> TranscriptResult:
    """A transcription call's result as the comparison shows it, scored against `reference` (also how
    History shows a kept one: the scores are computed again, never stored)."""
    scored = accuracy(reference, result.text) if reference and result.ok else None
    return TranscriptResult(
        result.model,
        result.text,
        result.total_s,
        audio_seconds,
        result.cost_usd,
        result.cost_source,
        scored,
        result.error,
        result.run_id,
    )


def _ledger_call(
    spec: ModelSpec,
    text: str,
    seconds: float,
    cost: Decimal | None,
    source: str,
    error: CallError | None,
    max_cost: Decimal | None,
) -> RunResult:
    """One speech call as the usage ledger reads it."""
    return RunResult(
        spec.key,
        text=text,
        total_s=seconds,
        cost_usd=cost,
        cost_source=source,
        attempts=1,
        error=error,
        max_cost_usd=max_cost,
    )


def speak_compare(
    text: str,
    models: Sequence[str],
    *,
    specs: Mapping[str, ModelSpec] | None = None,
    keys: Keys | None = None,
    payer: SpeechPayer | None = None,
    listener: str | None = DEFAULT_LISTENER,
) -> list[SpeechResult]:
    """Every model's reading of `text`, in the order asked: the WAV, seconds, its length, real-time factor,
    cost per 1,000 characters, and what the bundled `listener` (a local speech-to-text model; None: no
    round trip) heard in it, scored against `text`. LimitExceededError before anything is sent when the
    user's limits refuse the hosted calls."""
    text = text.strip()
    if not text:
        raise SpeechError("the text is empty: type something to read aloud")
    if len(text) > MAX_SPEECH_CHARS:
        raise SpeechError(
            f"the text is {len(text):,} characters; one reading takes at most {MAX_SPEECH_CHARS:,}"
        )
    specs = specs or load_specs()
    chosen = speech_models(specs, models, "text-to-speech")
    ear = _listener(specs, listener)
    calls = [Priced(spec, speech_cost_of(spec, characters=len(text))[0]) for spec in chosen]
    payer = payer or SpeechPayer()
    detail = f"{len(text):,} characters with {len(calls)} model{'s' * (len(calls) > 1)}"
    kept = payer.keep(SPEAK, text, models, {"listener": None if ear is None else ear.key})
    with payer.admit(calls, detail, ref_id=kept.run_id) as bill, kept:
        return each_at_once(calls, lambda call: _speak_one(call, text, keys, bill, ear, kept))


def _listener(specs: Mapping[str, ModelSpec], key: str | None) -> ModelSpec | None:
    """The round trip's listener: a local speech-to-text model (no admission, no price), or None."""
    if key is None:
        return None
    spec = speech_models(specs, [key], "speech-to-text")[0]
    if not spec.is_local:
        raise SpeechError(f"the listener {key} must be a local speech-to-text model")
    return spec


def _speak_one(
    call: Priced, text: str, keys: Keys | None, bill: Bill, ear: ModelSpec | None, kept: KeptRun
) -> SpeechResult:
    """One model's reading: prepared, timed, charged (it reached the model), heard by the listener, kept."""
    spec = call.spec
    try:
        model = cast(Speaker, _ready(spec, keys))
    except Exception as exc:  # noqa: BLE001 - one model that cannot start never stops the others
        failed = RunResult(spec.key, cost_source=cost_source(spec), error=call_error(exc))
        return reading_of(kept.keep(failed), None, text, None)
    began = time.perf_counter()
    try:
        speech, error = model.speak(text), None
    except Exception as exc:  # noqa: BLE001 - the call's failure is this model's result
        speech, error = None, call_error(exc)
    seconds = time.perf_counter() - began
    cost, source = speech_cost_of(spec, characters=len(text))
    cost = cost if error is None else None
    done = _ledger_call(spec, "", seconds, cost, source, error, call.max_cost_usd)
    bill.charge(done)
    heard = _hear(ear, speech, spec.key, bill) if ear is not None and speech is not None else None
    # Kept with what the listener heard as its text (None: no round trip), and the WAV beside it.
    made = [StoredMedia(spec.key, f"{spec.key}.wav", "audio/wav", speech.wav)] if speech is not None else []
    kept_as = kept.keep(replace(done, text=heard or ""), made)
    return reading_of(replace(done, run_id=kept_as.run_id), speech, text, heard)


def reading_of(result: RunResult, speech: Speech | None, text: str, heard: str | None) -> SpeechResult:
    """A speech call's result as the comparison shows it, `heard` scored against `text` (also how History
    shows a kept one)."""
    scored = accuracy(text, heard) if heard is not None else None
    return SpeechResult(
        result.model,
        speech,
        result.total_s,
        len(text),
        result.cost_usd,
        result.cost_source,
        heard,
        scored,
        result.error,
        result.run_id,
    )


def _hear(ear: ModelSpec, speech: Speech, voice: str, bill: Bill) -> str | None:
    """What the listener hears in a voice's speech (None: it could not listen; the voice's result stands)."""
    began = time.perf_counter()
    try:
        heard, error = cast(Transcriber, _ready(ear, None)).transcribe(speech.wav, f"{voice}.wav").text, None
    except Exception as exc:  # noqa: BLE001 - a failed round trip leaves the score unknown, nothing more
        heard, error = None, call_error(exc)
    cost, source = speech_cost_of(ear, audio_seconds=speech.seconds)
    bill.charge(_ledger_call(ear, heard or "", time.perf_counter() - began, cost, source, error, None))
    return heard


def code_for(spec: ModelSpec, given: str) -> str:
    """Ready-to-run Python repeating one speech call ("View code"): `given` is the file transcribed (its
    name) or the text read aloud. Keys are environment variable references, never keys."""
    return (
        adapter_for(spec.provider, spec.task).snippet(call_target(spec), ChatRequest(raw_text=given)).python
    )
