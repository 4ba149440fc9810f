"""Evaluate in a real headless browser (Debian's chromium, playwright) at 1280 × 720: when an evaluation
ends, the page leads with its results (the form folds up above them), every time, also after the user
unfolded the form again for a second run."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from playground.evals import evaluation_store
from playground.storage import Store
from tests.test_browser import (  # noqa: F401 - the same skip, marks and fixtures
    ARTIFACTS,
    chromium_page,
    pytestmark,
    streamlit_server,
    streamlit_url,
)

if TYPE_CHECKING:
    from playwright.sync_api import Page


def run_two_rows(page: Page) -> None:
    from playwright.sync_api import expect

    rows = page.get_by_label("Rows (0 = all)")
    rows.fill("2")
    rows.press("Enter")
    run = page.get_by_role("button", name="Run evaluation")
    expect(run).to_be_enabled(timeout=30_000)
    run.click()


def leads_with_results(page: Page, name: str) -> None:
    """The form is folded, and the finished evaluation's heading is in the first screenful."""
    from playwright.sync_api import expect

    heading = page.get_by_role("heading", name="extraction.jsonl · 4 of 4 answers")
    expect(heading.first).to_be_visible(timeout=180_000)
    expect(page.get_by_role("button", name="Run evaluation")).to_be_hidden(timeout=30_000)
    page.wait_for_timeout(500)  # the last redraw settles
    box = heading.first.bounding_box()
    assert box is not None and 0 <= box["y"] and box["y"] + box["height"] < 720, box  # in the first screenful
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"evaluate-{name}.png"))


def test_a_finished_evaluation_leads_the_page_every_time(streamlit_url: str):  # noqa: F811 - the fixture
    from playwright.sync_api import expect

    with chromium_page(720) as page:
        page.set_viewport_size({"width": 1280, "height": 720})
        page.goto(f"{streamlit_url}/evaluate")
        expect(page.get_by_role("heading", name="Evaluate")).to_be_visible(timeout=60_000)
        run_two_rows(page)
        finished(1)
        leads_with_results(page, "first-run")
        page.get_by_text("New evaluation", exact=True).click()  # unfold the form again ...
        run_two_rows(page)  # ... and run once more
        finished(2)
        leads_with_results(page, "second-run")


def finished(count: int) -> None:
    """Wait until `count` evaluations are saved, each with all its answers."""
    store = evaluation_store(Store())
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        saved = store.list()
        if len(saved) == count and all(e.done == e.total for e in saved):
            return
        time.sleep(0.5)
    raise AssertionError(f"{count} finished evaluations were never saved")
