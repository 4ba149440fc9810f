"""Fine-tuning: the training-file check, hosted jobs against the scripted server's fine-tuning API (OpenAI's
and Azure's URL shapes), the store, the ledger, and the real API as a skipped test."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from playground.core.errors import UsageError
from playground.core.specs import ModelSpec, SpecError, load_specs, parse_models_text
from playground.engine.tokens import estimator_for
from playground.storage import Store
from playground.tuning import (
    TrainingFileError,
    Tuning,
    TuningError,
    check_training_file,
    models_file_entry,
)
from providers.base import ChatRequest, Message
from tests.conftest import remote_spec


def chat_line(user: str, answer: str, system: str | None = None) -> str:
    messages = ([{"role": "system", "content": system}] if system else []) + [
        {"role": "user", "content": user},
        {"role": "assistant", "content": answer},
    ]
    return json.dumps({"messages": messages})


def good_file(n: int = 20) -> bytes:
    return (
        "\n".join(chat_line(f"What is {i} plus {i}?", f"It is {2 * i}.") for i in range(n)).encode() + b"\n"
    )


def tunable(url: str, key: str = "base", **fields: object) -> ModelSpec:
    values: dict[str, object] = {
        "fine_tunable": True,
        "price_training_per_mtok": Decimal("3.00"),
        "api_key_env": "TUNE_TEST_KEY",
        "model": "gpt-4o-mini-2024-07-18",
    }
    values.update(fields)
    return remote_spec(url, key=key, **values)


# --- the check ------------------------------------------------------------------------------------------
def test_each_bad_line_is_named_with_its_number_and_reason():
    spec = load_specs()["gpt-4o-mini"]
    lines = [
        chat_line("hi", "hello"),
        "{not json",
        json.dumps({"prompt": "no messages"}),
        json.dumps({"messages": [{"role": "wizard", "content": "x"}, {"role": "assistant", "content": "y"}]}),
        json.dumps({"messages": [{"content": "no role"}]}),
        json.dumps({"messages": [{"role": "user", "content": "only a question"}]}),
        json.dumps({"messages": [{"role": "user", "content": "   "}, {"role": "assistant", "content": "y"}]}),
        "",
        chat_line("fine", "also fine"),
    ]
    check = check_training_file("set.jsonl", "\n".join(lines).encode(), spec, holdout=0)
    reasons = {bad.line: bad.reason for bad in check.bad}
    assert sorted(reasons) == [2, 3, 4, 5, 6, 7]
    assert reasons[2].startswith("not JSON")
    assert 'missing "messages"' in reasons[3]
    assert "unknown role 'wizard'" in reasons[4]
    assert reasons[5] == "message 1 has no role"
    assert reasons[6] == "no assistant message (nothing to learn from)"
    assert reasons[7] == "message 1 (user) has empty content"
    assert [e.line for e in check.train] == [1, 9]
    assert not check.ok and "6 bad line(s)" in (check.problem or "")


def test_tokens_are_counted_with_the_models_tokenizer_and_priced_per_million_times_epochs():
    spec = load_specs()["gpt-4o-mini"]
    check = check_training_file("set.jsonl", good_file(20), spec, epochs=4, holdout=0.25, seed=7)
    estimator = estimator_for(spec.model)
    first = check.train[0]
    assert first.tokens == estimator.count_request(ChatRequest(messages=first.messages))
    assert check.counted_by == f"estimated:{estimator.name}"
    assert len(check.holdout) == 5 and len(check.train) == 15
    assert {e.line for e in check.holdout}.isdisjoint({e.line for e in check.train})
    assert check.billed_tokens == 4 * sum(e.tokens for e in check.train)
    assert check.cost.usd == Decimal(check.billed_tokens) * Decimal("3.00") / Decimal(1_000_000)
    assert check.cost.source == "models file: price_training_per_mtok"
    # The split is seeded: the same seed holds out the same lines, another seed others.
    again = check_training_file("set.jsonl", good_file(20), spec, epochs=4, holdout=0.25, seed=7)
    other = check_training_file("set.jsonl", good_file(20), spec, epochs=4, holdout=0.25, seed=8)
    assert [e.line for e in again.holdout] == [e.line for e in check.holdout]
    assert [e.line for e in other.holdout] != [e.line for e in check.holdout]
    # What is uploaded is the training examples only, in OpenAI's format.
    sent = [json.loads(line) for line in check.training_jsonl().decode().splitlines()]
    assert len(sent) == 15 and sent[0]["messages"][-1]["role"] == "assistant"


def test_an_example_over_the_context_window_names_both_numbers():
    spec = tunable("http://127.0.0.1:9/v1", context_window=30)
    lines = [chat_line("short", "ok"), chat_line("word " * 50, "ok")]
    check = check_training_file("set.jsonl", "\n".join(lines).encode(), spec, holdout=0)
    [bad] = check.bad
    assert bad.line == 2 and "over base's 30-token context window" in bad.reason
    assert bad.reason.split(" tokens")[0].isdigit() and int(bad.reason.split(" tokens")[0]) > 30


def test_csv_prompt_completion_rows_become_chat_examples():
    spec = load_specs()["gpt-4o-mini"]
    data = b'prompt, completion\n"Capital of France?",Paris\nEmpty answer,\n,\n"2+2?",4\n'
    check = check_training_file("set.csv", data, spec, holdout=0)
    assert [(b.line, b.reason) for b in check.bad] == [(3, "empty completion")]
    assert [tuple(m.role for m in e.messages) for e in check.train] == [("user", "assistant")] * 2
    assert check.train[0].messages[1] == Message("assistant", "Paris")
    with pytest.raises(TrainingFileError, match="set.csv line 1: a training CSV needs prompt and completion"):
        check_training_file("set.csv", b"question,answer\nq,a\n", spec)


def test_unknown_price_is_unknown_never_zero_and_file_limits_name_the_file(monkeypatch):
    spec = tunable("http://127.0.0.1:9/v1", price_training_per_mtok=None)
    check = check_training_file("set.jsonl", good_file(12), spec, holdout=0)
    assert check.cost.usd is None and check.cost.label == "unknown"
    monkeypatch.setenv("PLAYGROUND_MAX_TRAINING_MB", "0.0001")
    with pytest.raises(TrainingFileError, match=r"big.jsonl is 0.0 MB, over the 0.0001 MB limit"):
        check_training_file("big.jsonl", b"x" * 1000, spec)
    monkeypatch.delenv("PLAYGROUND_MAX_TRAINING_MB")
    with pytest.raises(TrainingFileError, match="set.txt: use a chat-format .jsonl"):
        check_training_file("set.txt", b"hello", spec)
    with pytest.raises(TrainingFileError, match="empty.jsonl is empty"):
        check_training_file("empty.jsonl", b"  \n", spec)
    with pytest.raises(TrainingFileError, match=r"latin.jsonl is not UTF-8 text \(line 2\)"):
        check_training_file("latin.jsonl", b"{}\n\xe9", spec)


def test_fine_tunable_is_for_openai_and_azure_chat_models_and_unknown_or_untunable_bases_are_refused():
    with pytest.raises(
        SpecError, match="fine_tunable is for chat models of a provider with a fine-tuning API"
    ):
        parse_models_text(
            '[models.x]\nprovider = "huggingface"\nmodel = "m"\nfine_tunable = true\n', "f.toml"
        )
    tuning = Tuning(Store(), load_specs())
    with pytest.raises(TuningError, match="unknown base model 'nope'"):
        tuning.check("set.jsonl", good_file(), "nope")
    with pytest.raises(
        TuningError, match=r"smollm2-135m cannot be fine-tuned here \(fine-tunable models: .*gpt-4o-mini"
    ):
        tuning.check("set.jsonl", good_file(), "smollm2-135m")


# --- hosted jobs ----------------------------------------------------------------------------------------
def follow_to_end(tuning: Tuning, job_id: str, most: int = 20):
    for _ in range(most):
        job = tuning.follow(job_id)
        if job.ended:
            return job
    raise AssertionError("the job never ended")


def test_an_openai_job_uploads_starts_follows_its_loss_and_succeeds(scripted, monkeypatch):
    monkeypatch.setenv("TUNE_TEST_KEY", "sk-tune-test")
    url = scripted.url("tune~steps=3~id=ok")
    specs = {"base": tunable(url, source="built-in")}
    store = Store()
    tuning = Tuning(store, specs)
    check = tuning.check("set.jsonl", good_file(20), "base", epochs=2, holdout=0.2, seed=1)
    job = tuning.start(check, suffix="mine")
    assert job.state == "validating_files" and job.saved.upstream_id.startswith("ftjob-")
    upload = next(r for r in scripted.requests if r["path"].startswith("/tune~steps=3~id=ok/v1/files"))
    assert upload["body"]["purpose"] == "fine-tune" and upload["body"]["file"]["lines"] == 16
    assert {k.lower(): v for k, v in upload["headers"].items()}["authorization"] == "Bearer sk-tune-test"
    # scripted.requests holds the whole session's: this test's own scenario only
    create = next(r for r in scripted.requests if r["path"] == "/tune~steps=3~id=ok/v1/fine_tuning/jobs")
    assert create["body"]["model"] == "gpt-4o-mini-2024-07-18"
    assert create["body"]["method"]["supervised"]["hyperparameters"]["n_epochs"] == 2
    assert (
        create["body"]["training_file"] == job.saved.training_file_id and create["body"]["suffix"] == "mine"
    )

    done = follow_to_end(tuning, job.id)
    assert done.state == "succeeded" and done.saved.fine_tuned_model.startswith(
        "ft:gpt-4o-mini-2024-07-18:scripted:mine:"
    )
    assert [(p.step, p.train_loss) for p in done.losses] == [(1, 1.75), (2, 1.225), (3, 0.8575)]
    assert done.events[0].message.startswith("Validating training file")
    assert len({e.id for e in done.events}) == len(done.events)  # each event saved once
    assert done.saved.trained_tokens == 1200 and len(done.saved.holdout) == 4
    # Ended: following again asks the provider nothing.
    before = len(scripted.requests)
    assert tuning.follow(job.id).state == "succeeded" and len(scripted.requests) == before

    # Another replica (another Tuning on the same database) sees the same job.
    other = Tuning(Store(store.url), specs).job(job.id)
    assert other.saved.fine_tuned_model == done.saved.fine_tuned_model and other.losses == done.losses

    tuned = tuning.tuned_spec(job.id)
    assert tuned.key.startswith("base+") and tuned.model == done.saved.fine_tuned_model
    assert tuned.price_input_per_mtok is None and not tuned.fine_tunable
    entry = models_file_entry(tuned)
    assert parse_models_text(entry, "x.toml")[tuned.key].model == tuned.model

    # The estimate went into the usage ledger (kind "tune") at the start; once the job succeeded, the
    # difference to the cost of the tokens the provider reports it trained, once.
    assert store.writer.flush(10)
    rows = [r for r in store.usage_since(datetime(2000, 1, 1, tzinfo=UTC)) if r.kind == "tune"]
    assert [(r.ref_id, r.model, r.cost_source) for r in rows] == [
        (job.id, "base", "estimated: price_training_per_mtok"),
        (job.id, "base", "reported trained_tokens"),
    ]
    assert rows[0].cost_usd == check.cost.usd > 0
    trained_cost = Decimal(1200) * Decimal("3.00") / Decimal(1_000_000)
    assert done.saved.settled_usd == trained_cost and sum(r.cost_usd for r in rows) == trained_cost


def test_a_failed_job_keeps_its_events_and_a_cancelled_one_spends_nothing_more(scripted, monkeypatch):
    monkeypatch.setenv("TUNE_TEST_KEY", "sk-tune-test")
    specs = {
        "fails": tunable(scripted.url("tune~steps=2~end=failed~id=f"), key="fails", source="built-in"),
        "slow": tunable(scripted.url("tune~steps=50~id=c"), key="slow", source="built-in"),
    }
    tuning = Tuning(Store(), specs)
    failed = tuning.start(tuning.check("set.jsonl", good_file(), "fails", holdout=0))
    failed = follow_to_end(tuning, failed.id)
    assert (
        failed.state == "failed" and failed.saved.error == "invalid_training_file: The job failed (scripted)."
    )
    assert [p.step for p in failed.losses] == [1, 2] and failed.events[-1].level == "error"

    going = tuning.start(tuning.check("set.jsonl", good_file(), "slow", holdout=0))
    tuning.follow(going.id)
    tuning.follow(going.id)
    cancelled = tuning.cancel(going.id)
    assert cancelled.state == "cancelled" and cancelled.events[-1].message == "Job was cancelled."
    assert [p.step for p in cancelled.losses] == [1]
    before = len(scripted.requests)
    assert tuning.follow(going.id).state == "cancelled" and tuning.cancel(going.id).state == "cancelled"
    assert len(scripted.requests) == before  # an ended job is never asked about again


def test_azure_jobs_go_through_azures_url_shape_with_its_key_header(scripted, monkeypatch):
    endpoint = scripted.url("tune~steps=1~id=azure-tune").removesuffix("/v1")
    monkeypatch.setenv("AZ_TUNE_KEY", "azure-tune-key")
    monkeypatch.setenv("AZ_TUNE_ENDPOINT", endpoint)
    spec = ModelSpec(
        key="az",
        provider="azure",
        model="gpt-4o-mini-2024-07-18",
        api_key_env="AZ_TUNE_KEY",
        endpoint_env="AZ_TUNE_ENDPOINT",
        api_version="2024-10-21",
        fine_tunable=True,
    )
    tuning = Tuning(Store(), {"az": spec})
    job = tuning.start(tuning.check("set.jsonl", good_file(), "az", holdout=0))
    done = follow_to_end(tuning, job.id)
    assert done.state == "succeeded" and done.saved.kind == "azure"
    # (another test's Azure calls use id=azure: this one's own scenario only)
    paths = [r["path"] for r in scripted.requests if "id=azure-tune/" in r["path"]]
    assert paths[0] == "/tune~steps=1~id=azure-tune/openai/files?api-version=2024-10-21"
    assert "/tune~steps=1~id=azure-tune/openai/fine_tuning/jobs?api-version=2024-10-21" in paths
    assert any("/openai/fine_tuning/jobs/ftjob-" in p and "/events?" in p for p in paths)
    azure = [r for r in scripted.requests if "id=azure-tune/" in r["path"]]
    assert all({k.lower(): v for k, v in r["headers"].items()}["api-key"] == "azure-tune-key" for r in azure)
    assert done.saved.cost_source == "unknown"  # Azure's training price is not in the models file


def test_a_provider_refusal_leaves_a_failed_job_that_says_why_and_a_missing_key_starts_nothing(
    scripted, monkeypatch
):
    from providers.errors import MissingKeyError

    refused = tunable(scripted.url("status~code=400"), key="refused", source="built-in")
    tuning = Tuning(Store(), {"refused": refused, **load_specs()})
    with pytest.raises(MissingKeyError, match="OPENAI_API_KEY"):
        tuning.start(tuning.check("set.jsonl", good_file(), "gpt-4o-mini", holdout=0))
    assert tuning.jobs() == []
    monkeypatch.setenv("TUNE_TEST_KEY", "sk-x")
    check = tuning.check("set.jsonl", good_file(), "refused", holdout=0)
    job = tuning.start(check)
    assert job.state == "failed" and "scripted failure" in (job.saved.error or "")
    assert [j.id for j in tuning.jobs()] == [job.id]


def test_a_server_key_never_goes_to_a_url_a_visitor_typed(scripted, monkeypatch):
    monkeypatch.setenv("TUNE_TEST_KEY", "sk-server-secret")
    visitor = tunable(scripted.url("tune~id=visitor"), key="visitor", source="session")
    tuning = Tuning(Store(), {"visitor": visitor})
    tuning.start(tuning.check("set.jsonl", good_file(), "visitor", holdout=0))
    sent = [r for r in scripted.requests if "id=visitor" in r["path"]]
    assert sent and all("sk-server-secret" not in json.dumps(r["headers"]) for r in sent)


@pytest.mark.skipif(not os.environ.get("OPENAI_API_KEY"), reason="needs OPENAI_API_KEY (spends real money)")
def test_the_real_openai_api_takes_a_file_and_a_job_and_cancels_it():  # pragma: no cover - needs a key
    specs = load_specs()
    tuning = Tuning(Store(), specs)
    job = tuning.start(tuning.check("set.jsonl", good_file(12), "gpt-4o-mini", epochs=1, holdout=0))
    assert job.saved.upstream_id and job.state in ("validating_files", "queued", "running")
    assert tuning.cancel(job.id).state == "cancelled"


# --- base vs tuned --------------------------------------------------------------------------------------
def test_base_vs_tuned_runs_the_held_out_split_on_both_and_gives_the_difference_with_its_interval(
    scripted, monkeypatch
):
    monkeypatch.setenv("TUNE_TEST_KEY", "sk-tune-test")
    from playground.tuning import compare_base_tuned

    url = scripted.url("tune~steps=1~id=versus")
    specs = {
        "base": tunable(
            url, source="built-in", price_input_per_mtok=Decimal("1"), price_output_per_mtok=Decimal("2")
        )
    }
    store = Store()
    tuning = Tuning(store, specs)
    lines = [chat_line(f"say word{i}", f"say word{i}", system="Repeat me.") for i in range(30)]
    job = tuning.start(tuning.check("set.jsonl", "\n".join(lines).encode(), "base", holdout=0.2, seed=3))
    follow_to_end(tuning, job.id)
    with pytest.raises(UsageError, match="unknown metric 'nope'"):
        compare_base_tuned(tuning, job.id, metric="nope")

    result = compare_base_tuned(tuning, job.id, metric="contains")
    # The scripted base answers "I do not know"; the tuned model (an ft: id) says the prompt back.
    assert result.base.metrics["contains"].mean == 0.0 and result.tuned.metrics["contains"].mean == 1.0
    assert result.paired == 6 and result.difference == 1.0 and result.ci_low == result.ci_high == 1.0
    assert result.base.rows == result.tuned.rows == 6 and result.tuned.output_tokens > 0
    assert (
        result.base.cost_usd is not None and result.tuned.cost_usd is None
    )  # a tuned model's price is unknown
    assert "contains: +1.000 (95% interval +1.000 to +1.000), 6 examples" in result.reading
    sent = [
        r["body"]
        for r in scripted.requests
        if "id=versus" in r["path"] and r["path"].endswith("/chat/completions")
    ]
    assert len(sent) == 12 and all(
        b["messages"][0] == {"role": "system", "content": "Repeat me."} for b in sent
    )
    assert {b["model"] for b in sent} == {
        "gpt-4o-mini-2024-07-18",
        job.saved.fine_tuned_model or tuning.job(job.id).saved.fine_tuned_model,
    }


def test_paired_differences_have_a_t_interval_that_may_go_below_zero():
    from playground.tuning.versus import _versus

    summary = object()
    result = _versus("e", "m", summary, summary, [1.0, 0.0, -1.0, 0.0, 1.0])  # type: ignore[arg-type]
    assert result.difference == pytest.approx(0.2)
    assert result.ci_low is not None and result.ci_low < 0 < result.ci_high


def test_hosted_starts_are_admitted_with_the_estimated_cost_charged_to_the_user_and_only_theirs_listed(
    scripted,
):
    from playground.core import HostedPolicy, User
    from playground.core.policy import Limits, day_start
    from playground.engine import Keyring
    from playground.hosting import Gate, LimitExceededError

    alice = User("https://id.example|alice", "Alice", "alice@example.com")
    bob = User("https://id.example|bob", "Bob", "bob@example.com")
    keys = Keyring(server={"TUNE_TEST_KEY": "server-secret"}, hosted=True)
    gate = Gate(HostedPolicy(enabled=True, limits=Limits(daily_usd=Decimal("0.01"))))
    # A price that makes one job cost a visible part of the $0.01 budget.
    spec = tunable(scripted.url("tune~id=hosted"), source="built-in", price_training_per_mtok=Decimal("20"))
    store = Store()
    tuning = Tuning(store, {"base": spec}, keys, alice, gate)
    check = tuning.check("set.jsonl", good_file(20), "base", epochs=1, holdout=0)
    assert Decimal("0.005") < check.cost.usd < Decimal("0.01")
    job = tuning.start(check)
    assert job.saved.owner == alice.id and job.saved.estimated_cost_usd == check.cost.usd
    assert store.spent_since(alice.id, day_start()) == check.cost.usd
    assert gate.going(alice) == []  # the admission was freed once the job was accepted and charged

    sent = len(scripted.requests)
    with pytest.raises(LimitExceededError, match="PLAYGROUND_USER_DAILY_USD"):
        tuning.start(check)
    assert len(scripted.requests) == sent and len(tuning.jobs()) == 1  # refused before anything was sent

    other = Tuning(store, {"base": spec}, keys, bob, gate)
    assert other.jobs() == []
    with pytest.raises(TuningError, match="no fine-tuning job"):
        other.follow(job.id)
    with pytest.raises(TuningError, match="no fine-tuning job"):
        other.cancel(job.id)


def test_a_models_file_entry_keeps_a_providers_model_id_inside_its_quotes():
    spec = ModelSpec(key='tuned+"x"', provider="openai", model='ft:m:org::a"\n[models.evil]', api_key_env="K")
    parsed = parse_models_text(models_file_entry(spec), "entry.toml")
    assert list(parsed) == ['tuned+"x"'] and parsed['tuned+"x"'].model == spec.model


def test_the_scripted_fine_tuning_api_answers_in_the_sdks_own_types_validated_strictly(scripted):
    import openai
    from openai.types import FileObject
    from openai.types.fine_tuning import FineTuningJob, FineTuningJobEvent

    client = openai.OpenAI(api_key="sk-shape", base_url=scripted.url("tune~steps=1~id=shape"), max_retries=0)
    raw_file = client.files.with_raw_response.create(
        file=("t.jsonl", good_file(3)), purpose="fine-tune"
    ).http_response
    FileObject.model_validate(raw_file.json())  # every field, its type and literal, as openai-python declares
    file_id = raw_file.json()["id"]
    created = client.fine_tuning.jobs.with_raw_response.create(
        model="gpt-4o-mini-2024-07-18", training_file=file_id
    )
    job = FineTuningJob.model_validate(created.http_response.json())
    assert job.status == "validating_files" and job.training_file == file_id
    for _ in range(4):
        job = FineTuningJob.model_validate(
            client.fine_tuning.jobs.with_raw_response.retrieve(job.id).http_response.json()
        )
    assert job.status == "succeeded" and job.fine_tuned_model and job.trained_tokens
    listed = client.fine_tuning.jobs.with_raw_response.list().http_response.json()
    assert listed["object"] == "list" and listed["has_more"] is False
    assert job.id in [FineTuningJob.model_validate(j).id for j in listed["data"]]
    page = client.fine_tuning.jobs.with_raw_response.list_events(job.id, limit=2).http_response.json()
    events = [FineTuningJobEvent.model_validate(e) for e in page["data"]]
    assert page["has_more"] is True and len(events) == 2  # newest first, two of four
    assert events[0].message == "The job has successfully completed" and events[1].type == "metrics"
    assert events[1].data == {
        "step": 1,
        "train_loss": 1.75,
        "total_steps": 1,
        "train_mean_token_accuracy": 0.5,
    }
    # The SDK's own pagination walks every page (after = the last id seen).
    assert [e.message for e in client.fine_tuning.jobs.list_events(job.id, limit=2)][-1].startswith(
        "Validating"
    )
    missing = client.fine_tuning.jobs.with_raw_response
    with pytest.raises(openai.NotFoundError):
        missing.retrieve("ftjob-nope")


def test_two_replicas_following_one_job_on_postgresql_save_each_event_once_and_settle_once(
    scripted, monkeypatch, postgres_cluster
):
    import threading

    from tests import postgres

    monkeypatch.setenv("TUNE_TEST_KEY", "sk-tune-test")
    url = postgres.fresh_database(postgres_cluster)
    specs = {"base": tunable(scripted.url("tune~steps=4~id=pg"), source="built-in")}
    first, second = Tuning(Store(url), specs), Tuning(Store(url), specs)
    job = first.start(first.check("set.jsonl", good_file(), "base", holdout=0))
    barrier = threading.Barrier(2)

    def follow(tuning: Tuning) -> None:
        barrier.wait()
        for _ in range(20):
            if tuning.follow(job.id).ended:
                return

    threads = [threading.Thread(target=follow, args=(t,)) for t in (first, second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    done = second.job(job.id)
    assert done.state == "succeeded" and [p.step for p in done.losses] == [1, 2, 3, 4]
    assert len({e.id for e in done.events}) == len(done.events) == 7
    for tuning in (first, second):
        assert tuning.store.writer.flush(10)
    rows = [r for r in first.store.usage_since(datetime(2000, 1, 1, tzinfo=UTC)) if r.kind == "tune"]
    assert [r.cost_source for r in rows] == ["estimated: price_training_per_mtok", "reported trained_tokens"]


def test_in_hosted_mode_the_servers_tuned_model_is_compared_on_the_servers_key(
    scripted,
):
    from playground.core import HostedPolicy, User
    from playground.core.policy import Limits
    from playground.engine import Keyring
    from playground.hosting import Gate
    from playground.tuning import compare_base_tuned

    alice = User("https://id.example|alice", "Alice", "alice@example.com")
    keys = Keyring(server={"TUNE_TEST_KEY": "server-secret"}, hosted=True)
    limits = Limits(daily_usd=Decimal("1"), unpriced_allowed=frozenset({"*"}))  # a tuned model has no price
    gate = Gate(HostedPolicy(enabled=True, limits=limits))
    spec = tunable(scripted.url("tune~steps=1~id=hosted-versus"), source="built-in")
    tuning = Tuning(Store(), {"base": spec}, keys, alice, gate)
    lines = [chat_line(f"say word{i}", f"say word{i}") for i in range(20)]
    job = tuning.start(tuning.check("set.jsonl", "\n".join(lines).encode(), "base", holdout=0.2))
    follow_to_end(tuning, job.id)
    assert tuning.tuned_spec(job.id).source == "built-in"  # the server's, as its base
    result = compare_base_tuned(tuning, job.id)
    assert result.tuned.errors == 0 and result.difference == 1.0
    sent = [
        r for r in scripted.requests if "id=hosted-versus" in r["path"] and "chat/completions" in r["path"]
    ]
    assert len(sent) == 8 and all(
        {k.lower(): v for k, v in r["headers"].items()}["authorization"] == "Bearer server-secret"
        for r in sent
    )


def test_build_tuner_refuses_a_model_whose_spec_or_provider_cannot_be_tuned():
    from playground.engine import NotTunableError, build_tuner

    with pytest.raises(NotTunableError, match="smollm2-135m cannot be fine-tuned here"):
        build_tuner(load_specs()["smollm2-135m"])
    with pytest.raises(NotTunableError, match="text-embedding-3-small cannot be fine-tuned here"):
        build_tuner(load_specs()["text-embedding-3-small"])
