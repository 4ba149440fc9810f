"""Speech and pictures on Hugging Face (Inference Providers through the router, or a dedicated Inference
Endpoint by URL), with the official `huggingface_hub.InferenceClient`: `automatic_speech_recognition`
(the audio file's bytes in, `{"text": ...}` out), `text_to_speech` (text in, audio bytes out: FLAC, WAV,
... made a WAV here) and `text_to_image` (a prompt in, a picture out). Vision chat is the chat adapter's own
(`HuggingFaceProvider.stream` sends a request's images as image_url parts).

The client, the key handling, the egress guard for a user's URL in hosted mode and the error mapping are
the chat adapter's (providers/huggingface.py, `HuggingFaceProvider._call`): one class per (provider, task),
on the same base, as providers/openai_speech.py does for OpenAI.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, ClassVar

from providers import audio, errors, pictures
from providers.base import (
    CallTarget,
    CancelToken,
    ChatRequest,
    Chunk,
    Picture,
    Snippet,
    Speech,
    Task,
    Transcript,
)
from providers.huggingface import HuggingFaceProvider

SNIPPET_SIZE = 1024  # the picture a "View code" snippet asks for (the images service's default size)


class _HuggingFaceMedia(HuggingFaceProvider):
    """What the speech and image classes share beyond the chat adapter: they answer no prompt, and
    genai-prices holds no per-minute, per-character or per-image price of Hugging Face's (its huggingface_*
    providers price tokens): such a call is priced by the models file or unknown, never matched by name to
    another provider's model of the same name."""

    accepts: ClassVar[tuple[str, ...]] = ()
    sees_images: ClassVar[bool] = False
    priced_by_genai: ClassVar[bool] = False
    instead: ClassVar[str] = ""  # what the model does instead of answering a prompt (for the refusal)

    @classmethod
    def _snippet_call(cls, target: CallTarget, method: str, first: str, *options: str) -> str:
        """`client.<method>(<first>, <options>..., model=...)`: the model named only for the router (an
        endpoint's URL is the client's base_url)."""
        named = [*options, *([] if target.base_url else [f"model={target.model!r}"])]
        return f"client.{method}({', '.join([first, *named])})"

    def stream(self, request: ChatRequest, cancel: CancelToken) -> Iterator[Chunk]:
        """A speech or image model answers no prompt with text."""
        raise errors.BadRequestError(f"a {self.tasks[0]} model answers no prompt: {self.instead}")


class HuggingFaceTranscriber(_HuggingFaceMedia):
    """Speech-to-text on Hugging Face (openai/whisper-large-v3 on hf-inference, an ASR endpoint, ...)."""

    tasks: ClassVar[tuple[Task, ...]] = ("speech-to-text",)
    instead: ClassVar[str] = "give it an audio file"

    def transcribe(self, audio_file: bytes, filename: str) -> Transcript:
        """The text the model heard: the file's bytes posted as they are (huggingface_hub's raw-bytes
        request; a str would be read as a path or fetched as a URL, so only bytes are ever passed)."""
        output = self._call(
            lambda client: client.automatic_speech_recognition(audio_file, model=self._model_arg())
        )
        text = getattr(output, "text", None)
        if not isinstance(text, str):
            raise errors.BadResponseError("the transcription has no text")
        return Transcript(text.strip())  # the API reports no audio length: the service measured it

    @classmethod
    def snippet(cls, target: CallTarget, request: ChatRequest) -> Snippet:
        """The SDK call transcribing a file (`request.raw_text`: the file's name; else speech.wav)."""
        call = cls._snippet_call(target, "automatic_speech_recognition", "audio.read()")
        python = cls.snippet_client(target) + (
            f"with open({(request.raw_text or 'speech.wav')!r}, 'rb') as audio:\n    print({call}.text)\n"
        )
        return Snippet(python, None)


class HuggingFaceSpeaker(_HuggingFaceMedia):
    """Text-to-speech on Hugging Face (a TTS model on an Inference Provider, a TTS endpoint, ...)."""

    tasks: ClassVar[tuple[Task, ...]] = ("text-to-speech",)
    instead: ClassVar[str] = "it reads text aloud"

    def speak(self, text: str) -> Speech:
        """`text` read aloud, the server's audio (often FLAC) made a whole WAV by PyAV; BadAudioError naming
        the model when its answer is not audio."""
        sound = self._call(lambda client: client.text_to_speech(text, model=self._model_arg()))
        if not isinstance(sound, bytes):
            raise errors.BadResponseError("the speech answer holds no audio")
        wav = audio.as_wav(sound, f"{self.model}'s speech")
        rate, seconds = audio.wav_facts(wav)
        return Speech(wav, rate, seconds)

    @classmethod
    def snippet(cls, target: CallTarget, request: ChatRequest) -> Snippet:
        """The SDK call writing the speech to a file named by its format (the server chooses it)."""
        text = request.raw_text or (request.messages[-1].content if request.messages else "")
        python = cls.snippet_client(target) + (
            f"speech = {cls._snippet_call(target, 'text_to_speech', repr(text))}\n"
            "kind = {b'fLaC': 'flac', b'RIFF': 'wav', b'OggS': 'ogg'}.get(speech[:4], 'mp3')\n"
            "open(f'speech.{kind}', 'wb').write(speech)\n"
        )
        return Snippet(python, None)


class HuggingFacePainter(_HuggingFaceMedia):
    """Text-to-image on Hugging Face (black-forest-labs/FLUX.1-schnell on an Inference Provider, a
    diffusion endpoint, ...)."""

    tasks: ClassVar[tuple[Task, ...]] = ("text-to-image",)
    instead: ClassVar[str] = "it paints one"

    def paint(self, prompt: str, size: str) -> Picture:
        """One picture of `prompt` at `size` ("WIDTHxHEIGHT", asked as width and height), saved as PNG and
        checked by Pillow; BadImageError naming the model when its answer is not a picture."""
        width, height = (int(side) for side in size.split("x"))
        name = f"{self.model}'s picture"

        def one_picture(client: Any) -> bytes:
            from PIL import Image, UnidentifiedImageError

            try:  # the SDK opens the server's bytes with Pillow: an answer that is no image fails there
                image = client.text_to_image(prompt, width=width, height=height, model=self._model_arg())
            except (UnidentifiedImageError, Image.DecompressionBombError) as exc:
                raise errors.BadImageError(f"{name} could not be read as an image") from exc
            return pictures.png_of(image, name)

        data = self._call(one_picture)
        facts = pictures.inspect(data, name)
        return Picture(data, facts.mime, facts.width, facts.height)

    @classmethod
    def snippet(cls, target: CallTarget, request: ChatRequest) -> Snippet:
        """The SDK call saving one picture as picture.png."""
        text = request.messages[-1].content if request.messages else (request.raw_text or "")
        sides = (f"width={SNIPPET_SIZE}", f"height={SNIPPET_SIZE}")
        python = cls.snippet_client(target) + (
            f"{cls._snippet_call(target, 'text_to_image', repr(text), *sides)}.save('picture.png')\n"
        )
        return Snippet(python, None)
