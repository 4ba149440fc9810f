"""Vision models evaluated on a labelled image set: every image asked about by every model, each answer
scored with one of the evaluation metrics (`evals.metrics`), and per model the mean score with its 95%
interval (Wilson for pass/fail, Student's t for graded scores: `core.stats.MeanCI`), the median seconds,
the tokens and the cost of the whole set.

A set is the shipped cards (drawn here by Pillow: colours and counts a model must name), or a CSV with
`file`, `prompt` and `reference` columns whose images lie beside it or were uploaded with it."""

from __future__ import annotations

import csv
import io
import statistics
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from playground.core.errors import UsageError
from playground.core.format import set_cost_cell
from playground.core.results import RunResult
from playground.core.sets import files_beside
from playground.core.specs import ModelSpec
from playground.core.stats import MeanCI
from playground.engine.registry import Keys
from playground.evals.metrics import METRICS, MetricChoice, MetricError, score_answer
from playground.images import ImageAsk, ImageFile, ImagePayer, ImagesError, describe_each, read_image

MAX_SET_IMAGES = 200  # every image is one call per model, and the whole set is admitted at once


@dataclass(frozen=True)
class LabelledImage:
    """One image of a set, what to ask about it, and the answer expected."""

    image: ImageFile
    prompt: str
    reference: str


@dataclass(frozen=True)
class DescriberSummary:
    """One model over the whole set: its mean score with an interval, speed, tokens, cost, failures."""

    model: str
    score: MeanCI | None
    seconds_p50: float | None
    output_tokens: int | None  # over the answers whose tokens are known
    cost_usd: Decimal | None  # the set's cost (None: some call's price is unknown, or local)
    cost_source: str
    failed: tuple[str, ...]  # names of the images it did not answer


@dataclass(frozen=True)
class DescriberEvaluation:
    """Every model's summary, in the order asked, and every answer (per image, per model)."""

    metric: MetricChoice
    summaries: list[DescriberSummary]
    answers: list[list[RunResult]]

    def table_rows(self) -> list[dict[str, str]]:
        """One row per model for a table: the score with its interval, speed, tokens, cost, failures."""
        return [
            {
                "model": s.model,
                self.metric.name: str(s.score) if s.score else "–",
                "seconds p50": "–" if s.seconds_p50 is None else f"{s.seconds_p50:.2f}",
                "output tokens": "–" if s.output_tokens is None else f"{s.output_tokens:,}",
                "cost (USD)": set_cost_cell(s.cost_usd, s.cost_source),
                "failed": ", ".join(s.failed) or "none",
            }
            for s in self.summaries
        ]


def shipped_image_set() -> list[LabelledImage]:
    """Six cards drawn here, each asking for one word or digit a model that sees must get right."""
    from PIL import Image, ImageDraw

    colours = {"red": (220, 40, 40), "green": (40, 160, 60), "blue": (40, 80, 220)}
    items = []
    for name, fill in colours.items():
        card = Image.new("RGB", (256, 256), (235, 235, 235))
        ImageDraw.Draw(card).rectangle((48, 48, 208, 208), fill=fill)
        items.append((f"square-{name}.png", card, "What colour is the square? Answer with one word.", name))
    for count in (1, 2, 3):
        card = Image.new("RGB", (256, 256), (235, 235, 235))
        draw = ImageDraw.Draw(card)
        for i in range(count):
            draw.ellipse((16 + 80 * i, 96, 80 + 80 * i, 160), fill=(20, 20, 20))
        items.append(
            (f"circles-{count}.png", card, "How many circles are there? Answer with a digit.", str(count))
        )
    return [
        LabelledImage(read_image(_png(card), name), prompt, reference)
        for name, card, prompt, reference in items
    ]


def _png(card: object) -> bytes:
    buffer = io.BytesIO()
    card.save(buffer, format="PNG")  # type: ignore[attr-defined]
    return buffer.getvalue()


def read_image_set(csv_path: Path) -> list[LabelledImage]:
    """A labelled set from a CSV file (`file`, `prompt`, `reference`) whose images lie in its folder."""
    source = files_beside(csv_path, ImagesError)
    return parse_image_set(csv_path.read_text(encoding="utf-8"), source, csv_path.name)


def parse_image_set(
    csv_text: str, image_of: Callable[[str], bytes], source: str = "the CSV"
) -> list[LabelledImage]:
    """A labelled set from CSV text (`file`, `prompt`, `reference`), each image's bytes from
    `image_of(name)` (an upload's, or a file beside the CSV); ImagesError naming the line of a missing
    column, an image that cannot be had or read, or a set too large."""
    rows = list(csv.DictReader(io.StringIO(csv_text)))
    if not rows or not {"file", "prompt", "reference"} <= set(rows[0]):
        raise ImagesError(f"{source} needs the columns file, prompt and reference")
    if len(rows) > MAX_SET_IMAGES:
        raise ImagesError(f"{source} holds {len(rows):,} images; a set takes at most {MAX_SET_IMAGES}")
    items = []
    for line, row in enumerate(rows, start=2):
        try:
            image = read_image(image_of(row["file"]), row["file"])
        except UsageError as exc:
            raise ImagesError(f"{source}, line {line}: {exc}") from exc
        items.append(LabelledImage(image, row["prompt"] or "", row["reference"] or ""))
    return items


def evaluate_describers(
    items: Sequence[LabelledImage],
    models: Sequence[str],
    metric: MetricChoice,
    *,
    max_tokens: int = 64,
    specs: Mapping[str, ModelSpec] | None = None,
    keys: Keys | None = None,
    payer: ImagePayer | None = None,
) -> DescriberEvaluation:
    """Every image asked about by every model, each answer scored by `metric` against the reference;
    ImagesError or MetricError before anything is sent (no image, a metric that is not a text metric),
    LimitExceededError when the user's limits refuse the whole set."""
    chosen = METRICS.get(metric.name)
    if chosen is None or not chosen.needs_expected:
        usable = ", ".join(m.name for m in METRICS.values() if m.needs_expected)
        raise MetricError(f"a set is scored against its references; choose one of: {usable}")
    asks = [ImageAsk(item.image, item.prompt) for item in items]
    answers = describe_each(asks, models, max_tokens=max_tokens, specs=specs, keys=keys, payer=payer)
    names = [item.image.name for item in items]
    summaries = [
        _summary(key, [row[i] for row in answers], [item.reference for item in items], names, metric)
        for i, key in enumerate(models)
    ]
    return DescriberEvaluation(metric, summaries, answers)


def _summary(
    model: str,
    results: Sequence[RunResult],
    references: Sequence[str],
    names: Sequence[str],
    metric: MetricChoice,
) -> DescriberSummary:
    """One model's figures over the images it answered."""
    answered = [(r, ref) for r, ref in zip(results, references, strict=True) if r.ok]
    scores = [score_answer(metric, r.text, ref).value for r, ref in answered]
    seconds = [r.total_s for r, _ in answered if r.total_s is not None]
    tokens = [r.output_tokens for r, _ in answered if r.output_tokens is not None]
    costs = [r.cost_usd for r in results if r.attempts]
    known = [c for c in costs if c is not None]
    return DescriberSummary(
        model=model,
        score=MeanCI.of([float(v) for v in scores if v is not None]),
        seconds_p50=statistics.median(seconds) if seconds else None,
        output_tokens=sum(tokens) if tokens else None,
        cost_usd=sum(known, Decimal(0)) if known and len(known) == len(costs) else None,
        cost_source=results[0].cost_source if results else "unknown",
        failed=tuple(name for name, r in zip(names, results, strict=True) if not r.ok),
    )
