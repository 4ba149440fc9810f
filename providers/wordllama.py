"""The bundled local embedding model: WordLlama (`l2_supercat`), shipped in the `wordllama` wheel with its
weights and tokenizer, run with numpy and Hugging Face `tokenizers`: no key, no network, no torch.

Chosen by measurement on a labelled retrieval set (README.md, "Improving results"; the raw runtime's speed):
- install: +47 MB against +1,130 MB for all-MiniLM-L6-v2 through sentence-transformers and PyTorch;
- load: 0.3–0.5 s against 4.2 s;
- throughput: about 4,200 chunks of ~200 tokens a second on 2 cores, against 27;
- recall@10 on paraphrased questions: 0.86 against 0.96 (BM25: 0.57).

WordLlama averages token embeddings distilled from large language models' input layers: fast and small,
not as sharp as a transformer encoder. MiniLM stays available as an optional extra for those who accept
PyTorch.

wordllama 0.4 looks for its bundled tokenizer under `wordllama/tokenizer/` but ships it under
`wordllama/tokenizers/`, then tries to download it from the Hugging Face Hub. Pointing its cache at the
package folder finds both the weights and the tokenizer there; downloads are disabled outright.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, ClassVar

from providers import errors
from providers.base import CallTarget, CancelToken, ChatRequest, Chunk, Embedded, Snippet, Task

DIMS = (64, 128, 256)  # the bundled l2_supercat weights are 256 wide; smaller ones are its first dims


class WordLlamaEmbedder:
    """Embeds texts with the bundled WordLlama model, in this process (numpy; nothing native of ours)."""

    name: ClassVar[str] = "wordllama"
    tasks: ClassVar[tuple[Task, ...]] = ("embeddings",)
    accepts: ClassVar[tuple[str, ...]] = ()
    runs_locally: ClassVar[bool] = True
    price_id: ClassVar[str | None] = None

    @classmethod
    def availability(cls, model: str) -> tuple[bool, str]:
        """Whether the wordllama package (which carries the weights) is installed, and the model named."""
        import importlib.util

        if importlib.util.find_spec("wordllama") is None:
            return False, "pip install wordllama"
        try:
            dims_of(model)
        except errors.BadRequestError as exc:
            return False, exc.message
        return True, "bundled"

    @classmethod
    def snippet(cls, target: CallTarget, request: ChatRequest) -> Snippet:
        """Python that embeds the request's text the same way."""
        text = request.raw_text or (request.messages[-1].content if request.messages else "")
        python = (
            "from pathlib import Path\n\nimport wordllama\nfrom wordllama import WordLlama\n\n"
            "# the package folder as the cache: wordllama 0.4 finds its bundled tokenizer there\n"
            f"model = WordLlama.load(dim=256, trunc_dim={dims_of(target.model)}, "
            "cache_dir=Path(wordllama.__file__).parent, disable_download=True)\n"
            f"print(model.embed([{text!r}], norm=True)[0])\n"
        )
        return Snippet(python, None)

    def __init__(self, *, dims: int) -> None:
        if dims not in DIMS:
            raise errors.BadRequestError(
                f"WordLlama comes in {', '.join(map(str, DIMS))} dimensions, not {dims}"
            )
        self.dims = dims

    def prepare(self) -> None:
        """Load the model (once per process, shared)."""
        _model(self.dims)

    def count_tokens(self, request: ChatRequest) -> int | None:
        """Not a chat model: nothing to count for a request."""
        return None

    def stream(self, request: ChatRequest, cancel: CancelToken) -> Iterator[Chunk]:
        """An embedding model answers no prompt."""
        raise errors.BadRequestError("WordLlama is an embedding model: it turns text into vectors")

    def embed(self, texts: Sequence[str]) -> Embedded:
        """One L2-normalised vector per text (a float32 array, passed on as it is).

        Tokens are not counted: a local model has no price, and counting meant tokenizing every batch a
        second time (its tokenizer pads a batch, so `len` of an encoding over-counted as well); that and
        copying the vectors into Python floats made the project embed at 0.56 of the raw runtime's speed
        (bench/bench_retrieval.py)."""
        model = _model(self.dims)
        try:
            vectors = model.embed(list(texts), norm=True)
        except Exception as exc:  # noqa: BLE001 - the library's failures become one error of ours
            raise errors.BadResponseError(f"WordLlama could not embed: {type(exc).__name__}: {exc}") from exc
        return Embedded(vectors, None)


def dims_of(model: str) -> int:
    """The dimensions a spec's model name asks for: `l2_supercat-256` (64, 128 or 256)."""
    config, _, dims = model.rpartition("-")
    if config != "l2_supercat" or not dims.isdigit() or int(dims) not in DIMS:
        raise errors.BadRequestError(
            f"the bundled WordLlama model is l2_supercat-<dims> with dims {', '.join(map(str, DIMS))}, not {model!r}"
        )
    return int(dims)


_LOCK = threading.Lock()


def _quiet_import() -> Any:
    """Import wordllama without its `logging.basicConfig(level=INFO)` (in its __init__ and inference
    modules), which turned on INFO logging for the whole process: every HTTP request and migration step
    of the app and the CLI went to stderr."""
    import logging

    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    try:
        import wordllama
    finally:
        for handler in [h for h in root.handlers if h not in handlers]:
            root.removeHandler(handler)
        root.setLevel(level)
    return wordllama


@functools.cache
def _model(dims: int) -> Any:
    with _LOCK:
        wordllama = _quiet_import()
        from wordllama import WordLlama

        folder = Path(wordllama.__file__).parent
        try:
            return WordLlama.load(
                dim=256, trunc_dim=None if dims == 256 else dims, cache_dir=folder, disable_download=True
            )
        except (FileNotFoundError, ValueError) as exc:
            raise errors.ModelNotFoundError(
                f"the bundled WordLlama model could not be loaded: {exc}"
            ) from exc
