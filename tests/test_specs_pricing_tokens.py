"""Model specs, genai-prices pricing with overrides, and offline token estimates."""

from __future__ import annotations

from decimal import Decimal

import pytest

from playground.core.specs import SpecError, load_specs, parse_models_text
from playground.engine.pricing import cost_of, genai_prices_data_date, price_for
from playground.engine.tokens import estimator_for, preferred_encoding
from providers.base import ChatRequest, Message


def test_builtin_specs_have_both_local_models_and_hosted_entries():
    specs = load_specs()
    assert specs["smollm2-135m"].provider == "llamacpp" and specs["smollm2-135m"].stage == "instruct"
    assert specs["gemma3-270m"].is_completion and specs["gemma3-270m"].stage == "base"
    assert {s.provider for s in specs.values()} == {
        "llamacpp",
        "openai",
        "azure",
        "huggingface",
        "wordllama",
        "faster-whisper",
        "piper",
    }


def test_user_file_adds_and_overrides_by_key(tmp_path, monkeypatch):
    user = tmp_path / "mine.toml"
    user.write_text(
        '[models.gpt-4o-mini]\nprovider = "openai"\nmodel = "gpt-4o-mini"\n'
        'price_input_per_mtok = 1\nprice_output_per_mtok = "2.5"\n\n'
        '[models.mine]\nprovider = "openai"\nmodel = "llama3"\nbase_url = "http://127.0.0.1:1/v1"\n'
    )
    monkeypatch.setenv("PLAYGROUND_MODELS_FILE", str(user))
    specs = load_specs()
    assert specs["mine"].base_url == "http://127.0.0.1:1/v1"
    assert specs["gpt-4o-mini"].price_output_per_mtok == Decimal("2.5")
    assert "smollm2-135m" in specs


@pytest.mark.parametrize(
    "text,message",
    [
        ('[models.a]\nprovider = "openai"\n', "needs a 'model' field"),
        ('[models.a]\nprovider = "openai"\nmodel = "x"\ncontext_window = "big"\n', "wrong type"),
        ('[models.a]\nprovider = "openai"\nmodel = "x"\nprice_input_per_mtok = -1\n', "cannot be negative"),
        ('[models.a]\nprovider = "openai"\nmodel = "x"\ncolour = 1\n', "unknown field(s) colour"),
        ('[models.a]\nprovider = "openai"\nmodel = "x"\nstage = "chat"\n', "unknown stage"),
    ],
)
def test_bad_specs_are_refused_with_file_and_line(text, message):
    with pytest.raises(SpecError) as info:
        parse_models_text("\n\n" + text, "f.toml")
    assert message in str(info.value) and "f.toml, line 3" in str(info.value)


def test_genai_prices_model_is_priced_with_its_data_date():
    spec = load_specs()["gpt-4o-mini"]
    cost, source = cost_of(spec, 1_000_000, 1_000_000)
    assert cost == Decimal("0.15") + Decimal("0.6")
    assert source == f"genai-prices:{genai_prices_data_date()}"
    assert genai_prices_data_date()[:2] == "20"


def test_override_wins_and_local_is_local_and_unknown_is_unknown():
    specs = parse_models_text(
        '[models.o]\nprovider = "openai"\nmodel = "gpt-4o-mini"\nprice_input_per_mtok = 2\nprice_output_per_mtok = 8\n'
        '[models.u]\nprovider = "openai"\nmodel = "my-private-model"\nbase_url = "http://127.0.0.1:9/v1"\n'
        '[models.l]\nprovider = "llamacpp"\nmodel = "x"\ngguf = "smollm2-135m"\n',
        "t.toml",
    )
    assert cost_of(specs["o"], 500_000, 250_000) == (Decimal("3"), "override")
    assert cost_of(specs["u"], 10, 10) == (None, "unknown")
    assert cost_of(specs["l"], 10, 10) == (None, "local")
    assert price_for(specs["l"]) is None


def test_offline_estimator_falls_back_to_bundled_cl100k_and_says_so():
    estimator = estimator_for("gpt-4o-mini")
    assert preferred_encoding("gpt-4o-mini") == "o200k_base"
    assert estimator.name == "cl100k_base"  # o200k_base is not cached on a fresh offline machine
    assert estimator.count_text("hello world") == 2


def test_chat_messages_are_counted_the_cookbook_way():
    estimator = estimator_for("gpt-4")
    request = ChatRequest(messages=(Message("system", "You are terse."), Message("user", "Hi there")))
    expected = 3 + sum(
        3 + estimator.count_text(m.role) + estimator.count_text(m.content) for m in request.messages
    )
    assert estimator.count_request(request) == expected
    # The cookbook's published example: "You are a helpful, pattern-following assistant..." is beyond
    # scope; a single "hello" user message is 8 tokens under cl100k_base (3 + 1 role + 1 text + 3).
    assert estimator.count_request(ChatRequest(messages=(Message("user", "hello"),))) == 8


def test_a_provider_and_task_no_adapter_serves_is_one_clear_error():
    import pytest

    from playground.core.specs import ModelSpec
    from playground.engine.registry import build_provider, usability
    from providers.table import UnsupportedTaskError

    for provider, task in (
        ("openai", "speech"),
        ("huggingface", "completion"),
        ("llamacpp", "text-to-image"),
    ):
        spec = ModelSpec(key="x", provider=provider, model="m", task=task, api_key_env=None)
        with pytest.raises(
            UnsupportedTaskError, match=f"the {provider} adapter does not serve {task} models"
        ):
            build_provider(spec, {})
        usable, why = usability(spec, {})
        assert not usable and f"does not serve {task}" in why


def test_every_adapter_declares_what_it_is_once():
    from providers.base import SAMPLING_PARAMS, CallTarget, ChatRequest, Message
    from providers.table import ADAPTERS

    request = ChatRequest(messages=(Message("user", "hi"),), temperature=0.5)
    for name, cls in ADAPTERS.items():
        assert cls.name == name and cls.tasks and set(cls.accepts) <= set(SAMPLING_PARAMS)
        if cls.tasks == ("embeddings",):  # no prompt to send: its snippet embeds the text
            snippet = cls.snippet(CallTarget(model="l2_supercat-256"), request)
            assert "embed(['hi']" in snippet.python and snippet.curl is None
            continue
        if set(cls.tasks) & {"speech-to-text", "text-to-speech"}:  # no prompt: it hears or reads aloud
            snippet = cls.snippet(CallTarget(model="m"), request)
            assert "speech.wav" in snippet.python and snippet.curl is None
            continue
        snippet = cls.snippet(CallTarget(model="m", key_env="SOME_KEY"), request)
        assert "temperature=0.5" in snippet.python and "'content': 'hi'" in snippet.python
        assert (snippet.curl is None) == cls.runs_locally  # local models have no HTTP API to curl
    assert [n for n, c in ADAPTERS.items() if c.runs_locally] == [
        "llamacpp",
        "wordllama",
        "faster-whisper",
        "piper",
    ]
