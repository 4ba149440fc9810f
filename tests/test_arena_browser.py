"""An arena end to end in Debian's chromium: the owner creates it, three participants in three browser
contexts join from its link, battle blind and vote, and the presenter view (open all along, never
reloaded) shows each vote and the leaderboard (scripted loopback models, for speed); and in hosted mode,
participants are their signed-in users (the two local models)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from playground.arena import Arenas
from playground.storage import Store
from tests.conftest import free_port
from tests.processes import serving, streamlit_command
from tests.scripted_server import ScriptedServer
from tests.test_browser import ARTIFACTS, CHROMIUM, pytestmark  # noqa: F401 - same skip and marks
from tests.test_hosted_browser import ALICE, BOB, HostedApp, hosted_app, oidc_provider, sign_in  # noqa: F401 - fixtures

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

MODELS = {"north-model": "ok~tokens=6~gap=0.02", "south-model": "echo~ttft=0.2", "east-model": "ok~tokens=3"}
PARTICIPANTS = ("Ann", "Ben", "Cai")


def models_file(scripted: ScriptedServer, folder: Path) -> Path:
    path = folder / "arena-models.toml"
    path.write_text(
        "".join(
            f'[models.{key}]\nprovider = "openai"\nmodel = "scripted"\n'
            f'base_url = "{scripted.url(scenario + "~id=" + key)}"\ncontext_window = 2048\n\n'
            for key, scenario in MODELS.items()
        )
    )
    return path


@pytest.fixture()
def arena_app(clean_env: Path, scripted: ScriptedServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """`streamlit run app.py` whose models file holds the scripted models; yields its URL."""
    monkeypatch.setenv("PLAYGROUND_MODELS_FILE", str(models_file(scripted, clean_env.parent)))
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with serving(
        streamlit_command(port), f"{url}/_stcore/health", clean_env.parent / "streamlit.log", timeout_s=60
    ):
        yield url


def create_arena(page: Page, url: str, name: str = "Team demo", per_minute: int | None = None) -> str:
    """The owner creates an arena of the three models on the Arena page; returns its join link."""
    from playwright.sync_api import expect

    page.goto(f"{url}/arena")
    expect(page.get_by_role("heading", name="Arena", exact=True)).to_be_visible(timeout=60_000)
    page.get_by_label("Name", exact=True).fill(name)
    page.get_by_label(re.compile("^Pool of models")).click()
    for key in MODELS:
        page.get_by_role("option", name=key).click()
    page.keyboard.press("Escape")
    if per_minute is not None:
        page.get_by_label("Votes per minute per participant").fill(str(per_minute))
    page.get_by_role("button", name="Create arena").click()
    expect(page.get_by_text("Scan to join")).to_be_visible(timeout=30_000)
    expect(page.locator("[data-testid='stImage'] img")).to_be_visible()
    return page.locator("[data-testid='stCode'] code").filter(has_text="?arena=").inner_text().strip()


def battle(page: Page, link: str, name: str, prompt: str) -> None:
    """Join from the link and start a battle; wait until both answers are in and the vote is offered."""
    from playwright.sync_api import expect

    page.goto(link)
    page.get_by_label("Your display name").fill(name)
    page.get_by_role("button", name="Join").click()
    page.get_by_label("Your prompt").fill(prompt)
    page.get_by_role("button", name="Start battle").click()
    expect(page.get_by_role("button", name="A is better")).to_be_visible(timeout=60_000)


def test_three_participants_vote_and_the_presenter_view_follows_without_a_reload(
    arena_app: str, browser: Browser
):
    from playwright.sync_api import expect

    ARTIFACTS.mkdir(exist_ok=True)
    owner = browser.new_context(viewport={"width": 1400, "height": 1800}).new_page()
    link = create_arena(owner, arena_app)
    arena_id = link.rsplit("=", 1)[1]
    presenter = browser.new_context(viewport={"width": 1600, "height": 1000}).new_page()
    presenter.goto(f"{arena_app}/arena-presenter?arena={arena_id}")
    expect(presenter.get_by_role("heading", name="Team demo")).to_be_visible(timeout=60_000)
    expect(presenter.locator("[data-testid='stImage'] img")).to_be_visible()  # the QR code
    expect(presenter.get_by_text(link)).to_be_visible()
    expect(presenter.get_by_text("No votes yet", exact=False)).to_be_visible(timeout=30_000)
    presenter.evaluate("window.__notReloaded = true")  # gone if the page were reloaded

    people = [browser.new_context(viewport={"width": 1000, "height": 1400}).new_page() for _ in PARTICIPANTS]
    for page, name in zip(people, PARTICIPANTS, strict=True):
        battle(page, link, name, f"Hello from {name}")
        text = page.inner_text("body")
        assert "Model A" in text and "Model B" in text
        assert not any(key in text for key in MODELS), "a model's name showed before the vote"
    winners = ("A is better", "B is better", "Tie")
    for number, (page, winner) in enumerate(zip(people, winners, strict=True), 1):
        page.get_by_role("button", name=winner).click()
        expect(page.get_by_text("Model A was")).to_be_visible(timeout=30_000)
        assert any(key in page.inner_text("body") for key in MODELS)  # revealed after the vote
        expect(presenter.locator("[data-testid='stMetric']").filter(has_text="Votes")).to_contain_text(
            str(number), timeout=15_000
        )
    expect(presenter.locator("[data-testid='stTable']")).to_be_visible(timeout=15_000)
    board = presenter.locator("[data-testid='stTable']").inner_text()
    assert sum(key in board for key in MODELS) >= 2
    assert "median latency" not in board and "cost per answer" not in board  # a public screen, arena open
    expect(presenter.locator(".js-plotly-plot")).to_have_count(2, timeout=15_000)
    assert presenter.evaluate("window.__notReloaded === true")
    presenter.screenshot(path=str(ARTIFACTS / "arena-presenter.png"))
    people[0].screenshot(path=str(ARTIFACTS / "arena-participant.png"), full_page=True)
    assert Arenas(Store()).activity(arena_id).votes == 3


def test_only_the_creating_tab_owns_a_local_arena_and_a_reload_keeps_the_devices_vote_limit(
    arena_app: str, browser: Browser
):
    # Everyone on a local app is the same local user: the arena is the creating tab's (its owner key), and a
    # participant who reloads and joins under a new name is still the same device for the votes-per-minute.
    from playwright.sync_api import expect

    owner = browser.new_context(viewport={"width": 1400, "height": 1800}).new_page()
    link = create_arena(owner, arena_app, "Limited demo", per_minute=1)
    owner.get_by_text("Owner key: manage your arenas").click()
    key = owner.locator("[data-testid='stExpander'] [data-testid='stCode'] code").inner_text().strip()
    assert len(key) >= 40

    stranger = browser.new_context().new_page()  # another visitor opening the Arena page itself
    stranger.goto(f"{arena_app}/arena")
    expect(stranger.get_by_text("No arena yet")).to_be_visible(timeout=60_000)
    assert stranger.get_by_role("button", name="Close arena").count() == 0
    assert "Limited demo" not in stranger.inner_text("body")

    person = browser.new_context().new_page()
    battle(person, link, "Ann", "Hello")
    person.get_by_role("button", name="Tie").click()
    expect(person.get_by_text("Model A was")).to_be_visible(timeout=30_000)
    person.reload()  # a new session: joins anew under another name, from the same device
    battle(person, link, "Not Ann", "Hello again")
    person.get_by_role("button", name="Tie").click()
    expect(person.get_by_text("This device has voted 1 times")).to_be_visible(timeout=30_000)
    assert person.get_by_text("Model A was").count() == 0

    owner.reload()  # the owner's own reload is a new session too: the key brings the arena back
    expect(owner.get_by_text("No arena yet")).to_be_visible(timeout=60_000)
    owner.get_by_text("Owner key: manage your arenas").click()
    owner.get_by_label("Use an owner key").fill(key)
    owner.get_by_role("button", name="Use this key").click()
    owner.get_by_role("button", name="Close arena").click()
    expect(owner.get_by_role("button", name="Reopen arena")).to_be_visible(timeout=30_000)
    arena = Arenas(Store()).get(link.rsplit("=", 1)[1])
    assert not arena.is_open and Arenas(Store()).activity(arena.id).votes == 1


def test_hosted_participants_are_their_signed_in_users_on_the_local_models(
    hosted_app: HostedApp,  # noqa: F811 - the fixture imported from test_hosted_browser
    browser: Browser,
):
    # Hosted mode: Alice (signed in) makes an arena of the two local models; Bob, signed in, opens its
    # link and joins as himself, with no name to type; he never sees Alice's arenas as his own.
    from playwright.sync_api import expect

    alice = sign_in(browser, hosted_app, ALICE)
    alice.goto(f"{hosted_app.url}/arena")
    alice.get_by_label("Name", exact=True).fill("Hosted demo")
    alice.get_by_label(re.compile("^Pool of models")).click()
    for key in ("smollm2-135m", "gemma3-270m"):
        alice.get_by_role("option", name=key).click()
    alice.keyboard.press("Escape")
    tokens = alice.get_by_label("Max tokens per answer")
    tokens.fill("8")
    alice.get_by_role("button", name="Create arena").click()
    expect(alice.get_by_text("Scan to join")).to_be_visible(timeout=30_000)
    link = alice.locator("[data-testid='stCode'] code").filter(has_text="?arena=").inner_text().strip()

    stranger = browser.new_page()  # not signed in: the link leads to the sign-in page, which says so
    stranger.goto(link)
    expect(stranger.get_by_role("button", name="Log in")).to_be_visible(timeout=60_000)
    expect(stranger.get_by_text("open the link again to join")).to_be_visible()
    assert "Hosted demo" not in stranger.inner_text("body")
    bob = sign_in(browser, hosted_app, BOB)
    bob.goto(f"{hosted_app.url}/arena")
    expect(bob.get_by_text("No arena yet")).to_be_visible(timeout=30_000)
    bob.goto(link)
    expect(bob.get_by_text("You join as Bob")).to_be_visible(timeout=60_000)
    assert bob.get_by_label("Your display name").count() == 0
    bob.get_by_role("button", name="Join").click()
    bob.get_by_label("Your prompt").fill("Name a colour")
    bob.get_by_role("button", name="Start battle").click()
    expect(bob.get_by_role("button", name="Both are bad")).to_be_visible(timeout=120_000)
    bob.get_by_role("button", name="Both are bad").click()
    expect(bob.get_by_text("Model A was")).to_be_visible(timeout=30_000)
    store = Arenas(Store()).store  # the app's database ($PLAYGROUND_DB, as this test set it)
    (vote,) = store.votes(link.rsplit("=", 1)[1])
    joined = store.participant(vote.participant_id)
    assert vote.winner == "tie (bothbad)" and joined.name == "Bob" and joined.user_id.endswith(f"|{BOB}")
