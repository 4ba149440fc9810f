"""Arenas through their service, on SQLite and on a real PostgreSQL: blind battles against the scripted
server, follow-up turns, votes, balanced pairs, ownership, exports, the vote-log CLI, and every bad input
of the issue (each refused with one clear message and nothing changed)."""

from __future__ import annotations

import csv
import io
import json
import random
import subprocess
import sys
from collections import Counter
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from playground.arena import (
    TOO_LONG,
    ArenaError,
    Arenas,
    ArenaSetup,
    SideDone,
    SideText,
    leaderboard,
    parse_vote_log,
    read_vote_log,
)
from playground.arena.links import AddressError, checked_address, join_link
from playground.arena.service import PRICE_REFUSED
from playground.arena.votelog import VoteLogError
from playground.core import LOCAL_USER, HostedPolicy, UsageError, User
from playground.core.policy import Limits
from playground.core.specs import ModelSpec
from playground.engine import Keyring
from playground.hosting import Gate, LimitExceededError
from playground.storage import Store
from tests.conftest import closed_port_url, remote_spec
from tests.processes import ROOT
from tests.scripted_server import ScriptedServer

ALICE = User("https://id.example|alice", "Alice")
BOB = User("https://id.example|bob", "Bob")


def pool(scripted: ScriptedServer, *keys: str, scenario: str = "echo") -> dict[str, ModelSpec]:
    """Scripted models that echo the last prompt back."""
    return {key: remote_spec(scripted.url(f"{scenario}~id={key}"), key=key) for key in keys}


def arenas_on(db_url: str, specs: dict[str, ModelSpec], gate: Gate | None = None, seed: int = 0) -> Arenas:
    return Arenas(Store(db_url), specs, gate=gate or Gate(HostedPolicy()), rng=random.Random(seed))


def run_turn(turn) -> list:  # noqa: ANN001 - a BattleTurn
    return list(turn.events())


def voted_battle(arenas: Arenas, arena_id: str, participant_id: str, prompt: str = "hello") -> str:
    turn = arenas.start_battle(arena_id, participant_id, prompt, LOCAL_USER)
    run_turn(turn)
    return turn.battle_id


def counts(arenas: Arenas, arena_id: str) -> tuple[int, int, int]:
    activity = arenas.activity(arena_id)
    return activity.participants, activity.battles, activity.votes


def test_a_blind_battle_with_a_follow_up_then_a_vote_that_reveals_the_models(scripted, db_url):
    arenas = arenas_on(db_url, pool(scripted, "m1", "m2", "m3"))
    arena = arenas.create(ArenaSetup("demo", ("m1", "m2", "m3")), LOCAL_USER)
    me = arenas.join(arena.id, "Ann", LOCAL_USER)
    turn = arenas.start_battle(arena.id, me.id, "  first question  ", LOCAL_USER)
    events = run_turn(turn)
    assert {e.side for e in events if isinstance(e, SideDone)} == {"a", "b"}
    assert all(not hasattr(e, "model") for e in events)  # events name sides, never models
    assert "".join(e.text for e in events if isinstance(e, SideText) and e.side == "a") == "first question "
    view = arenas.view(turn.battle_id, me.id, LOCAL_USER)
    assert view.votable and view.reveal is None  # names stay hidden before the vote

    scripted.requests.clear()
    run_turn(arenas.follow_up(turn.battle_id, me.id, "second question", LOCAL_USER))
    sent = [r["body"]["messages"] for r in scripted.requests]
    assert len(sent) == 2
    for messages in sent:  # each model continues its own conversation, with its own earlier answer
        assert [m["role"] for m in messages] == ["user", "assistant", "user"]
        assert messages[0]["content"] == "first question" and messages[2]["content"] == "second question"
        assert messages[1]["content"].strip() == "first question"

    revealed = arenas.vote(turn.battle_id, me.id, "model_b", LOCAL_USER)
    battle = arenas.store.battle(turn.battle_id)
    assert revealed.reveal is not None and revealed.reveal.winner == "model_b"
    assert (revealed.reveal.model_a, revealed.reveal.model_b) == (battle.model_a, battle.model_b)
    assert len(revealed.reveal.figures_a) == 2 and "TTFT" in revealed.reveal.figures_a[0]
    assert [t.prompt for t in revealed.turns] == ["first question", "second question"]
    standings = arenas.standings(arena.id, bootstrap=50, viewer=LOCAL_USER)  # the owner
    assert standings.board.votes == 1 and set(standings.board.models) == {battle.model_a, battle.model_b}
    assert standings.figures[battle.model_a].answers == 2
    assert standings.figures[battle.model_a].cost_per_answer == "unknown"  # no price: never $0


def test_every_bad_input_is_refused_with_one_message_and_changes_nothing(scripted, db_url):
    specs = pool(scripted, "m1", "m2")
    arenas = arenas_on(db_url, specs)
    arena = arenas.create(ArenaSetup("bad inputs", ("m1", "m2")), LOCAL_USER)
    me = arenas.join(arena.id, "Ann", LOCAL_USER)
    battle_id = voted_battle(arenas, arena.id, me.id)

    for prompt in ("", "   \n\t "):
        with pytest.raises(ArenaError, match="prompt is empty"):
            arenas.start_battle(arena.id, me.id, prompt, LOCAL_USER)
    with pytest.raises(ArenaError, match="There is no battle"):
        arenas.vote("0" * 32, me.id, "model_a", LOCAL_USER)
    arenas.vote(battle_id, me.id, "tie", LOCAL_USER)
    before = counts(arenas, arena.id)
    with pytest.raises(ArenaError, match="already voted"):
        arenas.vote(battle_id, me.id, "model_a", LOCAL_USER)
    second = voted_battle(arenas, arena.id, me.id)
    arenas.close(arena.id, LOCAL_USER)
    with pytest.raises(ArenaError, match="is closed"):
        arenas.vote(second, me.id, "model_a", LOCAL_USER)
    with pytest.raises(ArenaError, match="is closed"):
        arenas.start_battle(arena.id, me.id, "more", LOCAL_USER)
    assert counts(arenas, arena.id) == (before[0], before[1] + 1, before[2])
    with pytest.raises(UsageError) as long:
        arenas.follow_up(second, me.id, "word " * 3000, LOCAL_USER)
    assert str(long.value) == TOO_LONG  # blind: no name, window, token count or tokenizer
    assert len(arenas.store.battle(second).turns) == 1
    assert arenas.store.battle(battle_id).winner == "tie"  # the first vote stands
    arenas.reopen(arena.id, LOCAL_USER)
    arenas.vote(second, me.id, "model_a", LOCAL_USER)  # open again: the same vote is taken


def test_an_arena_needs_two_usable_models_and_a_name(scripted, db_url):
    specs = {
        **pool(scripted, "m1"),
        "needs-key": ModelSpec(
            key="needs-key", provider="openai", model="gpt-4o-mini", api_key_env="SOME_UNSET_KEY"
        ),
    }
    arenas = arenas_on(db_url, specs)
    with pytest.raises(ArenaError, match="at least 2 usable models"):
        arenas.create(ArenaSetup("one", ("m1",)), LOCAL_USER)
    with pytest.raises(ArenaError, match="Not usable now.*needs-key"):
        arenas.create(ArenaSetup("two", ("m1", "needs-key")), LOCAL_USER)
    with pytest.raises(ArenaError, match="Unknown model nope"):
        arenas.create(ArenaSetup("three", ("m1", "nope")), LOCAL_USER)
    with pytest.raises(ArenaError, match="at least 2 usable"):
        arenas.create(ArenaSetup("dup", ("m1", "m1")), LOCAL_USER)
    with pytest.raises(ArenaError, match="name"):
        arenas.create(ArenaSetup("  ", ("m1", "m1")), LOCAL_USER)
    assert arenas.store.list() == []


def test_a_battle_with_a_failed_answer_is_not_votable_and_says_so(scripted, db_url):
    specs = {**pool(scripted, "good"), "dead": remote_spec(closed_port_url(), key="dead")}
    arenas = arenas_on(db_url, specs)
    arena = arenas.create(ArenaSetup("failing", ("good", "dead")), LOCAL_USER)
    me = arenas.join(arena.id, "Ann", LOCAL_USER)
    turn = arenas.start_battle(arena.id, me.id, "hello", LOCAL_USER)
    done = {e.side: e for e in run_turn(turn) if isinstance(e, SideDone)}
    assert sorted(e.failed or "ok" for e in done.values()) == ["connection", "ok"]
    view = arenas.view(turn.battle_id, me.id, LOCAL_USER)
    assert not view.votable and "failed" in view.why_not_votable
    assert view.reveal is not None and any(
        "failed (connection)" in f for f in view.reveal.figures_a + view.reveal.figures_b
    )
    with pytest.raises(ArenaError, match="failed, so it cannot be voted on"):
        arenas.vote(turn.battle_id, me.id, "model_a", LOCAL_USER)
    with pytest.raises(ArenaError, match="failed, so it cannot go on"):
        arenas.follow_up(turn.battle_id, me.id, "again", LOCAL_USER)
    assert arenas.activity(arena.id).votes == 0


def test_votes_per_minute_are_limited_per_participant(scripted, db_url):
    arenas = arenas_on(db_url, pool(scripted, "m1", "m2"))
    arena = arenas.create(ArenaSetup("limited", ("m1", "m2"), votes_per_minute=2), LOCAL_USER)
    me, other = (arenas.join(arena.id, name, LOCAL_USER) for name in ("Ann", "Ben"))
    battles = [voted_battle(arenas, arena.id, me.id) for _ in range(3)]
    for battle_id in battles[:2]:
        arenas.vote(battle_id, me.id, "model_a", LOCAL_USER)
    with pytest.raises(ArenaError, match="at most 2 votes a minute"):
        arenas.vote(battles[2], me.id, "model_a", LOCAL_USER)
    arenas.vote(
        voted_battle(arenas, arena.id, other.id), other.id, "model_b", LOCAL_USER
    )  # another's own limit
    later = datetime.now(UTC) + timedelta(seconds=61)
    arenas.store.vote(battles[2], me.id, "model_a", now=later)  # a minute on, it is taken
    assert arenas.activity(arena.id).votes == 4


def test_a_participant_votes_only_on_their_own_battles(scripted, db_url):
    arenas = arenas_on(db_url, pool(scripted, "m1", "m2"))
    arena = arenas.create(ArenaSetup("own", ("m1", "m2")), LOCAL_USER)
    ann, ben = (arenas.join(arena.id, name, LOCAL_USER) for name in ("Ann", "Ben"))
    battle_id = voted_battle(arenas, arena.id, ann.id)
    with pytest.raises(ArenaError, match="another participant's"):
        arenas.vote(battle_id, ben.id, "model_a", LOCAL_USER)
    with pytest.raises(ArenaError, match="another participant's"):
        arenas.follow_up(battle_id, ben.id, "mine now", LOCAL_USER)
    assert arenas.activity(arena.id).votes == 0


def test_pairs_are_balanced_and_left_and_right_are_random(scripted, db_url):
    keys = ("m1", "m2", "m3", "m4")
    arenas = arenas_on(db_url, pool(scripted, *keys), seed=3)
    arena = arenas.create(ArenaSetup("balanced", keys, votes_per_minute=600), LOCAL_USER)
    me = arenas.join(arena.id, "Ann", LOCAL_USER)
    for _ in range(12):  # 6 pairs, each drawn twice before any a third time
        arenas.vote(voted_battle(arenas, arena.id, me.id), me.id, "tie", LOCAL_USER)
    pairs = arenas.store.pair_counts(arena.id)
    assert len(pairs) == 6 and {c.votes for c in pairs.values()} == {2}
    sides = Counter(b.model_a for b in _battles(arenas, arena.id))
    assert len(sides) >= 3  # no model is always on the left


def _battles(arenas: Arenas, arena_id: str) -> list:
    return [arenas.store.battle(v.battle_id) for v in arenas.store.votes(arena_id)]


def test_only_the_owner_closes_resets_or_exports_and_votes_stay_in_their_arena(scripted, db_url):
    arenas = arenas_on(db_url, pool(scripted, "m1", "m2"))
    mine = arenas.create(ArenaSetup("mine", ("m1", "m2")), ALICE)
    theirs = arenas.create(ArenaSetup("mine", ("m1", "m2")), BOB)  # the same name, another owner
    for arena in (mine, theirs):
        me = arenas.join(arena.id, "Ann", LOCAL_USER)
        arenas.vote(voted_battle(arenas, arena.id, me.id), me.id, "model_a", LOCAL_USER)
    for action in (arenas.close, arenas.reset):
        with pytest.raises(ArenaError, match="Only the arena's owner"):
            action(mine.id, BOB)
    with pytest.raises(ArenaError, match="Only the arena's owner"):
        arenas.export(mine.id, BOB, "csv")
    with pytest.raises(ArenaError, match="already have an arena named 'mine'"):
        arenas.create(ArenaSetup("mine", ("m1", "m2")), ALICE)
    assert arenas.reset(mine.id, ALICE) == 1
    assert arenas.activity(mine.id).votes == 0 and arenas.activity(theirs.id).votes == 1
    assert [a.id for a in arenas.owned(ALICE)] == [mine.id]
    with pytest.raises(ArenaError, match="2 arenas are named 'mine'"):
        arenas.find("mine")
    assert arenas.find("mine", owner=BOB.id).id == theirs.id


def test_hosted_participants_are_their_signed_in_user_and_battles_count_against_their_limits(
    scripted, db_url
):
    specs = {
        key: ModelSpec(
            key=key,
            provider="openai",
            model="gpt-4o-mini",
            base_url=scripted.url(f"echo~id={key}"),
            api_key_env="ADMIN_KEY",
            price_input_per_mtok=Decimal(1000),
            price_output_per_mtok=Decimal(1000),
        )
        for key in ("p1", "p2")
    }
    keys = Keyring(server={"ADMIN_KEY": "server-secret"}, hosted=True)
    gate = Gate(HostedPolicy(enabled=True, limits=Limits(daily_usd=Decimal("0.001"))))
    arenas = Arenas(Store(db_url), specs, keys=keys, gate=gate, rng=random.Random(0))
    arena = arenas.create(ArenaSetup("hosted", ("p1", "p2"), max_tokens=50), ALICE)
    first = arenas.join(arena.id, "ignored", BOB)
    assert (first.name, first.user_id) == ("Bob", BOB.id)
    assert arenas.join(arena.id, "again", BOB).id == first.id  # one participant per user
    with pytest.raises(ArenaError, match="not joined"):
        arenas.start_battle(arena.id, first.id, "hi", ALICE)  # Alice cannot act as Bob
    scripted.requests.clear()
    with pytest.raises(LimitExceededError) as over:
        arenas.start_battle(arena.id, first.id, "word " * 200, BOB)
    assert str(over.value) == PRICE_REFUSED  # blind: no model's price or maximum cost
    assert scripted.requests == [] and arenas.activity(arena.id).battles == 0
    unpriced = {
        **specs,
        "secret-model": replace(
            specs["p1"], key="secret-model", price_input_per_mtok=None, price_output_per_mtok=None
        ),
    }
    open_gate = Gate(HostedPolicy(enabled=True))
    arenas = Arenas(Store(db_url), unpriced, keys=keys, gate=open_gate, rng=random.Random(0))
    other = arenas.create(ArenaSetup("unpriced", ("p1", "secret-model")), ALICE)
    me = arenas.join(other.id, "", BOB)
    with pytest.raises(LimitExceededError) as refused:
        arenas.start_battle(other.id, me.id, "hello", BOB)
    assert str(refused.value) == PRICE_REFUSED and scripted.requests == []  # no model named


def test_the_join_link_uses_the_arenas_address_or_the_pages_own():
    arena_id = "a" * 32
    assert join_link(arena_id, "http://10.0.0.5:8501/arena") == f"http://10.0.0.5:8501/arena?arena={arena_id}"
    assert join_link(arena_id, "https://x.example/base/arena-presenter?arena=1") == (
        f"https://x.example/base/arena?arena={arena_id}"
    )
    assert (
        join_link(arena_id, None, "http://192.168.1.20:8501")
        == f"http://192.168.1.20:8501/arena?arena={arena_id}"
    )
    assert (
        checked_address("  http://192.168.1.20:8501/ ") == "http://192.168.1.20:8501"
        and checked_address(" ") is None
    )
    for bad in ("javascript:alert(1)", "ftp://x", "http://", "http://a b", "http://x/?next=evil", "x" * 400):
        with pytest.raises(AddressError):
            checked_address(bad)


def test_exports_are_spreadsheet_safe_and_a_vote_log_the_cli_rates(scripted, db_url, tmp_path):
    arenas = arenas_on(db_url, pool(scripted, "m1", "m2"))
    arena = arenas.create(ArenaSetup("export", ("m1", "m2"), votes_per_minute=100), LOCAL_USER)
    me = arenas.join(arena.id, "Ann", LOCAL_USER)
    for prompt, winner in (('=HYPERLINK("http://e.example")', "model_a"), ("plain", "tie (bothbad)")):
        arenas.vote(voted_battle(arenas, arena.id, me.id, prompt), me.id, winner, LOCAL_USER)
    rows = list(csv.DictReader(io.StringIO(arenas.export(arena.id, LOCAL_USER, "csv"))))
    assert [r["prompt"] for r in rows] == ['\'=HYPERLINK("http://e.example")', "plain"]
    assert rows[0]["judge"] == me.id and "Ann" not in json.dumps(rows)  # an opaque id, not the name
    log = tmp_path / "votes.jsonl"
    log.write_text(arenas.export(arena.id, LOCAL_USER, "jsonl"))
    votes = read_vote_log(log)
    assert [v.winner for v in votes] == ["model_a", "tie (bothbad)"]
    assert leaderboard(votes, bootstrap=20).votes == 2
    cli = subprocess.run(
        [sys.executable, "-m", "playground", "arena", "export", "export", "--format", "jsonl"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
        env=_env(db_url),
    )
    assert cli.returncode == 0, cli.stderr
    assert [json.loads(line)["winner"] for line in cli.stdout.splitlines()] == ["model_a", "tie (bothbad)"]


def _env(db_url: str) -> dict[str, str]:
    import os

    return {**os.environ, "PLAYGROUND_DB": db_url, "PYTHONPATH": str(ROOT)}


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('{"model_a": "x", "model_b": "y", "winner": "b"}', "line 2: winner 'b' is not one of model_a"),
        ('{"model_a": "x", "model_b": "y"', "line 2: not valid JSON"),
        ('["x", "y", "model_a"]', "line 2: expected a JSON object"),
        ('{"model_a": "x", "model_b": "x", "winner": "tie"}', "line 2: model_a and model_b are the same"),
        ('{"model_a": "", "model_b": "y", "winner": "tie"}', "line 2: model_a must be a model name"),
        (
            '{"model_a": "x", "model_b": "y", "winner": "tie", "tstamp": "noon"}',
            "line 2: tstamp must be a number",
        ),
    ],
)
def test_a_malformed_vote_log_line_is_named_by_file_and_line(tmp_path: Path, line: str, message: str):
    log = tmp_path / "votes.jsonl"
    log.write_text('{"model_a": "x", "model_b": "y", "winner": "model_a"}\n' + line + "\n")
    with pytest.raises(VoteLogError) as refused:
        read_vote_log(log)
    assert str(refused.value).startswith(f"{log} {message.split(':')[0]}") and message in str(refused.value)
    cli = subprocess.run(
        [sys.executable, "-m", "playground", "arena", "ratings", str(log)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert cli.returncode == 2 and cli.stdout == ""
    assert cli.stderr.strip() == f"error: {refused.value}"


def test_the_public_chatbot_arena_format_reads_as_it_is(tmp_path: Path):
    # The public logs' fields (clean_battle_*.json): one JSON array, extra fields beside the vote's own.
    battles = [
        {
            "model_a": "gpt-4",
            "model_b": "claude-1",
            "winner": "model_a",
            "judge": "arena_user_1",
            "turn": 1,
            "anony": True,
            "language": "English",
            "tstamp": 1682000000.5,
        },
        {
            "model_a": "claude-1",
            "model_b": "vicuna-13b",
            "winner": "tie (bothbad)",
            "judge": "arena_user_2",
            "turn": 2,
            "anony": True,
            "language": "German",
            "tstamp": 1682000100,
        },
    ]
    as_array = parse_vote_log(json.dumps(battles, indent=1), "clean_battle.json")
    as_lines = parse_vote_log("\n".join(json.dumps(b) for b in battles) + "\n\n", "battles.jsonl")
    assert as_array == as_lines and as_array[1].judge == "arena_user_2" and as_array[0].tstamp == 1682000000.5
    log = tmp_path / "battles.jsonl"
    log.write_text("\n".join(json.dumps(b) for b in battles * 20))
    cli = subprocess.run(
        [
            sys.executable,
            "-m",
            "playground",
            "arena",
            "ratings",
            str(log),
            "--json",
            "--bootstrap",
            "50",
            "--seed",
            "3",
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert cli.returncode == 0, cli.stderr
    board = json.loads(cli.stdout)
    assert board["votes"] == 40 and board["bootstrap"] == 50 and board["seed"] == 3
    assert [r["model"] for r in board["ratings"]][0] == "gpt-4" and "half a win" in board["ties"]


def test_two_votes_on_one_battle_at_the_same_moment_count_once(scripted, db_url):
    import threading

    arenas = arenas_on(db_url, pool(scripted, "m1", "m2"))
    arena = arenas.create(ArenaSetup("race", ("m1", "m2")), LOCAL_USER)
    me = arenas.join(arena.id, "Ann", LOCAL_USER)
    battle_id = voted_battle(arenas, arena.id, me.id)
    start, outcomes = threading.Barrier(2), []

    def vote(winner: str) -> None:
        start.wait()
        try:
            arenas.store.vote(battle_id, me.id, winner)
            outcomes.append(winner)
        except ArenaError as exc:
            outcomes.append(str(exc))

    threads = [threading.Thread(target=vote, args=(w,)) for w in ("model_a", "model_b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(o in ("model_a", "model_b") for o in outcomes) == [False, True]
    assert any("already voted" in o for o in outcomes)
    assert arenas.activity(arena.id).votes == 1
    assert arenas.store.battle(battle_id).winner in outcomes
