"""The one interface every provider adapter implements, and the chunks it yields."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal, Protocol

Role = Literal["system", "user", "assistant"]


@dataclass(frozen=True)
class Message:
    """One chat message."""

    role: Role
    content: str


@dataclass(frozen=True)
class ImageInput:
    """One image a request shows the model: its bytes as read (already checked by providers/pictures.py)
    and their type (image/png, image/jpeg, ...)."""

    data: bytes
    mime: str

    def data_url(self) -> str:
        """The image inline, as OpenAI's chat API takes an `image_url` part: data:<mime>;base64,..."""
        import base64

        return f"data:{self.mime};base64,{base64.b64encode(self.data).decode('ascii')}"


@dataclass(frozen=True)
class ChatRequest:
    """What to send: chat messages, or raw text for base models, plus sampling parameters."""

    # The longest answer asked for when no one says otherwise: the default of the CLI, the Compare page
    # and `Params`, and what a local worker generates for a request without max_tokens. The one place.
    DEFAULT_MAX_TOKENS: ClassVar[int] = 256

    messages: tuple[Message, ...] = ()
    raw_text: str | None = None
    temperature: float | None = None
    top_p: float | None = None
    max_tokens: int | None = None
    seed: int | None = None
    stop: tuple[str, ...] = ()
    # Images shown with the last user message (vision chat); only adapters whose class says
    # `sees_images` send them, and the images service picks only such models.
    images: tuple[ImageInput, ...] = ()

    @property
    def is_completion(self) -> bool:
        """True when this request is plain text completion, not chat."""
        return self.raw_text is not None

    def openai_messages(self) -> list[dict[str, str]]:
        """The messages in the OpenAI chat format that every chat API and chat template here takes."""
        return [{"role": m.role, "content": m.content} for m in self.messages]

    def wire_messages(self) -> list[dict[str, Any]]:
        """`openai_messages`, with the images as `image_url` parts of the last user message (as OpenAI's
        vision chat takes them); without images, the same list."""
        messages: list[dict[str, Any]] = list(self.openai_messages())
        if not self.images:
            return messages
        last_user = max(i for i, m in enumerate(self.messages) if m.role == "user")
        parts: list[dict[str, Any]] = [{"type": "text", "text": self.messages[last_user].content}]
        parts += [{"type": "image_url", "image_url": {"url": image.data_url()}} for image in self.images]
        messages[last_user] = {"role": "user", "content": parts}
        return messages

    def prompt_json(self) -> dict[str, Any]:
        """The prompt as sent, JSON-ready: `{"messages": [...]}` for chat, `{"text": ...}` for completion."""
        if self.raw_text is not None:
            return {"text": self.raw_text}
        return {"messages": self.openai_messages()}

    def sampling(self) -> dict[str, Any]:
        """The sampling parameters that are set, by their API names (stop as a list)."""
        values: dict[str, Any] = {
            "temperature": self.temperature,
            "top_p": self.top_p,
            "max_tokens": self.max_tokens,
            "seed": self.seed,
            "stop": list(self.stop) or None,
        }
        return {k: v for k, v in values.items() if v is not None}


@dataclass(frozen=True)
class TextDelta:
    """A piece of generated text."""

    text: str


@dataclass(frozen=True)
class Usage:
    """Token counts for one call; `source` is "reported" (by the API) or "counted" (model tokenizer)."""

    input_tokens: int
    output_tokens: int
    source: Literal["reported", "counted"] = "reported"


@dataclass(frozen=True)
class Finish:
    """Why generation stopped, as the provider says it (stop, length, ...)."""

    reason: str | None


@dataclass(frozen=True)
class Queued:
    """A call's place in line for a model other calls are using: `ahead` calls go first, and `cooling_s`
    is what is left of a wait the server asked for (429). Queued(0) means its turn has come: the time
    before it was waiting, not latency."""

    ahead: int
    cooling_s: float = 0.0

    @property
    def waiting(self) -> bool:
        """True while the call waits (for calls ahead, or for the server's cooldown)."""
        return bool(self.ahead or self.cooling_s)


Chunk = TextDelta | Usage | Finish | Queued


@dataclass(frozen=True)
class Embedded:
    """Vectors for a batch of texts, in their order, and the input tokens the server reported (None: it
    did not say; a local model counts its own)."""

    vectors: Sequence[Sequence[float]]  # rows of floats (a float32 array from a local model, as it is)
    input_tokens: int | None = None


class EmbeddingModel(Protocol):
    """An adapter that serves the "embeddings" task: texts in, one vector each out. It never times or
    prices: the retrieval service does (rag/embedding.py), as the runner does for chat."""

    runs_locally: ClassVar[bool]

    def prepare(self) -> None:
        """Import the SDK, build the client or load the model, so none of it is timed."""
        ...

    def embed(self, texts: Sequence[str]) -> Embedded:
        """One vector per text, in order; ProviderError subclasses on failure."""
        ...


@dataclass(frozen=True)
class Transcript:
    """What a speech-to-text model heard: its text, and the audio's length as the model measured it or
    its server reported it (None: it did not say)."""

    text: str
    audio_seconds: float | None = None
    language: str | None = None


class Transcriber(Protocol):
    """An adapter that serves the "speech-to-text" task: an audio file in, its text out. It never times or
    prices: the speech service does (playground/speech/), as the runner does for chat."""

    runs_locally: ClassVar[bool]

    def prepare(self) -> None:
        """Import the SDK, build the client or load the model, so none of it is timed."""
        ...

    def transcribe(self, audio: bytes, filename: str) -> Transcript:
        """The words spoken in `audio` (a whole file, any common format, named `filename` for the server
        and for errors); ProviderError subclasses on failure (BadAudioError for a file it cannot read)."""
        ...


@dataclass(frozen=True)
class Speech:
    """Spoken audio: a whole WAV file, its sample rate and its length in seconds."""

    wav: bytes
    sample_rate: int
    seconds: float


@dataclass(frozen=True)
class Picture:
    """A generated image: a whole PNG (or other) file, its type and its size in pixels."""

    data: bytes
    mime: str
    width: int
    height: int


class Painter(Protocol):
    """An adapter that serves the "text-to-image" task: a prompt in, one picture out. It never times or
    prices: the images service does (playground/images/)."""

    runs_locally: ClassVar[bool]

    def prepare(self) -> None:
        """Import the SDK and build the client, so none of it is timed."""
        ...

    def paint(self, prompt: str, size: str) -> Picture:
        """One picture of `prompt`, `size` as "WIDTHxHEIGHT"; ProviderError subclasses on failure
        (BadImageError for an answer that is not an image)."""
        ...


class Speaker(Protocol):
    """An adapter that serves the "text-to-speech" task: text in, a WAV file out. It never times or
    prices: the speech service does."""

    runs_locally: ClassVar[bool]

    def prepare(self) -> None:
        """Import the SDK, build the client or load the voice, so none of it is timed."""
        ...

    def speak(self, text: str) -> Speech:
        """`text` read aloud; ProviderError subclasses on failure."""
        ...


@dataclass
class CancelToken:
    """Lets the runner abort a call from another thread; adapters register how to abort theirs."""

    _event: threading.Event = field(default_factory=threading.Event)
    _callbacks: list[Callable[[], None]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def cancelled(self) -> bool:
        """True once cancel() has been called."""
        return self._event.is_set()

    def on_cancel(self, callback: Callable[[], None]) -> None:
        """Run `callback` on cancel (at once if already cancelled)."""
        with self._lock:
            if not self._event.is_set():
                self._callbacks.append(callback)
                return
        _quietly(callback)

    def cancel(self) -> None:
        """Cancel: set the flag and run every registered abort callback once."""
        with self._lock:
            if self._event.is_set():
                return
            self._event.set()
            callbacks, self._callbacks = self._callbacks, []
        for callback in callbacks:
            _quietly(callback)


def _quietly(callback: Callable[[], None]) -> None:
    # Aborting is best effort: a stream that is already closed may raise on close().
    try:
        callback()
    except Exception:  # noqa: BLE001
        pass


# The sampling parameters of ChatRequest; every adapter here passes all of them on.
SAMPLING_PARAMS = ("temperature", "top_p", "max_tokens", "seed", "stop")

# What a model does: chat and completion (text in, text out, `Provider`), embeddings (`EmbeddingModel`),
# speech-to-text (`Transcriber`), text-to-speech (`Speaker`), image-to-text (a chat `Provider` whose
# requests carry images) and text-to-image (`Painter`).
Task = Literal[
    "chat", "completion", "embeddings", "image-to-text", "text-to-image", "speech-to-text", "text-to-speech"
]


@dataclass(frozen=True)
class CallTarget:
    """Where a call goes, as "View code" writes it out: the variables that hold keys, never a key."""

    model: str
    base_url: str | None = None
    key_env: str | None = None
    endpoint_env: str | None = None
    api_version: str | None = None
    hf_provider: str | None = None
    context_window: int | None = None
    model_file: str | None = None  # local models: the GGUF (a bundled name or a path)
    lora_file: str | None = None  # local models: a GGUF LoRA adapter applied on model_file


@dataclass(frozen=True)
class Snippet:
    """Ready-to-run code repeating one call: Python with the provider's SDK, and curl for HTTP APIs."""

    python: str
    curl: str | None


class Provider(Protocol):
    """A model behind one interface: stream a request, yield chunks; never time or price.

    Each adapter class also declares what it is, once: its provider `name`, the `tasks` it serves, the
    sampling parameters it `accepts`, whether it `runs_locally` (no network, no price), the provider id
    genai-prices knows it by (`price_id`, None: matched by model name), and its `snippet()`.
    """

    name: ClassVar[str]
    tasks: ClassVar[tuple[Task, ...]]
    accepts: ClassVar[tuple[str, ...]]
    runs_locally: ClassVar[bool]
    price_id: ClassVar[str | None]

    @classmethod
    def snippet(cls, target: CallTarget, request: ChatRequest) -> Snippet:
        """Code that repeats `request` against `target`."""
        ...

    def prepare(self) -> None:
        """Import the SDK, build the client or load the model, so none of it is timed as latency."""
        ...

    def stream(self, request: ChatRequest, cancel: CancelToken) -> Iterator[Chunk]:
        """Yield TextDelta chunks, then at most one Usage and one Finish.

        A provider that queues calls (local models) first yields Queued(n) as its place changes, then
        Queued(0) when its turn comes; the runner times TTFT from there and reports the wait apart.
        """
        ...

    def count_tokens(self, request: ChatRequest) -> int | None:
        """Exact input token count with the model's own tokenizer, or None if unknown."""
        ...
