"""One comparison from start to end, shared by the CLI and the dashboard: check, run, save, report."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from playground.compare.timing import ExpectedTime, MeasuredSpeed, expected_time
from playground.core.errors import UsageError
from playground.core.params import PARAM_NAMES, Params, build_request
from playground.core.policy import LOCAL_USER, User
from playground.core.results import RunResult
from playground.core.specs import ModelSpec, with_overrides
from playground.engine.fanout import Event, FanOut, Job
from playground.engine.preflight import Estimate, PreflightError, check_fits, estimate
from playground.engine.registry import Keys, build_provider
from playground.hosting.gate import Ask, Gate, default_gate
from providers.base import ChatRequest, Provider
from providers.errors import ProviderError

# The text so far of each call is saved this often while it streams; the run's heartbeat less often.
PARTIAL_EVERY_S = 1.0
HEARTBEAT_EVERY_S = 5.0

if TYPE_CHECKING:  # sqlalchemy is imported only where a store is opened
    from playground.compare.conversation import Conversation
    from playground.storage.runs import Store, StoredRun


@dataclass(frozen=True)
class PlannedModel:
    """One model ready to run: spec, adapter, request and its pre-send estimate."""

    spec: ModelSpec
    provider: Provider
    request: ChatRequest
    estimate: Estimate | None


@dataclass(frozen=True)
class Plan:
    """Everything checked before any model is called."""

    prompt: str
    system: str | None
    params: Params
    models: list[PlannedModel]
    per_model: Mapping[str, Mapping[str, object]] = field(default_factory=dict)
    parent_id: str | None = None  # the run this plan follows up (its conversation's last turn)
    left_out: Mapping[str, str] = field(default_factory=dict)  # models of that run not continued, and why
    timeout_s: float | None = None  # the caller's deadline per call (None: each model's own)

    def summary(self) -> str:
        """One line: total input tokens and the most the run can cost, saying which models are free."""
        estimates = [m.estimate for m in self.models if m.estimate]
        tokens = sum(e.input_tokens for e in estimates)
        local = [e.model for e in estimates if e.cost_source == "local"]
        unknown = [e.model for e in estimates if e.max_cost_usd is None and e.cost_source != "local"]
        parts = [f"{tokens} input tokens in total"]
        if len(local) < len(estimates) - len(unknown):
            parts.append(f"at most {self.total_max_cost()} USD")
        if local:
            parts.append(f"local, no cost: {', '.join(local)}")
        if unknown:
            parts.append(f"no price known: {', '.join(unknown)}")
        return " · ".join(parts)

    def total_max_cost(self) -> str:
        """Sum of the known maximum costs, as a string (unknown ones are left out and said so)."""
        known = [
            m.estimate.max_cost_usd for m in self.models if m.estimate and m.estimate.max_cost_usd is not None
        ]
        return str(sum(known)) if known else "n/a"

    def expected_times(self, history: Store) -> list[ExpectedTime]:
        """Each model's expected time for this plan, from its speed measured in `history`, against the
        deadline its calls will have."""
        times = []
        for m in self.models:
            if m.estimate is None:
                continue
            if m.spec.from_visitor:  # another visitor's model may share its key: their speed is not its
                times.append(
                    ExpectedTime(m.spec.key, None, m.spec.deadline_s, "a model added in this session")
                )
                continue
            try:
                speed = MeasuredSpeed.from_answers(m.spec.key, history.recent_answers(m.spec.key))
            except UsageError:  # the database is not answering: the run can still go, unestimated
                times.append(
                    ExpectedTime(m.spec.key, None, m.spec.deadline_s, "history database not answering")
                )
                continue
            times.append(expected_time(m.estimate, speed, m.spec.deadline_s))
        return times

    def ask(self, repeat: int = 1, warmup: bool = False) -> Ask:
        """What running this plan `repeat` times (plus a warm-up call) asks of a user's limits."""
        calls_each = repeat + (1 if warmup else 0)
        estimates = [m.estimate for m in self.models if m.estimate is not None]
        known = (e.max_cost_usd for e in estimates if e.max_cost_usd is not None)
        # A model planned without an estimate (check_context=False) has no known cost either.
        unpriced = [e.model for e in estimates if e.max_cost_usd is None and e.cost_source != "local"]
        unpriced += [m.spec.key for m in self.models if m.estimate is None and not m.spec.is_local]
        return Ask(
            what="comparison",
            calls=calls_each * len(self.models),
            max_tokens=max(m.request.max_tokens or 0 for m in self.models),
            max_cost_usd=calls_each * sum(known, Decimal(0)),
            unpriced=unpriced,
        )


def plan_comparison(
    prompt: str,
    model_keys: Sequence[str],
    specs: Mapping[str, ModelSpec],
    *,
    system: str | None = None,
    params: Params | None = None,
    per_model: Mapping[str, Mapping[str, object]] | None = None,
    keys: Keys | None = None,
    timeout_s: float | None = None,
    check_context: bool = True,
    conversation: Conversation | None = None,
) -> Plan:
    """Validate input, build adapters and requests, estimate tokens and cost; raise UsageError on bad input.

    With a `conversation`, each model is sent its own earlier turns before the prompt, and a request
    that would pass its context window is refused here, before anything is sent."""
    if not prompt or not prompt.strip():
        raise UsageError("the prompt is empty: type something to send")
    if not model_keys:
        raise UsageError("choose at least one model")
    unknown = [k for k in model_keys if k not in specs]
    if unknown:
        raise UsageError(f"unknown model {', '.join(map(repr, unknown))}; known: {', '.join(sorted(specs))}")
    if vectors := [k for k in model_keys if not specs[k].generates_text]:
        raise UsageError(
            f"{', '.join(vectors)} does not answer prompts (task {specs[vectors[0]].task}): "
            f"{specs[vectors[0]].instead_of_prompts}"
        )
    duplicates = sorted({k for k in model_keys if list(model_keys).count(k) > 1})
    if duplicates:
        raise UsageError(f"model chosen twice: {', '.join(duplicates)}")
    params = params or Params()
    per_model = {k: dict(v) for k, v in (per_model or {}).items() if k in model_keys and v}
    planned = []
    for key in model_keys:
        spec = with_overrides(specs[key], timeout_s=timeout_s)
        try:
            provider = build_provider(spec, keys)
        except ProviderError as exc:
            raise UsageError(exc.message) from exc
        model_params = params.merged(per_model.get(key, {}))
        history = conversation.history_of(key) if conversation is not None else ()
        request = build_request(spec, prompt, system, model_params, history)
        planned.append(PlannedModel(spec, provider, request, None))
    if check_context:
        planned = [_with_estimate(m) for m in planned]
        try:
            check_fits([m.estimate for m in planned if m.estimate])
        except PreflightError as exc:
            raise UsageError(str(exc)) from exc
    parent = conversation.last.id if conversation is not None else None
    return Plan(prompt, system, params, planned, per_model, parent, timeout_s=timeout_s)


def plan_follow_up(
    conversation: Conversation,
    prompt: str,
    specs: Mapping[str, ModelSpec],
    *,
    keys: Keys | None = None,
    timeout_s: float | None = None,
) -> Plan:
    """The next turn of `conversation`: the same models (those whose last answer can be continued) with
    the same system prompt and parameters, each sent its own earlier turns, then `prompt`."""
    if not conversation.ended:
        raise UsageError("this run has not ended yet: follow up once every model has answered")
    going, left_out = conversation.continuing(specs)
    if not going:
        raise UsageError("no model can continue: " + "; ".join(f"{k}: {why}" for k, why in left_out.items()))
    params, per_model = stored_params(conversation.last.params)
    plan = plan_comparison(
        prompt,
        going,
        specs,
        system=conversation.system,
        params=params,
        per_model=per_model,
        keys=keys,
        timeout_s=timeout_s or conversation.last.params.get("timeout_s"),  # else the conversation's
        conversation=conversation,
    )
    return replace(plan, left_out=left_out)


def _with_estimate(model: PlannedModel) -> PlannedModel:
    try:
        est = estimate(model.spec, model.provider, model.request)
    except ProviderError as exc:
        raise UsageError(f"{model.spec.key}: {exc.message}") from exc
    return PlannedModel(model.spec, model.provider, model.request, est)


@dataclass
class Comparison:
    """A started comparison: iterate `events()`; every Done is saved before it is yielded.

    The run is admitted by `gate` (default: this process's) under `user`'s limits first
    (LimitExceededError, before anything is saved or sent) and counts against them until every model
    has ended. Every call goes in the usage ledger as the user's."""

    plan: Plan
    store: Store | None
    repeat: int = 1
    warmup: bool = False
    run_id: str | None = None
    results: list[RunResult] = field(default_factory=list)  # every saved result, in finishing order
    user: User = LOCAL_USER
    gate: Gate | None = None
    # Results the database had not confirmed when they ended (it was away): the writer goes on retrying
    # them, and the page offers them as an export.
    unsaved: list[RunResult] = field(default_factory=list)

    def __post_init__(self) -> None:
        finished = threading.Event()
        gate = self.gate or default_gate()
        self._ticket = gate.admit(
            self.user, self.plan.ask(self.repeat, self.warmup), self.store, done=finished
        )
        try:
            self._start(finished)
        except BaseException:
            self._ticket.release()  # nothing runs: its place and reserved cost are free again
            raise

    def _start(self, finished: threading.Event) -> None:
        if self.store is not None and self.run_id is None:
            self.run_id = self.store.create_run(
                self.plan.prompt,
                [m.spec.key for m in self.plan.models],
                params={
                    **asdict(self.plan.params),
                    "per_model": self.plan.per_model,
                    "repeat": self.repeat,
                    "warmup": self.warmup,
                    "timeout_s": self.plan.timeout_s,
                },
                system=self.plan.system,
                owner=self.user.id,
                parent_id=self.plan.parent_id,
            )
        jobs = [
            Job(
                m.spec,
                m.provider,
                m.request,
                timeout_s=m.spec.timeout_s,
                repeat=self.repeat,
                warmup=self.warmup,
            )
            for m in self.plan.models
        ]
        self._fanout = FanOut(
            jobs,
            run_id=self.run_id,
            on_result=self._save,
            on_text=self._stream,
            finished=finished,
            on_finished=self._ticket.release,  # every call is in the ledger: its reservation is freed
        )
        self._texts: dict[tuple[str, int], str] = {}
        self._texts_lock = threading.Lock()

    def _save(self, result: RunResult) -> None:
        """Save a finished call before its Done is handed out; one not saved in time is kept in `unsaved`."""
        self.results.append(result)
        self._ticket.touch()
        if self.store is not None and self.run_id is not None:
            self.store.record_call(self.user.id, "run", self.run_id, result, self._ticket.admission_id)
            with self._texts_lock:
                self._texts.pop((result.model, result.repeat_index), None)
            pending = self.store.add_result(self.run_id, result)
            if not pending.saved.is_set():
                self.unsaved.append(result)

    def _stream(self, model: str, repeat_index: int, text: str) -> None:
        with self._texts_lock:
            self._texts[(model, repeat_index)] = self._texts.get((model, repeat_index), "") + text

    def _save_progress(self) -> None:
        """Until every model has ended: the text so far of each call about once a second, and a heartbeat;
        then the run's end. A server killed mid-run so keeps what was streamed, and the run reads as
        interrupted rather than finished."""
        assert self.store is not None and self.run_id is not None
        saved: dict[tuple[str, int], str] = {}
        beat = 0.0
        while not self._fanout.finished.wait(PARTIAL_EVERY_S):
            self._ticket.touch()
            with self._texts_lock:
                texts = dict(self._texts)
            for (model, index), text in texts.items():
                if saved.get((model, index)) != text:
                    self.store.save_partial(self.run_id, model, index, text)
                    saved[(model, index)] = text
            if time.monotonic() - beat >= HEARTBEAT_EVERY_S:
                self.store.heartbeat(self.run_id)
                beat = time.monotonic()
        self.store.finish_run(self.run_id)

    def cancel(self) -> None:
        """Stop every model still running."""
        self._fanout.cancel()

    def cancel_and_collect(self, wait_s: float = 5.0) -> list[RunResult]:
        """Stop every model and return every result, partial answers included, once each is saved
        (after at most `wait_s`: a model that has not ended by then is left out)."""
        self._fanout.cancel()
        self._fanout.finished.wait(wait_s)
        return list(self.results)

    @property
    def order(self) -> list[str]:
        """The models' keys in the order they were chosen."""
        return [m.spec.key for m in self.plan.models]

    def events(self, every_s: float = 0.0) -> Iterator[Event]:
        """Live events (text merged per `every_s`); every result is stored before it is handed out."""
        progress = None
        if self.store is not None and self.run_id is not None:
            progress = threading.Thread(
                target=self._save_progress, daemon=True, name=f"progress-{self.run_id}"
            )
            progress.start()
        yield from self._fanout.events(every_s)
        if progress is not None:  # every model has ended: the run's end is saved before this returns
            progress.join(PARTIAL_EVERY_S + 5.0)


def stored_params(params: Mapping[str, Any]) -> tuple[Params, dict[str, dict[str, Any]]]:
    """The shared and per-model parameters a stored run was made with (its params column is JSON)."""
    shared = {name: params[name] for name in PARAM_NAMES if params.get(name) is not None}
    if "stop" in shared:
        shared["stop"] = tuple(shared["stop"])
    per_model: Mapping[str, Mapping[str, Any]] = params.get("per_model") or {}
    return Params(**shared), {str(k): dict(v) for k, v in per_model.items()}


def describe_stored_params(params: Mapping[str, Any]) -> str:
    """A stored run's parameters as one readable line, per-model overrides and repeats included."""
    shared, per_model = stored_params(params)
    parts = [shared.describe()]
    if params.get("timeout_s"):
        parts.append(f"deadline {params['timeout_s']:g} s per call")
    if (params.get("repeat") or 1) > 1:
        parts.append(
            f"repeated {params['repeat']}×" + (" after a warm-up call" if params.get("warmup") else "")
        )
    for key, overrides in per_model.items():
        changed = ", ".join(f"{name.replace('_', ' ')} {value}" for name, value in overrides.items())
        parts.append(f"{key}: {changed}")
    return " · ".join(parts)


def replay_requests(
    run: StoredRun, specs: Mapping[str, ModelSpec], conversation: Conversation | None = None
) -> list[tuple[ModelSpec, ChatRequest]]:
    """The exact request each model of a stored run was sent (for "View code"): with the `conversation`
    it belongs to, the earlier turns come first, as they were sent. Unknown models are left out."""
    params, per_model = stored_params(run.params)
    system = conversation.system if conversation is not None else run.system
    return [
        (
            specs[key],
            build_request(
                specs[key],
                run.prompt,
                system,
                params.merged(per_model.get(key, {})),
                conversation.history_of(key, before=run.id) if conversation is not None else (),
            ),
        )
        for key in run.models
        if key in specs
    ]
