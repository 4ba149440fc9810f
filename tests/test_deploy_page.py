"""The Deploy page through AppTest on a real llama.cpp server: deploy the bundled SmolLM2 with a generated
key shown once, see it ready with its URL and a snippet, stop it, and see the process gone; bad input is
one error; a recipe is shown for a Hub id and refused for a malformed one."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from streamlit.testing.v1 import AppTest

from playground.core.policy import HostedPolicy
from playground.core.specs import load_specs
from playground.deploy import Deployments, processes
from playground.storage.deployments import DeploymentStore
from playground.storage.runs import Store
from tests.conftest import free_port
from tests.test_deploy import no_server_left_behind  # noqa: F401 - a fixture

APP = str(Path(__file__).resolve().parent.parent / "app.py")
READY_S = 180


@pytest.fixture(autouse=True)
def stopped_after(no_server_left_behind: None) -> Iterator[None]:  # noqa: F811 - the fixture imported above
    """Stop what a test deployed through the service, whatever failed (the servers outlive the page by
    design); anything still running is then killed."""
    yield
    service = Deployments(Store(), load_specs(), policy=HostedPolicy())
    for view in service.listed(include_final=False):
        service.stop(view.deployment.id)


def deploy_page() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=180).run()
    at.switch_page("pages/deploy.py").run()
    assert not at.exception, at.exception
    return at


def page_text(at: AppTest) -> str:
    return " ".join(m.value for m in at.markdown) + " ".join(c.value for c in at.caption)


def test_deploy_list_and_stop_from_the_page(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))  # the servers' logs
    at = deploy_page()
    assert "Nothing is deployed." in [i.value for i in at.info]
    port = free_port()
    at.selectbox(key="deploy-model").set_value("smollm2-135m")
    at.number_input(key="deploy-port").set_value(port)
    at.button(key="deploy-submit").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    # The generated key, shown once, as an export line.
    [export] = [c.value for c in at.code if c.value.startswith("export PLAYGROUND_DEPLOY_KEY_")]
    key = export.split("=", 1)[1]
    [deployment] = DeploymentStore(Store()).listed()
    assert deployment.port == port and key not in str(deployment)

    deadline = time.monotonic() + READY_S
    while ":green-badge[ready]" not in page_text(at) and time.monotonic() < deadline:
        time.sleep(1)
        at.button(key="deploy-refresh").click().run()
        assert not at.exception and not at.error, (at.exception, [e.value for e in at.error])
    assert ":green-badge[ready]" in page_text(at), page_text(at)
    snippet = next(c.value for c in at.code if "from openai import OpenAI" in c.value)
    assert f"http://127.0.0.1:{port}/v1" in snippet and deployment.api_key_env in snippet
    assert (
        httpx.get(f"{deployment.url}/models", headers={"Authorization": f"Bearer {key}"}).status_code == 200
    )

    at.button(key="deploy-key-copied").click().run()  # dismissed: the key is shown nowhere any more
    assert not any(key in c.value for c in at.code)

    # A reload (a new session) still lists it.
    again = deploy_page()
    assert any("smollm2-135m" in m.value for m in again.markdown)

    again.button(key=f"deploy-stop-{deployment.id}").click().run()
    assert not again.exception, again.exception
    assert "Nothing is deployed." in [i.value for i in again.info]
    assert not processes.is_server(deployment.pid, deployment.port)
    again.toggle(key="deploy-show-all").set_value(True).run()
    assert ":gray-badge[stopped]" in page_text(again)


def test_bad_input_is_one_error_and_nothing_starts():
    at = deploy_page()
    at.selectbox(key="deploy-model").set_value("A GGUF file by its path…")
    at.text_input(key="deploy-path").input("/etc/hostname")
    at.number_input(key="deploy-port").set_value(free_port())
    at.button(key="deploy-submit").click().run()
    assert [e.value for e in at.error] == [
        "/etc/hostname is not a GGUF file (it does not start with the bytes 'GGUF')"
    ]
    assert DeploymentStore(Store()).listed() == []


def test_recipes_are_shown_for_a_hub_id_and_refused_for_a_bad_one():
    at = deploy_page()
    at.radio(key="recipe-engine").set_value("tgi")
    at.text_input(key="recipe-model").input("Qwen/Qwen2.5-0.5B-Instruct").run()
    codes = [c.value for c in at.code]
    assert any(
        "text-generation-inference" in c and "--model-id Qwen/Qwen2.5-0.5B-Instruct" in c for c in codes
    )
    assert any(c.startswith('[models."deployed-qwen2.5-0.5b-instruct"]') for c in codes)
    at.text_input(key="recipe-model").input("not a model").run()
    assert any("not a Hub model id" in e.value for e in at.error)
