"""The one renderer for text from outside (model output, provider errors, Hub fields, query values).

Text is parsed into markdown tokens by markdown-it-py and written back as markdown that can only show
what it says: headings, paragraphs, emphasis, code, lists, quotes and tables keep their form; images
become the words "[image: alt]", links become their text followed by the address as plain text
(nothing to click, nothing fetched), and raw HTML is shown as text. Every piece of text is escaped, so
no markdown, HTML, Streamlit directive (`:red[...]`, `:material/...:`) or LaTeX (`$...$`) survives
from the input. Regular expressions on the raw text cannot do this: `![a [b] c](u)`, `![a\\]](u)` and
reference-style images all got past one.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from functools import cache
from typing import Any

# Characters that can start inline syntax in CommonMark, GitHub tables, or Streamlit's own markdown
# (colour directives :red[...], icon and emoji shortcodes :name:, LaTeX $...$). Any ASCII punctuation may
# be backslash-escaped in CommonMark, so escaping is always safe; these are escaped wherever they are.
_INLINE = set("\\`*_[]<>!|~$")
# Characters that start a block only at the beginning of a line (headings, lists, quotes, rules), and
# the punctuation after an ordered list's number (a backslash before a digit would show).
_LINE_START = re.compile(r"^(\s*)([#+\-=>])")
_LIST_NUMBER = re.compile(r"^(\s*\d+)([.)])")
# Addresses that GitHub-flavoured markdown (Streamlit's) would turn into clickable links, whatever the
# escaping around them: schemes with "://", "www." hosts, and e-mail addresses.
_URL = re.compile(
    r"((?:[A-Za-z][A-Za-z0-9+.-]*://|www\.)[^\s<>`\"']*[^\s<>`\"'.,;:!?)\]]|[\w.+-]+@[\w-]+\.[\w-]+(?:\.[\w-]+)*)"
)
# A colon starts a shortcode only when a letter or digit follows it (":smile:", ":material/home:").
# Streamlit finds shortcodes in the text after markdown has been read, so a backslash before the colon
# does not stop them (seen in a browser): an invisible word joiner after the colon does.
_SHORTCODE = re.compile(r":(?=[A-Za-z0-9])")
_SHORTCODE_BREAK = ":\u2060"


def plain(text: str) -> str:
    """Text shown exactly as it is inside markdown: nothing in it can become syntax; lines are kept.
    Web addresses are shown as code, which no markdown flavour turns into a link."""
    return "  \n".join(_plain_line(line) for line in text.split("\n"))


def chart_text(text: str) -> str:
    """Text for a plotly chart (trace names, labels, titles) shown as it is: plotly renders a subset of
    HTML there (<a href> links, <b>, <br>, styles), so a model key or a user's name with markup would become
    a link or spoof other entries. Entities are shown as the characters they stand for."""
    return html.escape(text, quote=False)


def _plain_line(line: str) -> str:
    parts = []
    for index, piece in enumerate(_URL.split(line)):
        if index % 2:  # an address: inert as a code span (escaping it would still be autolinked)
            parts.append(_code_span(piece))
            continue
        escaped = "".join("\\" + ch if ch in _INLINE else ch for ch in piece)
        parts.append(_SHORTCODE.sub(_SHORTCODE_BREAK, escaped))
    escaped = "".join(parts)
    escaped = _LIST_NUMBER.sub(lambda m: m.group(1) + "\\" + m.group(2), escaped)
    return _LINE_START.sub(lambda m: m.group(1) + "\\" + m.group(2), escaped)


@cache
def _parser() -> Any:
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark", {"html": False}).enable(["table", "strikethrough"])


def safe_markdown(text: str) -> str:
    """External text as markdown that shows what it says and makes the browser fetch nothing."""
    return _Writer().blocks(_parser().parse(text)).strip() + "\n"


class _Writer:
    """Writes block tokens back as markdown, escaping every text piece."""

    def __init__(self) -> None:
        self.out: list[str] = []
        self.prefixes: list[str] = []  # "> " for quotes, list markers' indentation
        self.ordered: list[int | None] = []

    def blocks(self, tokens: Sequence[Any]) -> str:
        for token in tokens:
            self.block(token)
        return "".join(self.out)

    def line(self, text: str) -> None:
        self.out.append("".join(self.prefixes) + text + "\n")

    def block(self, token: Any) -> None:
        kind = token.type
        if kind == "heading_open":
            self.heading = "#" * int(token.tag[1]) + " "
        elif kind == "inline":
            self.inline_block(token)
        elif kind == "heading_close" or (kind == "paragraph_close" and not token.hidden):
            self.out.append("\n")  # (a tight list's paragraphs are hidden: no blank line between items)
        elif kind in ("fence", "code_block"):
            # A fence longer than any run of ~ inside, so nothing in the code can close it early.
            fence = "~" * max(3, _longest_run(token.content, "~") + 1)
            self.line(fence + plain_info(token.info))
            for code_line in token.content.rstrip("\n").split("\n"):
                self.line(code_line)
            self.line(fence)
        elif kind == "blockquote_open":
            self.prefixes.append("> ")
        elif kind == "blockquote_close":
            self.prefixes.pop()
        elif kind in ("bullet_list_open", "ordered_list_open"):
            self.ordered.append(int(token.attrs.get("start", 1)) if kind == "ordered_list_open" else None)
        elif kind in ("bullet_list_close", "ordered_list_close"):
            self.ordered.pop()
            self.out.append("\n")  # a blank line ends the list: what follows is not part of it
        elif kind == "list_item_open":
            number = self.ordered[-1]
            self.pending_marker = f"{number}. " if number is not None else "- "
            if number is not None:
                self.ordered[-1] = number + 1
            self.prefixes.append(" " * len(self.pending_marker))
        elif kind == "list_item_close":
            self.prefixes.pop()
        elif kind == "hr":
            self.line("---")
        elif kind in ("html_block",):
            self.line(plain(token.content.rstrip("\n")))
        elif kind.startswith(("table_", "thead_", "tbody_", "tr_", "th_", "td_")):
            self.table(token)

    def inline_block(self, token: Any) -> None:
        text = inline(token.children or [])
        head = getattr(self, "heading", "")
        self.heading = ""
        marker = getattr(self, "pending_marker", "")
        if marker:
            self.pending_marker = ""
            prefix = "".join(self.prefixes[:-1])
            self.out.append(prefix + marker + head + text + "\n")
        elif getattr(self, "in_cell", False):
            self.cells.append(text)
        else:
            self.line(head + text)

    def table(self, token: Any) -> None:
        kind = token.type
        if kind == "tr_open":
            self.cells: list[str] = []
        elif kind in ("th_open", "td_open"):
            self.in_cell = True
        elif kind in ("th_close", "td_close"):
            self.in_cell = False
        elif kind == "tr_close":
            self.line("| " + " | ".join(self.cells) + " |")
        elif kind == "thead_close":
            self.line("|" + "---|" * len(self.cells))
        elif kind == "table_close":
            self.out.append("\n")


def plain_info(info: str) -> str:
    """A code fence's language word, letters and digits only."""
    word = info.strip().split(" ")[0] if info.strip() else ""
    return "".join(ch for ch in word if ch.isalnum())


def inline(children: Sequence[Any]) -> str:
    """Inline tokens as escaped markdown: emphasis and code kept, images and links made inert."""
    parts: list[str] = []
    links: list[str] = []
    for child in children:
        kind = child.type
        if kind == "text":
            parts.append(plain(child.content))
        elif kind == "code_inline":
            parts.append(_code_span(child.content))
        elif kind in ("strong_open", "strong_close"):
            parts.append("**")
        elif kind in ("em_open", "em_close"):
            parts.append("*")
        elif kind in ("s_open", "s_close"):
            parts.append("~~")
        elif kind == "softbreak":
            parts.append("\n")
        elif kind == "hardbreak":
            parts.append("  \n")
        elif kind == "image":
            alt = "".join(c.content for c in (child.children or []))
            parts.append(plain(f"[image: {alt or 'untitled'}]"))
        elif kind == "link_open":
            links.append(child.attrs.get("href", ""))
        elif kind == "link_close":
            href = links.pop() if links else ""
            parts.append(plain(f" ({href})"))
        elif kind == "html_inline":
            parts.append(plain(child.content))
    return "".join(parts)


def _longest_run(text: str, char: str) -> int:
    longest = run = 0
    for ch in text:
        run = run + 1 if ch == char else 0
        longest = max(longest, run)
    return longest


def _code_span(content: str) -> str:
    # A code span shows its content literally; a run of backticks longer than any inside delimits it.
    ticks = "`" * (_longest_run(content, "`") + 1)
    pad = " " if content[:1] in ("`", " ") or content[-1:] in ("`", " ") else ""
    return f"{ticks}{pad}{content}{pad}{ticks}"
