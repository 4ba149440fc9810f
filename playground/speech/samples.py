"""The shipped labelled speech samples: six known sentences read by the bundled Piper voice, as 16 kHz mono
16-bit WAV files in `samples/` with `samples/sentences.tsv` (file, sentence).

They were made once, at build time, by `python -m playground.speech.samples` (Piper's output varies from
run to run, so the files are kept, not remade). Synthetic speech is clean and evenly paced: it flatters
speech-to-text models, so a WER measured on these is a floor, not what real recordings will give.
"""

from __future__ import annotations

import csv
import io
import wave
from dataclasses import dataclass
from pathlib import Path

SAMPLES_DIR = Path(__file__).resolve().parent / "samples"
SENTENCES_FILE = SAMPLES_DIR / "sentences.tsv"
RATE = 16_000  # what Whisper hears; also a third smaller than Piper's 22,050 Hz


@dataclass(frozen=True)
class Sample:
    """One labelled sample: its WAV file's name and bytes, and the sentence spoken in it."""

    name: str
    wav: bytes
    sentence: str


def _sentences() -> list[tuple[str, str]]:
    with SENTENCES_FILE.open(encoding="utf-8", newline="") as handle:
        return [(row["file"], row["sentence"]) for row in csv.DictReader(handle, delimiter="\t")]


def load_samples() -> list[Sample]:
    """Every shipped sample, in the sentences file's order."""
    return [Sample(name, (SAMPLES_DIR / name).read_bytes(), sentence) for name, sentence in _sentences()]


def write_samples() -> None:
    """Read every sentence aloud with the bundled voice and write it as 16 kHz mono WAV (resampled by
    PyAV through faster_whisper.decode_audio)."""
    import numpy as np
    from faster_whisper import decode_audio

    from providers.speech_local import PiperSpeaker

    voice = PiperSpeaker(voice="en_US-joe-medium")
    for name, sentence in _sentences():
        samples = decode_audio(io.BytesIO(voice.speak(sentence).wav), sampling_rate=RATE)
        pcm = (np.clip(samples, -1.0, 1.0) * 32767).astype("<i2").tobytes()
        with wave.open(str(SAMPLES_DIR / name), "wb") as out:
            out.setnchannels(1)
            out.setsampwidth(2)
            out.setframerate(RATE)
            out.writeframes(pcm)


if __name__ == "__main__":
    write_samples()
