"""Arena benchmarks, one run:

(a) leaderboard computation: 10,000 votes over 10 models (drawn from known Bradley–Terry strengths), 1,000
    bootstrap rounds, as `playground arena ratings` and the pages compute it (target <= 2 s); median of 5
    runs after one warm-up (imports), with the time per bootstrap fit.
(b) vote-to-leaderboard latency in the presenter view: `streamlit run app.py` serves the presenter page of
    an arena that already holds SEEDED votes, in headless Debian chromium; a vote is written through the
    arena service (what a participant's click does once the page has it), and a MutationObserver in the
    page stamps the moment the Votes figure shows the new count. Latency = that stamp − the moment the vote
    was committed (one clock: both on this machine). The fragment reruns every REFRESH_S, so the expected
    latency is up to REFRESH_S plus one fragment run; votes are spread over the refresh period.

Run: .venv/bin/python bench/bench_arena.py
"""

from __future__ import annotations

import math
import os
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from playground.arena import Arenas, ArenaSetup, leaderboard  # noqa: E402
from playground.arena.service import _board  # noqa: E402 - the fit cache, cleared to time a fresh fit
from playground.core import LOCAL_USER, HostedPolicy, RunResult, Vote  # noqa: E402
from playground.core.specs import ModelSpec  # noqa: E402
from playground.hosting import Gate  # noqa: E402
from playground.storage import Store  # noqa: E402
from tests.conftest import free_port  # noqa: E402
from tests.processes import serving, streamlit_command  # noqa: E402
from tests.test_browser import CHROMIUM, CHROMIUM_ARGS  # noqa: E402

VOTES, MODELS, ROUNDS, RUNS = 10_000, 10, 1_000, 5
GOAL_S = 2.0
SEEDED = 300
LATENCY_VOTES = 10
REFRESH_S = 2.0  # pages/arena_presenter.py's fragment interval
# Stamps when the Votes figure first shows each count (window.__seen) and when the leaderboard's caption
# first says it was fitted on that many votes (window.__board).
WATCH_VOTES = r"""() => {
  window.__seen = {};
  window.__board = {};
  const look = () => {
    for (const metric of document.querySelectorAll('[data-testid="stMetric"]')) {
      if (!metric.innerText.includes('Votes')) continue;
      const value = metric.querySelector('[data-testid="stMetricValue"]');
      if (value && !(value.innerText.trim() in window.__seen)) window.__seen[value.innerText.trim()] = Date.now();
    }
    for (const caption of document.querySelectorAll('[data-testid="stCaptionContainer"]')) {
      const fitted = caption.innerText.match(/fitted by choix on (\d+) votes/);
      if (fitted && !(fitted[1] in window.__board)) window.__board[fitted[1]] = Date.now();
    }
  };
  new MutationObserver(look).observe(document.body, {subtree: true, childList: true, characterData: true});
  look();
}"""


def synthetic(n: int, models: int, seed: int) -> list[Vote]:
    """`n` votes between random pairs with Bradley–Terry outcomes from evenly spread strengths, 10% ties."""
    rng = random.Random(seed)
    theta = [-1.5 + 3.0 * k / (models - 1) for k in range(models)]
    votes = []
    for _ in range(n):
        a, b = rng.sample(range(models), 2)
        if rng.random() < 0.1:
            winner = "tie"
        else:
            winner = "model_a" if rng.random() < 1 / (1 + math.exp(theta[b] - theta[a])) else "model_b"
        votes.append(Vote(f"model-{a}", f"model-{b}", winner))
    return votes


def bench_leaderboard() -> None:
    votes = synthetic(VOTES, MODELS, seed=1)
    leaderboard(votes[:100], bootstrap=10)  # imports (numpy, scipy, choix) are not the computation
    times = []
    for run in range(RUNS):
        started = time.perf_counter()
        board = leaderboard(votes, bootstrap=ROUNDS, seed=run)
        times.append(time.perf_counter() - started)
    median = statistics.median(times)
    print(f"(a) leaderboard of {VOTES:,} votes over {MODELS} models, {ROUNDS:,} bootstrap rounds:")
    print(
        f"    median {median:.3f} s (min {min(times):.3f}, max {max(times):.3f}) over {RUNS} runs; "
        f"{1000 * median / ROUNDS:.2f} ms per bootstrap fit; median / goal {GOAL_S:g} s = **{median / GOAL_S:.2f}**"
    )
    order = [r.model for r in board.ratings]
    print(f"    order recovered: {order == [f'model-{k}' for k in reversed(range(MODELS))]}")


def answered_battles(arenas: Arenas, participant: str, arena_id: str, count: int) -> list[str]:
    """`count` battles with both answers in, written straight to the store (no model is called)."""
    rng = random.Random(2)
    store = arenas.store
    models = store.get(arena_id).models
    battles = []
    for index in range(count):
        a, b = rng.sample(models, 2)
        battle = store.start_battle(arena_id, participant, a, b, f"seeded prompt {index}")
        for side, model in (("a", a), ("b", b)):
            store.finish_answer(
                battle, 0, side, RunResult(model=model, text="seeded", total_s=rng.uniform(0.2, 2))
            )
        battles.append(battle)
    return battles


def seed_votes(arenas: Arenas, participant: str, battles: list[str]) -> None:
    """A vote on each battle, dated a minute apart in the past (the votes-per-minute limit holds)."""
    rng = random.Random(4)
    start = time.time() - 60 * len(battles)
    for index, battle in enumerate(battles):
        moment = datetime.fromtimestamp(start + 60 * index, UTC)
        arenas.store.vote(battle, participant, rng.choice(["model_a", "model_b", "tie"]), now=moment)


def bench_presenter_latency() -> None:
    from playwright.sync_api import sync_playwright

    folder = Path(tempfile.mkdtemp())
    db_url = f"sqlite:///{folder / 'bench.db'}"
    specs = {
        f"m{k}": ModelSpec(
            key=f"m{k}", provider="openai", model="x", base_url="http://127.0.0.1:9/v1", source="bench"
        )
        for k in range(4)
    }
    models_file = folder / "models.toml"
    models_file.write_text(
        "".join(
            f'[models.{k}]\nprovider = "openai"\nmodel = "x"\nbase_url = "http://127.0.0.1:9/v1"\n\n'
            for k in specs
        )
    )
    arenas = Arenas(Store(db_url), specs, gate=Gate(HostedPolicy()))
    arena = arenas.create(ArenaSetup("bench", tuple(specs), votes_per_minute=600), LOCAL_USER)
    me = arenas.join(arena.id, "bench", LOCAL_USER)
    battles = answered_battles(arenas, me.id, arena.id, SEEDED + LATENCY_VOTES)
    seed_votes(arenas, me.id, battles[:SEEDED])
    pending = battles[SEEDED:]  # answered, waiting for the votes measured below
    env = {**os.environ, "PLAYGROUND_DB": db_url, "PLAYGROUND_MODELS_FILE": str(models_file)}
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    latencies, boards = [], []
    with serving(streamlit_command(port), f"{url}/_stcore/health", folder / "streamlit.log", env=env):
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1600, "height": 1000})
            page.goto(f"{url}/arena-presenter?arena={arena.id}")
            page.locator("[data-testid='stTable']").wait_for(timeout=60_000)
            page.evaluate(WATCH_VOTES)
            rng = random.Random(3)
            for number, battle_id in enumerate(pending, SEEDED + 1):
                time.sleep(rng.uniform(0, REFRESH_S))  # a vote lands anywhere in the refresh period
                arenas.store.vote(battle_id, me.id, "model_a")
                committed = time.time() * 1000
                page.wait_for_function(f"() => '{number}' in window.__board", timeout=30_000)
                latencies.append((page.evaluate(f"window.__seen['{number}']") - committed) / 1000)
                boards.append((page.evaluate(f"window.__board['{number}']") - committed) / 1000)
            browser.close()
    fits = []
    for _ in range(5):  # what one fragment run computes after a new vote: votes read, board refitted
        _board.cache_clear()
        started = time.perf_counter()
        arenas.standings(arena.id)
        fits.append(time.perf_counter() - started)
    report_latency(latencies, boards, fits, len(specs))


def report_latency(latencies: list[float], boards: list[float], fits: list[float], models: int) -> None:
    print(
        f"(b) vote → presenter view, {LATENCY_VOTES} votes on an arena of {SEEDED} votes over {models} models,"
    )
    print(f"    fragment every {REFRESH_S:g} s (measured in chromium: vote committed → the page shows it):")
    for what, values in (("Votes figure", latencies), ("leaderboard refitted", boards)):
        ordered = sorted(values)
        print(
            f"    {what}: median {statistics.median(values):.2f} s, p90 {ordered[int(0.9 * len(values)) - 1]:.2f} s, "
            f"max {max(values):.2f} s"
        )
    fit = statistics.median(fits)
    print(
        f"    one fragment's standings after a vote (votes read + 1,000-round bootstrap): median {fit:.3f} s; "
        f"median leaderboard latency / (refresh / 2 + one fit) = **{statistics.median(boards) / (REFRESH_S / 2 + fit):.2f}**"
    )


if __name__ == "__main__":
    bench_leaderboard()
    bench_presenter_latency()
