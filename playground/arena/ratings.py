"""Bradley–Terry ratings from pairwise votes, with bootstrap 95% intervals, ranks and a win-rate matrix.

The model: P(i beats j) = 1 / (1 + exp(θj − θi)). θ is fitted by choix's `ilsr_pairwise_dense` (iterative
Luce spectral ranking, which converges to the maximum-likelihood estimate) on the matrix of wins; nothing
here optimises by hand.

Conventions (said on the page and in the README too):
- A tie, and a "tie (bothbad)", counts as half a win for each model.
- Ratings are shown on the Elo scale used by public arena leaderboards: 1000 + 400·log10(e)·θ, with θ
  centred on 0 (the mean model is 1000; 400 points apart means 10:1 odds).
- Intervals: percentile bootstrap over votes (resampled with replacement, `bootstrap` rounds, one seed),
  95%. A vote log is resampled as counts per (pair, outcome), a multinomial draw that is the same as
  drawing votes with replacement and far quicker than refitting from vote lists.
- Rank: 1 + the number of models whose interval lies entirely above this one's, so models whose
  intervals overlap share a rank; while a model has fewer than MIN_VOTES_TO_RANK votes, every model
  shares rank 1 and the leaderboard says there are too few votes.
- PRIOR (choix's `alpha`): a small regularisation so that a model that never won, or votes that split the
  models into groups never compared, still get a finite (and very uncertain) rating.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from playground.core.errors import UsageError
from playground.core.votes import TIES, Vote

ELO_BASE = 1000.0
ELO_PER_NAT = 400.0 / math.log(10)
PRIOR = 0.01
DEFAULT_BOOTSTRAP = 1000
# Below this many votes for some model, a bootstrap over so few votes cannot show how uncertain its rating
# is (one vote resampled is always that vote: a zero-width interval), so no model is ranked above another.
MIN_VOTES_TO_RANK = 10
LEVEL = 0.95
TIE_CONVENTION = "a tie (and a tie where both were bad) counts as half a win for each model"


@dataclass(frozen=True)
class ModelRating:
    """One model's place on a leaderboard: rating and 95% interval (Elo scale), rank and its votes."""

    model: str
    rating: float
    lower: float
    upper: float
    rank: int  # models whose intervals overlap share a rank
    votes: int
    wins: int
    ties: int
    losses: int

    def to_json(self) -> dict[str, Any]:
        """JSON-ready (ratings rounded to 0.1 point)."""
        return {
            "model": self.model,
            "rank": self.rank,
            "rating": round(self.rating, 1),
            "lower": round(self.lower, 1),
            "upper": round(self.upper, 1),
            "votes": self.votes,
            "wins": self.wins,
            "ties": self.ties,
            "losses": self.losses,
        }


@dataclass(frozen=True)
class Leaderboard:
    """Ratings of every model that has votes, best first, with the win-rate matrix in the same order."""

    ratings: tuple[ModelRating, ...]
    # win_rates[i][j]: the share of i's battles against j that i won (ties as half); None if never met.
    win_rates: tuple[tuple[float | None, ...], ...]
    votes: int
    bootstrap: int
    seed: int
    unrated: tuple[str, ...] = ()  # models of the pool without a single vote yet
    notes: tuple[str, ...] = ()  # plain statements: too few votes to separate models, …

    @property
    def models(self) -> tuple[str, ...]:
        """The rated models, best first (the order of `ratings` and of the matrix)."""
        return tuple(r.model for r in self.ratings)

    @property
    def separated_pairs(self) -> int:
        """How many pairs of models have 95% intervals that do not overlap."""
        return sum(
            1
            for i, a in enumerate(self.ratings)
            for b in self.ratings[i + 1 :]
            if a.lower > b.upper or b.lower > a.upper
        )

    def to_json(self) -> dict[str, Any]:
        """JSON-ready, with the conventions it was computed under."""
        return {
            "votes": self.votes,
            "bootstrap": self.bootstrap,
            "seed": self.seed,
            "level": LEVEL,
            "scale": f"Elo: {ELO_BASE:g} + 400*log10(e)*theta (Bradley-Terry, choix ILSR)",
            "ties": TIE_CONVENTION,
            "ratings": [r.to_json() for r in self.ratings],
            "unrated": list(self.unrated),
            "win_rates": {
                a: {b: self.win_rates[i][j] for j, b in enumerate(self.models) if i != j}
                for i, a in enumerate(self.models)
            },
            "notes": list(self.notes),
        }


def leaderboard(
    votes: Sequence[Vote], bootstrap: int = DEFAULT_BOOTSTRAP, seed: int = 0, pool: Sequence[str] = ()
) -> Leaderboard:
    """The leaderboard of `votes` (models of `pool` without votes are listed as unrated)."""
    if bootstrap < 1:
        raise UsageError("--bootstrap must be at least 1 (1000 is usual)")
    import numpy as np

    models = sorted({v.model_a for v in votes} | {v.model_b for v in votes})
    unrated = tuple(m for m in dict.fromkeys(pool) if m not in models)
    if len(models) < 2:
        notes = ("No votes yet: the leaderboard starts with the first vote.",) if not votes else ()
        return Leaderboard((), (), len(votes), bootstrap, seed, unrated, notes)
    cells = _Cells.of(votes, models)
    theta = _fit(cells.matrix(cells.counts.astype(float))[0])
    draws = np.random.default_rng(seed).multinomial(len(votes), cells.counts / len(votes), size=bootstrap)
    samples = np.array([_fit(m, theta) for m in cells.matrix(draws.astype(float))])
    tail = (1 - LEVEL) / 2 * 100
    lower, upper = np.percentile(samples, [tail, 100 - tail], axis=0)
    ratings = _ratings(models, _elo(theta), _elo(lower), _elo(upper), votes)
    board = Leaderboard(ratings, _win_rates(cells, models, ratings), len(votes), bootstrap, seed, unrated)
    return replace(board, notes=_notes(board))


def _elo(theta: Any) -> list[float]:
    return [ELO_BASE + ELO_PER_NAT * float(t) for t in theta]


def _fit(matrix: Any, start: Any = None) -> Any:
    import choix

    return choix.ilsr_pairwise_dense(matrix, alpha=PRIOR, initial_params=start, max_iter=1000)


@dataclass(frozen=True)
class _Cells:
    """Votes as counts per (i, j, outcome), i < j; outcome 0: i won, 1: j won, 2: tie."""

    pairs: Any  # (cells, 2) model indexes
    outcomes: Any  # (cells,)
    counts: Any  # (cells,)
    size: int  # number of models

    @classmethod
    def of(cls, votes: Sequence[Vote], models: Sequence[str]) -> _Cells:
        import numpy as np

        index = {m: k for k, m in enumerate(models)}
        keys = np.empty((len(votes), 3), dtype=np.int64)
        for row, vote in enumerate(votes):
            a, b = index[vote.model_a], index[vote.model_b]
            outcome = 2 if vote.winner in TIES else (0 if vote.winner == "model_a" else 1)
            if a > b:  # canonical order: the lower index first
                a, b, outcome = b, a, {0: 1, 1: 0, 2: 2}[outcome]
            keys[row] = (a, b, outcome)
        unique, counts = np.unique(keys, axis=0, return_counts=True)
        return cls(unique[:, :2], unique[:, 2], counts, len(models))

    def matrix(self, counts: Any) -> Any:
        """Win matrices (wins[i, j]: times i beat j, ties as half each) for one or more rows of counts."""
        import numpy as np

        n = self.size
        weights = np.zeros((len(self.outcomes), n * n))
        rows = np.arange(len(self.outcomes))
        i, j = self.pairs[:, 0], self.pairs[:, 1]
        share_i = np.select([self.outcomes == 0, self.outcomes == 1], [1.0, 0.0], 0.5)
        weights[rows, i * n + j] = share_i
        weights[rows, j * n + i] = 1.0 - share_i
        return (np.atleast_2d(counts) @ weights).reshape(-1, n, n)


def _ratings(
    models: Sequence[str], rating: list[float], lower: list[float], upper: list[float], votes: Sequence[Vote]
) -> tuple[ModelRating, ...]:
    tally = {m: [0, 0, 0] for m in models}  # wins, ties, losses
    for vote in votes:
        if vote.winner in TIES:
            tally[vote.model_a][1] += 1
            tally[vote.model_b][1] += 1
        else:
            won, lost = (
                (vote.model_a, vote.model_b) if vote.winner == "model_a" else (vote.model_b, vote.model_a)
            )
            tally[won][0] += 1
            tally[lost][2] += 1
    order = sorted(range(len(models)), key=lambda k: -rating[k])
    ranked = min(sum(t) for t in tally.values()) >= MIN_VOTES_TO_RANK
    return tuple(
        ModelRating(
            model=models[k],
            rating=rating[k],
            lower=lower[k],
            upper=upper[k],
            rank=1 + sum(1 for j in range(len(models)) if lower[j] > upper[k]) if ranked else 1,
            votes=sum(tally[models[k]]),
            wins=tally[models[k]][0],
            ties=tally[models[k]][1],
            losses=tally[models[k]][2],
        )
        for k in order
    )


def _win_rates(
    cells: _Cells, models: Sequence[str], ratings: Sequence[ModelRating]
) -> tuple[tuple[float | None, ...], ...]:
    wins = cells.matrix(cells.counts.astype(float))[0]
    shown = [list(models).index(r.model) for r in ratings]
    return tuple(
        tuple(
            None if i == j or wins[i, j] + wins[j, i] == 0 else float(wins[i, j] / (wins[i, j] + wins[j, i]))
            for j in shown
        )
        for i in shown
    )


def _notes(board: Leaderboard) -> tuple[str, ...]:
    """What a reader must know before trusting the order."""
    notes = []
    fewest = min(board.ratings, key=lambda r: r.votes, default=None)
    if fewest is not None and fewest.votes < MIN_VOTES_TO_RANK:
        notes.append(
            f"Too few votes to separate the models yet: {fewest.model} has {fewest.votes} "
            f"(each needs at least {MIN_VOTES_TO_RANK} before any is ranked above another), so all share "
            "rank 1 and the intervals are not yet meaningful."
        )
    elif len(board.ratings) >= 2 and board.separated_pairs == 0:
        notes.append(
            f"Too few votes to separate these models: after {board.votes} votes every model's 95% interval "
            "overlaps every other's, so the order above may be chance."
        )
    elif len(set(r.rank for r in board.ratings)) < len(board.ratings):
        notes.append(
            "Models that share a rank have overlapping 95% intervals: the votes so far do not separate them."
        )
    if board.unrated:
        notes.append(f"No votes yet for {', '.join(board.unrated)}.")
    return tuple(notes)
