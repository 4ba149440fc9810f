"""What an attacker probe found in the blind arena (issue 14), each closed, through the arena service on
the scripted loopback server (and a real PostgreSQL where concurrency matters): refusals and failures that
named a model's window or server, latency and cost that moved during a blind battle, queue captions, an
owner that every local session was, a votes-per-minute limit that a reload reset or two votes at once
passed, and CSV cells that start a formula once a spreadsheet splits them."""

from __future__ import annotations

import csv
import io
import random
import threading
import uuid
from decimal import Decimal

import pytest

from playground.arena import TOO_LONG, ArenaError, Arenas, ArenaSetup, SideDone, SideText
from playground.arena.owners import local_owner, new_owner_key
from playground.arena.service import PRICE_REFUSED
from playground.core import LOCAL_USER, HostedPolicy, UsageError, User
from playground.core.format import spreadsheet_safe
from playground.core.policy import Limits
from playground.core.specs import ModelSpec, load_specs
from playground.engine import Keyring
from playground.hosting import Gate, LimitExceededError
from playground.storage import Store
from tests.conftest import remote_spec
from tests.scripted_server import ScriptedServer

BOB = User("https://id.example|bob", "Bob")


def scripted_pool(scripted: ScriptedServer, **scenarios: str) -> dict[str, ModelSpec]:
    """Scripted models by key; each scenario gets a fresh id (the server counts requests per scenario)."""
    return {
        key: remote_spec(scripted.url(f"{scenario}~id={key}-{uuid.uuid4().hex[:8]}"), key=key)
        for key, scenario in scenarios.items()
    }


def service(db_url: str, specs: dict[str, ModelSpec], gate: Gate | None = None) -> Arenas:
    return Arenas(Store(db_url), specs, gate=gate or Gate(HostedPolicy()), rng=random.Random(0))


def answered(arenas: Arenas, arena_id: str, participant_id: str, prompt: str = "hello") -> str:
    """A battle whose first turn has ended (both answers saved); its id."""
    turn = arenas.start_battle(arena_id, participant_id, prompt, LOCAL_USER)
    list(turn.events())
    return turn.battle_id


# --- 1. nothing before the vote names a model's window, tokenizer, server or price -------------------------
def test_a_conversation_too_long_for_one_window_is_refused_naming_nothing(scripted, clean_env):
    specs = {
        **scripted_pool(scripted, small="echo"),
        "big": remote_spec(scripted.url("echo~id=big"), key="big", context_window=128_000),
        "smollm2-135m": load_specs()["smollm2-135m"],  # a local model: its adapter refuses huge prompts
    }
    arenas = service(f"sqlite:///{clean_env}", specs)
    arena = arenas.create(ArenaSetup("long", ("small", "big")), LOCAL_USER)
    me = arenas.join(arena.id, "Ann", LOCAL_USER)
    battle_id = answered(arenas, arena.id, me.id)
    with pytest.raises(UsageError) as refused:  # 3,000 words: over the small model's 2,048-token window
        arenas.follow_up(battle_id, me.id, "word " * 3000, LOCAL_USER)
    assert str(refused.value) == TOO_LONG
    assert not any(c.isdigit() for c in TOO_LONG) and "token" not in TOO_LONG  # no window, count, method
    assert len(arenas.store.battle(battle_id).turns) == 1  # nothing reserved or sent

    local = arenas.create(ArenaSetup("local", ("big", "smollm2-135m")), LOCAL_USER)
    joined = arenas.join(local.id, "Ann", LOCAL_USER)
    with pytest.raises(UsageError) as overflow:  # past 8,192 tokens × 64 characters: llama.cpp's own refusal
        arenas.start_battle(local.id, joined.id, "x" * 530_000, LOCAL_USER)
    assert str(overflow.value) == TOO_LONG  # not "cannot be called: context_overflow" (only local models)
    assert arenas.activity(local.id).battles == 0


def test_a_failed_answer_shows_its_kind_only_never_the_providers_message(scripted, clean_env):
    specs = scripted_pool(scripted, good="echo", broken="status~code=500")
    arenas = service(f"sqlite:///{clean_env}", specs)
    arena = arenas.create(ArenaSetup("failing", ("good", "broken")), LOCAL_USER)
    me = arenas.join(arena.id, "Ann", LOCAL_USER)
    turn = arenas.start_battle(arena.id, me.id, "hello", LOCAL_USER)
    done = [e for e in turn.events() if isinstance(e, SideDone)]
    assert sorted(str(e.failed) for e in done) == ["None", "server_error"]
    view = arenas.view(turn.battle_id, me.id, LOCAL_USER)
    failed = next(t.a if t.a.failed else t.b for t in view.turns)
    assert failed.failed == "server_error"
    assert view.reveal is not None
    shown = " ".join(view.reveal.figures_a + view.reveal.figures_b)
    assert "failed (server_error)" in shown
    assert "scripted failure" not in shown and str(scripted.port) not in shown  # no body, no address


def test_a_turn_refused_for_its_models_prices_names_neither_price_nor_model(scripted, clean_env):
    priced = {
        key: ModelSpec(
            key=key,
            provider="openai",
            model="gpt-4o-mini",
            base_url=scripted.url(f"echo~id={key}"),
            api_key_env="ADMIN_KEY",
            price_input_per_mtok=Decimal(price),
            price_output_per_mtok=Decimal(price),
        )
        for key, price in (("cheap", 1), ("dear", 5000))
    }
    keys = Keyring(server={"ADMIN_KEY": "server-secret"}, hosted=True)
    budget = Gate(HostedPolicy(enabled=True, limits=Limits(daily_usd=Decimal("0.01"))))
    arenas = Arenas(Store(f"sqlite:///{clean_env}"), priced, keys=keys, gate=budget, rng=random.Random(0))
    arena = arenas.create(ArenaSetup("priced", ("cheap", "dear"), max_tokens=50), BOB)
    me = arenas.join(arena.id, "", BOB)
    with pytest.raises(LimitExceededError) as refused:
        arenas.start_battle(arena.id, me.id, "word " * 400, BOB)
    assert str(refused.value) == PRICE_REFUSED  # the gate's own named the two models' maximum cost
    counted = Gate(HostedPolicy(enabled=True, limits=Limits(max_tokens=10)))
    arenas = Arenas(Store(f"sqlite:///{clean_env}"), priced, keys=keys, gate=counted, rng=random.Random(0))
    with pytest.raises(LimitExceededError, match=r"asks for 50 max tokens; the limit is 10"):
        arenas.start_battle(arena.id, me.id, "hello", BOB)  # a refusal that names no model stands


# --- 2. latency and cost only of voted battles, only to the owner or once closed; no queue events ---------
def test_answer_figures_count_voted_battles_only_and_show_to_the_owner_or_once_closed(scripted, db_url):
    owner = local_owner(new_owner_key())
    arenas = service(db_url, scripted_pool(scripted, m1="ok~tokens=3", m2="echo"))
    arena = arenas.create(ArenaSetup("figures", ("m1", "m2")), owner)
    me = arenas.join(arena.id, "Ann", LOCAL_USER)
    voted = answered(arenas, arena.id, me.id)
    arenas.vote(voted, me.id, "model_a", LOCAL_USER)
    before = arenas.standings(arena.id, bootstrap=20, viewer=owner).figures
    assert {f.answers for f in before.values()} == {1}
    blind = answered(arenas, arena.id, me.id)  # answered, not voted on: its participant still sees it blind
    assert arenas.standings(arena.id, bootstrap=20, viewer=owner).figures == before
    for viewer in (None, LOCAL_USER):  # the presenter view, a participant: no latency or cost while open
        hidden = arenas.standings(arena.id, bootstrap=20, viewer=viewer)
        assert not hidden.figures_shown and hidden.figures == {}
        assert all(
            set(row) & {"median latency", "cost per answer (median)"} == set() for row in hidden.table_rows()
        )
    arenas.vote(blind, me.id, "tie", LOCAL_USER)
    arenas.close(arena.id, owner)
    closed = arenas.standings(arena.id, bootstrap=20)
    assert closed.figures_shown and {f.answers for f in closed.figures.values()} == {2}
    assert all("median latency" in row for row in closed.table_rows())


def test_the_live_events_say_nothing_of_a_queue_or_a_cooldown(scripted, clean_env):
    # A 429 with Retry-After makes the runner wait and retry: a rate-limited (hosted) model's tell.
    specs = scripted_pool(scripted, limited="ratelimit~fail=1~after=0.3", plain="ok~tokens=3")
    arenas = service(f"sqlite:///{clean_env}", specs)
    arena = arenas.create(ArenaSetup("queues", ("limited", "plain")), LOCAL_USER)
    me = arenas.join(arena.id, "Ann", LOCAL_USER)
    events = list(arenas.start_battle(arena.id, me.id, "hello", LOCAL_USER).events())
    assert {type(e) for e in events} == {SideText, SideDone}
    assert all(e.failed is None for e in events if isinstance(e, SideDone))


# --- 3. owners in a local app; votes per minute per device ------------------------------------------------
def test_a_local_arena_is_owned_by_its_creating_sessions_key_only(scripted, clean_env):
    arenas = service(f"sqlite:///{clean_env}", scripted_pool(scripted, m1="echo", m2="echo"))
    key = new_owner_key()
    arena = arenas.create(ArenaSetup("mine", ("m1", "m2")), local_owner(key))
    assert key not in arena.owner and arena.owner == local_owner(key).id  # only the key's digest is stored
    for other in (LOCAL_USER, local_owner(new_owner_key())):  # every other session of the local app
        assert arenas.owned(other) == []
        for action in (arenas.close, arenas.reset):
            with pytest.raises(ArenaError, match="Only the arena's owner"):
                action(arena.id, other)
        with pytest.raises(ArenaError, match="Only the arena's owner"):
            arenas.export(arena.id, other, "csv")
    for wrong in ("", "   ", new_owner_key(), key[:-1]):
        with pytest.raises(ArenaError, match="owner key"):
            arenas.owner_for_key(wrong)
    assert arenas.owner_for_key(f" {key} ") == local_owner(key)  # another tab, given the key
    arenas.close(arena.id, local_owner(key))
    assert not arenas.get(arena.id).is_open


def test_joining_again_from_the_same_device_does_not_reset_the_votes_per_minute(scripted, db_url):
    arenas = service(db_url, scripted_pool(scripted, m1="echo", m2="echo"))
    arena = arenas.create(ArenaSetup("limited", ("m1", "m2"), votes_per_minute=2), LOCAL_USER)
    first = arenas.join(arena.id, "Ann", LOCAL_USER, device="192.168.1.23")
    for _ in range(2):
        arenas.vote(answered(arenas, arena.id, first.id), first.id, "model_a", LOCAL_USER)
    again = arenas.join(arena.id, "Ann again", LOCAL_USER, device="192.168.1.23")  # a reload joins anew
    assert again.id != first.id and again.device == first.device and "192.168" not in str(again.device)
    battle_id = answered(arenas, arena.id, again.id)
    with pytest.raises(ArenaError, match="This device has voted 2 times.*each device"):
        arenas.vote(battle_id, again.id, "model_a", LOCAL_USER)
    neighbour = arenas.join(arena.id, "Ben", LOCAL_USER, device="192.168.1.24")  # another phone: its own
    arenas.vote(answered(arenas, arena.id, neighbour.id), neighbour.id, "tie", LOCAL_USER)
    assert arenas.activity(arena.id).votes == 3


@pytest.mark.parametrize("joins", [1, 5], ids=["one participant", "five joins from one device"])
def test_votes_at_the_same_moment_respect_the_limit(scripted, db_url, joins: int):
    arenas = service(db_url, scripted_pool(scripted, m1="echo", m2="echo"))
    arena = arenas.create(ArenaSetup("race", ("m1", "m2"), votes_per_minute=2), LOCAL_USER)
    people = [arenas.join(arena.id, f"Ann {n}", LOCAL_USER, device="10.0.0.9") for n in range(joins)]
    voters = [people[n % joins] for n in range(5)]
    battles = [(answered(arenas, arena.id, p.id), p.id) for p in voters]
    start, outcomes = threading.Barrier(len(battles)), []

    def vote(battle_id: str, participant_id: str) -> None:
        start.wait()
        try:
            arenas.store.vote(battle_id, participant_id, "model_a")
            outcomes.append("taken")
        except ArenaError as exc:
            outcomes.append(str(exc))

    threads = [threading.Thread(target=vote, args=b) for b in battles]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert outcomes.count("taken") == 2, outcomes  # READ COMMITTED let more pass before the row locks
    assert sum("at most 2 votes a minute" in o for o in outcomes) == 3, outcomes
    assert arenas.activity(arena.id).votes == 2


# --- 6. CSV cells a spreadsheet would split into a formula ------------------------------------------------
def test_a_formula_after_a_tab_semicolon_or_comma_is_neutralised_and_old_cases_stay():
    safe = spreadsheet_safe(
        {
            "tab": "hello\t=1+1",
            "semicolon": "x;=2*21",
            "comma": "a, +cmd|' /C calc'!A0",
            "start": '=HYPERLINK("http://e.example")',
            "dash": "-2+3",
            "plain": "a; b, c\td - e",
            "number": -5,
        }
    )
    assert safe["tab"] == "hello\t'=1+1" and safe["semicolon"] == "x;'=2*21"
    assert safe["comma"] == "a, '+cmd|' /C calc'!A0"
    assert safe["start"] == '\'=HYPERLINK("http://e.example")' and safe["dash"] == "'-2+3"
    assert safe["plain"] == "a; b, c\td - e" and safe["number"] == -5  # nothing else changes
    for text in (str(v) for v in safe.values()):
        for separator in ("\t", ";", ","):
            assert not any(cell.strip().startswith(("=", "+", "@")) for cell in text.split(separator))


def test_the_arena_csv_quotes_every_cell_and_no_split_cell_starts_a_formula(scripted, clean_env):
    arenas = service(f"sqlite:///{clean_env}", scripted_pool(scripted, m1="echo", m2="echo"))
    arena = arenas.create(ArenaSetup("export", ("m1", "m2"), votes_per_minute=100), LOCAL_USER)
    me = arenas.join(arena.id, "Ann", LOCAL_USER)
    for prompt in ("hello\t=1+1", "x;=2*21"):
        arenas.vote(answered(arenas, arena.id, me.id, prompt), me.id, "tie", LOCAL_USER)
    text = arenas.export(arena.id, LOCAL_USER, "csv")
    header, *lines = text.splitlines()
    assert all(line.startswith('"') and line.endswith('"') for line in [header, *lines])  # QUOTE_ALL
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [r["prompt"] for r in rows] == ["hello\t'=1+1", "x;'=2*21"]
    for separator in ("\t", ";"):  # a spreadsheet told to split on tabs or semicolons, quotes ignored
        cells = [cell.strip('"') for line in lines for cell in line.split(separator)]
        assert not any(cell.startswith("=") for cell in cells)
