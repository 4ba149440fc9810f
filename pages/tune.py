"""Tune: check a training file before anything is spent (bad lines, tokens, cost, held-out split), start a
fine-tuning job on a hosted API, follow its state and loss curve, cancel it, add the tuned model to this
session, and compare it with its base on the held-out split."""

from __future__ import annotations

import streamlit as st

from pages.common import state
from pages.common.ui import (
    current_user,
    database_answers,
    gate,
    hosted_policy,
    keyring,
    page_shell,
    render_chart_grid,
    shared_store,
    specs,
)
from playground.core import UsageError, plain
from playground.hosting import LimitExceededError
from playground.lora import (
    LocalTuneJob,
    TuneEnded,
    TuneProgress,
    list_tuned_models,
    parse_training_set,
    sample_training_set,
    start_local_tune,
)
from playground.tuning import (
    BaseVsTuned,
    TrainingCheck,
    Tuning,
    TuningJob,
    compare_base_tuned,
    compare_local_tune,
    loss_chart,
    models_file_entry,
)

page_shell("pages/tune.py")

FOLLOW_EVERY_S = 5.0  # how often the page asks the provider about jobs still going
LOCAL_EVERY_S = 1.0  # how often the page reads a local job's progress
LOCAL_JOB = "tune-local-job"  # this session's local training job (a process of its own)
CHECK_KEY = "tune-check"  # this session's last checked training file

all_specs = specs()
tuning = Tuning(shared_store(), all_specs, keyring(), current_user(), gate())

st.title("Tune")
st.caption(
    "Fine-tune a hosted model (OpenAI, Azure OpenAI) on your examples. The file is checked first: nothing is "
    "sent or spent until you press Start."
)


def read_file() -> tuple[str, bytes] | None:
    """The training file uploaded, or pasted as JSONL."""
    upload = st.file_uploader(
        "Training file (chat JSONL, or CSV with prompt,completion)", type=["jsonl", "csv"], key="tune-upload"
    )
    pasted = st.text_area("…or paste chat-format JSONL", key="tune-paste", height=120)
    if upload is not None:
        return upload.name, upload.getvalue()
    if pasted.strip():
        return "pasted.jsonl", pasted.encode()
    return None


def render_check(check: TrainingCheck) -> None:
    """The check's figures, bad lines, tokens per example and split."""
    columns = st.columns(4)
    columns[0].metric("Training examples", len(check.train))
    columns[1].metric("Held out", len(check.holdout))
    columns[2].metric("Tokens trained", f"{check.billed_tokens:,}")
    columns[3].metric("Estimated cost", check.cost.label)
    st.caption(
        plain(
            f"Tokens {check.counted_by}: {check.training_tokens:,} per epoch × {check.epochs} epochs; cost = tokens "
            f"× the training price (source: {check.cost.source}). Held out: {round(check.holdout_fraction * 100)}% "
            f"with seed {check.seed}, lines {', '.join(str(e.line) for e in check.holdout) or 'none'}."
        )
    )
    if check.bad:
        st.error(plain(f"{len(check.bad)} line(s) of {check.name} cannot be trained on:"))
        st.dataframe(
            [{"line": b.line, "problem": b.reason} for b in check.bad], key="tune-bad", hide_index=True
        )
    with st.expander("Tokens per example"):
        rows = [{"line": e.line, "tokens": e.tokens, "split": "train"} for e in check.train]
        rows += [{"line": e.line, "tokens": e.tokens, "split": "held out"} for e in check.holdout]
        st.dataframe(sorted(rows, key=lambda r: r["line"]), key="tune-tokens", hide_index=True)


def check_section() -> None:
    tunable = sorted(k for k, s in all_specs.items() if s.fine_tunable)
    if not tunable:
        st.info("No model in the models file is fine-tunable (fine_tunable = true).")
        return
    model = st.selectbox("Base model", tunable, key="tune-model")
    left, middle, right = st.columns(3)
    epochs = left.number_input("Epochs", 1, 50, 3, key="tune-epochs")
    holdout = middle.slider("Held out for base vs tuned", 0.0, 0.5, 0.1, 0.05, key="tune-holdout")
    seed = right.number_input("Split seed", 0, 2**31 - 1, 0, key="tune-seed")
    given = read_file()
    if st.button("Check", key="tune-check-run", disabled=given is None):
        assert given is not None
        try:
            st.session_state[CHECK_KEY] = tuning.check(
                given[0], given[1], model, epochs=int(epochs), holdout=holdout, seed=int(seed)
            )
        except UsageError as exc:
            st.session_state.pop(CHECK_KEY, None)
            st.error(plain(str(exc)))
    check: TrainingCheck | None = st.session_state.get(CHECK_KEY)
    if check is None:
        return
    render_check(check)
    suffix = st.text_input("Name suffix of the tuned model (optional)", key="tune-suffix", max_chars=40)
    if check.problem:
        st.warning(plain(check.problem))
    if st.button(
        "Start fine-tuning (spends money)", key="tune-start", type="primary", disabled=bool(check.problem)
    ):
        try:
            job = tuning.start(check, suffix.strip() or None)
        except (UsageError, LimitExceededError) as exc:
            st.error(plain(str(exc)))
            return
        except Exception as exc:  # noqa: BLE001 - a provider's refusal (no key, unreachable) as one line
            st.error(plain(f"{type(exc).__name__}: {exc}"))
            return
        st.success(plain(f"Job {job.id} is {job.state}."))


def render_job(job: TuningJob) -> None:
    """One job: state, error, loss curve, last events, and what can be done with it."""
    saved = job.saved
    st.markdown(f"**{plain(saved.model_key)}** · {plain(job.state)} · job `{plain(job.id)}`")
    known = saved.estimated_cost_usd is not None
    figures = (
        f"estimated cost: ${saved.estimated_cost_usd} ({saved.cost_source})"
        if known
        else f"estimated cost: {saved.cost_source}"
    )
    if saved.trained_tokens is not None:
        figures += f" · tokens trained (provider): {saved.trained_tokens:,}"
    if saved.settled_usd is not None:
        figures += f" · cost of those tokens: ${saved.settled_usd} (× the training price at the start)"
    st.caption(plain(f"{saved.kind} · upstream {saved.upstream_id or '–'} · {figures}"))
    if saved.error:
        st.error(plain(saved.error))
    if job.note:
        st.warning(plain(job.note))
    render_chart_grid([loss_chart(job)], key=f"tune-loss-{job.id}", columns=1)
    if job.events:
        st.text("\n".join(f"{e.level}: {e.message}" for e in job.events[-8:]))
    if not job.ended and saved.upstream_id and st.button("Cancel", key=f"tune-cancel-{job.id}"):
        try:
            tuning.cancel(job.id)
        except UsageError as exc:
            st.error(plain(str(exc)))
        st.rerun()
    if saved.fine_tuned_model:
        tuned_actions(job)


def tuned_actions(job: TuningJob) -> None:
    """Add the tuned model to this session; its models-file entry; base vs tuned on the held-out split."""
    spec = tuning.tuned_spec(job.id)
    st.code(models_file_entry(spec), language="toml")
    left, right = st.columns(2)
    if left.button("Add to this session's models", key=f"tune-add-{job.id}"):
        state.custom_specs()[spec.key] = spec
        st.success(plain(f"{spec.key} is a model of this session: Compare and Evaluate can run it."))
    if right.button("Compare base vs tuned", key=f"tune-versus-{job.id}", disabled=not job.saved.holdout):
        try:
            result = compare_base_tuned(tuning, job.id, tuned=spec)
        except (UsageError, LimitExceededError) as exc:
            st.error(plain(str(exc)))
            return
        render_versus(result, f"tune-versus-table-{job.id}")


def render_versus(result: BaseVsTuned, key: str) -> None:
    """Base vs tuned: the difference with its interval, and each model's figures."""
    st.markdown(plain(result.reading))
    rows = []
    for summary in (result.base, result.tuned):
        score = summary.metrics[result.metric]
        rows.append(
            {
                "model": summary.model,
                result.metric: score.mean,
                "95% interval": f"{score.ci_low:.3f}–{score.ci_high:.3f}"
                if score.ci_low is not None
                else "–",
                "errors": summary.errors,
                "input tokens": summary.input_tokens,
                "output tokens": summary.output_tokens,
                "p50 latency (s)": summary.latency_p50_s,
                "cost (USD)": str(summary.cost_usd) if summary.cost_usd is not None else "unknown",
            }
        )
    st.dataframe(rows, key=key, hide_index=True)
    st.caption(plain(f"Saved as evaluation {result.eval_id} (open it on the Evaluate page)."))


@st.fragment(run_every=FOLLOW_EVERY_S)
def jobs_section() -> None:
    """The jobs, newest first; the ones still going are asked about (and saved) at every rerun, so any
    replica's page shows what any other learnt."""
    with database_answers():
        jobs = tuning.jobs()
    if not jobs:
        st.caption("No fine-tuning job yet.")
        return
    for job in jobs[:20]:
        if not job.ended:
            job = tuning.follow(job.id)
        with st.container(border=True, key=f"tune-job-{job.id}"):
            render_job(job)


def local_section() -> None:
    """A LoRA of a bundled model trained on this machine's CPU: start, follow, stop, then base vs tuned."""
    policy = hosted_policy()
    if policy.enabled and not policy.is_admin(current_user()):
        st.info("Only the administrators of this hosted instance train on its CPU (PLAYGROUND_ADMINS).")
        return
    shipped = st.radio(
        "Training set",
        ("The shipped sample (answers start with 'Answer:')", "Upload chat JSONL"),
        key="lora-source",
    ).startswith("The shipped")
    upload = None if shipped else st.file_uploader("Chat-format JSONL", type=["jsonl"], key="lora-upload")
    left, middle, right = st.columns(3)
    name = left.text_input("Name", value="answer-style", max_chars=40, key="lora-name")
    steps = middle.number_input("Steps", 1, 2000, 60, key="lora-steps")
    rank = right.number_input("Rank", 1, 64, 8, key="lora-rank")
    job: LocalTuneJob | None = st.session_state.get(LOCAL_JOB)
    going = job is not None and job.ended is None
    if st.button(
        "Train on this machine", key="lora-start", disabled=going or (not shipped and upload is None)
    ):
        try:
            training = (
                sample_training_set()
                if shipped
                else parse_training_set(upload.getvalue().decode("utf-8", errors="replace"), upload.name)
            )
            st.session_state[LOCAL_JOB] = start_local_tune(
                training, name.strip(), steps=int(steps), rank=int(rank)
            )
        except (UsageError, ValueError) as exc:  # a bad line, name or setting: one line, nothing started
            st.error(plain(str(exc)))
        else:
            st.rerun()  # redraw with the button greyed out while the job runs
    if LOCAL_JOB in st.session_state:
        follow_local()
    tuned = list_tuned_models()
    if tuned:
        st.caption(
            plain("Tuned here: " + ", ".join(t.key for t in tuned) + " (in Compare, Evaluate and Deploy).")
        )
        chosen = st.selectbox("Compare with its base", [t.key for t in tuned], key="lora-versus-model")
        if st.button("Base vs tuned on the shipped held-out questions", key="lora-versus"):
            try:
                with st.spinner("Both models answer 20 questions never trained on…"):
                    result = compare_local_tune(tuning, next(t for t in tuned if t.key == chosen))
            except (UsageError, LimitExceededError) as exc:
                st.error(plain(str(exc)))
            else:
                render_versus(result, "lora-versus-table")


@st.fragment(run_every=LOCAL_EVERY_S)
def follow_local() -> None:
    """The local job's last step (loss, time so far and left), a Stop, and how it ended."""
    job: LocalTuneJob = st.session_state[LOCAL_JOB]
    said = job.poll()
    if isinstance(said, TuneProgress):
        st.progress(said.step / said.steps, text=plain(f"step {said.step} of {said.steps}"))
        loss = "n/a" if said.loss is None else f"{said.loss:.3f}"
        st.caption(
            plain(
                f"loss {loss} · {said.elapsed_s:.0f} s so far · about {said.left_s:.0f} s left (measured steps)"
            )
        )
    elif said is None:
        st.caption("Loading the base model in the training process…")
    if isinstance(said, TuneEnded):
        (st.success if said.state == "finished" else st.warning)(
            plain(f"{job.settings.name}: {said.state} after {said.steps_done} steps. {said.message}")
        )
        return
    st.button("Stop", key="lora-stop", on_click=job.stop)


st.subheader("1. Check a training file")
check_section()
st.subheader("2. Jobs")
jobs_section()
st.subheader("3. Train a LoRA on this machine")
st.caption(
    "A LoRA of the bundled smollm2-135m, trained on this machine's CPU in a process of its own (peft on "
    "CPU PyTorch: the `lora` extra). The result is a model key smollm2-135m+NAME."
)
local_section()
