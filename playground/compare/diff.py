"""Word-level diff of two answers, rendered as safe markdown (difflib: the standard library's differ)."""

from __future__ import annotations

import difflib

from playground.core.safe_text import plain


def word_diff(a: str, b: str) -> list[tuple[str, str]]:
    """(op, words) runs: op is 'same', 'removed' (only in a) or 'added' (only in b)."""
    left, right = a.split(), b.split()
    runs: list[tuple[str, str]] = []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(a=left, b=right, autojunk=False).get_opcodes():
        if tag == "equal":
            runs.append(("same", " ".join(left[i1:i2])))
            continue
        if i2 > i1:
            runs.append(("removed", " ".join(left[i1:i2])))
        if j2 > j1:
            runs.append(("added", " ".join(right[j1:j2])))
    return runs


def word_diff_markdown(a: str, b: str) -> str:
    """The diff as markdown: removed words struck through, added words bold; the words through the one
    safe renderer's plain text (no LaTeX, shortcodes or live links from either answer)."""
    styles = {"same": "{}", "removed": "~~{}~~", "added": "**{}**"}
    return " ".join(styles[op].format(plain(words)) for op, words in word_diff(a, b))
