"""Deploy on real parts: llama.cpp's server serving the bundled SmolLM2 as a deployment, called with the
`openai` SDK, through a playground comparison, and by the snippet it shows; bad input refused with one
clear error each; the vLLM/TGI recipes' files parse and their models-file entries load and call a real
OpenAI-compatible server."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml

from playground.compare.service import Comparison, plan_comparison
from playground.core.params import Params
from playground.core.policy import HostedPolicy, User
from playground.core.specs import load_specs, parse_models_text
from playground.deploy import DeployError, Deployments, DeployRefusedError, processes, recipe
from playground.engine.fanout import Done
from playground.engine.registry import build_provider
from playground.storage.runs import Store
from providers.local_models import gguf_path
from tests.conftest import free_port

READY_S = 180  # a slow, shared machine: loading the model can take a while


@pytest.fixture(autouse=True)
def no_server_left_behind() -> Iterator[None]:
    """Whatever a test did or failed to do, no server it started outlives it (they outlive their
    launcher by design: here, the test process)."""
    yield
    for pid, child in list(processes._children.items()):
        if child.poll() is None:
            os.killpg(pid, signal.SIGKILL)
            child.wait(30)
        processes._children.pop(pid, None)


@pytest.fixture()
def service(tmp_path: Path) -> Iterator[Deployments]:
    made = Deployments(Store(), load_specs(), policy=HostedPolicy(), log_dir=tmp_path / "logs")
    yield made
    for view in made.listed(include_final=False):  # never leave a server behind
        made.stop(view.deployment.id)


@pytest.fixture()
def deployed(service: Deployments, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("DEPLOY_TEST_KEY", "test-key-123")
    launched = service.deploy("smollm2-135m", free_port(), api_key_env="DEPLOY_TEST_KEY")
    health = service.wait_ready(launched.deployment.id, READY_S)
    assert health.state == "ready", (health, service.get(launched.deployment.id).log_tail)
    return launched.deployment


def test_a_bundled_model_is_served_called_compared_listed_on_another_replica_and_stopped(service, deployed):
    from openai import OpenAI

    # The openai SDK, as a user would call it.
    client = OpenAI(base_url=deployed.url, api_key="test-key-123")
    reply = client.chat.completions.create(
        model="smollm2-135m", messages=[{"role": "user", "content": "Name a colour."}], max_tokens=12
    )
    assert reply.choices[0].message.content.strip()

    # The snippet the page shows runs as shown.
    view = service.view(deployed)
    script = subprocess.run(
        [sys.executable, "-c", view.snippet], capture_output=True, text=True, timeout=120, env=os.environ
    )
    assert script.returncode == 0, script.stderr
    assert script.stdout.strip()

    # The models-file entry it shows, through the playground's own comparison.
    specs = {**load_specs(), **parse_models_text(view.models_entry, "deployment entry")}
    key = "deployed-smollm2-135m"
    plan = plan_comparison("Name a fruit.", [key], specs, params=Params(max_tokens=16, temperature=0.0))
    results = [e.result for e in Comparison(plan, service.store).events() if isinstance(e, Done)]
    assert [r.ok for r in results] == [True], [r.error for r in results]
    assert results[0].text.strip() and results[0].ttft_s > 0

    # Another replica (its own Store on the same database) lists it, ready, over HTTP.
    other = Deployments(Store(), load_specs(), policy=HostedPolicy())
    [listed] = other.listed(include_final=False)
    assert (listed.deployment.id, listed.health.state) == (deployed.id, "ready")
    # A replica on another machine cannot see the process: it asks the server, and cannot stop it.
    elsewhere = Deployments(Store(), load_specs(), policy=HostedPolicy())
    elsewhere.machine = "another-host"
    assert elsewhere.health(deployed).state == "ready"
    with pytest.raises(DeployError, match=f"runs on {deployed.machine}: stop it from there"):
        elsewhere.stop(deployed.id)

    stopped = service.stop(deployed.id)
    assert stopped.state == "stopped" and stopped.stopped_at is not None
    assert not processes.is_server(deployed.pid, deployed.port)
    with pytest.raises(ProcessLookupError):
        os.killpg(deployed.pid, 0)  # the whole process group is gone (reaped: this process started it)
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{deployed.url}/models", timeout=5)
    assert other.listed(include_final=True)[0].health.state == "stopped"


def test_a_call_without_the_key_or_with_a_wrong_one_is_refused(deployed):
    assert httpx.get(f"{deployed.url}/models", timeout=10).status_code == 401
    wrong = {"Authorization": "Bearer not-the-key"}
    body = {"model": "smollm2-135m", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 4}
    assert (
        httpx.post(f"{deployed.url}/chat/completions", json=body, headers=wrong, timeout=10).status_code
        == 401
    )
    # The key is in the server's environment, not on its command line (which every user can read).
    assert b"test-key-123" not in Path(f"/proc/{deployed.pid}/cmdline").read_bytes()


def test_a_generated_key_is_handed_out_once_and_never_stored(service, monkeypatch):
    launched = service.deploy("smollm2-135m", free_port())
    deployment = launched.deployment
    assert launched.generated_key and len(launched.generated_key) >= 32
    assert deployment.api_key_env.startswith("PLAYGROUND_DEPLOY_KEY_")
    with service.store.reading() as session:
        from playground.storage.deployments import DeploymentRow

        row = session.get(DeploymentRow, deployment.id)
        assert launched.generated_key not in " ".join(str(v) for v in row.__dict__.values())
    monkeypatch.setenv(deployment.api_key_env, launched.generated_key)
    assert service.wait_ready(deployment.id, READY_S).state == "ready"
    headers = {"Authorization": f"Bearer {launched.generated_key}"}
    assert httpx.get(f"{deployment.url}/models", headers=headers, timeout=10).status_code == 200


def test_a_port_in_use_is_refused_before_anything_starts(service, monkeypatch):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(DeployError, match=f"port {port} on 127.0.0.1 is in use"):
            service.deploy("smollm2-135m", port)
    assert service.listed() == []


def test_a_server_that_cannot_bind_is_failed_with_its_log_kept(service, tmp_path):
    # The port is taken between the check and the server's start (another program was quicker).
    deployment_id = "racedport"
    with socket.socket() as taken:
        taken.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        from datetime import UTC, datetime

        from playground.storage.deployments import StoredDeployment

        path = gguf_path("smollm2-135m")
        command = processes.ServerCommand(path, "smollm2-135m", "127.0.0.1", port, 2048, (1, 2))
        log = tmp_path / "race.log"
        pid = processes.launch(command, "k", log)
        service.rows.add(
            StoredDeployment(
                deployment_id, "local", "smollm2-135m", "smollm2-135m", str(path), None, service.machine,
                pid, "127.0.0.1", port, "K", str(log), datetime.now(UTC), "starting", None, None,
            )
        )  # fmt: skip
        health = service.wait_ready(deployment_id, READY_S)
    assert health.state == "failed"
    assert f"could not bind port {port}" in health.detail, (health, service.get(deployment_id).log_tail)
    kept = service.get(deployment_id)
    assert kept.state == "failed" and "address already in use" in (kept.log_tail or "").lower()


def test_bad_models_and_files_each_get_one_clear_error(service, tmp_path, monkeypatch):
    with pytest.raises(DeployError, match="unknown model 'no-such-model'"):
        service.deploy("no-such-model", free_port())
    with pytest.raises(DeployError, match="only local GGUF models can be deployed"):
        service.deploy("gpt-4o-mini", free_port())
    with pytest.raises(DeployError, match="GGUF file not found"):
        service.deploy(str(tmp_path / "missing.gguf"), free_port())
    with pytest.raises(DeployError, match="is a folder"):
        service.deploy(str(tmp_path), free_port())
    text = tmp_path / "notes.gguf"
    text.write_text("hello, not a model")
    with pytest.raises(DeployError, match="not a GGUF file"):
        service.deploy(str(text), free_port())
    with pytest.raises(DeployError, match=r"\$UNSET_KEY_VAR is not set"):
        service.deploy("smollm2-135m", free_port(), api_key_env="UNSET_KEY_VAR")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-the-servers-own")
    with pytest.raises(DeployError, match=r"\$OPENAI_API_KEY holds the key of other models \(.*gpt-"):
        service.deploy("smollm2-135m", free_port(), api_key_env="OPENAI_API_KEY")
    with pytest.raises(DeployError, match="not an environment variable name"):
        service.deploy("smollm2-135m", free_port(), api_key_env="BAD NAME")
    with pytest.raises(DeployError, match="port must be from 1024"):
        service.deploy("smollm2-135m", 80)
    assert service.listed() == []


def _adapter(path: Path, architecture: str, scale: float = 0.0) -> Path:
    """A GGUF LoRA adapter as llama.cpp's convert_lora_to_gguf writes one: rank 4 on every layer's query
    projection of SmolLM2-135M (576 x 576); `scale` sizes its B matrices (0: it changes nothing)."""
    import gguf
    import numpy as np

    writer = gguf.GGUFWriter(str(path), architecture)
    writer.add_type(gguf.GGUFType.ADAPTER)
    writer.add_string(gguf.Keys.Adapter.TYPE, "lora")
    writer.add_float32(gguf.Keys.Adapter.LORA_ALPHA, 4.0)
    rng = np.random.default_rng(0)
    for layer in range(30):
        # numpy's shape is ggml's reversed: A is (rank, in), B is (out, rank).
        writer.add_tensor(f"blk.{layer}.attn_q.weight.lora_a", rng.normal(size=(4, 576)).astype(np.float32))
        writer.add_tensor(
            f"blk.{layer}.attn_q.weight.lora_b", (scale * rng.normal(size=(576, 4))).astype(np.float32)
        )
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def test_a_lora_that_is_not_an_adapter_for_the_base_is_refused(service, tmp_path):
    with pytest.raises(DeployError, match="is a LoRA for gemma3 models, but .* is a llama model"):
        service.deploy("smollm2-135m", free_port(), lora=str(_adapter(tmp_path / "g.gguf", "gemma3")))
    with pytest.raises(DeployError, match="not a LoRA adapter"):
        service.deploy("smollm2-135m", free_port(), lora=str(gguf_path("gemma3-270m")))
    with pytest.raises(DeployError, match="is a LoRA adapter: deploy its base model"):
        service.deploy(str(_adapter(tmp_path / "l.gguf", "llama")), free_port())
    assert service.listed() == []


def test_only_admins_deploy_and_stop_in_hosted_mode(tmp_path):
    policy = HostedPolicy(enabled=True, admins=frozenset({"admin@example.org"}))
    service = Deployments(Store(), load_specs(), policy=policy, log_dir=tmp_path)
    visitor = User("issuer|v", "Visitor", "visitor@example.org")
    with pytest.raises(DeployRefusedError, match="only the administrators"):
        service.deploy("smollm2-135m", free_port(), user=visitor)
    with pytest.raises(DeployRefusedError):
        service.stop("anything", user=visitor)


def test_a_lora_adapter_for_the_base_is_served_and_changes_its_answers(service, tmp_path, monkeypatch):
    from openai import OpenAI

    monkeypatch.setenv("DEPLOY_TEST_KEY", "k")
    answers = []
    for lora in (None, str(_adapter(tmp_path / "tune.gguf", "llama", scale=2.0))):
        launched = service.deploy("smollm2-135m", free_port(), api_key_env="DEPLOY_TEST_KEY", lora=lora)
        assert service.wait_ready(launched.deployment.id, READY_S).state == "ready"
        assert launched.deployment.lora_path == (str(Path(lora).resolve()) if lora else None)
        client = OpenAI(base_url=launched.deployment.url, api_key="k")
        reply = client.chat.completions.create(
            model="smollm2-135m",
            messages=[{"role": "user", "content": "Name a colour."}],
            max_tokens=12,
            temperature=0.0,
        )
        answers.append(reply.choices[0].message.content)
        service.stop(launched.deployment.id)
    assert answers[0] != answers[1]  # the adapter is applied


@pytest.mark.parametrize("engine", ["vllm", "tgi"])
def test_recipes_parse_and_their_entries_load_and_build_adapters(engine):
    made = recipe(engine, "Qwen/Qwen2.5-0.5B-Instruct", 8123)
    compose = yaml.safe_load(made.compose)
    [service] = compose["services"].values()
    assert "Qwen/Qwen2.5-0.5B-Instruct" in service["command"]
    assert any(p.startswith("8123:") for p in service["ports"])
    assert "${" in str(service["environment"])  # the key comes from the environment, never the file
    assert (
        "Qwen/Qwen2.5-0.5B-Instruct" in made.command
        and "--port 8123" in made.command
        or "8123:80" in made.command
    )
    spec = parse_models_text(made.entry.toml(), "recipe")[made.entry.key]
    assert spec.base_url == "http://127.0.0.1:8123/v1" and spec.model == "Qwen/Qwen2.5-0.5B-Instruct"
    assert build_provider(spec, {spec.api_key_env: "k"})


@pytest.mark.parametrize(
    "bad", ["", "no-slash", "a/b/c", "owner/na me", "owner/--x", "../etc", "o/" + "x" * 97]
)
def test_recipes_refuse_what_is_not_a_hub_model_id(bad):
    with pytest.raises(DeployError, match="not a Hub model id"):
        recipe("vllm", bad)
    with pytest.raises(DeployError, match="unknown serving engine"):
        recipe("ollama", "Qwen/Qwen2.5-0.5B-Instruct")


@pytest.mark.parametrize("engine", ["vllm", "tgi"])
def test_a_recipes_entry_compares_end_to_end_against_a_real_openai_compatible_server(
    engine, service, monkeypatch
):
    # llama.cpp's server answering to the Hub id stands in for vLLM / TGI: the same /v1 API shapes.
    hub_id = "HuggingFaceTB/SmolLM2-135M-Instruct"
    port = free_port()
    made = recipe(engine, hub_id, port)
    monkeypatch.setenv(made.entry.api_key_env, "recipe-key")
    launched = service.deploy("smollm2-135m", port, api_key_env=made.entry.api_key_env, served_name=hub_id)
    assert service.wait_ready(launched.deployment.id, READY_S).state == "ready"
    specs = {**load_specs(), **parse_models_text(made.entry.toml(), "recipe")}
    plan = plan_comparison("Name a fruit.", [made.entry.key], specs, params=Params(max_tokens=12))
    results = [e.result for e in Comparison(plan, service.store).events() if isinstance(e, Done)]
    assert [r.ok for r in results] == [True], [r.error for r in results]
    assert results[0].text.strip()


def test_the_commands_deploy_list_and_undeploy(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from playground.cli.main import app

    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))  # the servers' logs
    monkeypatch.setenv("CLI_DEPLOY_KEY", "cli-key")
    runner = CliRunner()
    port = free_port()
    deployed = runner.invoke(
        app, ["deploy", "smollm2-135m", "--port", str(port), "--api-key-env", "CLI_DEPLOY_KEY"]
    )
    try:
        assert deployed.exit_code == 0, deployed.output
        assert ": ready (" in deployed.output and f"url: http://127.0.0.1:{port}/v1" in deployed.output
        assert "os.environ['CLI_DEPLOY_KEY']" in deployed.output and "cli-key" not in deployed.output
        listed = runner.invoke(app, ["deployments"], env={"COLUMNS": "200"})
        assert listed.exit_code == 0 and "ready" in listed.output and "CLI_DEPLOY_KEY" in listed.output
        [deployment] = Deployments(Store(), load_specs(), policy=HostedPolicy()).rows.listed()
        busy = runner.invoke(app, ["deploy", "smollm2-135m", "--port", str(port)])
        assert busy.exit_code == 2 and f"error: port {port} on 127.0.0.1 is in use" in busy.output
        stopped = runner.invoke(app, ["undeploy", deployment.id])
    finally:  # never leave a server behind, whatever failed
        service = Deployments(Store(), load_specs(), policy=HostedPolicy())
        for view in service.listed(include_final=False):
            service.stop(view.deployment.id)
    assert stopped.exit_code == 0 and "stopped" in stopped.output
    assert not processes.is_server(deployment.pid, deployment.port)
    unknown = runner.invoke(app, ["deploy", "nope", "--port", str(free_port())])
    assert unknown.exit_code == 2 and "error: unknown model 'nope'" in unknown.output
    made = runner.invoke(app, ["deploy-recipe", "vllm", "Qwen/Qwen2.5-0.5B-Instruct", "--port", "8011"])
    assert made.exit_code == 0 and "vllm serve Qwen/Qwen2.5-0.5B-Instruct" in made.output
    toml_text = made.output.split("# models file entry (--models-file / PLAYGROUND_MODELS_FILE)\n", 1)[1]
    assert parse_models_text(toml_text, "cli")["deployed-qwen2.5-0.5b-instruct"].base_url.endswith(":8011/v1")
    bad = runner.invoke(app, ["deploy-recipe", "vllm", "not a model"])
    assert bad.exit_code == 2 and "not a Hub model id" in bad.output
