"""The Arena and presenter pages through streamlit.testing.v1.AppTest, with scripted models from a models
file: create, join from the link, battle blind, follow up, vote and reveal; the owner's controls; bad
links and bad input, each one message."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from playground.arena import Arenas, ArenaSetup
from playground.arena.owners import local_owner
from playground.core import LOCAL_USER, User
from playground.storage import Store
from tests.conftest import closed_port_url
from tests.scripted_server import ScriptedServer

APP = str(Path(__file__).resolve().parent.parent / "app.py")
TIMEOUT = 120


@pytest.fixture()
def models_file(scripted: ScriptedServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Three scripted models and one that cannot be reached, as the server's models file."""
    entries = {
        "alpha": scripted.url("ok~tokens=4~id=alpha"),
        "beta": scripted.url("echo~id=beta"),
        "gamma": scripted.url("ok~tokens=2~id=gamma"),
        "dead": closed_port_url(),
    }
    text = "".join(
        f'[models.{key}]\nprovider = "openai"\nmodel = "scripted"\nbase_url = "{url}"\ncontext_window = 2048\n\n'
        for key, url in entries.items()
    )
    path = tmp_path / "models.toml"
    path.write_text(text)
    monkeypatch.setenv("PLAYGROUND_MODELS_FILE", str(path))
    return path


def arena_page(**query: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.switch_page("pages/arena.py")
    for name, value in query.items():
        at.query_params[name] = value
    return at


# The owner key of the pages' browser session in tests that open the page as an arena's owner.
OWNER_KEY = "test-owner-key"
OWNER = local_owner(OWNER_KEY)


def make_arena(*models: str, name: str = "demo", owner: User = LOCAL_USER, per_minute: int = 10) -> str:
    return Arenas(Store()).create(ArenaSetup(name, models, votes_per_minute=per_minute), owner).id


def owners_page() -> AppTest:
    """The Arena page in the browser session that holds OWNER_KEY."""
    at = arena_page()
    at.session_state["arena-owner-key"] = OWNER_KEY
    return at


def create_in_form(at: AppTest, name: str, *models: str) -> None:
    at.text_input(key="arena-new-name").input(name)
    at.multiselect(key="arena-new-models").set_value(list(models))
    at.button(key="FormSubmitter:arena-create-Create arena").click().run()
    assert not at.exception, at.exception


def test_the_owner_creates_an_arena_and_gets_its_join_link_and_qr_code(models_file: Path):
    at = arena_page().run()
    assert not at.exception, at.exception
    at.text_input(key="arena-new-name").input("Demo day")
    at.multiselect(key="arena-new-models").set_value(["alpha"])
    at.button[0].click().run()  # the form's submit button
    assert any("at least 2 usable models" in e.value for e in at.error)
    assert Store() and Arenas(Store()).store.list() == []  # nothing saved
    at.multiselect(key="arena-new-models").set_value(["alpha", "beta", "gamma"])
    at.text_area(key="arena-new-prompts").input("Write a haiku\n\n  Explain tides  \n")
    at.button[0].click().run()
    assert not at.exception, at.exception
    (arena,) = Arenas(Store()).store.list()
    assert arena.name == "Demo day" and arena.models == ("alpha", "beta", "gamma")
    assert arena.prompts == ("Write a haiku", "Explain tides")
    link = next(c.value for c in at.code if "?arena=" in c.value)
    assert link.endswith(f"/arena?arena={arena.id}")
    assert len(at.get("image")) == 1  # the QR code
    at.text_input(key=f"arena-address-{arena.id}").input("javascript:alert(1)")
    at.button(key="FormSubmitter:arena-address-form-Save address").click().run()
    assert any("http or https" in e.value for e in at.error) and Arenas(Store()).get(arena.id).address is None
    at.text_input(key=f"arena-address-{arena.id}").input("http://192.168.1.20:8501")
    at.button(key="FormSubmitter:arena-address-form-Save address").click().run()
    assert any(c.value == f"http://192.168.1.20:8501/arena?arena={arena.id}" for c in at.code)


def test_a_participant_joins_battles_blind_follows_up_votes_and_sees_who_was_who(models_file: Path):
    arena_id = make_arena("alpha", "beta")
    at = arena_page(arena=arena_id).run()
    at.button(key="arena-join").click().run()
    assert any("display name" in e.value for e in at.error)  # an empty name is refused
    at.text_input(key="arena-name").input("Ann")
    at.button(key="arena-join").click().run()
    at.text_area(key="arena-prompt").input("   ")
    at.button(key="arena-start").click().run()
    assert any("prompt is empty" in e.value for e in at.error)
    at.text_area(key="arena-prompt").input("Name a colour")
    at.button(key="arena-start").click().run()
    assert not at.exception, at.exception
    page = " ".join(m.value for m in at.markdown) + " ".join(s.value for s in at.subheader)
    assert "Model A" in page and "Model B" in page
    assert "alpha" not in page and "beta" not in page  # no names before the vote
    assert not any("$" in c.value or "local" in c.value for c in at.caption)  # no costs either
    at.text_area(key="arena-follow").input("And another?")
    at.button(key="arena-follow-send").click().run()
    assert sum("**You:**" in m.value for m in at.markdown) == 2
    at.button(key="vote-model_b").click().run()
    assert not at.exception, at.exception
    assert any("Your vote: B is better" in s.value for s in at.success)
    revealed = " ".join(m.value for m in at.markdown)
    assert "Model A was" in revealed and "alpha" in revealed and "beta" in revealed
    assert Arenas(Store()).activity(arena_id).votes == 1


def test_bad_join_links_get_one_plain_message(models_file: Path):
    for value in ("not-an-id", "<b>x</b>", "0" * 32):
        at = arena_page(arena=value).run()
        assert not at.exception, at.exception
        assert len(at.error) == 1 and "arena" in at.error[0].value
        assert "<b>" not in at.error[0].value
        assert not at.button  # nothing to join


def test_a_closed_arena_takes_no_battle_and_the_owner_reopens_resets_and_exports(models_file: Path):
    arenas = Arenas(Store())
    arena_id = make_arena("alpha", "gamma", owner=OWNER)
    me = arenas.join(arena_id, "Ann", LOCAL_USER)
    turn = arenas.start_battle(arena_id, me.id, "=cmd|' /C calc'!A0", LOCAL_USER)
    list(turn.events())
    arenas.vote(turn.battle_id, me.id, "tie", LOCAL_USER)
    at = owners_page().run()
    assert not at.exception, at.exception
    assert any(m.label == "Votes" and m.value == "1" for m in at.metric)
    exported = at.get("download_button")
    assert len(exported) == 2
    at.button(key="arena-close").click().run()
    assert not arenas.get(arena_id).is_open
    participant = arena_page(arena=arena_id).run()
    assert any("closed" in w.value for w in participant.warning) and not participant.button
    rows = list(csv.DictReader(io.StringIO(arenas.export(arena_id, OWNER, "csv"))))
    assert rows[0]["prompt"].startswith("'=")  # spreadsheet-safe
    at.button(key="arena-reopen").click().run()
    assert arenas.get(arena_id).is_open
    assert at.button(key="arena-reset").disabled  # only once confirmed
    at.checkbox(key="arena-reset-sure").check().run()
    at.button(key="arena-reset").click().run()
    assert arenas.activity(arena_id).votes == 0


def test_a_battle_with_a_failed_answer_is_marked_and_has_no_vote_buttons(models_file: Path):
    arena_id = make_arena("alpha", "dead")
    arenas = Arenas(Store())
    assert arenas.store.get(arena_id).models == (
        "alpha",
        "dead",
    )  # made directly: "dead" is unreachable, not unusable
    at = arena_page(arena=arena_id).run()
    at.text_input(key="arena-name").input("Ann")
    at.button(key="arena-join").click().run()
    at.text_area(key="arena-prompt").input("hello")
    at.button(key="arena-start").click().run()
    assert not at.exception, at.exception
    assert any("could not answer (connection)" in e.value for e in at.error)
    assert not any(b.key and b.key.startswith("vote-") for b in at.button)
    assert any("cannot be voted on" in w.value for w in at.warning)


def test_the_presenter_view_shows_the_join_link_the_votes_and_the_leaderboard(models_file: Path):
    arenas = Arenas(Store())
    arena_id = make_arena("alpha", "beta", "gamma", name="Projector")
    me = arenas.join(arena_id, "Ann", LOCAL_USER)
    for _ in range(3):
        turn = arenas.start_battle(arena_id, me.id, "hi", LOCAL_USER)
        list(turn.events())
        arenas.vote(turn.battle_id, me.id, "model_a", LOCAL_USER)
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.switch_page("pages/arena_presenter.py")
    at.query_params["arena"] = arena_id
    at.run()
    assert not at.exception, at.exception
    assert any(m.label == "Votes" and m.value == "3" for m in at.metric)
    assert any(f"/arena?arena={arena_id}" in c.value for c in at.code)
    assert len(at.table) == 1 and len(at.get("plotly_chart")) == 2
    assert any("Too few votes to separate" in i.value for i in at.info)
    # A public screen while the arena is open: no latency or cost per answer (they tell models apart).
    assert "median latency" not in at.table[0].value.columns
    assert any("show to the arena's owner" in c.value for c in at.caption)
    arenas.close(arena_id, LOCAL_USER)
    at.run()
    assert {"median latency", "cost per answer (median)"} <= set(at.table[0].value.columns)


def test_other_sessions_of_a_local_app_are_participants_only(models_file: Path):
    creator = arena_page().run()
    create_in_form(creator, "Mine", "alpha", "beta")
    assert creator.button(key="arena-close") and len(creator.get("download_button")) == 2
    key = creator.session_state["arena-owner-key"]
    (arena,) = Arenas(Store()).store.list()
    assert key not in arena.owner  # the arena row holds the key's digest only

    other = arena_page().run()  # another browser, or a reload: a session of its own
    assert not other.exception, other.exception
    assert any("No arena yet" in c.value for c in other.caption)
    assert not any(b.key in ("arena-close", "arena-reopen", "arena-reset") for b in other.button)
    assert not other.get("download_button") and not any(arena.id in c.value for c in other.code)
    other.text_input(key="arena-owner-key-typed").input("a guess")
    other.button(key="FormSubmitter:arena-owner-key-form-Use this key").click().run()
    assert any("No arena is owned with this owner key" in e.value for e in other.error)
    assert not any(b.key == "arena-close" for b in other.button)
    other.text_input(key="arena-owner-key-typed").input(key)  # the creator gave it: the arena is theirs too
    other.button(key="FormSubmitter:arena-owner-key-form-Use this key").click().run()
    assert not other.exception, other.exception
    other.button(key="arena-close").click().run()
    assert not Arenas(Store()).get(arena.id).is_open


def test_the_arena_just_created_is_the_one_shown(models_file: Path):
    at = arena_page().run()
    create_in_form(at, "First", "alpha", "beta")
    first = at.selectbox(key="arena-pick").value
    create_in_form(at, "Second", "beta", "gamma")
    second = next(a for a in Arenas(Store()).store.list() if a.name == "Second")
    assert first != second.id and at.selectbox(key="arena-pick").value == second.id
    assert any(c.value.endswith(f"?arena={second.id}") for c in at.code)
    assert any("beta, gamma" in m.value for m in at.markdown)  # its pool, not the first's


def test_joining_again_after_a_reload_keeps_the_devices_votes_per_minute(models_file: Path):
    arena_id = make_arena("alpha", "gamma", per_minute=1)
    for attempt, name in enumerate(("Ann", "Ann again")):  # each AppTest is a new session, as a reload is
        at = arena_page(arena=arena_id).run()
        at.text_input(key="arena-name").input(name)
        at.button(key="arena-join").click().run()
        at.text_area(key="arena-prompt").input("hello")
        at.button(key="arena-start").click().run()
        at.button(key="vote-tie").click().run()
        assert not at.exception, at.exception
        if attempt == 0:
            assert any("Your vote: Tie" in s.value for s in at.success)
    assert any("This device has voted 1 times" in e.value for e in at.error), [e.value for e in at.error] + [
        s.value for s in at.success
    ]
    activity = Arenas(Store()).activity(arena_id)
    assert (activity.participants, activity.votes) == (2, 1)
