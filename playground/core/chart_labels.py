"""Point labels that neither cover each other nor the points, nor leave the plot: placed around each point
(with a leader line when they must stand apart), and names wrapped so that long model keys fit.

Written by hand: plotly puts text only where it is told and has no collision avoidance."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from playground.core.charting import (
    FONT_PX,
    NEUTRAL,
    PLOT_HEIGHT_PX,
    PLOT_WIDTH_PX,
    TEXT_COLOUR,
    AxisRange,
)
from playground.core.safe_text import chart_text

_MARKER_PX = 9  # half a marker and a little air: how close a label may come to a point
_GLYPH_EM = 0.45  # average glyph width in ems of model keys in Streamlit's Source Sans (measured: 0.42)
_LINE_EM = 1.3  # line height of a label in ems
_PAD_PX = 3  # plotly's padding around an annotation's text, and a pixel of air
_DIRECTIONS = ((0, 1), (0, -1), (1, 0), (-1, 0), (1, 1), (-1, 1), (1, -1), (-1, -1))  # above first
_REACHES_PX = (0, 14, 28, 44, 62)
_SAME_SPOT_PX = 6  # points nearer than this share one label
_NEAR_PX = 24  # a label this close to another point looks like that point's  # how far from its point a label may go; beyond the first, with a line


@dataclass(frozen=True)
class PointLabel:
    """Where a point's label goes: the label's centre, in px from the point (y up); a leader line joins
    label and point when it stands apart."""

    dx: float
    dy: float
    leader: bool


def _box(x: float, y: float, width: float, height: float) -> tuple[float, float, float, float]:
    """The box (left, bottom, right, top) of a label of this size centred at (x, y)."""
    return (x - width / 2, y - height / 2, x + width / 2, y + height / 2)


def _overlap(a: Sequence[float], b: Sequence[float]) -> float:
    width = min(a[2], b[2]) - max(a[0], b[0])
    height = min(a[3], b[3]) - max(a[1], b[1])
    return width * height if width > 0 and height > 0 else 0.0


def _candidates(width: float, height: float) -> list[tuple[float, float, float]]:
    """Label centres around a point (dx, dy) and how far each stands from it, nearest first."""
    found = []
    for reach in _REACHES_PX:
        gap = _MARKER_PX + reach
        for ux, uy in _DIRECTIONS:
            found.append((ux * (gap + width / 2), uy * (gap + height / 2), float(reach)))
    return found


def place_labels(
    points: Sequence[tuple[float, float]],
    labels: Sequence[str],
    area: tuple[float, float] = (PLOT_WIDTH_PX, PLOT_HEIGHT_PX),
    obstacles: Sequence[tuple[float, float, float, float]] = (),
) -> list[PointLabel]:
    """A place for each point's label so that none covers another label, a point or an obstacle (an error
    bar, say), and none leaves the plot area, as far as the room allows; nearer places are preferred.
    Points and obstacles are in fractions of the plot area (0 to 1 across and up), `area` its size in px.

    Greedy from a few orders (most crowded first, least crowded first, left to right, top down), each then
    improved by letting every label move to its best place given all the others; the least covered wins."""
    placer = _Placer(points, labels, area, obstacles)
    pixels, crowding = placer.pixels, placer.crowding
    orders = [
        sorted(range(len(points)), key=lambda i: -crowding[i]),
        sorted(range(len(points)), key=lambda i: crowding[i]),
        sorted(range(len(points)), key=lambda i: pixels[i]),
        sorted(range(len(points)), key=lambda i: (-pixels[i][1], pixels[i][0])),
    ]
    total, places = min((placer.arrange(order) for order in orders), key=lambda found: found[0])
    return [PointLabel(dx, dy, leader=reach > 0) for dx, dy, reach in places]


class _Placer:
    """The geometry of one chart's labels in px (y up), and the cost of a label at a place: what it covers
    (points most, then labels and obstacles), how much of it leaves the plot, and how far it stands."""

    def __init__(
        self,
        points: Sequence[tuple[float, float]],
        labels: Sequence[str],
        area: tuple[float, float],
        obstacles: Sequence[tuple[float, float, float, float]],
    ) -> None:
        width_px, height_px = area
        self.pixels = [(fx * width_px, fy * height_px) for fx, fy in points]
        self.sizes = [_label_size(label) for label in labels]
        self.markers = [
            (x - _MARKER_PX, y - _MARKER_PX, x + _MARKER_PX, y + _MARKER_PX) for x, y in self.pixels
        ]
        self.near = [(x - _NEAR_PX, y - _NEAR_PX, x + _NEAR_PX, y + _NEAR_PX) for x, y in self.pixels]
        self.obstacles = [
            (a * width_px, b * height_px, c * width_px, d * height_px) for a, b, c, d in obstacles
        ]
        self.frame = (0.0, 0.0, float(width_px), float(height_px))
        self.crowding = [sum(math.dist(p, q) < 80 for q in self.pixels) for p in self.pixels]

    def box(self, index: int, place: tuple[float, float, float]) -> tuple[float, float, float, float]:
        """The box a point's label takes at a place (dx, dy, reach)."""
        (x, y), (width, height) = self.pixels[index], self.sizes[index]
        return _box(x + place[0], y + place[1], width, height)

    def cost(self, index: int, place: tuple[float, float, float], others: Sequence[Sequence[float]]) -> float:
        """How bad a place is for a label, given the other labels' boxes."""
        box, (width, height) = self.box(index, place), self.sizes[index]
        # Covering a point hides it: far worse than a label standing apart with a line to its point.
        cost = 10 * sum(_overlap(box, marker) for marker in self.markers)
        # A label right beside another point reads as that point's: keep a margin around the others.
        cost += 3 * sum(_overlap(box, near) for i, near in enumerate(self.near) if i != index)
        cost += 5 * sum(_overlap(box, other) for other in others)
        cost += 2 * sum(_overlap(box, line) for line in self.obstacles)  # text across a thin line still reads
        cost += 3 * (width * height - _overlap(box, self.frame))
        return cost + (4 * place[2] + 60 if place[2] else 0)  # a leader line is a cost in itself

    def best(self, index: int, others: Sequence[Sequence[float]]) -> tuple[float, float, float]:
        """The cheapest place for a label given the other labels' boxes (the nearest of equal ones)."""
        return min(_candidates(*self.sizes[index]), key=lambda place: self.cost(index, place, others))

    def arrange(self, order: Sequence[int]) -> tuple[float, list[tuple[float, float, float]]]:
        """Greedy in this order, then up to three rounds of moving each label to its best place given the
        rest; the total cost and each label's place."""
        places: dict[int, tuple[float, float, float]] = {}
        for index in order:
            places[index] = self.best(index, [self.box(j, p) for j, p in places.items()])
        for _ in range(3):
            moved = False
            for index in order:
                others = [self.box(j, p) for j, p in places.items() if j != index]
                better = self.best(index, others)
                if self.cost(index, better, others) < self.cost(index, places[index], others):
                    places[index], moved = better, True
            if not moved:
                break
        total = sum(
            self.cost(i, places[i], [self.box(j, p) for j, p in places.items() if j != i]) for i in places
        )
        return total, [places[i] for i in range(len(self.pixels))]


def _label_size(label: str) -> tuple[float, float]:
    """A label's width and height in px (lines split at <br>)."""
    lines = label.split("<br>")
    width = _GLYPH_EM * FONT_PX * max(len(line) for line in lines)
    return width + 2 * _PAD_PX, _LINE_EM * FONT_PX * len(lines) + 2 * _PAD_PX


def label_annotations(
    xs: Sequence[float],
    ys: Sequence[float],
    labels: Sequence[str],
    places: Sequence[PointLabel],
    *,
    x_log: bool = False,
    y_log: bool = False,
) -> list[dict[str, Any]]:
    """Plotly annotations writing each label at its place (labels are chart text already: escaped)."""
    notes = []
    for x, y, label, place in zip(xs, ys, labels, places, strict=True):
        note: dict[str, Any] = {
            "x": math.log10(x) if x_log else x,  # annotations on a log axis take log10 positions
            "y": math.log10(y) if y_log else y,
            "text": label,
            "font": {"size": FONT_PX, "color": TEXT_COLOUR},
            "xanchor": "center",
            "yanchor": "middle",
        }
        note["align"] = (
            "left" if place.dx > 0 else "right" if place.dx < 0 else "center"
        )  # lines hug the point
        if place.leader:
            note.update(
                showarrow=True, ax=place.dx, ay=-place.dy, arrowhead=0, arrowcolor=NEUTRAL, standoff=6
            )
        else:
            note.update(showarrow=False, xshift=place.dx, yshift=place.dy)
        notes.append(note)
    return notes


def wrapped(name: str, width: int = 18) -> str:
    """A name as chart text (escaped) in lines of about `width` characters: long model keys would otherwise
    push a chart's plot aside or run off its edge. An arm's label ("key · 3-shot · rag") puts each part
    after the first on a line of its own; a key breaks after - _ . / or a space."""
    first, *rest = name.split(" · ")
    pieces = re.split(r"(?<=[-_./ ])", first)
    lines = [""]
    for piece in pieces:
        if lines[-1] and len(lines[-1]) + len(piece) > width:
            lines.append("")
        lines[-1] += piece
    return "<br>".join([*(chart_text(line) for line in lines), *(chart_text(f"· {part}") for part in rest)])


def line_count(label: str) -> int:
    """How many lines a chart label takes (they are split at <br>)."""
    return label.count("<br>") + 1


def point_labels(
    xs: Sequence[float],
    ys: Sequence[float],
    labels: Sequence[str],
    x_range: AxisRange,
    y_range: AxisRange,
    *,
    area: tuple[float, float] = (PLOT_WIDTH_PX, PLOT_HEIGHT_PX),
    obstacles: Sequence[tuple[float, float, float, float]] = (),
) -> list[dict[str, Any]]:
    """Plotly annotations labelling points (labels already chart text), placed clear of each other. Points
    within a few pixels of each other share one label listing them all: two labels could not both sit
    beside one spot, and the reader could not tell the points apart anyway."""
    width_px, height_px = area
    spots: list[tuple[float, float]] = []
    names: list[list[str]] = []
    anchors: list[tuple[float, float]] = []
    for x, y, label in zip(xs, ys, labels, strict=True):
        spot = (x_range.fraction(x), y_range.fraction(y))
        near = next(
            (
                i
                for i, (fx, fy) in enumerate(spots)
                if math.hypot((fx - spot[0]) * width_px, (fy - spot[1]) * height_px) < _SAME_SPOT_PX
            ),
            None,
        )
        if near is None:
            spots.append(spot)
            names.append([label])
            anchors.append((x, y))
        else:
            names[near].append(label)
    texts = [",<br>".join(group) for group in names]
    places = place_labels(spots, texts, area, obstacles)
    return label_annotations(
        [a[0] for a in anchors], [a[1] for a in anchors], texts, places, x_log=x_range.log, y_log=y_range.log
    )
