"""Chunks of a document's text, sized in tokens, overlapping, each with its character offsets in the text.

The splitter is semantic-text-splitter 0.33: one 18 MB native module with no dependencies, tiktoken's
ranks compiled in, so it builds its tokenizer with no download (checked with an empty tiktoken cache and
no network). It fills each span with the largest units that fit (sections, paragraphs, sentences, words,
in that order), its `MarkdownSplitter` also keeps headings, lists and code blocks together, and it returns
character offsets, so `text[start:end]` is the chunk. Its own `overlap` repeats only whole units of the
level it split at, which across a paragraph break is a whole paragraph or nothing; so it cuts spans of
size − overlap tokens, and each chunk here takes the previous span's last words, up to `overlap_tokens`.
1 MB of prose: 0.25 s; dense text (bench_retrieval's docstrings) about 0.9 s per MB with the overlap. langchain-text-splitters (read, not installed) merges whole pieces too, needs
langchain-core, counts tokens with Python tiktoken (which downloads encodings) and finds a chunk's start
by searching for its text.

Tokens are cl100k_base (`TOKEN_ENCODING`), counted offline with `engine.tokens`; the splitter's count
agrees (the same ranks; the tests check every chunk against the size).
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass
from functools import lru_cache

from playground.engine.tokens import estimator_for

TOKEN_ENCODING = "cl100k_base"
# semantic-text-splitter (tiktoken-rs) names an encoding by a model that uses it; gpt-4 uses cl100k_base.
_ENCODING_MODEL = "gpt-4"
# Below this a chunk holds a phrase, not a passage: nothing worth retrieving.
MIN_CHUNK_TOKENS = 16
# A word starts at a non-space character at the start of the text or after whitespace.
_WORD_START = re.compile(r"(?<!\S)\S")


class ChunkingError(ValueError):
    """Chunk sizes that cannot work; the message says which value and what it may be."""


@dataclass(frozen=True)
class TextChunk:
    """One chunk: its place in the document (0-based), its text, its character span and token count."""

    index: int
    text: str
    start: int
    end: int
    tokens: int


def chunk_text(
    text: str, size_tokens: int, overlap_tokens: int, *, markdown: bool = False
) -> list[TextChunk]:
    """Chunks of at most `size_tokens` tokens; each after the first begins with about `overlap_tokens`
    tokens from the end of the one before (whole words, never more than `overlap_tokens`).

    Pass `markdown=True` for markdown text (`ParsedDocument.markdown`) to split on its structure.
    """
    _check_sizes(size_tokens, overlap_tokens)
    count = estimator_for(_ENCODING_MODEL).count_text
    # The splitter's own overlap repeats whole units of the level it split at: across a paragraph break it
    # is a whole paragraph or nothing (0 tokens on most chunks of ordinary prose, measured). So it cuts
    # the text into spans of size − overlap tokens, and each chunk adds the previous span's last words.
    spans = _splitter(size_tokens - overlap_tokens, markdown).chunk_indices(text)
    chunks: list[TextChunk] = []
    previous_start = 0
    for index, (span_start, span) in enumerate(spans):
        span_end = span_start + len(span)
        start, tokens = span_start, count(span)
        if index and overlap_tokens:
            start, tokens = _with_overlap(
                text, previous_start, span_start, span_end, size_tokens, overlap_tokens
            )
        chunks.append(TextChunk(index, text[start:span_end], start, span_end, tokens))
        previous_start = span_start
    return chunks


def _with_overlap(text: str, previous: int, start: int, end: int, size: int, overlap: int) -> tuple[int, int]:
    """Where a chunk with overlap begins (a word start in the previous span) and its tokens."""
    count = estimator_for(_ENCODING_MODEL).count_text
    words = [m.start() for m in _WORD_START.finditer(text, previous + 1, start)]
    # Fewer tokens the later a word starts: the first word from which at most `overlap` tokens lead up to
    # the span is found by bisection (a handful of counts per chunk).
    first = bisect.bisect_left(words, True, key=lambda word: count(text[word:start]) <= overlap)
    for word in words[first:]:
        # Tokens can merge across the join, so the whole chunk is counted again against the size.
        tokens = count(text[word:end])
        if tokens <= size:
            return word, tokens
    return start, count(text[start:end])


def _check_sizes(size_tokens: int, overlap_tokens: int) -> None:
    for label, value in (("chunk size", size_tokens), ("overlap", overlap_tokens)):
        if not isinstance(value, int) or isinstance(value, bool):
            raise ChunkingError(f"{label} must be a whole number of tokens, not {value!r}")
    if size_tokens < MIN_CHUNK_TOKENS:
        raise ChunkingError(f"chunk size must be at least {MIN_CHUNK_TOKENS} tokens, not {size_tokens}")
    if not 0 <= overlap_tokens < size_tokens:
        raise ChunkingError(
            f"overlap must be from 0 to less than the chunk size ({size_tokens} tokens), not {overlap_tokens}"
        )


@lru_cache(maxsize=16)
def _splitter(capacity: int, markdown: bool):
    # Building one loads the encoding's ranks (about 50 ms); a page reruns with the same sizes.
    from semantic_text_splitter import MarkdownSplitter, TextSplitter

    kind = MarkdownSplitter if markdown else TextSplitter
    return kind.from_tiktoken_model(_ENCODING_MODEL, capacity)
