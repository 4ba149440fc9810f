"""End to end in a real headless browser: Debian's chromium driven by Python playwright."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from playwright.sync_api import Locator, Page

from tests.conftest import free_port
from tests.processes import cpu_seconds, serving, streamlit_command, worker_pids

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not shutil.which(CHROMIUM), reason="Debian chromium is not installed (.ci/run installs it)"
    ),
]


@contextmanager
def chromium_page(height: int) -> Iterator[Page]:
    """A page in headless Debian chromium, 1400 px wide (closed on exit)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser.new_page(viewport={"width": 1400, "height": height})
        finally:
            browser.close()


@pytest.fixture()
def streamlit_server(clean_env: Path) -> Iterator[tuple[str, int]]:
    """`streamlit run app.py` on a free loopback port: its URL and process id."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with serving(
        streamlit_command(port), f"{url}/_stcore/health", clean_env.parent / "streamlit.log", timeout_s=60
    ) as process:
        yield url, process.pid


@pytest.fixture()
def streamlit_url(streamlit_server: tuple[str, int]) -> str:
    """The URL of `streamlit run app.py` on a free loopback port."""
    return streamlit_server[0]


def start_run(page: Page, url: str, prompt_text: str, *, max_tokens: int) -> Locator:
    """Open Compare, type a prompt and max tokens, click Run; returns the Run button."""
    from playwright.sync_api import expect

    page.goto(url)
    prompt = page.get_by_label("Prompt", exact=True)
    expect(prompt).to_be_visible(timeout=60_000)
    prompt.fill(prompt_text)
    tokens = page.get_by_label("Max tokens")
    tokens.fill(str(max_tokens))
    tokens.press("Enter")
    run = page.get_by_role("button", name="Run", exact=True)
    expect(run).to_be_enabled(timeout=60_000)
    run.click()
    return run


def test_prompt_run_two_local_answers_and_a_chart(streamlit_url: str):
    from playwright.sync_api import expect

    ARTIFACTS.mkdir(exist_ok=True)
    with chromium_page(1800) as page:
        page.goto(streamlit_url)
        prompt = page.get_by_label("Prompt", exact=True)
        expect(prompt).to_be_visible(timeout=60_000)
        prompt.fill("Name three colors")
        prompt.press("Control+Enter")
        run = page.get_by_role("button", name="Run", exact=True)
        expect(run).to_be_enabled(timeout=60_000)
        run.click()
        captions = page.locator("[data-testid='stCaptionContainer']")
        expect(captions.filter(has_text="TTFT")).to_have_count(2, timeout=120_000)
        expect(page.locator(".js-plotly-plot").first).to_be_visible(timeout=60_000)
        page.screenshot(path=str(ARTIFACTS / "compare.png"), full_page=True)
        text = page.inner_text("body")
        assert "smollm2-135m" in text and "gemma3-270m" in text
        assert "(counted)" in text and "local (no price)" in text


def test_deep_link_as_first_request_opens_the_page_inside_the_app(streamlit_url: str):
    # A fresh server treats pages/ as a legacy multipage folder until st.navigation has run once; the
    # first request here is a deep link, which must still get the app's navigation, not the folder's.
    from playwright.sync_api import expect

    with chromium_page(1000) as page:
        page.goto(f"{streamlit_url}/catalog")
        expect(page.get_by_role("heading", name="Model catalog")).to_be_visible(timeout=60_000)
        nav = page.locator("[data-testid='stSidebarNav']")
        expect(nav.get_by_text("Compare", exact=True)).to_be_visible(timeout=30_000)
        assert nav.get_by_text("ui", exact=True).count() == 0
        assert nav.get_by_text("app", exact=True).count() == 0


def test_evaluate_a_sample_on_the_two_local_models(streamlit_url: str):
    from playwright.sync_api import expect

    ARTIFACTS.mkdir(exist_ok=True)
    with chromium_page(3000) as page:
        page.goto(f"{streamlit_url}/evaluate")
        expect(page.get_by_role("heading", name="Evaluate")).to_be_visible(timeout=60_000)
        rows = page.get_by_label("Rows (0 = all)")
        rows.fill("2")
        rows.press("Enter")
        run = page.get_by_role("button", name="Run evaluation")
        expect(run).to_be_enabled(timeout=30_000)
        run.click()
        expect(page.get_by_text("4 of 4 answers")).to_be_visible(timeout=180_000)
        reading = page.locator("li").filter(has_text=re.compile(r"^valid_json: .*(leads|tie at)"))
        expect(reading).to_be_visible()
        # Per-metric scores and latency; with local models only, score vs cost is one line (no price).
        expect(page.locator(".js-plotly-plot")).to_have_count(2, timeout=60_000)
        expect(page.get_by_text(re.compile(r"no price|No price")).first).to_be_visible()
        page.screenshot(path=str(ARTIFACTS / "evaluate.png"), full_page=True)
        text = page.inner_text("body")
        assert "smollm2-135m" in text and "gemma3-270m" in text and "Rows × models" in text


def test_stop_keeps_partial_answers_marked_cancelled(streamlit_url: str):
    from playwright.sync_api import expect

    with chromium_page(1800) as page:
        start_run(page, streamlit_url, "Write a long story about a lighthouse keeper.", max_tokens=2000)
        expect(page.get_by_text("▌").first).to_be_visible(timeout=120_000)  # streaming has begun
        page.locator(".st-key-stop button").click()  # ours, not the toolbar's own Stop
        expect(page.get_by_text("Run saved")).to_be_visible(timeout=60_000)
        errors = page.locator("[data-testid='stAlert']").filter(has_text="cancelled")
        expect(errors.first).to_be_visible(timeout=30_000)
        assert "stopped by the user; partial text kept" in page.inner_text("body")
        from playground.compare import open_history

        latest = open_history().list_runs()[0]
        assert latest.results and all(r.finish_reason == "cancelled" for r in latest.results)
        assert any(r.text for r in latest.results)  # the partial text was saved


def test_a_double_click_on_run_makes_one_run_and_a_reload_finds_it_going(streamlit_url: str):
    from playwright.sync_api import expect

    from playground.compare import open_history

    with chromium_page(1800) as page:
        run = start_run(page, streamlit_url, "Write a story about a lighthouse keeper.", max_tokens=800)
        run.dblclick()  # the click from start_run and two more, before the page has redrawn
        # Once the run is going, Run is drawn under a key naming it (st-key-run-<id>), greyed out.
        # (While Streamlit redraws, the page can hold the old element beside the new one for a moment.)
        going = page.locator("[class*='st-key-run-']").get_by_role("button", name="Run", exact=True)
        expect(going).to_have_count(1, timeout=30_000)
        expect(going).to_be_disabled(timeout=30_000)
        expect(page.get_by_text("▌").first).to_be_visible(timeout=120_000)  # streaming has begun
        assert "current=" in page.url
        page.reload()  # mid-run: the address brings the same run back, still going
        expect(page.get_by_text("▌").first).to_be_visible(timeout=60_000)
        expect(page.get_by_text("Run saved")).to_be_visible(timeout=180_000)
        runs = open_history().list_runs()
        assert len(runs) == 1, [r.id for r in runs]  # one run, though Run was pressed three times
        assert {r.model for r in runs[0].results} == {"smollm2-135m", "gemma3-270m"}
        assert not any(r.finish_reason == "cancelled" for r in runs[0].results)
        assert "stopped by the user" not in page.inner_text("body")


def test_follow_up_continues_each_local_models_own_conversation(streamlit_url: str):
    from playwright.sync_api import expect

    from playground.compare import open_history

    ARTIFACTS.mkdir(exist_ok=True)
    with chromium_page(2400) as page:
        start_run(page, streamlit_url, "My name is Ada.", max_tokens=16)
        expect(page.get_by_text("Run saved")).to_be_visible(timeout=120_000)
        follow = page.get_by_label("Follow up", exact=True)
        follow.fill("What is my name?")
        follow.press("Control+Enter")
        button = page.get_by_role("button", name="Follow up", exact=True)
        expect(button).to_be_enabled(timeout=30_000)
        button.click()
        expect(page.get_by_text("Turn 2: What is my name?")).to_be_visible(timeout=60_000)
        expect(page.get_by_text("Run saved")).to_be_visible(timeout=120_000)
        expect(page.get_by_text(re.compile(r"^Conversation so far \(2 turns"))).to_be_visible(timeout=30_000)
        page.screenshot(path=str(ARTIFACTS / "compare-follow-up.png"), full_page=True)
        last, first = open_history().list_runs()[:2]
        assert last.parent_id == first.id and last.prompt == "What is my name?"
        assert {r.model for r in last.results} == {"smollm2-135m", "gemma3-270m"}
        # Each model was sent more than the new prompt alone: its own first answer came along.
        first_in = {r.model: r.input_tokens for r in first.results}
        assert all(r.input_tokens > first_in[r.model] for r in last.results)


def _busy_smollm2_worker(server_pid: int) -> int:
    """The server's smollm2 worker once it has generated for a while."""
    import time

    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        for pid in worker_pids(server_pid):
            try:
                if b"SmolLM2" in Path(f"/proc/{pid}/cmdline").read_bytes() and cpu_seconds(pid) > 1.5:
                    return pid
            except OSError:
                continue
        time.sleep(0.05)
    raise AssertionError("the smollm2 worker never got busy")


def test_a_crashed_worker_ends_one_column_and_the_server_lives_on(streamlit_server: tuple[str, int]):
    import os
    import signal
    import urllib.request

    from playwright.sync_api import expect

    url, server_pid = streamlit_server
    ARTIFACTS.mkdir(exist_ok=True)
    with chromium_page(1800) as page:
        run = start_run(
            page, url, "Write a long story about a lighthouse keeper and the sea.", max_tokens=400
        )
        max_tokens = page.get_by_label("Max tokens")
        os.kill(_busy_smollm2_worker(server_pid), signal.SIGSEGV)
        crashed = page.locator("[data-testid='stAlert']").filter(has_text="crashed")
        expect(crashed.first).to_be_visible(timeout=60_000)
        expect(page.get_by_text("Run saved")).to_be_visible(timeout=120_000)
        assert "SIGSEGV" in crashed.first.inner_text()
        captions = page.locator("[data-testid='stCaptionContainer']")
        expect(captions.filter(has_text="TTFT")).to_have_count(2, timeout=30_000)
        page.screenshot(path=str(ARTIFACTS / "crashed.png"), full_page=True)
        with urllib.request.urlopen(f"{url}/_stcore/health", timeout=5) as health:
            assert health.status == 200  # the server process lives on
        max_tokens.fill("12")
        max_tokens.press("Enter")
        run.click()  # the next call starts a fresh worker
        expect(page.locator("[data-testid='stAlert']").filter(has_text="crashed")).to_have_count(
            0, timeout=120_000
        )
        expect(captions.filter(has_text="TTFT")).to_have_count(2, timeout=120_000)
        assert "(counted)" in page.inner_text("body")


def test_the_pages_fetch_nothing_from_outside_this_server(streamlit_url: str):
    # A hosted or offline instance must not make visitors' browsers fetch fonts or scripts elsewhere.
    from playwright.sync_api import expect

    fetched: list[str] = []
    with chromium_page(1000) as page:
        page.on("request", lambda request: fetched.append(request.url))
        for path in ("", "/catalog", "/evaluate", "/history", "/settings"):
            page.goto(f"{streamlit_url}{path}")
            expect(page.locator("h1").first).to_be_visible(timeout=60_000)
            page.wait_for_timeout(500)
    outside = [u for u in fetched if not u.startswith((streamlit_url, "data:", "blob:", "ws://127.0.0.1"))]
    assert fetched and outside == []
