"""Audio files as the speech adapters and the speech service read them: decoded by PyAV (through
`faster_whisper.decode_audio`, which bundles FFmpeg: wav, flac, mp3, ogg, webm, m4a), never by hand.

Whisper hears 16 kHz mono, so that is what a file is decoded to; its length in seconds comes from there.
"""

from __future__ import annotations

import io
import wave
from typing import Any

from providers.errors import BadAudioError

SAMPLE_RATE = 16_000  # what Whisper models take; decode_audio resamples and downmixes to it


def decode(audio: bytes, filename: str) -> Any:
    """The file as float32 samples at 16 kHz mono (a numpy array); BadAudioError naming the file when it
    is empty, not audio, corrupt, or holds no sound."""
    if not audio:
        raise BadAudioError(f"{filename} is empty (0 bytes)")
    from faster_whisper import decode_audio

    try:
        samples = decode_audio(io.BytesIO(audio), sampling_rate=SAMPLE_RATE)
    except Exception as exc:  # noqa: BLE001 - PyAV raises many kinds (InvalidDataError, EOFError, ...)
        raise BadAudioError(f"{filename} could not be read as audio ({type(exc).__name__})") from exc
    if len(samples) == 0:
        raise BadAudioError(f"{filename} holds no sound (0 samples)")
    return samples


def seconds_of(samples: Any) -> float:
    """The length of decoded samples (from `decode`) in seconds."""
    return len(samples) / SAMPLE_RATE


def wav_facts(wav: bytes) -> tuple[int, float]:
    """(sample rate, seconds) of a whole WAV file, counted from its data: a streamed WAV's header may
    give a placeholder length. BadAudioError when it is not a WAV file."""
    try:
        with wave.open(io.BytesIO(wav), "rb") as reader:
            rate, width, channels = reader.getframerate(), reader.getsampwidth(), reader.getnchannels()
            data = reader.readframes(reader.getnframes())
    except (wave.Error, EOFError) as exc:
        raise BadAudioError(f"the speech is not a WAV file: {exc}") from exc
    if rate <= 0 or width <= 0 or channels <= 0:
        raise BadAudioError("the speech's WAV header is malformed")
    return rate, len(data) / (rate * width * channels)


def as_wav(data: bytes, name: str) -> bytes:
    """Any audio file PyAV reads (FLAC, WAV, MP3, OGG, ... as a hosted speech model sends it) as a whole
    16-bit mono WAV file at its own sample rate, so every speech result is one format the page plays and
    `wav_facts` measures; BadAudioError naming `name` when it is empty, not audio, or holds no sound.
    Decoded by PyAV (as `decode` is, through faster-whisper); the WAV container is written by `wave`."""
    if not data:
        raise BadAudioError(f"{name} is empty (0 bytes)")
    import av

    try:
        with av.open(io.BytesIO(data), metadata_errors="ignore") as container:
            stream = container.streams.audio[0]  # IndexError: no audio stream at all
            rate = stream.codec_context.sample_rate or stream.rate
            resampler = av.AudioResampler(format="s16", layout="mono", rate=rate)
            pcm = bytearray()
            for frame in [*container.decode(stream), None]:  # None flushes the resampler
                for out in resampler.resample(frame):
                    pcm += out.to_ndarray().tobytes()
    except Exception as exc:  # noqa: BLE001 - PyAV raises many kinds (InvalidDataError, EOFError, ...)
        raise BadAudioError(f"{name} could not be read as audio ({type(exc).__name__})") from exc
    if not pcm or not rate:
        raise BadAudioError(f"{name} holds no sound (0 samples)")
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as writer:
        writer.setnchannels(1)
        writer.setsampwidth(2)
        writer.setframerate(rate)
        writer.writeframes(bytes(pcm))
    return buffer.getvalue()
