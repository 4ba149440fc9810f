"""The one safe renderer, checked where it matters: in Streamlit's own markdown, in a real browser."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

from tests.conftest import free_port
from tests.processes import serving

CHROMIUM = "/usr/bin/chromium"
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not shutil.which(CHROMIUM), reason="Debian chromium is not installed (.ci/run installs it)"
    ),
]

HOSTILE = ":material/lock: :smile: :red[red] $x^2$ <b>bold</b> ![i](http://127.0.0.1:9/i.png)"

PAGE = f"""
import streamlit as st
from playground.core.safe_text import plain, safe_markdown
st.markdown(plain({HOSTILE!r}))
st.markdown(safe_markdown({HOSTILE!r}))
st.write("done")
"""


def test_shortcodes_directives_and_markup_show_as_text_in_streamlit(tmp_path: Path):
    from playwright.sync_api import expect, sync_playwright

    from tests.test_browser import CHROMIUM_ARGS

    script = tmp_path / "page.py"
    script.write_text(PAGE)
    port = free_port()
    command = [
        sys.executable, "-m", "streamlit", "run", str(script), "--server.headless", "true",
        "--server.port", str(port), "--browser.gatherUsageStats", "false",
    ]  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    with serving(command, f"{url}/_stcore/health", tmp_path / "streamlit.log", timeout_s=60):
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
            page = browser.new_page()
            page.goto(url)
            expect(page.get_by_text("done")).to_be_visible(timeout=60_000)
            markdown = page.locator("[data-testid='stMarkdownContainer']")
            text = " ".join(markdown.all_inner_texts())
            assert page.locator("[data-testid='stIconMaterial']").count() == 0
            assert "😄" not in text and "material/lock" in text and "smile" in text
            assert markdown.locator("img, b, span[style*='color'], .katex").count() == 0
            assert "<b>bold</b>" in text and "$x^2$" in text
            browser.close()
