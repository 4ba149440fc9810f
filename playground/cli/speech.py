"""`playground transcribe` and `playground speak`: speech models compared in the terminal, on the speech
service (the same one a page will use)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.text import Text

from playground.cli.common import (
    EXIT_FAILED,
    EXIT_OK,
    AsJson,
    ModelKeys,
    ModelsFile,
    fail_usage,
    figure_cell,
    money_cell,
    print_kept,
    write_outputs,
)
from playground.cli.tables import print_table
from playground.core.errors import UsageError
from playground.core.specs import SpecError, load_specs
from playground.speech.audio_input import read_audio
from playground.speech.billing import SpeechPayer
from playground.speech.evaluation import (
    SpeechEvaluation,
    TranscriberSummary,
    evaluate_transcribers,
    read_set,
    shipped_set,
)
from playground.speech.service import SpeechResult, TranscriptResult, speak_compare, transcribe_compare
from playground.storage.runs import Store

out = Console()
err = Console(stderr=True)


def transcribe_command(
    file: Annotated[
        Path, typer.Argument(metavar="FILE", help="An audio file: wav, flac, mp3, ogg, webm, m4a.")
    ],
    model: ModelKeys,
    reference: Annotated[
        str | None,
        typer.Option("--reference", metavar="TEXT", help="What was said: each transcript's WER and CER."),
    ] = None,
    models_file: ModelsFile = None,
    as_json: AsJson = False,
) -> None:
    """Transcribe FILE with each -m speech-to-text model: its transcript, seconds, real-time factor, cost
    and, with --reference, WER and CER (lower-cased, punctuation removed)."""
    try:
        specs = load_specs(models_file)
        data = file.read_bytes()
        audio = read_audio(data, file.name)
        results = transcribe_compare(audio, model, reference, specs=specs, payer=SpeechPayer(store=Store()))
    except OSError as exc:
        raise fail_usage(f"cannot read {file}: {exc.strerror}") from exc
    except (SpecError, UsageError) as exc:
        raise fail_usage(str(exc)) from exc
    if as_json:
        for result in results:
            print(json.dumps(result.to_json()))
    else:
        _print_transcripts(results, audio.seconds)
        print_kept(out, results[0].run_id)
    raise typer.Exit(EXIT_OK if all(r.ok for r in results) else EXIT_FAILED)


def _print_transcripts(results: list[TranscriptResult], audio_seconds: float) -> None:
    """The figures table, then each transcript as plain text (never read as markup)."""
    out.print(f"{audio_seconds:.1f} s of audio", markup=False)
    headers = ["model", "seconds", "RTF", "WER", "CER", "cost", "price source"]
    rows = [
        [
            r.model,
            figure_cell(r.seconds),
            figure_cell(r.rtf, 3),
            figure_cell(r.accuracy.wer if r.accuracy else None, 3),
            figure_cell(r.accuracy.cer if r.accuracy else None, 3),
            money_cell(r.cost_usd, r.cost_source),
            r.cost_source,
        ]
        for r in results
        if r.ok
    ]
    if rows:
        print_table(out, headers, rows, keys=["model"], rank=["WER", "RTF", "seconds", "cost"])
    for r in results:
        if r.ok:
            out.rule(Text(r.model))
            out.print(r.text, markup=False, highlight=False)
        else:
            err.print(f"{r.model} failed: {r.error}", soft_wrap=True, markup=False)


def speak_command(
    text: Annotated[str, typer.Argument(metavar="TEXT", help="The text every model reads aloud.")],
    model: ModelKeys,
    out_dir: Annotated[
        Path | None,
        typer.Option("--out", metavar="DIR", help="Write each model's speech to DIR/<model>.wav."),
    ] = None,
    models_file: ModelsFile = None,
    as_json: AsJson = False,
) -> None:
    """Read TEXT aloud with each -m text-to-speech model: seconds, audio length, real-time factor, cost per
    1,000 characters, and how well the bundled Whisper understood it (round-trip WER)."""
    try:
        specs = load_specs(models_file)
        results = speak_compare(text, model, specs=specs, payer=SpeechPayer(store=Store()))
    except (SpecError, UsageError) as exc:
        raise fail_usage(str(exc)) from exc
    written = _write(out_dir, results) if out_dir is not None else {}
    if as_json:
        for result in results:
            print(json.dumps({**result.to_json(), "file": written.get(result.model)}))
    else:
        _print_speech(results, written)
        print_kept(out, results[0].run_id)
    raise typer.Exit(EXIT_OK if all(r.ok for r in results) else EXIT_FAILED)


def _write(folder: Path, results: list[SpeechResult]) -> dict[str, str]:
    """Each reading as <folder>/<model>.wav; the paths written, by model."""
    return write_outputs(folder, {r.model: (r.speech.wav, "wav") for r in results if r.speech}, err)


def _print_speech(results: list[SpeechResult], written: dict[str, str]) -> None:
    """The figures table, then what the listener heard in each voice, as plain text."""
    headers = ["model", "seconds", "audio s", "RTF", "round-trip WER", "cost / 1k chars", "price source"]
    rows = [
        [
            r.model,
            figure_cell(r.seconds),
            figure_cell(r.audio_seconds),
            figure_cell(r.rtf, 3),
            figure_cell(r.intelligibility.wer if r.intelligibility else None, 3),
            money_cell(r.cost_per_1k_chars, r.cost_source),
            r.cost_source,
        ]
        for r in results
        if r.ok
    ]
    if rows:
        print_table(out, headers, rows, keys=["model"], rank=["RTF", "round-trip WER", "audio s", "seconds"])
    for r in results:
        if not r.ok:
            err.print(f"{r.model} failed: {r.error}", soft_wrap=True, markup=False)
            continue
        out.print(f"{r.model} heard as: {r.heard if r.heard is not None else '(not heard)'}", markup=False)
        if r.model in written:
            out.print(f"  written to {written[r.model]}", markup=False)


def transcribe_eval_command(
    labelled: Annotated[
        Path | None,
        typer.Argument(
            metavar="[CSV]",
            help="A CSV with columns file and reference, its audio files beside it (default: the shipped "
            "samples, synthetic speech).",
        ),
    ] = None,
    model: ModelKeys = (),
    models_file: ModelsFile = None,
    as_json: AsJson = False,
) -> None:
    """Evaluate each -m speech-to-text model on a labelled set: mean WER and CER with 95% intervals,
    median real-time factor, the set's cost, and the files a model failed."""
    try:
        specs = load_specs(models_file)
        items = read_set(labelled) if labelled is not None else shipped_set()
        result = evaluate_transcribers(items, model, specs=specs, payer=SpeechPayer(store=Store()))
    except OSError as exc:
        raise fail_usage(f"cannot read {labelled}: {exc.strerror}") from exc
    except (SpecError, UsageError) as exc:
        raise fail_usage(str(exc)) from exc
    if as_json:
        for summary in result.summaries:
            print(json.dumps(_summary_json(summary)))
    else:
        _print_evaluation(result, len(items))
    raise typer.Exit(EXIT_OK if not any(s.failed for s in result.summaries) else EXIT_FAILED)


def _summary_json(summary: TranscriberSummary) -> dict[str, object]:
    """One model's figures over the set, JSON-ready (money as a decimal string)."""

    return {
        "model": summary.model,
        "wer": summary.wer and summary.wer.to_json(),
        "cer": summary.cer and summary.cer.to_json(),
        "rtf_p50": summary.rtf_p50,
        "cost_usd": None if summary.cost_usd is None else str(summary.cost_usd),
        "cost_source": summary.cost_source,
        "failed": list(summary.failed),
    }


def _print_evaluation(result: SpeechEvaluation, files: int) -> None:
    """One row per model: WER and CER with their intervals, speed, cost, failures."""
    out.print(f"{files} files; WER and CER: means with 95% intervals (Student's t)", markup=False)
    rows = result.table_rows()
    headers = list(rows[0]) if rows else []
    print_table(
        out, headers, [list(r.values()) for r in rows], keys=["model"], rank=["WER", "CER", "RTF p50"]
    )
