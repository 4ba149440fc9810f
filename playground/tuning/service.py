"""Fine-tuning jobs as a service: check a training file, start a job on a hosted API (admitted by the Gate,
charged in the usage ledger as kind "tune"), follow it from any replica, cancel it, and turn the tuned
model into a model spec that Compare and Evaluate can run.

Every job lives in the store (`storage.tuning`); following a job asks upstream what changed and saves it,
so whichever replica follows, every replica shows the same job. A job that ended (succeeded, failed,
cancelled) is never asked about again: it keeps its events and spends nothing more.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

from playground.core.errors import UsageError
from playground.core.policy import LOCAL_USER, User
from playground.core.results import RunResult
from playground.core.specs import ModelSpec
from playground.engine.registry import Keys, build_tuner
from playground.hosting.billing import Bill
from playground.hosting.gate import Ask, Gate, default_gate
from playground.storage.runs import Store
from playground.storage.tuning import NewTuningJob, StoredTuningJob, TuningStore
from playground.tuning.check import PRICE_PER, TrainingCheck, check_training_file
from providers.errors import ProviderError
from providers.openai_tuning import ENDED_STATES, UpstreamEvent, UpstreamJob

TUNE_CALL = "tune"  # the usage ledger's kind for a fine-tuning job
# The ledger's cost sources of a job: the estimate charged when it starts, and the difference the provider's
# reported trained tokens make once it succeeded (estimate + difference = trained tokens × price).
ESTIMATE_SOURCE = "estimated: price_training_per_mtok"
SETTLED_SOURCE = "reported trained_tokens"
HOSTED_KINDS = ("openai", "azure")
# The state of a job saved before anything reached the provider, and of one whose start failed there.
STARTING, START_FAILED = "starting", "failed"


class TuningError(UsageError):
    """A fine-tuning request refused before anything is spent: an unknown or untunable base model, a
    training file with bad lines, a job that is not the user's."""


@dataclass(frozen=True)
class LossPoint:
    """One training step's loss, from a metrics event."""

    step: int
    train_loss: float


@dataclass(frozen=True)
class TuningJob:
    """A job as the pages and the CLI show it: what was saved, its events, and (after a follow that could
    not reach the provider) why this look at it is not fresh."""

    saved: StoredTuningJob
    events: tuple[UpstreamEvent, ...]
    note: str | None = None

    @property
    def id(self) -> str:
        """The job's id in the store."""
        return self.saved.id

    @property
    def state(self) -> str:
        """The provider's status (validating_files, queued, running, succeeded, failed, cancelled), or
        "starting" before it reached the provider."""
        return self.saved.state

    @property
    def ended(self) -> bool:
        """True once nothing more happens to it or is spent on it."""
        return self.saved.state in ENDED_STATES

    @property
    def losses(self) -> tuple[LossPoint, ...]:
        """The training loss per step reported so far, in step order."""
        points = {
            e.step: e.train_loss for e in self.events if e.step is not None and e.train_loss is not None
        }
        return tuple(LossPoint(step, loss) for step, loss in sorted(points.items()))


@dataclass
class Tuning:
    """Fine-tuning for one user: `specs` are the models they may name, `keys` whose keys go where
    (engine.registry), `gate` admits each start (default: the process's one)."""

    store: Store
    specs: Mapping[str, ModelSpec]
    keys: Keys | None = None
    user: User = LOCAL_USER
    gate: Gate | None = None

    def __post_init__(self) -> None:
        self.jobs_store = TuningStore(self.store)
        self.gate = self.gate or default_gate()

    # --- checking --------------------------------------------------------------------------------
    def base_spec(self, model: str) -> ModelSpec:
        """The base model `model` names; TuningError for an unknown model or one that cannot be tuned."""
        spec = self.specs.get(model)
        if spec is None:
            raise TuningError(f"unknown base model {model!r}: choose one of the models file's keys")
        if not spec.fine_tunable:
            tunable = ", ".join(sorted(k for k, s in self.specs.items() if s.fine_tunable)) or "none"
            raise TuningError(f"{model} cannot be fine-tuned here (fine-tunable models: {tunable})")
        return spec

    def check(
        self, name: str, data: bytes, model: str, *, epochs: int = 3, holdout: float = 0.1, seed: int = 0
    ) -> TrainingCheck:
        """The training file checked for `model`: bad lines, tokens, cost, held-out split."""
        return check_training_file(
            name, data, self.base_spec(model), epochs=epochs, holdout=holdout, seed=seed
        )

    # --- jobs ------------------------------------------------------------------------------------
    def start(self, check: TrainingCheck, suffix: str | None = None) -> TuningJob:
        """Start a hosted job for a checked file: refused (TuningError) while the file has bad lines,
        LimitExceededError from the Gate before anything is uploaded; the job is saved first, so a
        provider's refusal leaves a failed job that says why."""
        spec = self.base_spec(check.model)
        if check.problem:
            raise TuningError(check.problem)
        tuner = build_tuner(spec, self.keys)  # a missing key is refused here, before any admission
        job_id = uuid.uuid4().hex
        assert self.gate is not None
        with Bill.open(self.gate, self._ask(spec, check), TUNE_CALL, self.user, self.store, job_id) as bill:
            self.jobs_store.create(_new_job(job_id, self.user, spec, check))
            try:
                file_id = tuner.upload(f"{job_id}.jsonl", check.training_jsonl())
                self.jobs_store.update(job_id, training_file_id=file_id)
                upstream = tuner.create(spec.model, file_id, check.epochs, suffix, check.seed)
            except ProviderError as exc:
                self.jobs_store.update(job_id, state=START_FAILED, error=exc.message)
                return self.job(job_id)
            self.jobs_store.update(job_id, upstream_id=upstream.id, **_changes(upstream))
            bill.charge(_charge(spec, check))
        return self.job(job_id)

    def _ask(self, spec: ModelSpec, check: TrainingCheck) -> Ask | None:
        if spec.is_local:
            return None
        known = check.cost.usd is not None
        return Ask(
            what="tune",
            calls=1,
            max_tokens=0,
            max_cost_usd=check.cost.usd if known else Decimal(0),  # type: ignore[arg-type]
            unpriced=() if known else (spec.key,),
            detail=f"{check.billed_tokens:,} training tokens on {spec.key}",
        )

    def job(self, job_id: str) -> TuningJob:
        """One of the user's jobs as last saved (TuningError when there is none of theirs)."""
        saved = self.jobs_store.get(job_id)
        if saved is None or (self._hosted and saved.owner != self.user.id):
            raise TuningError(f"no fine-tuning job {job_id!r} of yours")
        return _view(saved)

    def jobs(self) -> list[TuningJob]:
        """The user's jobs (every job in a local app), newest first."""
        return [_view(saved) for saved in self.jobs_store.jobs(self.user.id if self._hosted else None)]

    @property
    def _hosted(self) -> bool:
        return bool(self.gate and self.gate.policy.enabled)

    def follow(self, job_id: str) -> TuningJob:
        """Ask the provider what changed (state, new events, the tuned model) and save it; an ended job is
        returned as saved. A provider that cannot be reached leaves the job as it was, with a note."""
        job = self.job(job_id)
        if job.ended or job.saved.kind not in HOSTED_KINDS or not job.saved.upstream_id:
            return job
        try:
            tuner = build_tuner(self.base_spec(job.saved.model_key), self.keys)
            self._save(job, tuner, tuner.retrieve(job.saved.upstream_id))
        except (ProviderError, TuningError) as exc:
            return replace(job, note=f"could not reach the provider just now: {exc}")
        return self.job(job_id)

    def cancel(self, job_id: str) -> TuningJob:
        """Ask the provider to cancel the job (an ended one stays as it is), and save its last events."""
        job = self.job(job_id)
        if job.ended or not job.saved.upstream_id:
            return job
        tuner = build_tuner(self.base_spec(job.saved.model_key), self.keys)
        try:
            self._save(job, tuner, tuner.cancel(job.saved.upstream_id))
        except ProviderError as exc:
            raise TuningError(f"the provider did not cancel job {job_id}: {exc.message}") from exc
        return self.job(job_id)

    def _save(self, job: TuningJob, tuner: Any, upstream: UpstreamJob) -> None:
        """Save the job as the provider now reports it, with the events not yet saved."""
        after = job.events[-1].id if job.events else None
        new = tuner.events(job.saved.upstream_id, after)
        self.jobs_store.update(job.id, new_events=[e.to_json() for e in new], **_changes(upstream))
        self._settle(job.saved, upstream)

    def _settle(self, saved: StoredTuningJob, upstream: UpstreamJob) -> None:
        """Once a job succeeded, charge the ledger the difference between the cost of the tokens the provider
        reports it trained and the estimate charged at the start (once, whichever replica sees it first)."""
        if upstream.status != "succeeded" or upstream.trained_tokens is None or saved.price_per_mtok is None:
            return
        cost = Decimal(upstream.trained_tokens) * saved.price_per_mtok / PRICE_PER
        if not self.jobs_store.settle(saved.id, cost):
            return
        difference = RunResult(
            model=saved.model_key,
            input_tokens=upstream.trained_tokens,
            output_tokens=0,
            usage_source="reported",
            cost_usd=cost - (saved.estimated_cost_usd or Decimal(0)),
            cost_source=SETTLED_SOURCE,
        )
        self.store.record_call(saved.owner, TUNE_CALL, saved.id, difference)

    # --- the tuned model -------------------------------------------------------------------------
    def tuned_spec(self, job_id: str, key: str | None = None) -> ModelSpec:
        """The tuned model of a succeeded job as a model spec: its base model's settings (URL, key, whose it
        is) with the tuned model's id, its price unknown. An Azure one is called through a deployment of
        that name."""
        job = self.job(job_id)
        if job.state != "succeeded" or not job.saved.fine_tuned_model:
            raise TuningError(f"job {job_id} has no tuned model yet (it is {job.state})")
        base = self.specs[job.saved.model_key]
        return replace(
            base,
            key=key or tuned_key(base.key, job.saved.fine_tuned_model),
            model=job.saved.fine_tuned_model,
            fine_tunable=False,
            price_training_per_mtok=None,
            # A tuned model is priced differently from its base: unknown until a models file says.
            price_input_per_mtok=None,
            price_output_per_mtok=None,
            description=f"{base.key} fine-tuned by job {job_id}",
            # Whose it is stays its base's: a tuned model of the server's model is called at the server's
            # URL with the server's key (the account that trained it); a visitor's stays the visitor's.
            source=base.source if not base.from_visitor else "session",
        )


def tuned_key(base_key: str, fine_tuned_model: str) -> str:
    """A models-file key for a tuned model: its base's key and the tuned id's last part
    (`ft:gpt-4o-mini:org::abc` → `gpt-4o-mini+abc`)."""
    tail = fine_tuned_model.rsplit(":", 1)[-1] or fine_tuned_model
    return f"{base_key}+{tail}"


def models_file_entry(spec: ModelSpec) -> str:
    """The models-file section that keeps a tuned model for every session (TOML). Values are written as
    JSON strings, which TOML reads as basic strings: a provider's model id cannot break out of its quotes."""
    lines = [f"[models.{json.dumps(spec.key)}]", f"provider = {json.dumps(spec.provider)}"]
    lines.append(f"model = {json.dumps(spec.model)}")
    for name in ("api_key_env", "endpoint_env", "api_version", "base_url"):
        value = getattr(spec, name)
        if value:
            lines.append(f"{name} = {json.dumps(value)}")
    if spec.context_window:
        lines.append(f"context_window = {spec.context_window}")
    lines.append('task = "chat"')
    return "\n".join(lines) + "\n"


def _new_job(job_id: str, user: User, spec: ModelSpec, check: TrainingCheck) -> NewTuningJob:
    return NewTuningJob(
        id=job_id,
        owner=user.id,
        kind=spec.provider,
        model_key=spec.key,
        provider_model=spec.model,
        epochs=check.epochs,
        training_tokens=check.training_tokens,
        estimated_cost_usd=check.cost.usd,
        cost_source=check.cost.source,
        price_per_mtok=spec.price_training_per_mtok,
        holdout=[e.to_json() for e in check.holdout],
    )


def _charge(spec: ModelSpec, check: TrainingCheck) -> RunResult:
    """The ledger's row for a started job: its estimated cost (training tokens × epochs × price), charged
    when the provider accepted it (the provider bills the tokens it trains)."""
    return RunResult(
        model=spec.key,
        input_tokens=check.billed_tokens,
        output_tokens=0,
        usage_source=check.counted_by,
        cost_usd=check.cost.usd,
        cost_source=ESTIMATE_SOURCE if check.cost.usd is not None else check.cost.source,
        max_cost_usd=check.cost.usd,
    )


def _changes(upstream: UpstreamJob) -> dict[str, Any]:
    return {
        "state": upstream.status,
        "fine_tuned_model": upstream.fine_tuned_model,
        "trained_tokens": upstream.trained_tokens,
        "error": upstream.error,
    }


def _view(saved: StoredTuningJob) -> TuningJob:
    return TuningJob(saved, tuple(UpstreamEvent.from_json(e) for e in saved.events))
