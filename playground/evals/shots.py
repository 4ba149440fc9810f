"""Few-shot prompting: which dataset rows a row is shown as examples before its own prompt.

A row is never its own example, nor is any row with the same prompt (a duplicate would hand the model its
answer), nor a row with no expected answer (an example needs one). Examples are taken from the same
dataset, leave-one-out, as the course does it: with k = 3, each row sees three other rows answered.

For each row the candidate rows are put in one order, and k takes the first k of it: so the 3-shot prompt
of a row holds its 1-shot example too, and the scores against k compare more examples, not other ones.
- `first`: dataset order.
- `random`: shuffled with the seed and the row's index (the same evaluation picks the same examples again).
- `similar`: most similar prompt first, by cosine similarity of embeddings (`Similarity`).
In the prompt the chosen examples are shown in reverse, so the closest one sits next to the question.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from typing import Literal

ShotSelect = Literal["first", "random", "similar"]
SHOT_SELECTS: tuple[ShotSelect, ...] = ("first", "random", "similar")
MAX_SHOTS = 20

# For `similar`: given every row's prompt, each row's candidates ranked from most to least similar.
Similarity = Callable[[Sequence[str]], Sequence[Sequence[int]]]


class ShotsError(ValueError):
    """A few-shot setting that cannot be used with this dataset; the message says which and why."""


def parse_shots(text: str) -> tuple[int, ...]:
    """'0,1,3' -> (0, 1, 3): distinct, ascending, each from 0 to MAX_SHOTS."""
    try:
        values = sorted({int(part) for part in text.replace(" ", "").split(",") if part})
    except ValueError as exc:
        raise ShotsError(
            f"shots must be whole numbers separated by commas, like 0,1,3 (not {text!r})"
        ) from exc
    if not values:
        raise ShotsError("give at least one number of examples, like 0 or 0,1,3")
    if values[0] < 0 or values[-1] > MAX_SHOTS:
        raise ShotsError(f"shots go from 0 to {MAX_SHOTS} examples (asked: {text})")
    return tuple(values)


class ExamplePicker:
    """Each row's examples, from the prompts and expected answers of every row of the dataset."""

    def __init__(
        self,
        prompts: Sequence[str],
        answers: Sequence[str | None],
        select: ShotSelect = "first",
        seed: int = 0,
        similarity: Similarity | None = None,
    ) -> None:
        if select not in SHOT_SELECTS:
            raise ShotsError(f"examples are picked by {', '.join(SHOT_SELECTS)}, not {select!r}")
        if select == "similar" and similarity is None:
            raise ShotsError("picking similar examples needs an embedding model")
        self.prompts, self.answers, self.select, self.seed = prompts, answers, select, seed
        # Ranked once for every row: one embedding per prompt, whatever the number of k values.
        self._ranked = similarity(prompts) if select == "similar" and similarity else None

    def candidates(self, index: int) -> list[int]:
        """The rows that may be `index`'s examples, in the order they are taken."""
        mine = self.prompts[index]
        allowed = [
            j
            for j in range(len(self.prompts))
            if j != index and self.prompts[j] != mine and _has(self.answers[j])
        ]
        if self.select == "random":
            random.Random(f"{self.seed}:{index}").shuffle(allowed)
        elif self.select == "similar":
            ok = set(allowed)
            assert self._ranked is not None
            allowed = [j for j in self._ranked[index] if j in ok]
        return allowed

    def examples(self, index: int, k: int) -> tuple[int, ...]:
        """The rows shown before row `index` with k examples, in prompt order (the nearest one last)."""
        return tuple(reversed(self.candidates(index)[:k]))

    def shortfall(self, k: int) -> list[int]:
        """Rows that have fewer than k possible examples (a small dataset, many duplicates)."""
        return [i for i in range(len(self.prompts)) if len(self.candidates(i)) < k]


def _has(answer: str | None) -> bool:
    return answer is not None and str(answer).strip() != ""
