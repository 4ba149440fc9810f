"""Tables that fit the terminal: key columns whole, lesser columns wrapped, and left out (and named) last.

Rich draws the tables. Its own fitting shrinks every column alike and cuts words with "…", model keys
included ("mod…", "gem…" at 80 columns); it has no notion of a column that must stay whole or of one that
matters less. So this module chooses the columns and their widths, then hands rich a table that fits:
- a key column (a model key, a collection) is never cut and never left out;
- every other column gets at least its longest word (text wraps between words, never inside one), and
  the columns that matter least are left out when even that does not fit, named in a footer;
- the width is the console's: $COLUMNS, else the terminal's size (rich reads both), else 80.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rich.cells import cell_len
from rich.console import Console
from rich.table import Column, Table
from rich.text import Text

# Each column costs its padding (one space each side) and the border on its right; the table one more
# for its left edge (rich's default box, pad_edge on).
_PER_COLUMN, _EDGE = 3, 1


@dataclass(frozen=True)
class Layout:
    """Which columns a table shows, at what content widths, and which ones it left out."""

    shown: tuple[int, ...]  # indexes into the headers, in display order
    widths: tuple[int, ...]  # content width of each shown column
    left_out: tuple[str, ...]  # headers of the columns that did not fit, most important first

    def total(self) -> int:
        """The table's width in cells, borders and padding included."""
        return sum(self.widths) + _PER_COLUMN * len(self.widths) + _EDGE


@dataclass(frozen=True)
class _Measure:
    least: int  # its longest word (a key: its longest line), header included
    most: int  # its longest line, header included


def _measure(values: Sequence[str], whole: bool) -> _Measure:
    lines = [line for value in values for line in value.splitlines() or [""]]
    most = max((cell_len(line) for line in lines), default=1)
    if whole:
        return _Measure(most, most)
    words = [word for line in lines for word in line.split()]
    return _Measure(max((cell_len(word) for word in words), default=1), most)


def fit(
    headers: Sequence[str],
    rows: Sequence[Sequence[str]],
    width: int,
    keys: Sequence[str],
    rank: Sequence[str],
) -> Layout:
    """The columns shown at `width`: the keys, then the others by `rank` (most important first; columns
    not ranked come last, in display order) as long as each still fits at its longest word."""
    measures = [
        _measure([header, *(row[i] for row in rows)], header in keys) for i, header in enumerate(headers)
    ]
    ranked = [h for h in rank if h in headers and h not in keys]
    ranked += [h for h in headers if h not in keys and h not in ranked]
    chosen = [headers.index(k) for k in keys if k in headers]
    left_out = []
    for header in ranked:
        index = headers.index(header)
        if _cost([measures[i].least for i in [*chosen, index]]) <= width:
            chosen.append(index)
        else:
            left_out.append(header)
    shown = tuple(sorted(chosen))
    widths = _widen([measures[i] for i in shown], width - _cost([measures[i].least for i in shown]))
    return Layout(shown, widths, tuple(left_out))


def _cost(widths: Sequence[int]) -> int:
    return sum(widths) + _PER_COLUMN * len(widths) + _EDGE


def _widen(measures: Sequence[_Measure], spare: int) -> tuple[int, ...]:
    """Every column at its longest word, then the spare width given to the columns that need the least
    to fit on one line first: as many columns as possible stop wrapping."""
    widths = [m.least for m in measures]
    for index in sorted(range(len(measures)), key=lambda i: measures[i].most - measures[i].least):
        grow = max(0, min(measures[index].most - widths[index], spare))
        widths[index] += grow
        spare -= grow
    return tuple(widths)


def print_table(
    console: Console,
    headers: Sequence[str],
    rows: Sequence[Sequence[object]],
    keys: Sequence[str] = (),
    rank: Sequence[str] = (),
) -> Layout:
    """Print rows under headers at the console's width (see `fit`); a dim footer names the columns left
    out. Returns the layout used."""
    texts = [["" if value is None else str(value) for value in row] for row in rows]
    layout = fit(list(headers), texts, console.width, keys, rank)
    columns = [
        # fold: a key wider than the whole terminal breaks across lines rather than losing its end
        Column(Text(headers[i]), width=w, overflow="fold", no_wrap=False)
        for i, w in zip(layout.shown, layout.widths, strict=True)
    ]
    table = Table(*columns)
    for row in texts:  # as Text: a cell (a document's words, a model's answer) is never read as markup
        table.add_row(*(Text(row[i]) for i in layout.shown))
    console.print(table)
    if layout.left_out:
        console.print(
            f"columns left out at {console.width}: {', '.join(layout.left_out)} (a wider terminal or --json shows them)",
            style="dim",
        )
    return layout
