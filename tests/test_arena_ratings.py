"""Arena ratings on vote logs drawn from known strengths: the order comes back, the 95% intervals cover the
truth at about their nominal rate, ties count as half a win, and too few votes are said plainly."""

from __future__ import annotations

import math
import random

import pytest

from playground.arena.ratings import ELO_BASE, ELO_PER_NAT, leaderboard
from playground.core.votes import Vote

# True strengths (natural-log scale, centred) of six models.
THETA = {"m0": -1.0, "m1": -0.5, "m2": 0.0, "m3": 0.3, "m4": 0.55, "m5": 0.65}
_MEAN = sum(THETA.values()) / len(THETA)
TRUE_ELO = {m: ELO_BASE + ELO_PER_NAT * (t - _MEAN) for m, t in THETA.items()}


def synthetic_votes(n: int, seed: int, ties: float = 0.0) -> list[Vote]:
    """`n` votes between random pairs, each won with the Bradley–Terry probability of the true strengths;
    a share `ties` of them are ties (drawn whatever the strengths)."""
    rng = random.Random(seed)
    names = sorted(THETA)
    votes = []
    for _ in range(n):
        a, b = rng.sample(names, 2)
        if rng.random() < ties:
            winner = rng.choice(["tie", "tie (bothbad)"])
        else:
            p_a = 1 / (1 + math.exp(THETA[b] - THETA[a]))
            winner = "model_a" if rng.random() < p_a else "model_b"
        votes.append(Vote(a, b, winner))
    return votes


def test_a_large_log_recovers_the_true_order_and_separates_the_extremes():
    board = leaderboard(synthetic_votes(6000, seed=1), bootstrap=300, seed=1)
    assert board.models == tuple(sorted(THETA, key=THETA.get, reverse=True))
    best, worst = board.ratings[0], board.ratings[-1]
    assert best.rank == 1 and worst.rank > 1 and worst.lower < worst.rating < worst.upper
    assert best.lower > worst.upper
    assert sum(r.votes for r in board.ratings) == 2 * 6000


def test_ties_do_not_change_the_order_and_count_as_half_a_win():
    board = leaderboard(synthetic_votes(6000, seed=2, ties=0.2), bootstrap=200, seed=2)
    assert board.models == tuple(sorted(THETA, key=THETA.get, reverse=True))
    only_ties = [Vote("a", "b", "tie"), Vote("b", "a", "tie (bothbad)")] * 10
    even = leaderboard(only_ties, bootstrap=50)
    assert [round(r.rating, 6) for r in even.ratings] == [ELO_BASE, ELO_BASE]
    assert even.win_rates[0][1] == 0.5 and even.win_rates[1][0] == 0.5
    assert {(r.wins, r.ties, r.losses) for r in even.ratings} == {(0, 20, 0)}


def test_the_95_percent_intervals_cover_the_truth_at_about_their_nominal_rate():
    covered = total = 0
    for seed in range(20):
        board = leaderboard(synthetic_votes(1500, seed=100 + seed), bootstrap=200, seed=seed)
        for r in board.ratings:
            covered += r.lower <= TRUE_ELO[r.model] <= r.upper
            total += 1
    assert total == 120
    # Nominal 95%: 114 of 120 expected; a binomial spread of about ±2.4 intervals around it.
    assert 0.88 <= covered / total <= 0.99, f"covered {covered} of {total}"


def test_the_same_seed_gives_the_same_intervals_and_another_seed_other_ones():
    votes = synthetic_votes(800, seed=5)
    first, again, other = (leaderboard(votes, 100, s) for s in (7, 7, 8))
    assert first.ratings == again.ratings
    assert [r.lower for r in first.ratings] != [r.lower for r in other.ratings]


def test_too_few_votes_to_separate_models_is_said_plainly_and_all_share_the_first_rank():
    board = leaderboard(
        [Vote("a", "b", "model_a"), Vote("b", "c", "model_a")], bootstrap=100, pool=["a", "b", "c", "d"]
    )
    assert {r.rank for r in board.ratings} == {1}
    assert any("Too few votes to separate" in note for note in board.notes)
    assert board.unrated == ("d",) and any("No votes yet for d" in note for note in board.notes)
    # Enough votes per model to rank, but an even split: every interval overlaps every other.
    even = [
        Vote(a, b, w) for a, b in (("a", "b"), ("b", "c"), ("a", "c")) for w in ("model_a", "model_b")
    ] * 4
    close = leaderboard(even, bootstrap=200)
    assert close.separated_pairs == 0 and {r.rank for r in close.ratings} == {1}
    assert close.notes[0].startswith("Too few votes to separate these models: after 24 votes")
    # Some separated, some not: those that overlap share a rank, and the board says why.
    mixed = leaderboard(synthetic_votes(120, seed=3), bootstrap=200)
    ranks = [r.rank for r in mixed.ratings]
    assert ranks == sorted(ranks) and len(set(ranks)) < len(ranks) and max(ranks) > 1
    assert any("share a rank" in note for note in mixed.notes)


def test_no_votes_gives_an_empty_board_that_says_so():
    board = leaderboard([], pool=["a", "b"])
    assert board.ratings == () and board.unrated == ("a", "b")
    assert "No votes yet" in board.notes[0]


def test_the_win_rate_matrix_is_each_models_share_of_its_battles_against_the_other():
    votes = [Vote("a", "b", "model_a")] * 3 + [Vote("b", "a", "model_a")] + [Vote("a", "c", "tie")] * 2
    board = leaderboard(votes, bootstrap=20)
    index = {m: k for k, m in enumerate(board.models)}
    rate = board.win_rates
    assert rate[index["a"]][index["b"]] == pytest.approx(0.75)
    assert rate[index["b"]][index["a"]] == pytest.approx(0.25)
    assert rate[index["a"]][index["c"]] == pytest.approx(0.5)
    assert rate[index["b"]][index["c"]] is None  # never met
    assert board.to_json()["win_rates"]["a"]["b"] == pytest.approx(0.75)
