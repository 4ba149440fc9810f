"""End to end in a real headless browser: Debian's chromium driven by Python playwright."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import free_port

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
ROOT = Path(__file__).resolve().parent.parent
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


@pytest.fixture()
def streamlit_url(clean_env: Path) -> Iterator[str]:
    """`streamlit run app.py` on a free loopback port."""
    port = free_port()
    log = clean_env.parent / "streamlit.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "streamlit",
                "run",
                str(ROOT / "app.py"),
                "--server.headless=true",
                f"--server.port={port}",
                "--server.address=127.0.0.1",
                "--browser.gatherUsageStats=false",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
            env=os.environ.copy(),
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"streamlit did not start: {log.read_text()[-2000:]}")
            time.sleep(0.3)
        yield url
    finally:
        process.terminate()
        process.wait(15)


def test_prompt_run_two_local_answers_and_a_chart(streamlit_url: str):
    from playwright.sync_api import expect, sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1800})
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
        browser.close()
