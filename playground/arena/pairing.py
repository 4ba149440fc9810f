"""Which two models of a pool meet in the next battle, and which of them shows as "Model A"."""

from __future__ import annotations

import itertools
import random
from collections.abc import Mapping, Sequence

from playground.storage.arena import PairCount


def next_pair(
    models: Sequence[str], counts: Mapping[frozenset[str], PairCount], rng: random.Random
) -> tuple[str, str]:
    """(Model A, Model B) for the next battle.

    Balanced: the pair with the fewest votes so far, then the fewest battles (a battle not yet voted on
    may still be), so every pair gets votes; among equals one is drawn at random. Left and right are
    random, so a model is not always on the same side."""
    pairs = [frozenset(p) for p in itertools.combinations(dict.fromkeys(models), 2)]
    if not pairs:
        raise ValueError("a pair needs two different models")

    def load(pair: frozenset[str]) -> tuple[int, int]:
        seen = counts.get(pair, PairCount())
        return (seen.votes, seen.battles)

    fewest = min(load(p) for p in pairs)
    first, second = sorted(rng.choice([p for p in pairs if load(p) == fewest]))
    return (first, second) if rng.random() < 0.5 else (second, first)
