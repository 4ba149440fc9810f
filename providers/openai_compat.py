"""OpenAI and every OpenAI-compatible server (vLLM, Ollama, LM Studio, llama.cpp, Groq, ...), and Azure."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from providers import errors
from providers.base import (
    SAMPLING_PARAMS,
    CallTarget,
    CancelToken,
    ChatRequest,
    Chunk,
    Embedded,
    Snippet,
    Task,
)
from providers.chat_stream import redacted, relay
from providers.http_errors import body_or_reason, short_body
from providers.snippet_text import curl_text, kwargs_text

if TYPE_CHECKING:
    from providers.egress import EgressPolicy

DEFAULT_AZURE_API_VERSION = "2024-10-21"
# Assumed seconds to establish a connection; the whole call is bounded by the runner's deadline.
CONNECT_TIMEOUT_S = 10.0


class OpenAIProvider:
    """Streams chat (or text) completions through the official `openai` SDK."""

    name: ClassVar[str] = "openai"
    tasks: ClassVar[tuple[Task, ...]] = ("chat", "completion", "embeddings", "image-to-text")
    accepts: ClassVar[tuple[str, ...]] = SAMPLING_PARAMS
    sees_images: ClassVar[bool] = True  # a request's images go as image_url parts (vision chat)
    # Its API has fine-tuning jobs (files + fine_tuning.jobs: providers/openai_tuning.py); a spec says which
    # of its models may be tuned (`fine_tunable`).
    fine_tunes: ClassVar[bool] = True
    runs_locally: ClassVar[bool] = False
    price_id: ClassVar[str | None] = "openai"  # a base_url elsewhere is matched by URL instead

    @classmethod
    def snippet(cls, target: CallTarget, request: ChatRequest) -> Snippet:
        """The `openai` SDK (any OpenAI-compatible base URL) and curl."""
        head = cls.snippet_client(target)
        url = (target.base_url or "https://api.openai.com/v1").rstrip("/")
        url += "/completions" if request.is_completion else "/chat/completions"
        auth = f'-H "Authorization: Bearer ${target.key_env}"' if target.key_env else ""
        return Snippet(head + _openai_call(target, request), curl_text(url, auth, _payload(target, request)))

    @classmethod
    def snippet_client(cls, target: CallTarget) -> str:
        """Python that builds the SDK client for `target` (its key from the environment): the head of
        every snippet of this provider, chat or speech."""
        key = f"os.environ[{target.key_env!r}]" if target.key_env else '"none"'
        base = f", base_url={target.base_url!r}" if target.base_url else ""
        return f"import os\nfrom openai import OpenAI\n\nclient = OpenAI(api_key={key}{base})\n"

    def __init__(
        self,
        *,
        model: str,
        api_key: str | None,
        base_url: str | None = None,
        timeout_s: float = 60.0,
        visitor_url: bool = False,
        egress: EgressPolicy | None = None,
    ) -> None:
        self.model = model
        self.api_key = api_key or ""
        self.base_url = base_url
        self.timeout_s = timeout_s
        # A URL a visitor supplied: its error bodies are never shown or stored (they could be anything
        # that server reaches), only the status and a reason of our own.
        self.visitor_url = visitor_url
        # A URL a user typed in hosted mode: checked before any request, and called through a guarded
        # client. None: a trusted URL (local mode, the admin's models file), called as before.
        self.egress = egress
        self._client: Any = None
        self._client_lock = threading.Lock()  # many workers may ask for the client at once

    def _user_url(self) -> str | None:
        """The URL a user may have typed: the base URL (None: OpenAI's own API)."""
        return self.base_url

    def _transport_options(self) -> dict[str, Any]:
        """The SDK client's timeout and, for a guarded URL, its HTTP client; refuses a forbidden URL
        (EgressRefusedError) before any client exists."""
        import httpx2

        timeout = httpx2.Timeout(self.timeout_s, connect=min(CONNECT_TIMEOUT_S, self.timeout_s))
        url = self._user_url()
        if self.egress is None or url is None:
            return {"timeout": timeout}
        self.egress.check_url(url)
        return {"timeout": timeout, "http_client": self.egress.http_client(timeout)}

    def _make_client(self) -> Any:
        import openai

        return openai.OpenAI(
            api_key=self.api_key,
            base_url=self.base_url,
            # Explicit values so nothing is read from the server's environment
            # (OPENAI_ORG_ID, OPENAI_PROJECT_ID, OPENAI_ADMIN_KEY) and sent to a user's URL.
            organization="",
            project="",
            admin_api_key="",
            max_retries=0,  # the runner retries, and only before the first token
            **self._transport_options(),
        )

    @property
    def client(self) -> Any:
        """The SDK client, built on first use."""
        with self._client_lock:
            if self._client is None:
                self._client = self._make_client()
            return self._client

    def prepare(self) -> None:
        """Build the SDK client now, outside the timed call."""
        _ = self.client

    def count_tokens(self, request: ChatRequest) -> int | None:
        """Hosted models: no local tokenizer; the runner estimates with tiktoken."""
        return None

    def _uses_max_completion_tokens(self) -> bool:
        # OpenAI's own API deprecated max_tokens for chat (o-series and gpt-5 refuse it); compatible
        # servers mostly know only max_tokens.
        return self.base_url is None

    def _params(self, request: ChatRequest) -> dict[str, Any]:
        params: dict[str, Any] = {
            "model": self.model,
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        if request.temperature is not None:
            params["temperature"] = request.temperature
        if request.top_p is not None:
            params["top_p"] = request.top_p
        if request.seed is not None:
            params["seed"] = request.seed
        if request.stop:
            params["stop"] = list(request.stop)
        if not self.api_key:
            # A blank key for a user-typed URL sends no Authorization header at all (the SDK
            # otherwise refuses to send a request without credentials).
            import openai

            params["extra_headers"] = {"Authorization": openai.Omit()}
        if request.max_tokens is not None:
            key = (
                "max_completion_tokens"
                if self._uses_max_completion_tokens() and not request.is_completion
                else "max_tokens"
            )
            params[key] = request.max_tokens
        return params

    def _open(self, request: ChatRequest) -> Any:
        params = self._params(request)
        if request.is_completion:
            return self.client.completions.create(prompt=request.raw_text, **params)
        return self.client.chat.completions.create(messages=request.wire_messages(), **params)

    def embed(self, texts: Sequence[str]) -> Embedded:
        """Vectors from the embeddings endpoint (`/v1/embeddings`), in the order of `texts`."""
        params: dict[str, Any] = {"model": self.model, "input": list(texts), "encoding_format": "float"}
        if not self.api_key:
            import openai

            params["extra_headers"] = {"Authorization": openai.Omit()}
        try:
            response = self.client.embeddings.create(**params)
            data = sorted(response.data, key=lambda item: item.index)
            vectors = tuple(tuple(float(x) for x in item.embedding) for item in data)
        except Exception as exc:  # noqa: BLE001 - every SDK failure (and a malformed answer) is mapped
            raise self._map(exc) from exc
        if len(vectors) != len(texts) or len({len(v) for v in vectors}) > 1:
            raise errors.BadResponseError(f"asked for {len(texts)} vectors of one size; got {len(vectors)}")
        usage = getattr(response, "usage", None)
        return Embedded(vectors, getattr(usage, "prompt_tokens", None))

    def stream(self, request: ChatRequest, cancel: CancelToken) -> Iterator[Chunk]:
        """Yield text deltas, then usage (when the server reports it) and the finish reason."""
        try:
            sdk_stream = self._open(request)
        except Exception as exc:  # noqa: BLE001 - every SDK failure is mapped below
            raise self._map(exc) from exc
        cancel.on_cancel(sdk_stream.close)
        yield from relay(sdk_stream, cancel, sdk_stream.close, self._map)

    def _map(self, exc: Exception) -> errors.ProviderError:
        return redacted(map_openai_error(exc, show_body=not self.visitor_url), self.api_key)


def map_openai_error(exc: Exception, *, show_body: bool = True) -> errors.ProviderError:
    """Map an `openai` SDK exception (or a stream failure) to the project's error types; without
    `show_body`, no text of the server's reaches the message (a URL a visitor supplied)."""
    import openai

    if isinstance(exc, errors.ProviderError):
        return exc
    if isinstance(exc, openai.APITimeoutError):
        return errors.DeadlineExceededError("the server did not answer in time")
    if isinstance(exc, openai.APIConnectionError):
        cause = exc.__cause__ or exc
        return errors.ConnectionFailedError(f"could not connect: {type(cause).__name__}: {cause}")
    if isinstance(exc, openai.APIStatusError):
        response = exc.response
        retry_after = errors.parse_retry_after(response.headers.get("retry-after"))
        try:
            body: object = exc.body if exc.body is not None else response.text
        except Exception:  # noqa: BLE001 - a streamed body may not be readable any more
            body = exc.message
        reason = body_or_reason(body, response.status_code, show_body)
        return errors.status_error(response.status_code, reason, retry_after=retry_after)
    if isinstance(exc, openai.APIResponseValidationError):
        return errors.BadResponseError(f"response did not match the API schema: {exc.message}")
    if isinstance(exc, openai.APIError):
        detail = (
            (short_body(exc.body) or exc.message) if show_body else "details not shown for a URL you supplied"
        )
        return errors.BadResponseError(f"error in the stream: {detail}")
    if isinstance(exc, json.JSONDecodeError | ValueError | KeyError | TypeError | AttributeError):
        return errors.BadResponseError(f"malformed stream: {type(exc).__name__}: {exc}")
    if isinstance(exc, OSError):
        return errors.ConnectionFailedError(f"connection failed: {type(exc).__name__}: {exc}")
    name = type(exc).__name__
    if "Timeout" in name:
        return errors.DeadlineExceededError(f"the server did not answer in time ({name})")
    if "Remote" in name or "Protocol" in name or "Connect" in name or "Read" in name:
        return errors.ConnectionFailedError(f"the connection broke: {name}: {exc}")
    return errors.BadResponseError(f"unexpected failure: {name}: {exc}")


class AzureOpenAIProvider(OpenAIProvider):
    """Azure OpenAI: the same wire format, addressed by endpoint, API version and deployment."""

    name: ClassVar[str] = "azure"
    price_id: ClassVar[str | None] = "azure"

    @classmethod
    def snippet(cls, target: CallTarget, request: ChatRequest) -> Snippet:
        """The `openai` SDK's AzureOpenAI client and curl; endpoint and key from the environment."""
        version = target.api_version or DEFAULT_AZURE_API_VERSION
        key_env, endpoint_env = _azure_envs(target)
        head = cls.snippet_client(target)
        path = f"/openai/deployments/{target.model}/chat/completions?api-version={version}"
        payload = {"messages": request.openai_messages(), **request.sampling()}
        curl = curl_text(path, f'-H "api-key: ${key_env}"', payload, base_env=endpoint_env)
        return Snippet(head + _openai_call(target, request), curl)

    @classmethod
    def snippet_client(cls, target: CallTarget) -> str:
        """Python that builds the AzureOpenAI client for `target`: endpoint and key from the environment."""
        version = target.api_version or DEFAULT_AZURE_API_VERSION
        key_env, endpoint_env = _azure_envs(target)
        return (
            "import os\nfrom openai import AzureOpenAI\n\nclient = AzureOpenAI(\n"
            f"    api_key=os.environ[{key_env!r}],\n    azure_endpoint=os.environ[{endpoint_env!r}],\n"
            f"    api_version={version!r},\n)\n"
        )

    def __init__(
        self,
        *,
        deployment: str,
        api_key: str | None,
        endpoint: str,
        api_version: str,
        timeout_s: float = 60.0,
        visitor_url: bool = False,
        egress: EgressPolicy | None = None,
    ) -> None:
        super().__init__(
            model=deployment,
            api_key=api_key,
            base_url=None,
            timeout_s=timeout_s,
            visitor_url=visitor_url,
            egress=egress,
        )
        self.endpoint = endpoint
        self.api_version = api_version

    def _user_url(self) -> str | None:
        return self.endpoint

    def _make_client(self) -> Any:
        import openai

        return openai.AzureOpenAI(
            api_key=self.api_key,
            azure_endpoint=self.endpoint,
            api_version=self.api_version,
            # As for OpenAI: nothing read from the server's environment (OPENAI_ORG_ID, OPENAI_PROJECT_ID)
            # is sent, to an endpoint a visitor may have typed (a probe caught both headers).
            organization="",
            project="",
            max_retries=0,
            **self._transport_options(),
        )

    def _uses_max_completion_tokens(self) -> bool:
        return True


def _openai_call(target: CallTarget, request: ChatRequest) -> str:
    """The SDK call and print, for chat or text completion."""
    if request.is_completion:
        values = {"model": target.model, "prompt": request.raw_text, **request.sampling()}
        return f"response = client.completions.create(\n{kwargs_text(values)})\nprint(response.choices[0].text)\n"
    values = {"model": target.model, "messages": request.openai_messages(), **request.sampling()}
    return (
        f"response = client.chat.completions.create(\n{kwargs_text(values)})\n"
        "print(response.choices[0].message.content)\n"
    )


def _payload(target: CallTarget, request: ChatRequest) -> dict[str, Any]:
    body: dict[str, Any] = {"model": target.model, **request.sampling()}
    if request.is_completion:
        body["prompt"] = request.raw_text
    else:
        body["messages"] = request.openai_messages()
    return body


def _azure_envs(target: CallTarget) -> tuple[str, str]:
    """The variables holding an Azure model's key and endpoint."""
    return target.key_env or "AZURE_OPENAI_API_KEY", target.endpoint_env or "AZURE_OPENAI_ENDPOINT"
