"""What every chart shares, whatever it shows: one colour per model for a whole page, a look that reads on a
projector at 1280×720, money and axis ranges, and the typed pieces a page renders (a figure with its caption,
or one line saying why there is no figure). Point labels are placed in `chart_labels`.

Nothing here imports plotly: each package's charts module builds its figures and styles them here."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

# Okabe & Ito's colour-blind-safe set without its yellow (unreadable on white through a projector), then four
# of Paul Tol's darker hues for a catalog's longer lists; both published as hex values, so copied by hand.
PALETTE = (
    "#0072B2",  # blue
    "#E69F00",  # orange
    "#009E73",  # bluish green
    "#D55E00",  # vermillion
    "#CC79A7",  # reddish purple
    "#56B4E9",  # sky blue
    "#332288",  # indigo
    "#882255",  # wine
    "#44AA99",  # teal
    "#999933",  # olive
    "#000000",  # black
)
NEUTRAL = "#8C8C8C"  # for what stands for no model: keys, leader lines
TEXT_COLOUR = "#31333F"  # Streamlit's own text colour: the charts read as part of the page
FONT_PX = 15  # axis labels and point labels: readable from the back of a room at 1280×720
TITLE_PX = 18
CHART_HEIGHT_PX = 380  # two charts side by side and their captions fit a 720 px high screen
# The plot area of a chart in a half-width column at 1280 px, inside its margins and axis labels (measured
# on the screenshots of tests/test_screenshots_browser.py): point labels are placed for this size, and a
# wider column only gives them more room.
PLOT_WIDTH_PX = 280
PLOT_HEIGHT_PX = CHART_HEIGHT_PX - 115
BAR_PX = 40  # height per bar (or box) of a horizontal chart: a two-line name fits beside it
MIN_BARS_HEIGHT_PX = 270
FONT_FAMILY = '"Source Sans", "Source Sans Pro", sans-serif'  # Streamlit's, served by the app itself


@dataclass(frozen=True)
class ColourMap:
    """One colour per model for every chart of a page, so a model looks the same in each: built once from
    the models in view, in their order (the palette repeats after its eleventh)."""

    keys: tuple[str, ...]

    @classmethod
    def of(cls, keys: Iterable[str]) -> ColourMap:
        """The map for these models, first seen first (duplicates ignored)."""
        return cls(tuple(dict.fromkeys(keys)))

    def colour(self, key: str) -> str:
        """The model's colour; a grey for a model not in the map."""
        if key not in self.keys:
            return NEUTRAL
        return PALETTE[self.keys.index(key) % len(PALETTE)]

    def colours(self, keys: Iterable[str]) -> list[str]:
        """Each model's colour, in order (for a trace with one bar or point per model)."""
        return [self.colour(k) for k in keys]


@dataclass(frozen=True)
class Chart:
    """A figure for a page: a short title in the figure, the detail in `caption` (what is measured, where the
    numbers come from), and in `left_out` the models in view it does not draw, and why. Both are plain text
    that may hold model keys: pages render them as text."""

    key: str  # the page's widget key
    figure: Any  # a plotly Figure
    caption: str
    left_out: str = ""


@dataclass(frozen=True)
class ChartNote:
    """One line in place of a chart that would show nothing, e.g. no model in view has a price (plain text)."""

    key: str
    text: str


def style(figure: Any, title: str, *, legend: bool = False, height: int = CHART_HEIGHT_PX) -> Any:
    """The shared look: a short title (the detail goes in the chart's caption), large type, white ground, the
    legend (if any) under the plot, margins that keep axis titles and labels inside the figure."""
    figure.update_layout(
        title={"text": title, "font": {"size": TITLE_PX}, "x": 0, "xanchor": "left", "y": 0.97},
        font={"size": FONT_PX, "family": FONT_FAMILY, "color": TEXT_COLOUR},
        template="plotly_white",
        height=height,
        margin={"l": 70, "r": 30, "t": 50, "b": 75 if legend else 60},
        showlegend=legend,
        legend={"orientation": "h", "yanchor": "top", "y": -0.22, "x": 0, "font": {"size": FONT_PX - 1}},
        hoverlabel={"font": {"size": FONT_PX}},
    )
    figure.update_xaxes(title_font={"size": FONT_PX}, tickfont={"size": FONT_PX - 1}, automargin=True)
    figure.update_yaxes(title_font={"size": FONT_PX}, tickfont={"size": FONT_PX - 1}, automargin=True)
    return figure


def bars_height(bars: int, lines: int = 2) -> int:
    """The height of a horizontal bar or box chart with this many rows, each named in up to `lines` lines:
    every name stays readable, and two or three bars are not drawn as slabs."""
    return max(MIN_BARS_HEIGHT_PX, 130 + max(BAR_PX, 8 + 17 * lines) * bars)


def usd_tick_format(largest: float) -> str:
    """A plotly tick format showing dollar amounts up to `largest` with two significant digits at least
    ($0.000012, not 1.2e-5 or µ-prefixed)."""
    if largest <= 0:
        return "$,.2f"
    decimals = max(2, 1 - math.floor(math.log10(largest)))
    return f"$,.{min(decimals, 10)}f"


def usd_text(value: float) -> str:
    """A dollar amount with two significant digits at least, in plain decimals: "$0.0000042", "$1.20"."""
    if value <= 0:
        return "$0"
    decimals = max(2, 1 - math.floor(math.log10(value)))
    return f"${value:.{min(decimals, 10)}f}"


def not_priced_text(local: Sequence[str], unknown: Sequence[str]) -> str:
    """Says which models have no price: local ones (they run on this machine, with no cost per token) apart
    from those whose price is unknown; "" when there are none."""
    parts = []
    if local:
        parts.append(f"{_and_list(local)} {'is' if len(local) == 1 else 'are'} local (run on this machine)")
    if unknown:
        parts.append(f"{_and_list(unknown)} {'has' if len(unknown) == 1 else 'have'} no known price")
    return "; ".join(parts)


def _and_list(names: Sequence[str]) -> str:
    """ "a", "a and b", "a, b and c"."""
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


@dataclass(frozen=True)
class AxisRange:
    """An axis's shown range, linear or log10, to place labels in the plot area's own fractions."""

    low: float
    high: float
    log: bool = False

    @classmethod
    def around(cls, values: Sequence[float], *, log: bool = False, from_zero: bool = False) -> AxisRange:
        """A range holding every value with room around it for their labels (log: half a decade or a tenth
        of the span; linear: 12%), starting at 0 if `from_zero` and no value is below 0."""
        if log:
            logs = [math.log10(v) for v in values if v > 0] or [0.0]
            pad = max(0.45, (max(logs) - min(logs)) * 0.1)  # room for labels beside the outer points
            return cls(min(logs) - pad, max(logs) + pad, log=True)
        low, high = min(values, default=0.0), max(values, default=1.0)
        span = (high - low) or abs(high) or 1.0
        # From zero: a sliver below it, so labels of points at zero need not leave the plot (no tick there).
        low = -0.04 * span if from_zero and low >= 0 else low - 0.12 * span
        return cls(low, high + 0.2 * span)  # more room after the last point: labels read rightwards

    @property
    def plotly(self) -> list[float]:
        """The axis `range` value (plotly takes log axes' range in log10 units)."""
        return [self.low, self.high]

    def fraction(self, value: float) -> float:
        """Where a value sits along the axis, 0 at its start and 1 at its end."""
        position = math.log10(value) if self.log else value
        return (position - self.low) / ((self.high - self.low) or 1.0)
