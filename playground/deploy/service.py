"""`Deployments`: serve a model as an OpenAI-compatible endpoint (llama.cpp's server), list, check, stop.

The one API of the Deploy page and the `playground deploy` / `deployments` / `undeploy` commands. Every
deployment is a row of the shared store, so it survives a page reload and every replica lists it; its
health is asked of its server over HTTP (`/v1/models`), and only the machine that runs its process checks
the process itself (to tell "still loading" from "died" and to stop it).
"""

from __future__ import annotations

import ipaddress
import os
import re
import secrets
import socket
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from playground.core.params import Params, build_request
from playground.core.policy import LOCAL_USER, HostedPolicy, User
from playground.core.specs import ModelSpec, load_specs
from playground.deploy import processes
from playground.deploy.ggufs import DeployError, GgufFacts, check_adapter, checked_file, read_facts
from playground.deploy.recipes import EndpointEntry, endpoint_entry
from playground.engine.registry import call_target
from playground.storage.deployments import DeploymentStore, StoredDeployment
from playground.storage.runs import Store
from providers.errors import ModelNotFoundError
from providers.local_models import gguf_path
from providers.local_workers import CPU_SHARE
from providers.table import adapter_for

ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}")
DEFAULT_HOST = "127.0.0.1"
# Context window of a GGUF given by path (a models-file key brings its own).
DEFAULT_N_CTX = 4096
SNIPPET_PROMPT = "Say hello in five words."
# A busy machine (2 cores, a model generating) can take seconds to answer even /v1/models.
HEALTH_TIMEOUT_S = 8.0


class DeployRefusedError(DeployError):
    """A visitor who may not deploy or stop (hosted mode: admins only)."""


@dataclass(frozen=True)
class Health:
    """A deployment's state now (starting, ready, failed, stopped) and how that was found."""

    state: str
    detail: str


@dataclass(frozen=True)
class DeploymentView:
    """One deployment as the page and the CLI show it."""

    deployment: StoredDeployment
    health: Health
    snippet: str  # Python (`openai` SDK) that calls it, its key read from `api_key_env`
    models_entry: str  # the models-file entry that puts it in Compare, Evaluate and Arena


@dataclass(frozen=True)
class Launched:
    """A deployment just started; `generated_key` is shown once (None when the key came from a variable)."""

    deployment: StoredDeployment
    generated_key: str | None


@dataclass(frozen=True)
class _Served:
    """What a MODEL argument resolves to."""

    name: str  # the model id the server answers to
    facts: GgufFacts
    n_ctx: int
    task: str  # "chat" or "completion"


class Deployments:
    """Deployments in one store, started and stopped from this machine."""

    def __init__(
        self,
        store: Store | None = None,
        specs: Mapping[str, ModelSpec] | None = None,
        *,
        policy: HostedPolicy | None = None,
        log_dir: Path | None = None,
    ) -> None:
        self.store = store or Store()
        self.rows = DeploymentStore(self.store)
        self.specs = dict(specs) if specs is not None else load_specs()
        self.policy = policy if policy is not None else HostedPolicy.from_env()
        self.log_dir = log_dir or _default_log_dir()
        self.machine = socket.gethostname()

    # --- deploy -------------------------------------------------------------------------------------
    def deploy(
        self,
        model: str,
        port: int,
        *,
        api_key_env: str | None = None,
        lora: str | None = None,
        host: str = DEFAULT_HOST,
        served_name: str | None = None,
        user: User = LOCAL_USER,
    ) -> Launched:
        """Check everything, then start llama.cpp's server for `model` (a models-file key of a local
        model, or a GGUF path) on `host:port` with a key required; DeployError says what is wrong."""
        self._check_admin(user, "deploy models")
        served = self._resolve(model, served_name)
        tuned = self.specs.get(model.strip())
        lora = lora or (tuned.lora if tuned is not None else None)  # a local LoRA's key: base + its adapter
        lora_facts = self._checked_lora(served.facts, lora)
        host, port = _checked_address(host, port)
        key_env, key, generated = _key(api_key_env)
        self._check_key_is_its_own(key_env)
        if not processes.port_free(host, port):
            raise DeployError(f"port {port} on {host} is in use: choose another port")
        deployment_id = uuid.uuid4().hex
        key_env = key_env or f"PLAYGROUND_DEPLOY_KEY_{deployment_id[:8].upper()}"
        command = processes.ServerCommand(
            served.facts.path,
            served.name,
            host,
            port,
            served.n_ctx,
            CPU_SHARE.threads(),
            lora_facts.path if lora_facts else None,
        )
        log_path = self.log_dir / f"{deployment_id}.log"
        pid = processes.launch(command, key, log_path)
        deployment = StoredDeployment(
            id=deployment_id, owner=user.id, model=model, served_name=served.name,
            gguf_path=str(served.facts.path), lora_path=str(lora_facts.path) if lora_facts else None,
            machine=self.machine, pid=pid, host=host, port=port, api_key_env=key_env,
            log_path=str(log_path), started_at=datetime.now(UTC), state="starting", stopped_at=None,
            log_tail=None,
        )  # fmt: skip
        try:
            self.rows.add(deployment)
        except BaseException:
            processes.stop(pid, port)  # a server no replica can list would run on unseen
            raise
        return Launched(deployment, key if generated else None)

    def _resolve(self, model: str, served_name: str | None) -> _Served:
        model = model.strip()
        spec = self.specs.get(model)
        if spec is not None:
            if spec.provider != "llamacpp" or not spec.gguf:
                raise DeployError(
                    f"{model} is a {spec.provider} model: only local GGUF models can be deployed "
                    f"({', '.join(self.deployable())}), or a GGUF file by its path"
                )
            try:
                path = gguf_path(spec.gguf)
            except ModelNotFoundError as exc:
                raise DeployError(str(exc)) from exc
            facts = read_facts(checked_file(str(path)))
            return _Served(served_name or model, facts, spec.context_window or DEFAULT_N_CTX, spec.task)
        if not (model.endswith(".gguf") or os.sep in model):
            raise DeployError(
                f"unknown model {model!r}: deploy one of {', '.join(self.deployable())}, or a GGUF file by its path"
            )
        facts = read_facts(checked_file(model))
        if facts.is_adapter:
            raise DeployError(f"{facts.path.name} is a LoRA adapter: deploy its base model with --lora")
        task = "chat" if facts.has_chat_template else "completion"
        return _Served(served_name or facts.path.stem, facts, DEFAULT_N_CTX, task)

    def _check_key_is_its_own(self, key_env: str | None) -> None:
        # A provider's key (OPENAI_API_KEY, HF_TOKEN) as a deployment's key would go to whoever calls it.
        users = sorted(
            k
            for k, spec in self.specs.items()
            if key_env and key_env in (spec.api_key_env, spec.endpoint_env)
        )
        if users:
            raise DeployError(
                f"${key_env} holds the key of other models ({', '.join(users[:3])}): give the deployment "
                "a variable of its own"
            )

    def _checked_lora(self, base: GgufFacts, lora: str | None) -> GgufFacts | None:
        if not lora:
            return None
        facts = read_facts(checked_file(lora, "LoRA GGUF file"))
        check_adapter(base, facts)
        return facts

    def deployable(self) -> list[str]:
        """The models-file keys that can be deployed (local GGUF models)."""
        return [key for key, spec in self.specs.items() if spec.provider == "llamacpp" and spec.gguf]

    def _check_admin(self, user: User, what: str) -> None:
        if not self.policy.is_admin(user):
            raise DeployRefusedError(
                f"only the administrators of this hosted instance (PLAYGROUND_ADMINS) may {what}"
            )

    # --- follow ------------------------------------------------------------------------------------
    def listed(self, include_final: bool = True) -> list[DeploymentView]:
        """Every deployment of the store with its health now, newest first."""
        return [self.view(d) for d in self.rows.listed(include_final)]

    def get(self, deployment_id: str) -> StoredDeployment:
        found = self.rows.get(deployment_id.strip())
        if found is None:
            raise DeployError(f"no deployment {deployment_id!r}: `playground deployments` lists them")
        return found

    def view(self, deployment: StoredDeployment) -> DeploymentView:
        health = self.health(deployment)
        entry = self.entry_of(deployment)
        return DeploymentView(self.get(deployment.id), health, snippet_for(entry.spec()), entry.toml())

    def entry_of(self, deployment: StoredDeployment) -> EndpointEntry:
        """The deployment as a models-file entry (provider openai at its URL)."""
        known = self.specs.get(deployment.model)
        task = (
            known.task if known is not None else ("chat" if self._has_template(deployment) else "completion")
        )
        context = known.context_window if known is not None else DEFAULT_N_CTX
        return endpoint_entry(
            f"deployed-{deployment.served_name}", deployment.served_name, deployment.url,
            deployment.api_key_env, task=task, context_window=context,
        )  # fmt: skip

    def _has_template(self, deployment: StoredDeployment) -> bool:
        try:
            return read_facts(Path(deployment.gguf_path)).has_chat_template
        except DeployError:
            return True

    def health(self, deployment: StoredDeployment) -> Health:
        """Ask the server (`GET /v1/models`, with the key when this process holds it); on this machine,
        also whether its process lives. A change of state is recorded for every replica."""
        if deployment.final:
            return Health(deployment.state, _final_detail(deployment))
        here = deployment.machine == self.machine
        alive = processes.is_server(deployment.pid, deployment.port) if here else None
        if alive is False:
            return self._failed(deployment)
        answer = _ask_server(deployment)
        if answer is None and deployment.state == "ready":
            # Not recorded: a busy machine may answer again; a process that died is found above.
            where = "its process lives" if here else f"it runs on {deployment.machine}"
            return Health("failed", f"not answering at {deployment.url} now ({where}); it was ready")
        if answer is None:
            detail = "loading the model" if here else f"not answering yet (it runs on {deployment.machine})"
            return Health("starting", detail)
        self.rows.mark(deployment.id, "ready")
        return Health("ready", answer)

    def _failed(self, deployment: StoredDeployment) -> Health:
        tail = processes.log_tail(Path(deployment.log_path))
        how = processes.ended_how(deployment.pid)
        tail = tail or f"(its log is empty{'; ' + how if how else ''})"
        self.rows.mark(deployment.id, "failed", tail)
        return Health("failed", _failure_reason(tail, deployment.port, how))

    def wait_ready(self, deployment_id: str, timeout_s: float = 120.0) -> Health:
        """Poll until the deployment is ready, stopped or failed for good (its process ended), or until
        `timeout_s` passed (then its health at that moment)."""
        deadline = time.monotonic() + timeout_s
        while True:
            deployment = self.get(deployment_id)
            health = self.health(deployment)
            settled = health.state in ("ready", "stopped") or self.get(deployment_id).final
            if settled or time.monotonic() > deadline:
                return health
            time.sleep(0.25)

    # --- stop ---------------------------------------------------------------------------------------
    def stop(self, deployment_id: str, user: User = LOCAL_USER) -> StoredDeployment:
        """End the deployment's server (its whole process group) and record it stopped."""
        self._check_admin(user, "stop deployments")
        deployment = self.get(deployment_id)
        if deployment.final:
            return deployment
        if deployment.machine != self.machine:
            raise DeployError(
                f"deployment {deployment.id[:8]} runs on {deployment.machine}: stop it from there"
            )
        processes.stop(deployment.pid, deployment.port)
        self.rows.mark(deployment.id, "stopped")
        return self.get(deployment.id)


def snippet_for(spec: ModelSpec) -> str:
    """Python that calls the deployment, written by the `openai` adapter's own "View code"."""
    request = build_request(spec, SNIPPET_PROMPT, None, Params(max_tokens=32))
    return adapter_for(spec.provider, spec.task).snippet(call_target(spec), request).python


def _ask_server(deployment: StoredDeployment) -> str | None:
    """What `/v1/models` says, as a health detail; None when nothing answers (yet)."""
    import httpx

    key = os.environ.get(deployment.api_key_env)
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    try:
        response = httpx.get(f"{deployment.url}/models", headers=headers, timeout=HEALTH_TIMEOUT_S)
    except httpx.HTTPError:
        return None
    if response.status_code == 401:
        return (
            f"answering, and refusing calls without its key (checked no further: ${deployment.api_key_env} is not set here)"
            if not key
            else f"answering, but it refuses the key in ${deployment.api_key_env}"
        )
    if response.status_code != 200:
        return f"answering with HTTP {response.status_code} on /v1/models"
    try:
        served = [m.get("id") for m in response.json().get("data", [])]
    except (ValueError, AttributeError):
        return "answering, but /v1/models is not OpenAI's shape"
    if deployment.served_name not in served:
        return f"answering, but it serves {', '.join(map(str, served))}, not {deployment.served_name}"
    return f"serving {deployment.served_name} (GET /v1/models with its key)"


def _final_detail(deployment: StoredDeployment) -> str:
    when = f" at {deployment.stopped_at:%Y-%m-%d %H:%M:%S} UTC" if deployment.stopped_at else ""
    if deployment.state == "stopped":
        return f"stopped{when}"
    return _failure_reason(deployment.log_tail or "", deployment.port) + when


def _failure_reason(tail: str, port: int, how: str = "") -> str:
    if "address already in use" in tail.lower():
        return f"the server could not bind port {port}: it is in use"
    ended = f" ({how})" if how else ""
    return f"the server process ended{ended}; the last lines of its log are kept"


def _checked_address(host: str, port: int) -> tuple[str, int]:
    host = host.strip() or DEFAULT_HOST
    if host != "localhost":
        try:
            ipaddress.ip_address(host)
        except ValueError:
            raise DeployError(
                f"host must be an IP address to listen on (e.g. 127.0.0.1), not {host!r}"
            ) from None
    if not 1024 <= int(port) <= 65535:
        raise DeployError(f"port must be from 1024 to 65535, not {port}")
    return host, int(port)


def _key(api_key_env: str | None) -> tuple[str | None, str, bool]:
    """(variable name, key, generated?): the key from the named variable, or a new random one."""
    if api_key_env is None or not api_key_env.strip():
        return None, secrets.token_urlsafe(32), True
    name = api_key_env.strip()
    if not ENV_NAME.fullmatch(name):
        raise DeployError(f"{name!r} is not an environment variable name (letters, digits, _)")
    key = os.environ.get(name, "").strip()
    if not key:
        raise DeployError(
            f"${name} is not set: set it to the key the endpoint will require, or leave it out to get one generated"
        )
    return name, key, False


def _default_log_dir() -> Path:
    from platformdirs import user_data_dir

    return Path(user_data_dir("model-playground")) / "deployments"
