"""Documents end to end in a real headless browser (Debian's chromium, playwright) at 1280 × 720: create a
collection, upload a txt, an md and a pdf, see their chunks counted, search by meaning (scored results
with file and position, weak matches marked), Ask the local SmolLM2 with and without the retrieved chunks
side by side (citations link to their chunks), then compare embedding models with uploaded questions:
the table and the projection. Screenshots go to tests/artifacts/documents-*.png."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.conftest import free_port
from tests.processes import serving, streamlit_command
from tests.scripted_server import ScriptedServer
from tests.test_browser import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, pytestmark  # noqa: F401 - same skip and marks

if TYPE_CHECKING:
    from playwright.sync_api import Page

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "documents"
FILES = ("notes.txt", "guide.md", "report.pdf")
QUESTION = "How much did revenue grow in the third quarter?"


@pytest.fixture()
def documents_app(
    clean_env: Path, scripted: ScriptedServer, monkeypatch: pytest.MonkeyPatch
) -> Iterator[str]:
    """`streamlit run app.py` on a temporary database, with a models file adding `echo` (the scripted
    server repeating its prompt, so its answer cites [1] and [2] as the prompt asks)."""
    models = clean_env.parent / "models.toml"
    models.write_text(
        f'[models.echo]\nprovider = "openai"\nmodel = "m"\nbase_url = "{scripted.url("echo")}"\n'
        "context_window = 4096\n"
    )
    monkeypatch.setenv("PLAYGROUND_MODELS_FILE", str(models))
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with serving(streamlit_command(port), f"{url}/_stcore/health", clean_env.parent / "streamlit.log"):
        yield url


def shot(page: Page, name: str) -> None:
    """The viewport as tests/artifacts/documents-NAME.png (Streamlit scrolls inside its main block, so a
    "full page" shot would show no more: each step scrolls to what it shows first)."""
    ARTIFACTS.mkdir(exist_ok=True)
    page.wait_for_timeout(300)  # the last redraw settles
    page.screenshot(path=str(ARTIFACTS / f"documents-{name}.png"))


def test_collection_search_ask_and_compare_embedders(documents_app: str, tmp_path: Path):
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 720})
            page.goto(f"{documents_app}/documents")
            expect(page.get_by_label("Name", exact=True)).to_be_visible(timeout=60_000)
            shot(page, "1-empty")
            create_collection(page)
            add_files(page)
            search(page)
            ask(page)
            compare_embedders(page, tmp_path)
        finally:
            browser.close()


def create_collection(page: Page) -> None:
    from playwright.sync_api import expect

    page.get_by_label("Name", exact=True).fill("course")
    page.get_by_role("button", name="Create collection").click()
    expect(page.get_by_text("0 documents · 0 chunks")).to_be_visible(timeout=30_000)


def add_files(page: Page) -> None:
    from playwright.sync_api import expect

    page.locator("[data-testid='stFileUploaderDropzoneInput']").first.set_input_files(
        [str(FIXTURES / name) for name in FILES]
    )
    page.get_by_role("button", name="Add to the collection").click()
    for name in FILES:
        expect(page.get_by_text(re.compile(rf"Added {re.escape(name)}: \d+ chunks?"))).to_be_visible(
            timeout=60_000
        )
    expect(page.get_by_text(re.compile(r"3 documents · 3 chunks"))).to_be_visible()
    shot(page, "2-added")


def search(page: Page) -> None:
    from playwright.sync_api import expect

    box = page.get_by_label("Search the collection")
    # While Streamlit redraws, the old tab panel and the new one can both hold the box for a moment.
    expect(box).to_have_count(1, timeout=30_000)
    box.fill("revenue growth in the quarter")
    box.press("Enter")
    first = page.locator("[data-testid='stExpander'] summary").filter(has_text="[1] report.pdf")
    expect(first).to_be_visible(timeout=30_000)
    assert re.search(r"\[1\] report\.pdf · chunk \d+ · similarity 0\.\d{3}", first.inner_text())
    expect(page.get_by_text("Score: cosine similarity", exact=False)).to_be_visible()
    expect(box).to_have_count(1, timeout=30_000)
    box.scroll_into_view_if_needed()
    shot(page, "3-search")


def ask(page: Page) -> None:
    from playwright.sync_api import expect

    page.get_by_role("textbox", name="Question").fill(QUESTION)
    models = page.get_by_label("Models", exact=True)
    models.click()  # smollm2-135m is chosen; add echo
    page.get_by_role("option", name="echo").click()
    page.keyboard.press("Escape")
    page.get_by_text("with and without retrieval").click()
    page.get_by_role("button", name="Ask", exact=True).click()
    answers = page.locator("[data-testid='stCaptionContainer']").filter(has_text="TTFT")
    expect(answers).to_have_count(4, timeout=240_000)  # 2 models × with and without
    page.get_by_text("Retrieved", exact=True).scroll_into_view_if_needed()
    shot(page, "4-retrieved")
    page.get_by_role("heading", name="smollm2-135m").scroll_into_view_if_needed()
    shot(page, "5-answers")
    cited = page.locator("[data-testid='stPopover'] button").filter(has_text=re.compile(r"^\[1\] "))
    expect(cited.first).to_be_visible(timeout=30_000)
    cited.first.click()
    expect(page.locator("[data-testid='stPopoverBody']").first).to_be_visible()
    shot(page, "6-cited")


def compare_embedders(page: Page, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    questions = tmp_path / "questions.jsonl"
    rows = [
        {"question": "how much did revenue grow", "gold_files": "report.pdf"},
        {"question": "what is on the menu for friday", "gold_files": "notes.txt"},
        {"question": "how do I install the tools", "gold_files": "guide.md"},
    ]
    questions.write_text("".join(json.dumps(r) + "\n" for r in rows))
    page.keyboard.press("Escape")
    page.get_by_role("tab", name="Compare embedders").click()
    page.locator("[data-testid='stFileUploaderDropzoneInput']").last.set_input_files(str(questions))
    page.get_by_role("button", name="Compare", exact=True).click()
    table = page.locator("[data-testid='stDataFrame']").first
    expect(table).to_be_visible(timeout=120_000)
    expect(page.locator(".js-plotly-plot").first).to_be_visible(timeout=60_000)
    body = page.inner_text("body")
    assert "3 questions uploaded" in body or "uploaded" in body
    page.get_by_text(re.compile(r"^\d+ chunks · ")).scroll_into_view_if_needed()
    shot(page, "7-compare")
    page.locator(".js-plotly-plot").first.scroll_into_view_if_needed()
    shot(page, "8-projection")
