"""The hosted adapters end to end against a real OpenAI-compatible server (llama.cpp serving SmolLM2),
and the llamacpp adapter on both bundled models."""

from __future__ import annotations

import pytest

from playground.core.params import Params, build_request
from playground.core.specs import load_specs
from playground.engine.registry import build_provider
from playground.engine.runner import run_model
from tests.conftest import remote_spec

PARAMS = Params(temperature=0.0, max_tokens=24, seed=1)


@pytest.mark.parametrize("provider", ["openai", "huggingface"])
def test_hosted_adapter_streams_from_real_server(llama_server, provider):
    spec = remote_spec(llama_server, provider=provider, model="smollm2")
    request = build_request(spec, "Name three colors.", "Answer briefly.", PARAMS)
    deltas: list[str] = []
    result = run_model(spec, build_provider(spec, {}), request, timeout_s=60, on_delta=deltas.append)
    assert result.ok, result.error
    assert result.text.strip()
    assert "".join(deltas) == result.text
    assert len(deltas) > 1  # really streamed, not one blob
    assert 0 < result.ttft_s <= result.total_s
    assert result.output_tokens and result.output_tokens <= 24 + 2
    # llama.cpp's server leaves usage out of streamed responses: then we count, and say how.
    assert result.usage_source in ("reported", "estimated:cl100k_base")
    assert result.finish_reason in ("stop", "length")
    assert result.cost_source == "unknown"


def test_openai_adapter_text_completion_on_real_server(llama_server):
    spec = remote_spec(llama_server, model="smollm2", task="completion")
    request = build_request(spec, "The sky is", None, PARAMS)
    assert request.raw_text == "The sky is"
    result = run_model(spec, build_provider(spec, {}), request, timeout_s=60)
    assert result.ok, result.error
    assert result.text.strip()


def test_local_instruct_model_answers_with_exact_counts():
    spec = load_specs()["smollm2-135m"]
    provider = build_provider(spec)
    request = build_request(spec, "Name three colors.", None, PARAMS)
    result = run_model(spec, provider, request, timeout_s=60)
    assert result.ok, result.error
    assert result.text.strip()
    assert result.usage_source == "counted"
    assert result.input_tokens == provider.count_tokens(request)
    assert 0 < result.output_tokens <= 24
    assert result.cost_usd is None and result.cost_source == "local"
    assert result.output_tokens_per_s and result.output_tokens_per_s > 0


def test_local_base_model_continues_plain_text():
    spec = load_specs()["gemma3-270m"]
    assert spec.is_completion and spec.stage == "base"
    provider = build_provider(spec)
    request = build_request(spec, "The three primary colors are", None, PARAMS)
    assert request.raw_text == "The three primary colors are" and not request.messages
    result = run_model(spec, provider, request, timeout_s=60)
    assert result.ok, result.error
    assert result.text.strip()
    assert result.usage_source == "counted"
    # Counted by the worker with the model's own tokenizer: BOS plus the words.
    assert result.input_tokens == provider.count_tokens(request)
    assert 5 <= result.input_tokens <= 8


def test_same_seed_same_answer_locally():
    spec = load_specs()["smollm2-135m"]
    provider = build_provider(spec)
    request = build_request(spec, "Say something.", None, Params(temperature=0.9, max_tokens=16, seed=7))
    first = run_model(spec, provider, request, timeout_s=60)
    second = run_model(spec, provider, request, timeout_s=60)
    assert first.text == second.text


def test_local_context_overflow_is_refused_before_generation():
    spec = load_specs()["smollm2-135m"]
    provider = build_provider(spec)
    request = build_request(spec, "word " * 9000, None, PARAMS)
    result = run_model(spec, provider, request, timeout_s=60)
    assert result.error.kind == "context_overflow"
    assert str(spec.context_window) in result.error.message
