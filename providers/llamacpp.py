"""In-process GGUF models through llama-cpp-python, with exact counts from the model's own tokenizer."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from providers import errors
from providers.base import CancelToken, ChatRequest, Chunk, Finish, TextDelta, Usage
from providers.local_models import gguf_path

# How often a call waiting for a busy model checks whether it was cancelled.
_LOCK_POLL_S = 0.05


@dataclass
class LoadedModel:
    """One loaded Llama, shared by every caller, with the lock that serialises its use."""

    llama: Any
    lock: threading.Lock
    path: Path
    n_ctx: int
    formatter: Any  # Jinja2ChatFormatter from the GGUF's own chat template, or None


_loaded: dict[tuple[Path, int], LoadedModel] = {}
_load_lock = threading.Lock()


def load_model(path: Path, n_ctx: int) -> LoadedModel:
    """Load a GGUF once per (file, context size) and share it; a Llama object is not thread-safe."""
    key = (path.resolve(), n_ctx)
    with _load_lock:
        if key not in _loaded:
            from llama_cpp import Llama

            llama = Llama(
                model_path=str(path),
                n_ctx=n_ctx,
                n_threads=os.cpu_count() or 1,
                verbose=False,
            )
            _loaded[key] = LoadedModel(llama, threading.Lock(), path, n_ctx, _chat_formatter(llama))
        return _loaded[key]


def _chat_formatter(llama: Any) -> Any:
    template = llama.metadata.get("tokenizer.chat_template")
    if not template:
        return None
    from llama_cpp.llama_chat_format import Jinja2ChatFormatter

    vocab = llama._model  # token text lookups, as Llama.__init__ does for its own handlers
    eos_id, bos_id = llama.token_eos(), llama.token_bos()
    eos = vocab.token_get_text(eos_id) if eos_id != -1 else ""
    bos = vocab.token_get_text(bos_id) if bos_id != -1 else ""
    return Jinja2ChatFormatter(template=template, eos_token=eos, bos_token=bos, stop_token_ids=[eos_id])


class LlamaCppProvider:
    """A local GGUF model; chat uses the GGUF's own chat template, completion sends raw text."""

    in_process = True  # never blocks on a network: the runner reads it on its own thread

    def __init__(self, *, gguf: str, context_window: int = 4096) -> None:
        self.gguf = gguf
        self.context_window = context_window

    def model(self) -> LoadedModel:
        """The shared loaded model (loads it on first use)."""
        path = gguf_path(self.gguf)
        try:
            return load_model(path, self.context_window)
        except Exception as exc:  # noqa: BLE001 - a corrupt or unloadable file
            raise errors.ModelNotFoundError(f"could not load {path.name}: {exc}") from exc

    def prepare(self) -> None:
        """Load the model now, outside the timed call."""
        self.model()

    def prompt_tokens(self, request: ChatRequest) -> tuple[list[int], list[str]]:
        """The exact token ids the model will read, and the template's stop strings."""
        loaded = self.model()
        llama = loaded.llama
        if request.raw_text is not None:
            return llama.tokenize(request.raw_text.encode("utf-8"), add_bos=True, special=True), []
        if loaded.formatter is None:
            raise errors.BadRequestError(
                f'{loaded.path.name} has no chat template; use it with task = "completion"'
            )
        messages = [{"role": m.role, "content": m.content} for m in request.messages]
        result = loaded.formatter(messages=messages)
        # The same tokenisation llama-cpp-python's own chat handler applies to the formatted prompt.
        tokens = llama.tokenize(result.prompt.encode("utf-8"), add_bos=not result.added_special, special=True)
        stop = result.stop if isinstance(result.stop, list) else [result.stop] if result.stop else []
        return tokens, stop

    def count_tokens(self, request: ChatRequest) -> int | None:
        """Exact input tokens with the model's own tokenizer and chat template."""
        return len(self.prompt_tokens(request)[0])

    def stream(self, request: ChatRequest, cancel: CancelToken) -> Iterator[Chunk]:
        """Generate under the model's lock, one chunk per token, then counted usage and finish."""
        loaded = self.model()
        tokens, template_stop = self.prompt_tokens(request)
        max_tokens = request.max_tokens if request.max_tokens is not None else 256
        if len(tokens) + max_tokens > loaded.n_ctx:
            raise errors.ContextOverflowError(
                f"prompt is {len(tokens)} tokens + max_tokens {max_tokens} > context window {loaded.n_ctx}"
            )
        while not loaded.lock.acquire(timeout=_LOCK_POLL_S):
            if cancel.cancelled:
                raise errors.CancelledError("cancelled while waiting for the local model")
        try:
            yield from self._generate(loaded, tokens, template_stop, max_tokens, request, cancel)
        finally:
            loaded.lock.release()

    def _generate(
        self,
        loaded: LoadedModel,
        tokens: list[int],
        template_stop: list[str],
        max_tokens: int,
        request: ChatRequest,
        cancel: CancelToken,
    ) -> Iterator[Chunk]:
        kwargs: dict[str, Any] = {
            "prompt": tokens,
            "max_tokens": max_tokens,
            "stop": template_stop + list(request.stop),
            "stream": True,
        }
        if request.temperature is not None:
            kwargs["temperature"] = request.temperature
        if request.top_p is not None:
            kwargs["top_p"] = request.top_p
        if request.seed is not None:
            kwargs["seed"] = request.seed
        output_tokens = 0
        finish: str | None = None
        stream = loaded.llama.create_completion(**kwargs)
        try:
            for chunk in stream:
                choice = chunk["choices"][0]
                if choice["finish_reason"] is not None:
                    finish = choice["finish_reason"]
                    continue
                # llama-cpp-python streams exactly one chunk per generated token.
                output_tokens += 1
                if choice["text"]:
                    yield TextDelta(choice["text"])
                if cancel.cancelled:
                    finish = "cancelled"
                    break
        finally:
            stream.close()
        yield Usage(input_tokens=len(tokens), output_tokens=output_tokens, source="counted")
        yield Finish(finish)
