"""Local LoRA fine-tuning: the training set check, names, the worker job (progress, stop), the GGUF
adapter (its metadata, llama.cpp loading it, its arithmetic matching peft's), and the shipped sample
changing the held-out metric, through the same spec path Compare and Evaluate use."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from playground.core.specs import load_specs
from playground.lora import (
    SAMPLE_PATTERN,
    TrainingSetError,
    TunedModelNameError,
    TuneEnded,
    TuneProgress,
    TuneSettingsError,
    UnknownBaseModelError,
    check_name,
    list_tuned_models,
    parse_training_set,
    read_adapter_facts,
    sample_training_set,
    start_local_tune,
    with_tuned_models,
)
from providers.local_models import gguf_path
from tests.lora_heldout import style_rate

GOOD = json.dumps(
    {"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Answer: hi"}]}
)
# Short on purpose (2 cores shared): the sample's style is learnt in a few steps of 4 short examples.
TEST_STEPS = 12


def test_a_malformed_training_file_names_every_bad_line():
    text = "\n".join(
        [
            GOOD,
            "{not json",
            json.dumps({"messages": [{"role": "user", "content": "Q"}]}),
            json.dumps(
                {"messages": [{"role": "wizard", "content": "x"}, {"role": "assistant", "content": "y"}]}
            ),
            json.dumps(
                {"messages": [{"role": "user", "content": " "}, {"role": "assistant", "content": "y"}]}
            ),
            json.dumps({"prompt": "old format"}),
        ]
    )
    with pytest.raises(TrainingSetError) as caught:
        parse_training_set(text, "train.jsonl")
    message = str(caught.value)
    assert message.startswith("train.jsonl: 5 bad line(s)")
    for expected in (
        "line 2: not JSON",
        "line 3: the last message must be the assistant's",
        "line 4: message 1: role must be one of",
        "line 5: message 1: content must be non-empty",
        'line 6: expected an object with a "messages" list',
    ):
        assert expected in message
    assert len(parse_training_set(GOOD + "\n\n" + GOOD)) == 2


def test_bad_input_is_refused_before_any_worker_starts(tmp_path):
    root = tmp_path / "tuned"
    with pytest.raises(TrainingSetError, match="file not found"):
        start_local_tune(tmp_path / "missing.jsonl", "x", root=root)
    with pytest.raises(UnknownBaseModelError, match="unknown base model 'gemma3-270m'"):
        start_local_tune(parse_training_set(GOOD), "x", "gemma3-270m", root=root)
    with pytest.raises(TuneSettingsError, match="steps must be between"):
        start_local_tune(parse_training_set(GOOD), "x", steps=0, root=root)
    assert not root.exists()  # nothing was started, nothing written


@pytest.mark.parametrize(
    "name", ["", "../up", "a/b", "Caps", "dot.name", "-lead", "trail-", "x" * 41, "sp ace"]
)
def test_names_that_could_be_path_tricks_are_refused(name):
    with pytest.raises(TunedModelNameError):
        check_name(name)


def test_a_damaged_manifest_hides_only_its_own_model(tmp_path):
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "manifest.json").write_text("{oops")
    (tmp_path / "half").mkdir()  # a stopped job: log, no manifest
    assert list_tuned_models(tmp_path) == []
    assert with_tuned_models(load_specs(), tmp_path).keys() == load_specs().keys()


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("tuned")
    started = time.monotonic()
    job = start_local_tune(
        sample_training_set(), "answer-style", steps=TEST_STEPS, root=root, threads=2, max_tokens=64
    )
    events = list(job.events())
    return root, job, events, time.monotonic() - started


@pytest.mark.timeout(900)
def test_the_job_reports_each_step_and_ends_with_a_listed_model(trained):
    root, job, events, _seconds = trained
    progress = [e for e in events if isinstance(e, TuneProgress)]
    assert [p.step for p in progress] == list(range(1, TEST_STEPS + 1))
    assert all(p.loss is not None and p.step_s > 0 for p in progress)
    assert progress[-1].left_s == 0 and progress[0].left_s > 0
    assert progress[-1].loss < progress[0].loss  # it learnt something
    assert events[-1] == job.ended and job.ended.state == "finished"
    logged = [json.loads(line) for line in job.log_path.read_text().splitlines()]
    assert [r["kind"] for r in logged] == ["TuneProgress"] * TEST_STEPS + ["TuneEnded"]
    [model] = list_tuned_models(root)
    assert (model.key, model.steps, model.rank, model.examples) == (
        "smollm2-135m+answer-style",
        TEST_STEPS,
        8,
        48,
    )
    assert job.result() == model
    with pytest.raises(TunedModelNameError, match="already exists"):
        start_local_tune(sample_training_set(), "answer-style", root=root)


@pytest.mark.timeout(900)
def test_the_adapter_is_a_gguf_lora_that_llama_cpp_loads_and_that_changes_answers(trained):
    root, job, _events, _seconds = trained
    adapter = Path(job.result().adapter_path)
    facts = read_adapter_facts(adapter)
    assert facts["general.type"] == "adapter" and facts["adapter.type"] == "lora"
    assert facts["general.architecture"] == "llama" and facts["adapter.lora.alpha"] == 16.0
    assert facts["tensors"] == 30 * 7 * 2  # 30 blocks, 7 projections, A and B
    # In a process of its own, as the app loads llama.cpp only in workers (test_local_workers checks this one).
    script = f"""
import json
from llama_cpp import Llama
question = [{{"role": "user", "content": "What is the capital of Germany?"}}]
answers = []
for lora in (None, {str(adapter)!r}):
    llm = Llama(model_path={str(gguf_path("smollm2-135m"))!r}, lora_path=lora, n_ctx=256, n_threads=2, verbose=False)
    reply = llm.create_chat_completion(question, max_tokens=12, temperature=0.0, seed=1)
    answers.append(reply["choices"][0]["message"]["content"])
    llm.close()
print(json.dumps(answers))
"""
    ran = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=600)
    assert ran.returncode == 0, ran.stderr[-2000:]
    answers = json.loads(ran.stdout.strip().splitlines()[-1])
    assert all(a.strip() for a in answers)
    assert answers[0] != answers[1]


@pytest.mark.timeout(900)
def test_the_sample_teaches_its_style_measured_on_the_held_out_set(trained):
    root, _job, _events, seconds = trained
    specs = with_tuned_models(load_specs(), root)
    tuned = specs["smollm2-135m+answer-style"]
    assert tuned.lora and Path(tuned.lora).is_file() and tuned.gguf == "smollm2-135m"
    before, after = style_rate(specs["smollm2-135m"]), style_rate(tuned)
    report = f"base {before.rate:.2f} {before.answers[:3]} -> tuned {after.rate:.2f} {after.answers[:3]} ({seconds:.0f} s)"
    assert SAMPLE_PATTERN == r"^\s*Answer:"
    assert before.rate <= 0.1, report
    assert after.rate >= 0.6, report
    assert after.low > before.high, report  # the 95% intervals do not overlap


@pytest.mark.timeout(600)
def test_stop_ends_the_worker_at_the_next_step_and_keeps_its_log(tmp_path):
    job = start_local_tune(
        sample_training_set(), "stopped", steps=500, root=tmp_path, threads=2, max_tokens=32
    )
    seen = []
    for event in job.events():
        seen.append(event)
        if isinstance(event, TuneProgress):
            job.stop()
    ended = job.ended
    assert isinstance(seen[-1], TuneEnded) and ended.state == "stopped"
    assert 1 <= ended.steps_done < 500 and ended.steps_done == seen[-2].step
    assert not job._process.is_alive()
    logged = job.log_path.read_text().splitlines()
    assert json.loads(logged[-1])["state"] == "stopped" and len(logged) == ended.steps_done + 1
    assert list_tuned_models(tmp_path) == [] and not (tmp_path / "stopped" / "adapter.gguf").exists()


@pytest.mark.timeout(600)
def test_the_written_adapter_moves_llama_cpp_logits_as_peft_moves_transformers(tmp_path, monkeypatch):
    # The adapter writer is hand-written (gguf_adapter.py): the same random LoRA on one layer, run by
    # transformers + peft and by llama.cpp on the shipped GGUF, must move the next-token logits alike. q and
    # k also check the row permutation: the same adapter written without it must agree less. Correlations
    # of the logit shifts with these seeds: q 0.79 as written, 0.53 unpermuted; k 0.64 and -0.25; down_proj
    # 0.96. Other random draws gave q 0.29-0.87, always above its unpermuted write: llama.cpp's quantized
    # matmuls and F16 KV cache add noise that a small shift of q does not rise far above.
    import numpy as np
    import torch
    from llama_cpp import Llama
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    from playground.lora.gguf_adapter import AdapterShape, write_adapter

    path = gguf_path("smollm2-135m")
    model = AutoModelForCausalLM.from_pretrained(path.parent, gguf_file=path.name, dtype=torch.float32)
    config = model.config
    shape = AdapterShape(
        "llama", config.num_hidden_layers, config.num_attention_heads, config.num_key_value_heads, 4, 8
    )
    ids = [1, 4093, 198, 1780, 314, 260, 3575, 282, 4649, 47, 2, 198, 1, 520, 9531, 198]  # a chat turn

    def llama_logits(lora: str | None):
        llm = Llama(
            model_path=str(path), lora_path=lora, n_ctx=64, logits_all=True, n_threads=2, verbose=False
        )
        llm.eval(ids)
        logits = np.array(llm.scores[len(ids) - 1])
        llm.close()
        return logits

    with torch.no_grad():
        base_tf = model(torch.tensor([ids])).logits[0, -1].numpy()
    base_llama = llama_logits(None)
    import playground.lora.gguf_adapter as writer

    permute = writer._unpermute_rows
    for seed, target in enumerate(("q_proj", "k_proj", "down_proj")):
        lora = LoraConfig(
            r=4, lora_alpha=8, target_modules=[target], layers_to_transform=[29], init_lora_weights=False
        )
        torch.manual_seed(seed)  # before get_peft_model: it draws lora_A
        peft_model = get_peft_model(model, lora)
        with torch.no_grad():
            for name, parameter in peft_model.named_parameters():
                if "lora_B" in name:
                    parameter.copy_(torch.randn_like(parameter) * 0.2)
            moved_tf = peft_model(torch.tensor([ids])).logits[0, -1].numpy() - base_tf
        agreement = {}
        for label, rows in (("as written", permute), ("rows unpermuted", lambda weights, _heads: weights)):
            monkeypatch.setattr(writer, "_unpermute_rows", rows)
            adapter = write_adapter(peft_model, shape, tmp_path / f"{target}-{len(agreement)}.gguf", target)
            agreement[label] = np.corrcoef(moved_tf, llama_logits(str(adapter)) - base_llama)[0, 1]
        assert agreement["as written"] > 0.5, (target, agreement)
        if target != "down_proj":
            assert agreement["as written"] > agreement["rows unpermuted"] + 0.2, (target, agreement)
        model = peft_model.unload()
