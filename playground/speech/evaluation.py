"""Speech-to-text models evaluated on a labelled set: every file transcribed by every model, and per model
the mean WER and CER with 95% intervals (`core.stats.mean_ci95`, as text evaluations report their
metrics), the median real-time factor and the cost of the whole set.

A set is the shipped samples, or a CSV with `file` and `reference` columns whose files lie beside it.
The whole set is admitted once (hosted mode) before any file is sent, so it never stops half paid for."""

from __future__ import annotations

import csv
import io
import statistics
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from playground.core.errors import UsageError
from playground.core.format import set_cost_cell
from playground.core.sets import files_beside
from playground.core.specs import ModelSpec, load_specs
from playground.core.stats import MeanCI
from playground.engine.calls import each_at_once
from playground.engine.pricing import speech_cost_of
from playground.engine.registry import Keys
from playground.speech.audio_input import AudioFile, read_audio
from playground.speech.billing import Priced, SpeechPayer
from playground.speech.samples import load_samples
from playground.speech.service import SpeechError, TranscriptResult, speech_models, transcribe_one


@dataclass(frozen=True)
class LabelledAudio:
    """One file of a set and what is said in it."""

    audio: AudioFile
    reference: str


@dataclass(frozen=True)
class TranscriberSummary:
    """One model over the whole set: error rates with intervals, speed, cost, and the files it failed."""

    model: str
    wer: MeanCI | None
    cer: MeanCI | None
    rtf_p50: float | None  # median real-time factor over the files it answered
    cost_usd: Decimal | None  # the set's cost (None: no price known, or local)
    cost_source: str
    failed: tuple[str, ...]  # names of the files it did not transcribe


@dataclass(frozen=True)
class SpeechEvaluation:
    """Every model's summary, in the order asked, and every transcript (per file, per model)."""

    summaries: list[TranscriberSummary]
    transcripts: list[list[TranscriptResult]]

    def table_rows(self) -> list[dict[str, str]]:
        """One row per model for a table: error rates with their intervals, speed, cost, failures."""
        return [
            {
                "model": s.model,
                "WER": str(s.wer) if s.wer else "–",
                "CER": str(s.cer) if s.cer else "–",
                "RTF p50": "–" if s.rtf_p50 is None else f"{s.rtf_p50:.3f}",
                "cost (USD)": set_cost_cell(s.cost_usd, s.cost_source),
                "failed": ", ".join(s.failed) or "none",
            }
            for s in self.summaries
        ]


def shipped_set() -> list[LabelledAudio]:
    """The shipped samples as a labelled set (synthetic speech: it flatters speech-to-text)."""
    return [LabelledAudio(read_audio(s.wav, s.name), s.sentence) for s in load_samples()]


def read_set(csv_path: Path) -> list[LabelledAudio]:
    """A labelled set from a CSV file (`file`, `reference`) whose audio files lie in its folder."""
    source = files_beside(csv_path, SpeechError)
    return parse_set(csv_path.read_text(encoding="utf-8"), source, csv_path.name)


def parse_set(
    csv_text: str, audio_of: Callable[[str], bytes], source: str = "the CSV"
) -> list[LabelledAudio]:
    """A labelled set from CSV text (`file`, `reference`), each file's bytes from `audio_of(name)` (an
    upload's, or a file beside the CSV); SpeechError naming the line of a missing column, a file that
    cannot be had, or one that is not usable audio."""
    rows = list(csv.DictReader(io.StringIO(csv_text)))
    if not rows or not {"file", "reference"} <= set(rows[0]):
        raise SpeechError(f"{source} needs the columns file and reference")
    items = []
    for line, row in enumerate(rows, start=2):
        try:
            items.append(LabelledAudio(read_audio(audio_of(row["file"]), row["file"]), row["reference"]))
        except UsageError as exc:
            raise SpeechError(f"{source}, line {line}: {exc}") from exc
    return items


def evaluate_transcribers(
    items: Sequence[LabelledAudio],
    models: Sequence[str],
    *,
    specs: Mapping[str, ModelSpec] | None = None,
    keys: Keys | None = None,
    payer: SpeechPayer | None = None,
) -> SpeechEvaluation:
    """Every file transcribed by every model (the models of one file at once), scored against its
    reference; LimitExceededError before anything is sent when the user's limits refuse the set."""
    if not items:
        raise SpeechError("the set holds no files")
    chosen = speech_models(specs or load_specs(), models, "speech-to-text")
    per_file = [[_priced(spec, item) for spec in chosen] for item in items]
    seconds = sum(item.audio.seconds for item in items)
    detail = f"{len(items)} files, {seconds:,.0f} s, with {len(chosen)} model{'s' * (len(chosen) > 1)}"
    with (payer or SpeechPayer()).admit([c for calls in per_file for c in calls], detail) as bill:
        transcripts = [
            each_at_once(
                calls, lambda call, item=item: transcribe_one(call, item.audio, item.reference, keys, bill)
            )
            for item, calls in zip(items, per_file, strict=True)
        ]
    names = [item.audio.name for item in items]
    summaries = [_summary(spec.key, [row[i] for row in transcripts], names) for i, spec in enumerate(chosen)]
    return SpeechEvaluation(summaries, transcripts)


def _priced(spec: ModelSpec, item: LabelledAudio) -> Priced:
    return Priced(spec, speech_cost_of(spec, audio_seconds=item.audio.seconds)[0])


def _summary(model: str, results: Sequence[TranscriptResult], names: Sequence[str]) -> TranscriberSummary:
    """One model's figures over the files it answered (`names`: the files, in the results' order)."""
    scored = [r.accuracy for r in results if r.ok and r.accuracy is not None]
    rtfs = [r.rtf for r in results if r.ok and r.rtf is not None]
    costs = [r.cost_usd for r in results if r.ok]
    known = [c for c in costs if c is not None]
    return TranscriberSummary(
        model=model,
        wer=MeanCI.of([a.wer for a in scored], graded=True),  # error rates, not pass/fail
        cer=MeanCI.of([a.cer for a in scored], graded=True),
        rtf_p50=statistics.median(rtfs) if rtfs else None,
        cost_usd=sum(known, Decimal(0)) if known and len(known) == len(costs) else None,
        cost_source=results[0].cost_source if results else "unknown",
        failed=tuple(name for name, r in zip(names, results, strict=True) if not r.ok),
    )
