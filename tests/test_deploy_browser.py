"""The Deploy page in real headless chromium: deploy the bundled SmolLM2 with a generated key, see it
ready with its URL and snippet, call it with the key shown, stop it from the page."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from playground.core.policy import HostedPolicy
from playground.core.specs import load_specs
from playground.deploy import Deployments
from playground.storage.runs import Store
from tests.conftest import free_port
from tests.test_browser import chromium_page, pytestmark, streamlit_server, streamlit_url  # noqa: F401 - fixtures, marks

SHOTS = Path(__file__).resolve().parent / "artifacts"


def test_deploy_call_and_stop_from_the_page(streamlit_url: str):  # noqa: F811 - the fixture imported above
    from playwright.sync_api import expect

    port = free_port()
    try:
        with chromium_page(1800) as page:
            page.goto(f"{streamlit_url}/deploy")
            expect(page.get_by_role("button", name="Deploy")).to_be_visible(timeout=60_000)
            page.get_by_label("Port", exact=True).fill(str(port))
            page.get_by_role("button", name="Deploy").click()
            export = page.get_by_text("export PLAYGROUND_DEPLOY_KEY_")
            expect(export).to_be_visible(timeout=120_000)
            key = export.inner_text().split("=", 1)[1].strip()
            expect(page.get_by_text("ready", exact=True)).to_be_visible(timeout=180_000)  # redrawn by itself
            expect(page.get_by_text(f"URL: http://127.0.0.1:{port}/v1", exact=False)).to_be_visible()
            reply = httpx.post(
                f"http://127.0.0.1:{port}/v1/chat/completions",
                headers={"Authorization": f"Bearer {key}"},
                json={
                    "model": "smollm2-135m",
                    "messages": [{"role": "user", "content": "Hi"}],
                    "max_tokens": 8,
                },
                timeout=120,
            )
            assert reply.status_code == 200 and reply.json()["choices"][0]["message"]["content"]
            SHOTS.mkdir(exist_ok=True)
            page.screenshot(path=str(SHOTS / "deploy.png"), full_page=True)
            page.get_by_role("button", name="Stop").click()
            expect(page.get_by_text("Nothing is deployed.")).to_be_visible(timeout=60_000)
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"http://127.0.0.1:{port}/v1/models", timeout=5)
    finally:  # never leave a server behind, whatever failed
        service = Deployments(Store(), load_specs(), policy=HostedPolicy())
        for view in service.listed(include_final=False):
            service.stop(view.deployment.id)
