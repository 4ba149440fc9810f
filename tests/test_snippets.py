""" "View code": every snippet runs as shown — the local ones on the bundled models, the hosted ones against
a real OpenAI-compatible server (llama.cpp serving SmolLM2) and, for Azure's URL shape, the scripted one."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from playground.compare import curl_snippet, python_snippet
from playground.core.params import Params, build_request
from playground.core.specs import load_specs
from playground.engine.registry import build_provider
from playground.engine.runner import run_model
from providers.local_models import BUNDLED, gguf_path
from tests.conftest import remote_spec

GREEDY = Params(temperature=0.0, max_tokens=12, seed=1)


def run_python(code: str, tmp_path: Path, env: dict[str, str] | None = None) -> str:
    script = tmp_path / "snippet.py"
    script.write_text(code)
    done = subprocess.run(
        [sys.executable, str(script)],
        capture_output=True,
        text=True,
        timeout=180,
        env={**os.environ, **(env or {})},
        cwd=tmp_path,  # nothing of the checkout is needed: the snippet uses only the packages
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def run_curl(command: str, env: dict[str, str]) -> str:
    done = subprocess.run(
        ["bash", "-c", command.replace("curl ", "curl -sS --fail-with-body ", 1)],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **env},
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_each_bundled_models_path_code_finds_the_file_the_app_loads():
    for name, bundled in BUNDLED.items():
        scope: dict[str, object] = {}
        exec(bundled.path_code, scope)  # noqa: S102 - our own constant, the code "View code" shows
        assert Path(str(scope["model_path"])) == gguf_path(name)


@pytest.mark.parametrize(
    ("key", "prompt", "system"),
    [("smollm2-135m", "Name three colors.", "Answer briefly."), ("gemma3-270m", "The sky is", None)],
)
def test_local_snippet_runs_as_shown_and_gives_the_apps_answer(key: str, prompt: str, system, tmp_path):
    spec = load_specs()[key]
    request = build_request(spec, prompt, system, GREEDY)
    snippet = python_snippet(spec, request)
    assert curl_snippet(spec, request) is None and "model_path=model_path" in snippet
    printed = run_python(snippet, tmp_path).strip()
    assert printed
    # The same call, greedy, through the app: the snippet repeats it exactly.
    result = run_model(spec, build_provider(spec), request, timeout_s=120)
    assert result.ok, result.error
    assert printed == result.text.strip()


@pytest.mark.parametrize("task", ["chat", "completion"])
def test_openai_snippets_run_against_a_real_server(llama_server, task, tmp_path):
    spec = remote_spec(llama_server, model="smollm2", task=task, api_key_env="SNIPPET_KEY")
    request = build_request(spec, "Name three colors." if task == "chat" else "The sky is", None, GREEDY)
    env = {"SNIPPET_KEY": "sk-snippet-test"}
    assert run_python(python_snippet(spec, request), tmp_path, env).strip()
    curl = curl_snippet(spec, request)
    assert curl and '"choices"' in run_curl(curl, env)


def test_hugging_face_snippets_run_against_a_real_server(llama_server, tmp_path):
    spec = remote_spec(llama_server, provider="huggingface", model="smollm2", api_key_env="SNIPPET_HF")
    request = build_request(spec, "Name three colors.", None, GREEDY)
    env = {"SNIPPET_HF": "hf_snippet_test"}
    assert run_python(python_snippet(spec, request), tmp_path, env).strip()
    curl = curl_snippet(spec, request)
    assert curl and '"choices"' in run_curl(curl, env)


def test_azure_snippets_reach_the_deployment_url_with_the_api_key_header(scripted, tmp_path):
    endpoint = scripted.url("echo").removesuffix("/v1")  # http://127.0.0.1:PORT/echo
    spec = remote_spec(
        endpoint,
        provider="azure",
        model="my-deployment",
        api_key_env="SNIPPET_AZURE_KEY",
        endpoint_env="SNIPPET_AZURE_ENDPOINT",
        api_version="2024-10-21",
    )
    request = build_request(spec, "hello from azure", None, GREEDY)
    env = {"SNIPPET_AZURE_KEY": "azure-snippet-key", "SNIPPET_AZURE_ENDPOINT": endpoint}
    assert run_python(python_snippet(spec, request), tmp_path, env).strip() == "hello from azure"
    curl = curl_snippet(spec, request)
    assert curl and "hello from azure" in run_curl(curl, env)
    sent = [r for r in scripted.requests if "/openai/deployments/my-deployment/" in r["path"]]
    assert len(sent) == 2 and all(r["headers"].get("api-key") == "azure-snippet-key" for r in sent)
    assert all("api-version=2024-10-21" in r["path"] for r in sent)


def test_hosted_snippets_carry_the_key_from_the_environment_and_never_in_their_text(scripted, tmp_path):
    for provider, key_env, header in (
        ("openai", "SNIP_OPENAI", "Authorization"),
        ("huggingface", "SNIP_HF", "authorization"),
    ):
        spec = remote_spec(scripted.url("echo"), provider=provider, model="m", api_key_env=key_env)
        request = build_request(spec, f"hello {provider}", None, GREEDY)
        secret = f"secret-{provider}-0123456789"
        python, curl = python_snippet(spec, request), curl_snippet(spec, request)
        assert secret not in python and curl and secret not in curl
        before = len(scripted.requests)
        assert run_python(python, tmp_path, {key_env: secret}).strip() == f"hello {provider}"
        assert f"hello {provider}" in run_curl(curl, {key_env: secret})
        sent = scripted.requests[before:]
        assert len(sent) == 2
        assert all(
            {k.lower(): v for k, v in r["headers"].items()}[header.lower()] == f"Bearer {secret}"
            for r in sent
        )


def test_a_typed_base_url_is_pasted_as_text_by_the_curl_snippet_never_run(tmp_path):
    marker = tmp_path / "pwned"
    spec = remote_spec(f"http://127.0.0.1:9/v1$(touch {marker})`touch {marker}`", key="evil")
    curl = curl_snippet(spec, build_request(spec, "hi", None, GREEDY))
    assert curl
    subprocess.run(
        ["bash", "-c", curl.replace("curl ", "curl -sS -m 2 ", 1)], capture_output=True, timeout=30
    )
    assert not marker.exists()  # the shell got the URL as one quoted word
