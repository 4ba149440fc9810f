"""The Tune page in real headless chromium against the scripted fine-tuning API: a pasted file checked, a
job started and followed by the page's fragment to its end with a loss curve, then base vs tuned."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.test_browser import chromium_page, pytestmark, streamlit_server, streamlit_url  # noqa: F401 - fixtures, marks

SHOTS = Path(__file__).resolve().parent / "artifacts"


@pytest.fixture()
def tune_models(scripted, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A fine-tunable model on the scripted server, in the models file the app's process reads."""
    models = tmp_path / "models.toml"
    models.write_text(
        '[models.browser-base]\nprovider = "openai"\nmodel = "gpt-4o-mini-2024-07-18"\n'
        f'base_url = "{scripted.url("tune~steps=1~id=browser")}"\napi_key_env = "TUNE_BROWSER_KEY"\n'
        'context_window = 4096\nfine_tunable = true\nprice_training_per_mtok = "3"\n'
    )
    monkeypatch.setenv("PLAYGROUND_MODELS_FILE", str(models))
    monkeypatch.setenv("TUNE_BROWSER_KEY", "sk-browser")


def test_tune_page_checks_starts_follows_and_compares(tune_models: None, streamlit_url: str):  # noqa: F811
    from playwright.sync_api import expect

    lines = "\n".join(
        json.dumps(
            {
                "messages": [
                    {"role": "user", "content": f"say word{i}"},
                    {"role": "assistant", "content": f"say word{i}"},
                ]
            }
        )
        for i in range(20)
    )
    with chromium_page(1400) as page:
        page.goto(f"{streamlit_url}/tune")
        expect(page.get_by_role("button", name="Check")).to_be_visible(timeout=60_000)
        page.get_by_label("Base model").click()
        page.get_by_role("option", name="browser-base").click()
        page.get_by_label("…or paste chat-format JSONL").fill(lines)
        page.get_by_label("…or paste chat-format JSONL").blur()
        page.get_by_role("button", name="Check").click()
        expect(page.get_by_text("Training examples")).to_be_visible(timeout=30_000)
        page.get_by_role("button", name="Start fine-tuning (spends money)").click()
        expect(page.get_by_text("succeeded").first).to_be_visible(timeout=60_000)  # the fragment followed it
        expect(page.locator(".js-plotly-plot").first).to_be_visible(timeout=30_000)
        page.get_by_role("button", name="Compare base vs tuned").click()
        expect(page.get_by_text("+1.000").first).to_be_visible(timeout=60_000)
        SHOTS.mkdir(exist_ok=True)
        page.screenshot(path=str(SHOTS / "tune.png"), full_page=True)
