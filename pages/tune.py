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
    keyring,
    page_shell,
    render_chart_grid,
    shared_store,
    specs,
)
from playground.core import UsageError, plain
from playground.hosting import LimitExceededError
from playground.tuning import (
    TrainingCheck,
    Tuning,
    TuningJob,
    compare_base_tuned,
    loss_chart,
    models_file_entry,
)

page_shell("pages/tune.py")

FOLLOW_EVERY_S = 5.0  # how often the page asks the provider about jobs still going
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
        st.dataframe(rows, key=f"tune-versus-table-{job.id}", hide_index=True)
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


st.subheader("1. Check a training file")
check_section()
st.subheader("2. Jobs")
jobs_section()
