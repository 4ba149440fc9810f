"""Hugging Face Inference Providers, dedicated Inference Endpoints and TGI, via huggingface_hub."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

import numpy as np

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
from providers.http_errors import body_or_reason
from providers.snippet_text import curl_text, kwargs_text

if TYPE_CHECKING:
    import httpx2

    from providers.egress import EgressPolicy

ROUTER_URL = "https://router.huggingface.co/v1"

R = TypeVar("R")


class HuggingFaceProvider:
    """Streams `InferenceClient.chat_completion`; `base_url` targets an endpoint or TGI by URL."""

    name: ClassVar[str] = "huggingface"
    tasks: ClassVar[tuple[Task, ...]] = ("chat", "embeddings", "image-to-text")
    accepts: ClassVar[tuple[str, ...]] = SAMPLING_PARAMS
    sees_images: ClassVar[bool] = True  # a request's images go as image_url parts (vision chat)
    runs_locally: ClassVar[bool] = False
    price_id: ClassVar[str | None] = None  # routed to many providers: matched by model name

    @classmethod
    def snippet(cls, target: CallTarget, request: ChatRequest) -> Snippet:
        """`huggingface_hub.InferenceClient` and curl to the router (or the endpoint's URL)."""
        key_env = target.key_env or "HF_TOKEN"
        values = {"messages": request.openai_messages(), **request.sampling()}
        if not target.base_url:
            values = {"model": target.model, **values}
        python = cls.snippet_client(target) + (
            f"response = client.chat_completion(\n{kwargs_text(values)})\nprint(response.choices[0].message.content)\n"
        )
        url = f"{target.base_url}/chat/completions" if target.base_url else f"{ROUTER_URL}/chat/completions"
        payload = {"model": target.model, "messages": request.openai_messages(), **request.sampling()}
        return Snippet(python, curl_text(url, f'-H "Authorization: Bearer ${key_env}"', payload))

    @classmethod
    def snippet_client(cls, target: CallTarget) -> str:
        """Python that builds the InferenceClient for `target` (its key from the environment): the head of
        every snippet of this provider, chat, speech or pictures."""
        where = (
            f"base_url={target.base_url!r}"
            if target.base_url
            else f"provider={target.hf_provider or 'auto'!r}"
        )
        key = f"os.environ[{(target.key_env or 'HF_TOKEN')!r}]"
        return f"import os\nfrom huggingface_hub import InferenceClient\n\nclient = InferenceClient({where}, api_key={key})\n"

    def __init__(
        self,
        *,
        model: str,
        api_key: str | None,
        base_url: str | None = None,
        hf_provider: str | None = None,
        timeout_s: float = 60.0,
        visitor_url: bool = False,
        egress: EgressPolicy | None = None,
    ) -> None:
        self.model = model
        self.api_key = api_key or ""
        self.base_url = base_url
        self.hf_provider = hf_provider
        self.timeout_s = timeout_s
        self.visitor_url = visitor_url  # its error bodies are not shown (see OpenAIProvider)
        # A user's endpoint URL in hosted mode: checked, then called through a guarded client (see
        # OpenAIProvider). The router (no base_url) is not a URL anyone typed.
        self.egress = egress

    def prepare(self) -> None:
        """Import huggingface_hub now, outside the timed call (a client is built per call); a user's URL
        the server may not call is refused here already."""
        import huggingface_hub.inference._client  # noqa: F401

        self._check_url()

    def _check_url(self) -> None:
        """Refuse (EgressRefusedError) a user's endpoint URL the egress policy forbids."""
        if self.egress is not None and self.base_url:
            self.egress.check_url(self.base_url)

    def count_tokens(self, request: ChatRequest) -> int | None:
        """Hosted models: no local tokenizer; the runner estimates with tiktoken."""
        return None

    def _client(self) -> Any:
        """An InferenceClient on an httpx client of this call's own: the egress-guarded one for a user's
        URL in hosted mode, else a plain one. Never huggingface_hub's process-wide session: a cancel closes
        the stream from another thread, and on the shared pool that close could land on a connection the
        pool had already handed to another call (seen as "ReadError: Bad file descriptor" in a call that
        had not been cancelled)."""
        import httpx2

        if self.base_url:
            # Its URL path still falls back to $HF_TOKEN for a blank key, so the header is blanked
            # explicitly too: client headers win over the ones huggingface_hub builds.
            headers = {} if self.api_key else {"authorization": ""}
            options = {"base_url": self.base_url, "api_key": self.api_key, "timeout": self.timeout_s}
            if self.egress is None:
                return _own_client_type()(httpx2.Client(timeout=self.timeout_s), **options, headers=headers)
            self._check_url()
            http = self.egress.http_client(self.timeout_s)
            return _own_client_type()(http, **options, headers=headers)
        return _own_client_type()(
            httpx2.Client(timeout=self.timeout_s),
            provider=self.hf_provider or "auto",
            api_key=self.api_key,
            timeout=self.timeout_s,
        )

    def stream(self, request: ChatRequest, cancel: CancelToken) -> Iterator[Chunk]:
        """Yield text deltas, then usage when reported, then the finish reason."""
        if request.is_completion:
            raise errors.BadRequestError('the huggingface adapter serves chat models only (task = "chat")')
        client = self._client()
        params: dict[str, Any] = {
            "messages": request.wire_messages(),
            "stream": True,
            "stream_options": {"include_usage": True},
            "max_tokens": request.max_tokens,
            "temperature": request.temperature,
            "top_p": request.top_p,
            "seed": request.seed,
            "stop": list(request.stop) or None,
        }
        if not self.base_url:
            params["model"] = self.model
        try:
            chunks = client.chat_completion(**params)
        except Exception as exc:  # noqa: BLE001 - every failure is mapped
            client.close()  # a refused stream stays open in the client's exit stack otherwise
            raise self._map(exc) from exc
        cancel.on_cancel(client.close)
        yield from relay(chunks, cancel, client.close, self._map)

    def embed(self, texts: Sequence[str]) -> Embedded:
        """Vectors from `feature_extraction`, one call per text (routed providers take one input). A model
        that returns one vector per token (not a sentence model) is mean-pooled into one."""

        def each_text(client: Any) -> list[tuple[float, ...]]:
            vectors = []
            for text in texts:
                array = np.asarray(client.feature_extraction(text, model=self._model_arg()), dtype=np.float32)
                while array.ndim > 1:  # [tokens, dims] or [1, tokens, dims]: average the tokens
                    array = array.mean(axis=0)
                vectors.append(tuple(float(x) for x in array))
            return vectors

        vectors = self._call(each_text)
        if len({len(v) for v in vectors}) > 1:
            raise errors.BadResponseError("the vectors came back with different sizes")
        return Embedded(tuple(vectors), None)

    def _model_arg(self) -> str | None:
        """The `model` argument of a task call: none for an endpoint URL (the client's base_url is the
        model), else the model id the router serves."""
        return None if self.base_url else self.model

    def _call(self, work: Callable[[Any], R]) -> R:
        """`work(client)` on a fresh client (guarded for a user's URL in hosted mode), every failure
        mapped to the project's errors and the client closed: the one way each task's call is made."""
        client = self._client()
        try:
            return work(client)
        except errors.ProviderError:
            raise
        except Exception as exc:  # noqa: BLE001 - every failure is mapped
            raise self._map(exc) from exc
        finally:
            client.close()

    def _map(self, exc: Exception) -> errors.ProviderError:
        return redacted(map_hf_error(exc, show_body=not self.visitor_url), self.api_key)


@functools.cache
def _own_client_type() -> type:
    """InferenceClient whose requests go through a given httpx2 client (the call's own: egress-guarded for a
    user's URL).

    huggingface_hub sends every request through one process-wide client (`get_session()`, configurable
    only for the whole process with `set_client_factory`: huggingface/huggingface_hub#3328), so a
    per-call client means replacing the one method that sends, `_inner_post`. URL building, headers,
    the payload and the stream parsing stay huggingface_hub's. Built on first use: the import is heavy."""
    from huggingface_hub import InferenceClient
    from huggingface_hub.errors import InferenceTimeoutError
    from huggingface_hub.inference._common import TASKS_EXPECTING_IMAGES
    from huggingface_hub.utils import hf_raise_for_status

    class GuardedInferenceClient(InferenceClient):
        def __init__(self, http: httpx2.Client, **options: Any) -> None:
            super().__init__(**options)
            self._http = http

        def _inner_post(self, request_parameters: Any, *, stream: bool = False) -> Any:
            import httpx2

            # As huggingface_hub's own _inner_post does: an image task asks for a PNG.
            if (
                request_parameters.task in TASKS_EXPECTING_IMAGES
                and "Accept" not in request_parameters.headers
            ):
                request_parameters.headers["Accept"] = "image/png"
            response_cm = self._http.stream(
                "POST",
                request_parameters.url,
                json=request_parameters.json,
                content=request_parameters.data,
                headers=request_parameters.headers,
                cookies=self.cookies,
                timeout=self.timeout,
            )
            try:
                if stream:
                    response = self.exit_stack.enter_context(response_cm)
                    _refuse_redirect(response)
                    hf_raise_for_status(response)
                    return response.iter_lines()
                with response_cm as response:
                    _refuse_redirect(response)
                    hf_raise_for_status(response)
                    return response.read()
            except httpx2.TimeoutException as exc:
                raise InferenceTimeoutError(f"Inference call timed out: {request_parameters.url}") from exc

        def close(self) -> None:
            super().close()
            self._http.close()

    return GuardedInferenceClient


def _refuse_redirect(response: httpx2.Response) -> None:
    # hf_raise_for_status lets 3xx pass (to match `requests`), so a redirect the guarded client did not
    # follow would read as an empty answer. Only the status is named: the Location is the server's text.
    status = response.status_code
    if 300 <= status < 400:
        raise errors.status_error(status, body_or_reason(None, status, show_body=False))


def map_hf_error(exc: Exception, *, show_body: bool = True) -> errors.ProviderError:
    """Map a huggingface_hub / httpx exception to the project's error types."""
    from huggingface_hub.errors import HfHubHTTPError, InferenceTimeoutError

    if isinstance(exc, errors.ProviderError):
        return exc
    if isinstance(exc, InferenceTimeoutError):
        return errors.DeadlineExceededError("the server did not answer in time")
    if isinstance(exc, HfHubHTTPError) and exc.response is not None:
        response = exc.response
        retry_after = errors.parse_retry_after(response.headers.get("retry-after"))
        try:
            body = response.text
        except Exception:  # noqa: BLE001 - a streamed body that was not read
            try:
                body = response.read().decode("utf-8", "replace")
            except Exception:  # noqa: BLE001
                body = str(exc).splitlines()[0]
        reason = body_or_reason(body, response.status_code, show_body)
        return errors.status_error(response.status_code, reason, retry_after=retry_after)
    if isinstance(exc, json.JSONDecodeError | ValueError | KeyError | TypeError | AttributeError):
        return errors.BadResponseError(f"malformed stream: {type(exc).__name__}: {exc}")
    name = type(exc).__name__
    if "Timeout" in name:
        return errors.DeadlineExceededError(f"the server did not answer in time ({name})")
    if isinstance(exc, OSError) or "Connect" in name or "Remote" in name or "Protocol" in name:
        return errors.ConnectionFailedError(f"connection failed: {name}: {exc}")
    return errors.BadResponseError(f"unexpected failure: {name}: {exc}")
