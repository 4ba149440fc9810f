"""Evaluate: a dataset across models with objective metrics; progress, summary, matrix, charts, resume."""

from __future__ import annotations

import streamlit as st

from pages.common import state
from pages.common.ui import (
    current_user,
    database_answers,
    gate,
    history_owner,
    keyring,
    page_shell,
    render_answer,
    render_chart_grid,
    shared_store,
    specs,
)
from playground.compare import UsageError
from playground.core import Params, plain
from playground.engine import usability
from playground.evals import (
    DEFAULT_RUBRIC,
    EVAL_PARAMS,
    JUDGE,
    METRICS,
    SHOT_SELECTS,
    Dataset,
    DatasetError,
    EvalSetup,
    Evaluation,
    EvaluationStore,
    MetricChoice,
    Pace,
    Placement,
    Preset,
    ShotsError,
    StoredEval,
    cells_of_row,
    eval_to_csv,
    eval_to_json,
    evaluation_store,
    follow,
    load_sample,
    matrix_rows,
    metric_names,
    normalisation_notes,
    parse_dataset,
    parse_shots,
    placement,
    queue_evaluation,
    rag_gains,
    reading,
    retrieval_quality,
    sample_names,
    sample_preset,
    score_mark,
    sent_text,
    stop_job,
    summarize,
    summary_rows,
)
from playground.rag import Library

page_shell("pages/evaluate.py")

GRADED = ("bleu", "chrf", "rouge_l")
# Streamlit keeps the page's scroll across reruns, so after a run ended far down the form the folded page
# would show the middle of the results: this goes back to the page's top, where they now begin (the top
# stays the top while the form folds up and the old results are cleared). Our own constant script, no
# outside text in it (Streamlit has no scroll command); the count in it makes each one a new element,
# which the browser runs (the same element again is left as it is).
SCROLL_TO_RESULTS = (
    "<script>document.querySelector('[data-testid=\"stMain\"]')?.scrollTo(0, 0) /* {} */</script>"
)
FOLLOW_EVERY_S = 1.0
NORMALISED = ("quasi_exact_match", "contains")


def eval_store() -> EvaluationStore:
    """Evaluations live in the shared history database."""
    return evaluation_store(shared_store())


def choose_dataset() -> tuple[Dataset | None, Preset]:
    """A shipped sample (with its ready template and metrics) or an uploaded file."""
    source = st.radio("Dataset", ["Sample", "Upload CSV or JSONL"], horizontal=True, key="ev-source")
    if source == "Sample":
        name = st.selectbox("Sample dataset", sample_names(), key="ev-sample")
        return load_sample(name), sample_preset(name)
    upload = st.file_uploader("Dataset file", type=["csv", "jsonl"], key="ev-upload")
    if upload is None:
        return None, Preset()
    try:
        return parse_dataset(upload.name, upload.getvalue()), Preset()
    except DatasetError as exc:
        st.error(plain(str(exc)))
        return None, Preset()


def metric_choices(names: list[str], judge_options: list[str]) -> tuple[list[MetricChoice], str | None, str]:
    """Options for the chosen metrics, asked only when one of them needs them."""
    normalise = {}
    if any(n in NORMALISED for n in names):
        c1, c2, c3 = st.columns(3)
        normalise = {
            "ignore_case": c1.checkbox("Ignore case", True, key="ev-case"),
            "strip_punctuation": c2.checkbox("Ignore punctuation", True, key="ev-punct"),
            "collapse_whitespace": c3.checkbox("Collapse spaces", True, key="ev-space"),
        }
    pass_at = (
        st.slider("Pass at (BLEU, chrF, ROUGE-L)", 0.0, 1.0, 0.5, 0.05, key="ev-pass")
        if any(n in GRADED for n in names)
        else 0.5
    )
    schema = (
        st.text_area("JSON Schema (json_schema)", key="ev-schema", height=100)
        if "json_schema" in names
        else ""
    )
    pattern = (
        st.text_input("Pattern (regex; blank = the expected column)", key="ev-pattern")
        if "regex" in names
        else ""
    )
    rel_tol = (
        st.number_input("Relative tolerance (numeric)", 0.0, 1.0, 0.01, key="ev-tol")
        if "numeric" in names
        else 0.01
    )
    judge, rubric = None, DEFAULT_RUBRIC
    if JUDGE in names:
        judge = st.selectbox("Judge model", judge_options, key="ev-judge")
        rubric = st.text_area("Rubric", DEFAULT_RUBRIC, key="ev-rubric")
    options_for = {
        **{n: normalise for n in NORMALISED},
        **{n: {"pass_at": pass_at} for n in GRADED},
        "json_schema": {"schema": schema} if schema.strip() else {},
        "regex": {"pattern": pattern} if pattern.strip() else {},
        "numeric": {"rel_tol": rel_tol},
    }
    return [MetricChoice(n, options_for.get(n, {})) for n in names], judge, rubric


def show_evaluation(saved: StoredEval, on_worker: bool) -> None:
    """Summary with readings, charts, the matrix with a drill-in, and exports."""
    metrics = metric_names(saved)
    summaries = summarize(saved.cells, saved.arms, metrics)
    st.subheader(plain(f"{saved.name} · {len(saved.cells)} of {saved.total_cells} answers"))
    if not saved.complete and not on_worker:
        st.warning("Not finished: resume it below to run only the missing answers.")
    st.dataframe(summary_rows(summaries, metrics), hide_index=True)
    for note in normalisation_notes(saved):
        st.caption(plain(note))
    if len(summaries) > 1:
        for metric in metrics:
            st.markdown("- " + plain(reading(summaries, metric)))
    from playground.evals import charts as eval_charts  # plotly only once there are results

    render_chart_grid(eval_charts.evaluation_charts(summaries, saved.cells, saved.arms, metrics), "ev")
    if len(saved.shots) > 1:
        show_prompt_lab(saved.id, summaries, metrics)
    show_retrieval(saved, metrics)

    st.markdown("**Rows × models**")
    matrix_metric = st.selectbox("Show metric", metrics, key=f"ev-matrix-metric-{saved.id}")
    st.dataframe(matrix_rows(saved, matrix_metric), hide_index=True, key=f"ev-matrix-{saved.id}")
    row = st.number_input("Open row", 1, len(saved.dataset["rows"]), 1, key=f"ev-row-{saved.id}")
    cells = cells_of_row(saved, int(row) - 1)
    if cells:
        first = cells[0][1]
        st.markdown(f"**Prompt:** {plain(first.prompt)}")
        if first.expected is not None:
            st.markdown(f"**Expected:** {plain(first.expected)}")
        for column, (arm, cell) in zip(st.columns(len(cells)), cells, strict=True):
            with column:
                st.markdown(f"#### {plain(arm.label)}")
                render_answer(cell.result)
                for name, score in cell.scores.items():
                    st.caption(plain(f"{name}: {score_mark(score)} {score.error or score.detail}"))
                with st.popover("Prompt sent"):
                    if cell.examples:
                        st.caption(plain(f"examples: rows {', '.join(str(i + 1) for i in cell.examples)}"))
                    st.code(sent_text(cell), language=None, wrap_lines=True)
    e1, e2 = st.columns(2)
    e1.download_button(
        "Export CSV", eval_to_csv(saved), f"eval-{saved.id}.csv", "text/csv", key=f"ev-csv-{saved.id}"
    )
    e2.download_button(
        "Export JSON",
        eval_to_json(saved),
        f"eval-{saved.id}.json",
        "application/json",
        key=f"ev-json-{saved.id}",
    )


def launch(evaluation: Evaluation, where: Placement) -> None:
    """Queue it for a worker (the page then follows it from the store), or run it here."""
    if where.on_worker:
        with database_answers():
            queue_evaluation(evaluation, shared_store())
        state.open_evaluation_next(evaluation.eval_id)
        st.rerun()
    st.caption(plain(where.reason))
    run_live(evaluation)


@st.fragment(run_every=FOLLOW_EVERY_S)
def follow_job(eval_id: str) -> None:
    """A queued evaluation's progress, read from the store every second; Stop asks its worker to stop.

    When it ends while this page watches, the whole page draws again with its results."""
    progress = None
    with database_answers(stop=False):  # a database away for a moment: the next second tries again
        progress = follow(eval_id, shared_store())
    watching = f"ev-watching-{eval_id}"
    if progress is None or not progress.job.going:
        if st.session_state.pop(watching, None) is not None:
            st.rerun(scope="app")
        return
    pace = st.session_state.setdefault(watching, Pace())
    done, total = progress.done, max(progress.total, 1)
    st.progress(min(done / total, 1.0), text=plain(progress.line(pace.rate(done))))
    if st.button("Stop", key=f"ev-job-stop-{eval_id}"):
        with database_answers():
            stop_job(eval_id, current_user().id, shared_store())
        st.rerun()  # the whole page: the job has stopped, or says "stopping…"


NO_COLLECTION = "(none)"
RAG_CHOICES = {"on": (True,), "both": (False, True)}


def retrieval_choices(columns: list[str]) -> tuple[str | None, tuple[bool, ...], int, str | None]:
    """Retrieval for the evaluation: a collection of this user's, with it or both ways, k, gold column."""
    with database_answers():
        names = [c.name for c in Library(shared_store(), specs(), keyring(), current_user()).list()]
    r1, r2, r3, r4 = st.columns(4)
    collection = r1.selectbox("Documents (retrieval)", [NO_COLLECTION, *names], key="ev-collection")
    if collection == NO_COLLECTION:
        return None, (False,), 5, None
    mode = r2.selectbox("Retrieval", list(RAG_CHOICES), format_func=_rag_label, key="ev-rag")
    k = r3.number_input("Chunks (k)", 1, 50, 5, key="ev-rag-k")
    gold = r4.selectbox("Gold sources column (optional)", [NO_COLLECTION, *columns], key="ev-gold")
    return collection, RAG_CHOICES[mode], int(k), None if gold == NO_COLLECTION else gold


def _rag_label(mode: str) -> str:
    return {"on": "with retrieval", "both": "with and without (measures the gain)"}[mode]


def show_retrieval(saved: StoredEval, metrics: list[str]) -> None:
    """What retrieval added per model and metric (paired by row), and recall@k / MRR against gold sources."""
    gains = rag_gains(saved, metrics)
    if gains:
        st.markdown("**What retrieval adds** (score with retrieval minus without, same rows, 95% interval)")
        st.dataframe(
            [
                {
                    "model": g.model,
                    "examples": g.shots,
                    "metric": g.metric,
                    "rows": g.rows,
                    "gain": "n/a" if g.gain is None else f"{g.gain:+.2f}",
                    "95% interval": ""
                    if g.low is None or g.high is None
                    else f"[{g.low:+.2f}, {g.high:+.2f}]",
                }
                for g in gains
            ],
            hide_index=True,
            key=f"ev-gains-{saved.id}",
        )
    quality = retrieval_quality(saved)
    if quality and quality.rows:
        st.caption(
            plain(
                f"Retrieval over {quality.rows} rows with gold sources: recall@{quality.k} {quality.recall:.2f} "
                f"[{quality.recall_low or 0:.2f}–{quality.recall_high or 1:.2f}], MRR {quality.mrr:.2f}"
            )
        )


def show_prompt_lab(eval_id: str, summaries: list, metrics: list[str]) -> None:
    """Few-shot prompting measured: each metric against the number of examples, and what they cost."""
    from playground.evals import charts as eval_charts

    st.markdown("**Prompt lab: what examples buy, and what they cost**")
    metric = st.selectbox("Metric against examples", metrics, key=f"ev-shots-metric-{eval_id}")
    render_chart_grid(eval_charts.prompt_lab_charts(summaries, metric), "ev-lab", columns=1)


def run_live(evaluation: Evaluation) -> None:
    """Run with a progress bar; Stop (any rerun) cancels, finished answers stay saved."""
    st.session_state["ev-active"] = evaluation
    st.button("Stop", key="ev-stop")
    bar = st.progress(0.0, text="starting…")
    total = evaluation.total_cells
    run = evaluation.run()
    try:
        for event in run:  # the first step admits it under the user's limits (LimitExceededError)
            p = event.progress
            left = f"{p.left_s:.0f} s left" if p.left_s is not None else ""
            bar.progress(
                p.done / total,
                text=f"rows {p.rows_done}/{p.rows} · answers {p.done}/{p.total} · {p.errors} errors · "
                f"spent ${p.spend_usd} · {left}",
            )
    except UsageError as exc:
        st.session_state.pop("ev-active", None)
        st.error(plain(str(exc)))
        return
    finally:
        run.close()  # cancels what is still running; everything finished is already saved
    st.session_state.pop("ev-active", None)
    state.open_evaluation_next(evaluation.eval_id)  # open it in "Saved evaluations" next run
    st.rerun()


st.title("Evaluate")
st.caption(
    "Text models on a dataset. Speech-to-text and vision models are evaluated on a labelled set on the "
    "Speech and Images pages (WER and CER, or these metrics, with 95% intervals)."
)
active: Evaluation | None = st.session_state.pop("ev-active", None)
if active is not None:
    active.cancel()  # Stop was pressed (or the page changed) while it ran
    state.open_evaluation_next(active.eval_id)
if (
    to_open := state.take_evaluation_to_open()
) is not None:  # before the selectbox exists, as Streamlit requires
    st.session_state["ev-pick"] = to_open
    # One just ended (or was queued, stopped, or sent from History): the page leads with its results, the
    # form folded up above them.
    st.session_state["ev-new-open"] = False
elif st.session_state.get("ev-run"):
    # Run was pressed in the open form: say so, so that folding it up when the run ends is a change (the
    # browser keeps an expander as the user left it while `expanded` stays the same).
    st.session_state["ev-new-open"] = True

all_specs = specs()
ring = keyring()
usable = [k for k, s in sorted(all_specs.items()) if s.generates_text and usability(s, ring)[0]]
store = eval_store()
with database_answers():
    listing = store.list(owner=history_owner())  # hosted mode: only this user's evaluations

# Open on a first visit (unless an evaluation was sent here to be opened), and the same on every rerun
# after: an `expanded` that changed between reruns folded the form up under the user at their first change.
new_open = st.session_state.setdefault("ev-new-open", not listing or "ev-pick" not in st.session_state)
with st.expander("New evaluation", expanded=new_open):
    dataset, preset = choose_dataset()
    if dataset is not None:
        st.caption(plain(f"{len(dataset.rows)} rows · columns: {', '.join(dataset.columns)}"))
        st.dataframe(list(dataset.rows[:5]), hide_index=True)
        preset_key = f"ev-template-{dataset.name}"
        template = st.text_area("Prompt template ({column} fields)", preset.template, key=preset_key)
        system = st.text_area("System prompt (optional)", key="ev-system", height=68)
        columns = list(dataset.columns)
        expected_column = st.selectbox(
            "Expected answer column (for metrics that compare)",
            columns,
            index=columns.index("expected") if "expected" in columns else len(columns) - 1,
            key=f"ev-expected-{dataset.name}",
        )
        models = st.multiselect(
            "Models",
            usable,
            default=[k for k in ("smollm2-135m", "gemma3-270m") if k in usable],
            key="ev-models",
        )
        names = st.multiselect(
            "Metrics",
            list(METRICS),
            default=[m for m in preset.metrics if m in METRICS],
            format_func=lambda n: f"{n} — {METRICS[n].description}",
            key=f"ev-metrics-{dataset.name}",
        )
        if "json_schema" in names and preset.schema and not st.session_state.get("ev-schema"):
            st.session_state["ev-schema"] = preset.schema
        choices, judge, rubric = metric_choices(names, usable)
        c1, c2, c3, c4 = st.columns(4)
        max_tokens = c1.number_input(
            "Max tokens",
            1,
            4096,
            preset.max_tokens or EVAL_PARAMS.max_tokens,
            key=f"ev-max-{dataset.name}",
        )
        temperature = c2.slider("Temperature", 0.0, 2.0, 0.0, 0.05, key="ev-temp")
        concurrency = c3.number_input("Concurrency", 1, 64, 4, key="ev-conc")
        limit = c4.number_input("Rows (0 = all)", 0, len(dataset.rows), 0, key=f"ev-limit-{dataset.name}")
        s1, s2, s3 = st.columns(3)
        shots_text = s1.text_input(
            "Examples per prompt (k)",
            "0",
            key="ev-shots",
            help="Few-shot prompting: 0,1,3 runs every row three times, after 0, 1 and 3 other rows answered. "
            "A row never sees itself, or a row with the same prompt, as an example.",
        )
        shot_select = s2.selectbox("Pick examples", SHOT_SELECTS, key="ev-shot-select")
        shot_seed = s3.number_input("Seed (random picks)", 0, 2**31 - 1, 0, key="ev-shot-seed")
        collection, rag_modes, rag_k, gold = retrieval_choices(columns)
        if st.button("Run evaluation", type="primary", key="ev-run", disabled=not (models and names)):
            rows = dataset.rows[: int(limit)] if limit else dataset.rows
            try:
                setup = EvalSetup(
                    template=template,
                    models=tuple(models),
                    metrics=tuple(choices),
                    system=system or None,
                    judge=judge,
                    rubric=rubric,
                    params=Params(temperature=temperature, max_tokens=int(max_tokens)),
                    concurrency=int(concurrency),
                    expected_column=expected_column,
                    shots=parse_shots(shots_text),
                    shot_select=shot_select,
                    shot_seed=int(shot_seed),
                    collection=collection,
                    rag=rag_modes,
                    rag_k=rag_k,
                    gold_column=gold,
                )
                with database_answers():
                    where = placement(setup, all_specs, ring, shared_store())
                with st.spinner("Loading models…"):
                    evaluation = Evaluation(
                        setup,
                        Dataset(dataset.name, dataset.columns, rows),
                        all_specs,
                        store,
                        keys=ring,
                        user=current_user(),
                        gate=gate(),
                    )
            except (UsageError, ShotsError) as exc:
                st.error(plain(str(exc)))
            else:
                launch(evaluation, where)

if listing:
    st.divider()
    labels = {
        # No counts here: the box keeps showing a chosen option's old label after its counts change (a
        # worker finishing it); the heading below says how many answers are in.
        e.id: f"{e.created_at:%Y-%m-%d %H:%M} · {e.name} · {', '.join(e.models)} · {e.total} answers"
        for e in listing
    }
    if st.session_state.get("ev-pick") not in labels:
        st.session_state.pop("ev-pick", None)  # deleted, or from another database
    chosen = st.selectbox("Saved evaluations", list(labels), format_func=labels.get, key="ev-pick")
    with database_answers():
        saved = store.get(chosen)
    if saved is not None:
        with database_answers():
            progress = follow(saved.id, shared_store())
        on_worker = progress is not None and progress.job.going
        if on_worker:
            follow_job(saved.id)
        elif progress is not None and progress.job.error:
            st.error(plain(f"The worker could not run it: {progress.job.error}"))
        b1, b2 = st.columns(2)
        resume = not saved.complete and not on_worker
        if resume and b1.button("Resume (run only the missing answers)", key="ev-resume"):
            try:
                with database_answers():
                    where = placement(EvalSetup.from_json(saved.setup), all_specs, ring, shared_store())
                with st.spinner("Loading models…"):
                    resumed = Evaluation.resume(
                        saved.id, all_specs, store, keys=ring, user=current_user(), gate=gate()
                    )
            except UsageError as exc:
                st.error(plain(str(exc)))
            else:
                launch(resumed, where)
        deletable = saved.owner == current_user().id and not on_worker
        if deletable and b2.button("Delete this evaluation", key="ev-delete"):
            with database_answers():
                store.delete(saved.id, owner=current_user().id)
            st.session_state.pop("ev-pick", None)
            st.rerun()
        show_evaluation(saved, on_worker)
        if to_open is not None:
            scrolls = st.session_state["ev-scrolls"] = st.session_state.get("ev-scrolls", 0) + 1
            st.html(SCROLL_TO_RESULTS.format(scrolls), unsafe_allow_javascript=True)
