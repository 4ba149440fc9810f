"""Shared fixtures: a real llama.cpp OpenAI-compatible server, the scripted fault server, a clean env."""

from __future__ import annotations

import os
import shutil
import socket
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from playground.core.specs import ModelSpec
from providers.local_models import gguf_path
from tests import postgres
from tests.processes import serving
from tests.scripted_server import ScriptedServer

# huggingface_hub 2.x fetches a list of "agent harnesses" from {HF_ENDPOINT}/api/agent-harnesses on its first
# request and caches whatever came back in HF_HOME for a day, and for good when it cannot fetch again
# (utils/_detect_agent.py). A test that points HF_ENDPOINT at a loopback Hub would write that Hub's answer
# there and break every later Hugging Face call on the machine ("'list' object has no attribute 'get'"),
# other sessions and CI included. So the tests get an HF_HOME of their own, and huggingface_hub is imported
# (reading HF_ENDPOINT once, into constants.ENDPOINT) before any test sets HF_ENDPOINT.
os.environ["HF_HOME"] = tempfile.mkdtemp(prefix="playground-tests-hf-home-")
import huggingface_hub.constants  # noqa: E402, F401 - after HF_HOME, before any test's HF_ENDPOINT

KEY_VARS = (
    "OPENAI_API_KEY",
    "AZURE_OPENAI_API_KEY",
    "AZURE_OPENAI_ENDPOINT",
    "HF_TOKEN",
    "PLAYGROUND_MODELS_FILE",
    "OPENAI_BASE_URL",
    "OPENAI_ORG_ID",
    "OPENAI_PROJECT_ID",
    "PLAYGROUND_HOSTED",
    "PLAYGROUND_ADMINS",
    "PLAYGROUND_USER_DAILY_USD",
    "PLAYGROUND_ALLOWED_ENDPOINT_HOSTS",
    "PLAYGROUND_ALLOW_UNPRICED",
)


@pytest.fixture(autouse=True)
def clean_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No keys from the machine, a fresh database, and an empty tiktoken cache (as on a new machine)."""
    for var in KEY_VARS:
        monkeypatch.delenv(var, raising=False)
    db = tmp_path / "history.db"
    monkeypatch.setenv("PLAYGROUND_DB", f"sqlite:///{db}")
    empty_cache = tmp_path / "tiktoken-cache"
    empty_cache.mkdir()
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(empty_cache))
    return db


@pytest.fixture(scope="session")
def scripted() -> Iterator[ScriptedServer]:
    """The scripted fault server on a free loopback port."""
    with ScriptedServer() as server:
        yield server


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def llama_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`python -m llama_cpp.server` serving the bundled SmolLM2 on 127.0.0.1; yields its /v1 base URL."""
    port = free_port()
    log = tmp_path_factory.mktemp("llama-server") / "server.log"
    command = [
        sys.executable,
        "-m",
        "llama_cpp.server",
        "--model",
        str(gguf_path("smollm2-135m")),
        "--model_alias",
        "smollm2",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--n_ctx",
        "2048",
    ]
    base = f"http://127.0.0.1:{port}/v1"
    with serving(command, f"{base}/models", log):
        yield base


def remote_spec(url: str, key: str = "remote", provider: str = "openai", **fields: object) -> ModelSpec:
    """A spec pointing at a test server, as a user-added model."""
    values: dict[str, object] = {
        "model": "scripted",
        "base_url": url,
        "source": "test",
        "context_window": 2048,
    }
    values.update(fields)
    return ModelSpec(key=key, provider=provider, **values)  # type: ignore[arg-type]


def closed_port_url() -> str:
    """A loopback URL where nothing listens."""
    return f"http://127.0.0.1:{free_port()}/v1"


os.environ.setdefault("PYTHONDONTWRITEBYTECODE", "1")


@pytest.fixture(scope="session")
def postgres_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A throwaway PostgreSQL cluster on a free loopback port (Debian's postgresql; .ci/run installs it)."""
    if not postgres.available():
        if os.environ.get("CI"):
            pytest.fail("PostgreSQL is not installed: .ci/run installs Debian's postgresql package")
        pytest.skip("PostgreSQL is not installed (apt-get install postgresql)")
    # Not under pytest's own temporary folder: it is private to root, and the server runs as `postgres`.
    folder = Path(tempfile.mkdtemp(prefix="playground-pg-"))
    try:
        with postgres.cluster(folder, free_port()) as url:
            yield url
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session")
def pgvector_cluster() -> Iterator[str]:
    """A throwaway cluster of pgserver's PostgreSQL, which has pgvector (Debian bookworm has none)."""
    bin_dir = postgres.pgvector_bin_dir()
    if bin_dir is None:
        if os.environ.get("CI"):
            pytest.fail("pgserver is not installed: it is in the test extra")
        pytest.skip("pgserver (PostgreSQL with pgvector) is not installed")
    folder = Path(tempfile.mkdtemp(prefix="playground-pg-"))
    try:
        with postgres.cluster(folder, free_port(), bin_dir) as url:
            yield url
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """The store's database, once on SQLite and once on a fresh PostgreSQL database; also $PLAYGROUND_DB."""
    if request.param == "sqlite":
        return f"sqlite:///{clean_env}"
    url = postgres.fresh_database(request.getfixturevalue("postgres_cluster"))
    monkeypatch.setenv("PLAYGROUND_DB", url)
    return url


@pytest.fixture()
def browser() -> Iterator[Any]:
    """Headless Debian chromium (a playwright Browser), for tests that open several contexts."""
    from playwright.sync_api import sync_playwright

    from tests.test_browser import CHROMIUM, CHROMIUM_ARGS

    with sync_playwright() as p:
        instance = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield instance
        finally:
            instance.close()
