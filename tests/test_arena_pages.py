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
from playground.core import LOCAL_USER
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


def make_arena(*models: str, name: str = "demo") -> str:
    return Arenas(Store()).create(ArenaSetup(name, models), LOCAL_USER).id


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
    arena_id = make_arena("alpha", "gamma")
    me = arenas.join(arena_id, "Ann", LOCAL_USER)
    turn = arenas.start_battle(arena_id, me.id, "=cmd|' /C calc'!A0", LOCAL_USER)
    list(turn.events())
    arenas.vote(turn.battle_id, me.id, "tie", LOCAL_USER)
    at = arena_page().run()
    assert not at.exception, at.exception
    assert any(m.label == "Votes" and m.value == "1" for m in at.metric)
    exported = at.get("download_button")
    assert len(exported) == 2
    at.button(key="arena-close").click().run()
    assert not arenas.get(arena_id).is_open
    participant = arena_page(arena=arena_id).run()
    assert any("closed" in w.value for w in participant.warning) and not participant.button
    rows = list(csv.DictReader(io.StringIO(arenas.export(arena_id, LOCAL_USER, "csv"))))
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
    assert any("failed (connection)" in e.value for e in at.error)
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
