"""Speech through OpenAI's audio endpoints (and Azure OpenAI's, the same wire format), with the official
`openai` SDK: `/v1/audio/transcriptions` (a file in, `{"text": ...}` out) and `/v1/audio/speech` (text
in, audio bytes out, asked for as WAV). Clients, keys, egress guard and error mapping are the chat
adapter's own (providers/openai_compat.py): one class per (provider, task), on the same base.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, ClassVar

from providers import audio, errors
from providers.base import CallTarget, CancelToken, ChatRequest, Chunk, Snippet, Speech, Task, Transcript
from providers.openai_compat import AzureOpenAIProvider, OpenAIProvider

DEFAULT_VOICE = "alloy"  # a spec's `params.voice` chooses another


class _Transcribing:
    """`transcribe` for an OpenAI-shaped client (mixed into the OpenAI and Azure adapters)."""

    tasks: ClassVar[tuple[Task, ...]] = ("speech-to-text",)
    accepts: ClassVar[tuple[str, ...]] = ()
    client: Any
    model: str
    api_key: str
    _map: Any  # the chat adapter's error mapping (openai_compat.OpenAIProvider._map)

    def transcribe(self, audio_file: bytes, filename: str) -> Transcript:
        """The text the server heard in the file (response_format json); mapped ProviderErrors."""
        try:
            response = self.client.audio.transcriptions.create(
                model=self.model,
                file=(filename, audio_file),
                response_format="json",
                **_omit_key_header(self.api_key),
            )
            text = response.text
        except Exception as exc:  # noqa: BLE001 - every SDK failure (and a malformed answer) is mapped
            raise self._map(exc) from exc
        if not isinstance(text, str):
            raise errors.BadResponseError("the transcription has no text")
        usage = getattr(response, "usage", None)
        seconds = getattr(usage, "seconds", None) if getattr(usage, "type", None) == "duration" else None
        return Transcript(text.strip(), float(seconds) if seconds is not None else None)

    @classmethod
    def snippet(cls, target: CallTarget, request: ChatRequest) -> Snippet:
        """The SDK call transcribing a file (`request.raw_text`: the file's name; else speech.wav)."""
        python = cls.snippet_client(target) + (  # type: ignore[attr-defined]
            f"with open({(request.raw_text or 'speech.wav')!r}, 'rb') as audio:\n"
            f"    print(client.audio.transcriptions.create(model={target.model!r}, file=audio).text)\n"
        )
        return Snippet(python, None)

    def stream(self, request: ChatRequest, cancel: CancelToken) -> Iterator[Chunk]:
        """A transcription model answers no prompt."""
        raise errors.BadRequestError("a speech-to-text model answers no prompt: give it an audio file")


class _Speaking:
    """`speak` for an OpenAI-shaped client (mixed into the OpenAI and Azure adapters)."""

    tasks: ClassVar[tuple[Task, ...]] = ("text-to-speech",)
    accepts: ClassVar[tuple[str, ...]] = ()
    client: Any
    model: str
    api_key: str
    voice: str
    _map: Any  # the chat adapter's error mapping (openai_compat.OpenAIProvider._map)

    def speak(self, text: str) -> Speech:
        """`text` read aloud by the spec's voice, as a WAV file; mapped ProviderErrors."""
        try:
            response = self.client.audio.speech.create(
                model=self.model,
                voice=self.voice,
                input=text,
                response_format="wav",
                **_omit_key_header(self.api_key),
            )
            wav = response.read()
        except Exception as exc:  # noqa: BLE001 - every SDK failure is mapped
            raise self._map(exc) from exc
        rate, seconds = audio.wav_facts(wav)
        return Speech(wav, rate, seconds)

    @classmethod
    def snippet(cls, target: CallTarget, request: ChatRequest) -> Snippet:
        """The SDK call writing the speech to a file."""
        text = request.raw_text or (request.messages[-1].content if request.messages else "")
        python = cls.snippet_client(target) + (  # type: ignore[attr-defined]
            f"speech = client.audio.speech.create(model={target.model!r}, voice={DEFAULT_VOICE!r}, "
            f"input={text!r}, response_format='wav')\n"
            "speech.write_to_file('speech.wav')\n"
        )
        return Snippet(python, None)

    def stream(self, request: ChatRequest, cancel: CancelToken) -> Iterator[Chunk]:
        """A text-to-speech model answers no prompt with text."""
        raise errors.BadRequestError("a text-to-speech model answers no prompt: it reads text aloud")


def _omit_key_header(api_key: str) -> dict[str, Any]:
    """No Authorization header at all for a server that needs no key (as `OpenAIProvider.embed` does)."""
    if api_key:
        return {}
    import openai

    return {"extra_headers": {"Authorization": openai.Omit()}}


class OpenAITranscriber(_Transcribing, OpenAIProvider):
    """Speech-to-text on OpenAI or an OpenAI-compatible server (whisper-1, gpt-4o-mini-transcribe, ...)."""


class OpenAISpeaker(_Speaking, OpenAIProvider):
    """Text-to-speech on OpenAI or an OpenAI-compatible server (tts-1, gpt-4o-mini-tts, ...)."""

    def __init__(self, *, voice: str = DEFAULT_VOICE, **options: Any) -> None:
        super().__init__(**options)
        self.voice = voice


class AzureTranscriber(_Transcribing, AzureOpenAIProvider):
    """Speech-to-text on an Azure OpenAI whisper deployment."""


class AzureSpeaker(_Speaking, AzureOpenAIProvider):
    """Text-to-speech on an Azure OpenAI tts deployment."""

    def __init__(self, *, voice: str = DEFAULT_VOICE, **options: Any) -> None:
        super().__init__(**options)
        self.voice = voice
