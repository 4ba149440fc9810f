"""Hosted mode end to end: a real OpenID Connect provider (oidc-provider-mock) on loopback, `streamlit run`
with PLAYGROUND_HOSTED=1, and two users in two browser contexts of Debian's chromium."""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.conftest import free_port
from tests.processes import serving, streamlit_command
from tests.test_browser import CHROMIUM, pytestmark  # noqa: F401 - same skip and marks

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

ALICE, BOB = "alice@example.com", "bob@example.com"


@dataclass(frozen=True)
class HostedApp:
    url: str
    issuer: str
    log: Path


def _secrets(folder: Path, app_port: int, issuer: str) -> Path:
    path = folder / "secrets.toml"
    path.write_text(
        "[auth]\n"
        f'redirect_uri = "http://127.0.0.1:{app_port}/oauth2callback"\n'
        'cookie_secret = "a-test-cookie-secret-of-enough-length"\n'
        'client_id = "model-playground"\n'
        'client_secret = "client-secret"\n'
        f'server_metadata_url = "{issuer}/.well-known/openid-configuration"\n'
    )
    return path


@pytest.fixture()
def oidc_provider(tmp_path: Path) -> Iterator[str]:
    """oidc-provider-mock on a free loopback port: its issuer URL."""
    port = free_port()
    issuer = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "oidc_provider_mock", "--port", str(port)]
    with serving(command, f"{issuer}/.well-known/openid-configuration", tmp_path / "oidc.log"):
        yield issuer


def start_hosted(
    tmp_path: Path, issuer: str, extra_env: dict[str, str] | None = None, args=(), serve: bool = True
) -> Iterator[HostedApp]:
    """The app in hosted mode (through `playground serve`, or plain `streamlit run`), signing in at `issuer`."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "PLAYGROUND_HOSTED": "1",
        "PLAYGROUND_ADMINS": ALICE,
        **(extra_env or {}),
    }
    # Started as an operator would: `playground serve` checks the settings, then runs streamlit.
    options = streamlit_command(port)[streamlit_command(port).index("--server.headless=true") :]
    secrets = f"--secrets.files={_secrets(tmp_path, port, issuer)}"
    command = [sys.executable, "-m", "playground", "serve", *options, secrets, *args]
    if not serve:  # plain `streamlit run`, past the start-up check: the app itself must still refuse
        command = [*streamlit_command(port), secrets, *args]
    log = tmp_path / "streamlit-hosted.log"
    with serving(command, f"{url}/_stcore/health", log, env=env, timeout_s=60):
        yield HostedApp(url, issuer, log)


@pytest.fixture()
def hosted_app(tmp_path: Path, oidc_provider: str) -> Iterator[HostedApp]:
    yield from start_hosted(tmp_path, oidc_provider)


def sign_in(browser: Browser, app: HostedApp, subject: str) -> Page:
    """A fresh browser context (its own cookies) signed in as `subject` through the OIDC provider's form."""
    import json
    import urllib.request

    from playwright.sync_api import expect

    # The provider vouches for the address (admins are named by verified e-mail only).
    claims = json.dumps({"email": subject, "email_verified": True, "name": subject.split("@")[0].title()})
    request = urllib.request.Request(
        f"{app.issuer}/users/{subject}", claims.encode(), {"Content-Type": "application/json"}, method="PUT"
    )
    urllib.request.urlopen(request, timeout=10).close()
    page = browser.new_context(viewport={"width": 1400, "height": 1400}).new_page()
    page.goto(app.url)
    login = page.get_by_role("button", name="Log in")
    expect(login).to_be_visible(timeout=60_000)
    login.click()
    page.wait_for_url(f"{app.issuer}/**", timeout=30_000)
    page.locator("input[name='sub']").fill(subject)
    page.get_by_role("button", name="Authorize").click()
    expect(page.get_by_text("Signed in as")).to_be_visible(timeout=60_000)
    expect(page.get_by_text(subject.split("@")[0].title()).first).to_be_visible()
    return page


def test_every_page_needs_a_signed_in_user(hosted_app: HostedApp, browser: Browser):
    from playwright.sync_api import expect

    page = browser.new_page()
    for path in ("", "/history", "/settings", f"/?run={'a' * 32}"):
        page.goto(hosted_app.url + path)
        expect(page.get_by_role("button", name="Log in")).to_be_visible(timeout=60_000)
        body = page.inner_text("body")
        assert "Compare models" not in body and "History" not in body.split("Log in")[0]


def run_comparison(page: Page, app: HostedApp, prompt: str) -> str:
    """Run the two local models on Compare (8 tokens); returns the run's id from its share link."""
    import re

    from playwright.sync_api import expect

    page.goto(app.url)
    box = page.get_by_label("Prompt", exact=True)
    expect(box).to_be_visible(timeout=60_000)
    box.fill(prompt)
    tokens = page.get_by_label("Max tokens")
    tokens.fill("8")
    tokens.press("Enter")
    run = page.get_by_role("button", name="Run", exact=True)
    expect(run).to_be_enabled(timeout=60_000)
    run.click()
    link = page.get_by_text(re.compile(r"\?run=[0-9a-f]{32}"))
    expect(link).to_be_visible(timeout=120_000)
    return re.search(r"\?run=([0-9a-f]{32})", link.inner_text()).group(1)


def test_two_users_see_only_their_own_history_and_only_the_owner_deletes(
    hosted_app: HostedApp, browser: Browser
):
    from playwright.sync_api import expect

    alice = sign_in(browser, hosted_app, ALICE)
    run_id = run_comparison(alice, hosted_app, "alice's private prompt")
    bob = sign_in(browser, hosted_app, BOB)

    bob.goto(f"{hosted_app.url}/history")
    expect(bob.get_by_text("No runs yet")).to_be_visible(timeout=60_000)
    assert "alice's private prompt" not in bob.inner_text("body")

    bob.goto(f"{hosted_app.url}/?run={run_id}")  # a share link: readable by any signed-in user
    expect(bob.get_by_text("Shared run (read-only)")).to_be_visible(timeout=60_000)
    assert "alice's private prompt" in bob.inner_text("body")
    assert bob.get_by_role("button", name="Delete this run").count() == 0

    alice.goto(f"{hosted_app.url}/history")
    expect(alice.get_by_role("button", name="Delete this run")).to_be_visible(timeout=60_000)
    assert "alice's private prompt" in alice.inner_text("body")

    # The admin page is listed for the admin only, and refuses a direct link from anyone else.
    expect(alice.get_by_role("link", name="Admin")).to_be_visible()
    assert bob.get_by_role("link", name="Admin").count() == 0
    bob.goto(f"{hosted_app.url}/admin")
    expect(bob.get_by_text("Compare models")).to_be_visible(timeout=60_000)  # not his: the default page
    assert "Effective limits" not in bob.inner_text("body") and "Spend per user" not in bob.inner_text("body")
    alice.goto(f"{hosted_app.url}/admin")
    expect(alice.get_by_text("Effective limits")).to_be_visible(timeout=60_000)
    expect(alice.get_by_text("Spend per user", exact=True)).to_be_visible()
    legend = alice.locator(".js-plotly-plot .legend")
    expect(legend).to_contain_text(f"Alice <{ALICE}>", timeout=30_000)  # the run's calls, by user


def test_a_key_entered_by_one_user_is_never_usable_by_another(hosted_app: HostedApp, browser: Browser):
    from playwright.sync_api import expect

    alice = sign_in(browser, hosted_app, ALICE)
    bob = sign_in(browser, hosted_app, BOB)
    alice.goto(f"{hosted_app.url}/settings")
    alice.get_by_label("OpenAI API key", exact=True).fill("sk-alice-only")
    alice.get_by_role("button", name="Save keys for this session").click()
    alice_cells = alice.locator("[role='gridcell']")
    # The table's cells are in the page's accessibility layer (glide data grid), attached but not "visible".
    expect(alice_cells.filter(has_text="OPENAI_API_KEY set").first).to_be_attached(timeout=60_000)

    bob.goto(f"{hosted_app.url}/settings")
    bob_cells = bob.locator("[role='gridcell']")
    expect(bob_cells.filter(has_text="set OPENAI_API_KEY").first).to_be_attached(timeout=60_000)
    assert bob_cells.filter(has_text="OPENAI_API_KEY set").count() == 0
    # Nor can bob add an endpoint of his own: no allowed hosts are configured on this server.
    expect(bob.get_by_text("does not let users add their own endpoints")).to_be_visible()
    assert "sk-alice-only" not in hosted_app.log.read_text()


def test_a_hosted_server_that_is_not_hardened_refuses_to_serve(
    tmp_path: Path, oidc_provider: str, browser: Browser
):
    from playwright.sync_api import expect

    loose = ["--server.enableCORS=false", "--client.toolbarMode=developer", "--server.maxUploadSize=200"]
    for app in start_hosted(tmp_path, oidc_provider, args=loose, serve=False):
        page = browser.new_page()
        page.goto(app.url)
        expect(page.get_by_text("refuses to start")).to_be_visible(timeout=60_000)
        expect(page.get_by_text("cross-origin access must be refused")).to_be_visible()
        body = page.inner_text("body")
        assert (
            "cross-origin access must be refused" in body
            and "toolbar must be minimal" in body
            and "(it is 200)" in body
        )
        assert page.get_by_role("button", name="Log in").count() == 0
        assert page.get_by_role("link", name=re.compile("history", re.I)).count() == 0  # no page listed
        page.goto(f"{app.url}/history")
        expect(page.get_by_text("refuses to start")).to_be_visible(timeout=60_000)
        assert "Compare models" not in page.inner_text("body")
