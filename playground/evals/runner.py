"""Run a dataset across models: every row on every model, concurrently within limits, each cell saved as it
finishes, so a stopped or crashed evaluation resumes with only the missing cells."""

from __future__ import annotations

import queue
import threading
import time
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from decimal import Decimal
from typing import Any

from playground.core.errors import UsageError
from playground.core.params import Params, build_request
from playground.core.policy import LOCAL_USER, User
from playground.core.results import CallError, RunResult
from playground.core.specs import ModelSpec
from playground.engine.preflight import estimate
from playground.engine.registry import Keys, build_provider
from playground.engine.runner import run_model
from playground.evals.datasets import Dataset
from playground.evals.judge import (
    DEFAULT_PASS_SCORE,
    DEFAULT_RUBRIC,
    JUDGE_SYSTEM,
    JudgeParseError,
    judge_prompt,
    parse_verdict,
)
from playground.evals.metrics import JUDGE, MetricChoice, MetricError, Score, check_metrics, score_answer
from playground.evals.shots import MAX_SHOTS, ExamplePicker, ShotSelect, ShotsError, Similarity
from playground.evals.templating import PromptTemplate, TemplateError
from playground.hosting.gate import Ask, Gate, default_gate
from playground.rag.embedding import EmbeddingError, Payer, similarity_ranker
from playground.rag.library import Library, default_embedder
from playground.rag.prompting import Passage
from playground.rag.retrieval import Retrieval
from playground.storage.evals import Cell, EvalStore
from playground.storage.runs import StoreUnavailableError
from providers.base import CancelToken, ChatRequest, Message, Provider
from providers.errors import ProviderError

# Local models share this machine's cores: one local call at a time is the fastest overall.
DEFAULT_PROVIDER_LIMITS = {"llamacpp": 1}
JUDGE_MAX_TOKENS = 256
# Usage-ledger kinds of an evaluation's calls.
EVAL_CALL, JUDGE_CALL = "eval", "judge"
# The usage ledger's reference of the embedding calls ranking rows for `similar` examples (made before the
# evaluation has an id).
SHOTS_REF = "similar-examples"
EVAL_PARAMS = Params(temperature=0.0, max_tokens=128)


@dataclass(frozen=True)
class EvalSetup:
    """Everything an evaluation needs besides its rows; saved with it so it can resume."""

    template: str
    models: tuple[str, ...]
    metrics: tuple[MetricChoice, ...]
    system: str | None = None
    judge: str | None = None
    rubric: str = DEFAULT_RUBRIC
    judge_pass_score: int = DEFAULT_PASS_SCORE
    params: Params = EVAL_PARAMS
    concurrency: int = 4
    provider_limits: Mapping[str, int] = field(default_factory=dict)
    expected_column: str = "expected"
    # Few-shot prompting: every row runs once per number of examples (0: the row's prompt alone).
    shots: tuple[int, ...] = (0,)
    shot_select: ShotSelect = "first"
    shot_seed: int = 0
    shot_embedder: str | None = None  # `similar`: the embedding model ranking rows (None: the default)
    # Retrieval: each row's prompt also runs after the chunks found for it in `collection` (rag=(True,)),
    # or both ways (False, True) to measure what retrieval adds; `gold_column` names the documents that
    # hold each row's answer (file names, separated by "|"), for recall@k and MRR.
    collection: str | None = None
    rag: tuple[bool, ...] = (False,)
    rag_k: int = 5
    gold_column: str | None = None

    def to_json(self) -> dict[str, Any]:
        """JSON-ready form."""
        data = asdict(self)
        data["models"] = list(self.models)
        data["shots"] = list(self.shots)
        data["rag"] = list(self.rag)
        data["metrics"] = [m.to_json() for m in self.metrics]
        data["provider_limits"] = dict(self.provider_limits)
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> EvalSetup:
        """Inverse of to_json."""
        values = dict(data)
        values["models"] = tuple(values["models"])
        values["shots"] = tuple(values.get("shots") or (0,))
        values["rag"] = tuple(bool(r) for r in values.get("rag") or (False,))
        values["metrics"] = tuple(MetricChoice(m["name"], m.get("options", {})) for m in values["metrics"])
        params = dict(values.get("params") or {})
        params["stop"] = tuple(params.get("stop") or ())
        values["params"] = Params(**params)
        return cls(**values)


@dataclass(frozen=True)
class Progress:
    """Where an evaluation stands."""

    total: int  # answers: rows × models
    done: int
    rows_done: int  # rows every model has answered
    rows: int
    errors: int
    spend_usd: Decimal
    elapsed_s: float
    left_s: float | None  # from this session's pace; None until a cell has finished


@dataclass
class _Tally:
    """The counts behind Progress: what was saved before this run, then each cell as it is saved."""

    total: int
    rows: int
    models: int
    done: int
    errors: int
    spend: Decimal
    per_row: Counter[int]
    rows_done: int
    pending: int
    started: float = field(default_factory=time.perf_counter)
    done_now: int = 0

    @classmethod
    def of(cls, saved: Sequence[Cell], rows: int, models: int, pending: int) -> _Tally:
        """The counts of an evaluation's saved cells, with `pending` cells still to run."""
        return cls(
            total=rows * models,
            rows=rows,
            models=models,
            done=len(saved),
            errors=sum(1 for c in saved if not c.result.ok),
            spend=sum((_cell_cost(c) for c in saved), Decimal(0)),
            per_row=(per_row := Counter(c.row_index for c in saved)),
            rows_done=sum(1 for n in per_row.values() if n == models),
            pending=pending,
        )

    def add(self, cell: Cell) -> Progress:
        """Count one saved cell in; where the evaluation stands now."""
        self.done_now += 1
        self.per_row[cell.row_index] += 1
        self.rows_done += self.per_row[cell.row_index] == self.models
        self.errors += 0 if cell.result.ok else 1
        self.spend += _cell_cost(cell)
        elapsed = time.perf_counter() - self.started
        left = elapsed / self.done_now * (self.pending - self.done_now)
        return Progress(
            self.total,
            self.done + self.done_now,
            self.rows_done,
            self.rows,
            self.errors,
            self.spend,
            elapsed,
            left,
        )


@dataclass(frozen=True)
class CellKey:
    """Which cell: a row, a model, how many examples, with or without retrieval."""

    row: int
    model: str
    shots: int = 0
    rag: bool = False


@dataclass(frozen=True)
class CellDone:
    """A cell just finished and was saved."""

    cell: Cell
    progress: Progress


@dataclass
class _Model:
    spec: ModelSpec
    provider: Provider


class Evaluation:
    """A checked evaluation, new or resumed; iterate `run()` for finished cells, `cancel()` to stop."""

    def __init__(
        self,
        setup: EvalSetup,
        dataset: Dataset,
        specs: Mapping[str, ModelSpec],
        store: EvalStore,
        *,
        keys: Keys | None = None,
        eval_id: str | None = None,
        user: User = LOCAL_USER,
        gate: Gate | None = None,
        similarity: Similarity | None = None,
    ) -> None:
        if setup.shot_select == "similar" and max(setup.shots) > 0 and not setup.shot_embedder:
            setup = replace(setup, shot_embedder=default_embedder(specs))  # saved: resume ranks the same way
        self.setup = setup
        self.user, self.gate = user, gate or default_gate()
        self.dataset = dataset
        self.store = store
        self.cancel_token = CancelToken()
        self._draining = threading.Event()
        self.template = PromptTemplate(setup.template)
        choices = list(setup.metrics)
        if setup.judge and not any(c.name == JUDGE for c in choices):
            choices.append(MetricChoice(JUDGE))
        self.metrics = tuple(choices)
        _check(setup, dataset, self.template, self.metrics, specs)
        self._prompts: dict[int, str | None] = {}  # each row's own prompt, filled once
        self.retrieval = _retrieval(setup, store, specs, keys, user, self.gate)
        self._found: dict[int, tuple[Passage, ...]] = {}
        self._found_lock = threading.Lock()
        if setup.shot_select == "similar" and max(setup.shots) > 0 and similarity is None:
            similarity = _ranker(setup, specs, keys, Payer(user, store.store, self.gate, SHOTS_REF))
        self.picker = self._picker(similarity)
        self.models = {key: _build(specs[key], keys) for key in setup.models}
        self.judge = _build(specs[setup.judge], keys) if setup.judge else None
        self.prepare()  # before anything is saved: a model that cannot load leaves no empty evaluation
        self.eval_id = eval_id  # None until it is saved below
        if self.gate.policy.enabled:  # refused before anything is saved; only what is left to run counts
            self.gate.check(user, self.ask(self.pending() if eval_id else None), store.store)
        if eval_id is None:
            # Only the columns the evaluation reads are kept (what resume needs): a probe stored a 9 MB
            # column no template used, three times in 30 s, for free.
            keep = {setup.expected_column, setup.gold_column}
            used = [c for c in dataset.columns if c in self.template.variables or c in keep]
            dataset_json = {
                "name": dataset.name,
                "columns": used,
                "rows": [{c: row[c] for c in used if c in row} for row in dataset.rows],
            }
            eval_id = store.create(
                dataset.name,
                {**setup.to_json(), "metrics": [m.to_json() for m in self.metrics]},
                dataset_json,
                owner=user.id,
            )
            self.eval_id = eval_id

    @classmethod
    def resume(
        cls,
        eval_id: str,
        specs: Mapping[str, ModelSpec],
        store: EvalStore,
        *,
        keys: Keys | None = None,
        user: User = LOCAL_USER,
        gate: Gate | None = None,
        similarity: Similarity | None = None,
    ) -> Evaluation:
        """The saved evaluation, set to run only the cells not yet done (in hosted mode: only its owner's)."""
        saved = store.get(eval_id)
        if saved is None or ((gate or default_gate()).policy.enabled and saved.owner != user.id):
            raise UsageError(f"no evaluation {eval_id!r} of yours in the history")
        data = saved.dataset
        dataset = Dataset(data["name"], tuple(data["columns"]), tuple(data["rows"]))
        setup = EvalSetup.from_json(saved.setup)
        return cls(
            setup,
            dataset,
            specs,
            store,
            keys=keys,
            eval_id=eval_id,
            user=user,
            gate=gate,
            similarity=similarity,
        )

    @property
    def total_cells(self) -> int:
        """Rows × models × example counts."""
        return len(self.dataset.rows) * len(self.setup.models) * len(self.setup.shots) * len(self.setup.rag)

    def _picker(self, similarity: Similarity | None) -> ExamplePicker | None:
        """Each row's examples (None when every run is zero-shot); UsageError when k cannot be met."""
        if max(self.setup.shots) == 0:
            return None
        column = self.setup.expected_column
        answers = [row.get(column) for row in self.dataset.rows]
        try:
            picker = ExamplePicker(
                [self._prompt(i) or "" for i in range(len(self.dataset.rows))],
                answers,
                self.setup.shot_select,
                self.setup.shot_seed,
                similarity,
            )
        except ShotsError as exc:
            raise UsageError(str(exc)) from exc
        short = picker.shortfall(max(self.setup.shots))
        if short:
            rows = ", ".join(str(i + 1) for i in short[:5]) + (" …" if len(short) > 5 else "")
            raise UsageError(
                f"{max(self.setup.shots)} examples need as many other rows with a different prompt and an "
                f"answer in {column!r}; row(s) {rows} have fewer. Use fewer shots or more rows."
            )
        return picker

    def _prompt(self, index: int) -> str | None:
        """Row `index`'s own prompt (filled once, kept), or None if its values break the template."""
        if index not in self._prompts:
            try:
                self._prompts[index] = self.template.render(self.dataset.rows[index])
            except TemplateError:
                self._prompts[index] = None
        return self._prompts[index]

    def _request(self, cell: CellKey) -> ChatRequest:
        """The call for one cell: the row's prompt (after its retrieved chunks, for a rag cell), after
        `shots` examples (each a prompt, then its expected answer)."""
        model = self.models[cell.model]
        examples = self.picker.examples(cell.row, cell.shots) if self.picker and cell.shots else ()
        column = self.setup.expected_column
        pairs = [(self._prompt(j) or "", str(self.dataset.rows[j][column])) for j in examples]
        prompt = self._prompt(cell.row) or ""
        if cell.rag and self.retrieval is not None:
            prompt = self.retrieval.prompt(prompt, self._retrieved(cell.row), model.spec, self.setup.params)
        return build_request(model.spec, prompt, self.setup.system, self.setup.params, pairs)

    def _retrieved(self, index: int) -> tuple[Passage, ...]:
        """The chunks found for row `index`'s prompt (searched once, whatever the models)."""
        assert self.retrieval is not None
        with self._found_lock:
            if index not in self._found:
                self._found[index] = self.retrieval.search(self._prompt(index) or "")
            return self._found[index]

    def ask(self, pending: Sequence[CellKey] | None = None) -> Ask:
        """What running `pending` (default: every cell) asks of a user's limits: calls, tokens, max cost.

        Each cell's prompt is filled and estimated as Compare does before a run; a judge call is counted
        at its prompt plus the longest answer the model may give."""
        cells = pending if pending is not None else self.pending([])
        cost, unpriced, max_tokens = Decimal(0), set(), 0
        for cell in cells:
            for spec, provider, request in self._calls_of_cell(cell):
                est = estimate(spec, provider, request)
                max_tokens = max(max_tokens, est.max_output_tokens)
                if est.max_cost_usd is not None:
                    cost += est.max_cost_usd
                elif est.cost_source != "local":
                    unpriced.add(spec.key)
        return Ask(
            what="evaluation",
            calls=len(cells) * (2 if self.judge else 1),
            max_tokens=max_tokens,
            max_cost_usd=cost,
            unpriced=sorted(unpriced),
            concurrency=self.setup.concurrency,
        )

    def _calls_of_cell(self, cell: CellKey) -> list[tuple[ModelSpec, Provider, ChatRequest]]:
        """The calls one cell makes at most: the answer, and the judge's verdict on the longest answer
        (with the row's expected answer, which the judge reads as well)."""
        model = self.models[cell.model]
        prompt = self._prompt(cell.row)
        if prompt is None:
            return []  # this row fails without a call (see _run_cell): it costs nothing
        request = self._request(cell)
        calls = [(model.spec, model.provider, request)]
        if self.judge is not None:
            longest = "x " * (request.max_tokens or 0)
            expected = self.dataset.rows[cell.row].get(self.setup.expected_column)  # the judge reads it too
            judge_request = _judge_request(self.setup.rubric, prompt, longest, expected)
            calls.append((self.judge.spec, self.judge.provider, judge_request))
        return calls

    def prepare(self) -> None:
        """Load every model and SDK (local weights, client imports) before any call is timed.

        Done when the evaluation is built, so a model that cannot load is one UsageError, not an error
        in every one of its rows; again (a no-op) at the start of `run()`.
        """
        for model in [*self.models.values(), *([self.judge] if self.judge else [])]:
            try:
                model.provider.prepare()
            except ProviderError as exc:
                raise UsageError(f"{model.spec.key}: {exc.message}") from exc

    def _saved_cells(self) -> list[Cell]:
        saved = self.store.get(self.eval_id)
        return saved.cells if saved else []

    def pending(self, saved_cells: Sequence[Cell] | None = None) -> list[CellKey]:
        """Cells not saved yet, rows first so every model advances together."""
        cells = self._saved_cells() if saved_cells is None else saved_cells
        done = {CellKey(c.row_index, c.model, c.shots, c.rag) for c in cells}
        every = (
            CellKey(index, key, shots, rag)
            for index in range(len(self.dataset.rows))
            for key in self.setup.models
            for shots in self.setup.shots
            for rag in self.setup.rag
        )
        return [cell for cell in every if cell not in done]

    def cancel(self) -> None:
        """Stop: calls in flight are cancelled (not saved), no new cell starts; resume runs the rest."""
        self.cancel_token.cancel()

    def drain(self) -> None:
        """Stop gently: no new cell starts, the calls in flight finish and are saved (a worker shutting down
        hands its job back this way without paying for any answer twice); `cancel()` ends them too."""
        self._draining.set()

    def run(self) -> Iterator[CellDone]:
        """Run the pending cells; yields each as it is saved, on the caller's thread."""
        self.prepare()
        saved_cells = self._saved_cells()
        pending = self.pending(saved_cells)
        # Admitted (and its maximum cost reserved) for what is left to run; a local app skips the estimate.
        ask = (
            self.ask(pending) if self.gate.policy.enabled else Ask("evaluation", len(pending), 0, Decimal(0))
        )
        arms = len(self.setup.models) * len(self.setup.shots) * len(self.setup.rag)  # answers per row
        tally = _Tally.of(saved_cells, len(self.dataset.rows), arms, len(pending))
        slots = self._provider_slots()
        to_save: queue.Queue[Any] = queue.Queue()
        events: queue.Queue[Cell | BaseException | None] = queue.Queue()
        # Admitted last, just before what the `finally` below ends: nothing between can leave it held.
        self._ticket = self.gate.admit(self.user, ask, self.store.store)
        writer = threading.Thread(target=self._write, args=(to_save, events), daemon=True, name="eval-writer")
        writer.start()
        # The pool's size is the overall limit; a semaphore per provider is its own limit inside it.
        pool = ThreadPoolExecutor(max_workers=max(1, self.setup.concurrency), thread_name_prefix="eval")
        try:
            for cell in pending:
                pool.submit(self._work, cell, slots, to_save)
            finishing = len(pending)
            while finishing:
                item = events.get()
                if item is None:
                    finishing -= 1
                elif isinstance(item, BaseException):
                    raise item
                else:
                    yield CellDone(item, tally.add(item))
        finally:
            # Also when the caller stops reading (Stop, a closed page): cancel what is in flight, wait
            # for the workers, then let the writer save every cell that did finish before it ends.
            self.cancel()
            pool.shutdown(wait=True)
            to_save.put(_STOP)
            writer.join()
            self._ticket.release()

    def _provider_slots(self) -> dict[str, threading.BoundedSemaphore]:
        """A semaphore per provider: its own limit (local models 1 by default) within the overall one."""
        limits = {**DEFAULT_PROVIDER_LIMITS, **self.setup.provider_limits}
        providers = {m.spec.provider for m in self.models.values()}
        if self.judge:
            providers.add(self.judge.spec.provider)
        return {
            provider: threading.BoundedSemaphore(
                max(1, min(limits.get(provider, self.setup.concurrency), self.setup.concurrency))
            )
            for provider in providers
        }

    def _work(
        self, key: CellKey, slots: Mapping[str, threading.BoundedSemaphore], to_save: queue.Queue[Any]
    ) -> None:
        """A pool worker: one cell, handed to the writer; then None to say this worker is done."""
        try:
            if self.cancel_token.cancelled or self._draining.is_set():
                return
            try:
                cell = self._run_cell(key, slots)
            except Exception as exc:  # noqa: BLE001 - a bug in one cell must not stop the others
                error = CallError("internal", f"{type(exc).__name__}: {exc}")
                cell = _failed(key, None, error)
            if cell is not None:
                to_save.put(cell)
        except BaseException as exc:  # noqa: BLE001 - handed to the caller's thread
            to_save.put(exc)
        finally:
            to_save.put(None)

    def _write(self, to_save: queue.Queue[Any], events: queue.Queue[Cell | BaseException | None]) -> None:
        """The writer thread: saves every cell in the order they finish, before the caller hears of it.

        SQLite takes one writer at a time anyway, and the workers go straight on to their next call."""
        while (item := to_save.get()) is not _STOP:
            if isinstance(item, Cell):
                pending = self.store.add_cell(self.eval_id, item)
                if not pending.saved.is_set() and pending.failed is None:  # the database is away
                    events.put(
                        StoreUnavailableError(
                            f"the history database is not answering ({pending.last_error}); the answers so "
                            "far are kept and saved when it is back, then Resume runs the rest"
                        )
                    )
                    continue
            events.put(item)

    def _run_cell(self, key: CellKey, slots: Mapping[str, threading.BoundedSemaphore]) -> Cell | None:
        row = self.dataset.rows[key.row]
        model = self.models[key.model]
        expected = row.get(self.setup.expected_column)
        try:
            prompt = self.template.render(row)
        except TemplateError as exc:  # this row's values break the template: its cell says so, no call
            return _failed(key, expected, CallError("template", str(exc)))
        try:
            request = self._request(key)
        except UsageError as exc:  # retrieval failed for this row (the embedding model's call)
            return _failed(key, expected, CallError("retrieval", str(exc)))
        with slots[model.spec.provider]:
            if self._draining.is_set():  # it waited for its provider's slot while the worker began to drain
                return None
            result = run_model(
                model.spec, model.provider, request, cancel=self.cancel_token, run_id=self.eval_id
            )
        self._paid(EVAL_CALL, result)
        if result.error and result.error.kind == "cancelled":
            return None  # not finished: resume runs it again
        cell = Cell(
            key.row,
            key.model,
            prompt,
            expected,
            result,
            shots=key.shots,
            examples=self.picker.examples(key.row, key.shots) if self.picker and key.shots else (),
            sent=request.prompt_json(),
            rag=key.rag,
            retrieved=tuple(_found(p) for p in self._retrieved(key.row)) if key.rag else (),
        )
        for choice in self.metrics:
            if not result.ok:
                continue  # the call's error is the row's outcome; no metric can score it
            if choice.name == JUDGE:
                cell.scores[JUDGE], cell.judge = self._judge(prompt, result.text, expected, slots)
            else:
                cell.scores[choice.name] = score_answer(choice, result.text, expected)
        return cell  # a judge stopped mid-verdict leaves its score an error; the paid answer is kept

    def _paid(self, kind: str, result: RunResult) -> None:
        """Every call that reached a model goes in the usage ledger, finished, failed or stopped."""
        self._ticket.touch()
        self.store.record_call(self.user.id, kind, self.eval_id, result, self._ticket.admission_id)

    def _judge(
        self, prompt: str, answer: str, expected: str | None, slots: Mapping[str, threading.BoundedSemaphore]
    ) -> tuple[Score, RunResult]:
        assert self.judge is not None
        request = _judge_request(self.setup.rubric, prompt, answer, expected)
        with slots[self.judge.spec.provider]:
            verdict_call = run_model(self.judge.spec, self.judge.provider, request, cancel=self.cancel_token)
        self._paid(JUDGE_CALL, verdict_call)
        if not verdict_call.ok:
            return Score(None, None, error=f"judge call failed: {verdict_call.error}"), verdict_call
        try:
            verdict = parse_verdict(verdict_call.text)
        except JudgeParseError as exc:
            return Score(None, None, error=str(exc)), verdict_call
        return verdict.as_score(self.setup.judge_pass_score), verdict_call


_STOP = object()


def _failed(key: CellKey, expected: str | None, error: CallError) -> Cell:
    """A cell that ends with an error before (or instead of) its call."""
    return Cell(
        key.row,
        key.model,
        "",
        expected,
        RunResult(model=key.model, error=error),
        shots=key.shots,
        rag=key.rag,
    )


def _found(passage: Passage) -> dict[str, Any]:
    """A retrieved chunk as a cell keeps it."""
    return {
        "source": passage.source,
        "position": passage.position,
        "chunk_id": passage.chunk_id,
        "score": passage.score,
    }


def _judge_request(rubric: str, prompt: str, answer: str, expected: str | None) -> ChatRequest:
    return ChatRequest(
        messages=(
            Message("system", JUDGE_SYSTEM),
            Message("user", judge_prompt(rubric, prompt, answer, expected)),
        ),
        temperature=0.0,
        max_tokens=JUDGE_MAX_TOKENS,
    )


def _cell_cost(cell: Cell) -> Decimal:
    """What a cell cost in known prices: the answer plus the judge's call."""
    return (cell.result.cost_usd or Decimal(0)) + (
        cell.judge.cost_usd if cell.judge and cell.judge.cost_usd else Decimal(0)
    )


def _check(
    setup: EvalSetup,
    dataset: Dataset,
    template: PromptTemplate,
    metrics: Sequence[MetricChoice],
    specs: Mapping[str, ModelSpec],
) -> None:
    """All bad input as one UsageError, before anything is saved or sent."""
    try:
        template.check(dataset.columns, dataset.rows)
        check_metrics(metrics, dataset.columns, setup.expected_column)
    except (TemplateError, MetricError) as exc:
        raise UsageError(str(exc)) from exc
    if not setup.models:
        raise UsageError("choose at least one model")
    unknown = [k for k in (*setup.models, *([setup.judge] if setup.judge else [])) if k not in specs]
    if unknown:
        raise UsageError(f"unknown model {', '.join(map(repr, unknown))}; known: {', '.join(sorted(specs))}")
    if vectors := [
        k for k in (*setup.models, *([setup.judge] if setup.judge else [])) if not specs[k].generates_text
    ]:
        raise UsageError(
            f"{', '.join(vectors)} does not answer prompts: {specs[vectors[0]].instead_of_prompts}"
        )
    if len(set(setup.models)) != len(setup.models):
        raise UsageError("a model is chosen twice")
    if any(c.name == JUDGE for c in metrics) and not setup.judge:
        raise UsageError("the judge metric needs a judge model (--judge KEY)")
    if setup.concurrency < 1:
        raise UsageError("concurrency must be at least 1")
    if len(set(setup.shots)) != len(setup.shots) or not all(0 <= k <= MAX_SHOTS for k in setup.shots):
        raise UsageError(
            f"shots are distinct numbers of examples from 0 to {MAX_SHOTS}, not {list(setup.shots)}"
        )
    if setup.gold_column and setup.gold_column not in dataset.columns:
        raise UsageError(
            f"no column {setup.gold_column!r} of gold sources (columns: {', '.join(dataset.columns)})"
        )
    if max(setup.shots) > 0 and setup.expected_column not in dataset.columns:
        raise UsageError(
            f"examples show each row's expected answer: the dataset has no column {setup.expected_column!r} "
            f"(columns: {', '.join(dataset.columns)})"
        )


def _retrieval(
    setup: EvalSetup,
    store: EvalStore,
    specs: Mapping[str, ModelSpec],
    keys: Keys | None,
    user: User,
    gate: Gate,
) -> Retrieval | None:
    """The collection the rag cells search, as the evaluation's owner (UsageError if it is not theirs)."""
    if True not in setup.rag:
        return None
    if not setup.collection:
        raise UsageError("retrieval needs a collection of documents (--collection NAME)")
    if not 1 <= setup.rag_k <= 50:
        raise UsageError("retrieval takes from 1 to 50 chunks")
    library = Library(store.store, specs, keys, user, gate)
    return Retrieval(library, library.get(setup.collection), setup.rag_k)


def _ranker(setup: EvalSetup, specs: Mapping[str, ModelSpec], keys: Keys | None, payer: Payer) -> Similarity:
    """The ranking of rows for `similar` examples, with the setup's embedding model (or the default), its
    calls admitted and charged as `payer`'s."""
    try:
        key = setup.shot_embedder or default_embedder(specs)
        if key not in specs:
            raise UsageError(f"unknown embedding model {key!r} for similar examples")
        return similarity_ranker(specs[key], payer, keys)
    except EmbeddingError as exc:
        raise UsageError(str(exc)) from exc


def _build(spec: ModelSpec, keys: Keys | None) -> _Model:
    try:
        return _Model(spec, build_provider(spec, keys))
    except ProviderError as exc:
        raise UsageError(exc.message) from exc
