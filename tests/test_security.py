"""Security holes found by probing a running app, each kept reproduced here (issue: security)."""

from __future__ import annotations

import json

import pytest

from playground.core import custom_endpoint_spec, load_specs
from playground.core.params import Params, build_request
from playground.engine import Keyring, build_provider, run_model
from providers.errors import MissingKeyError

SERVER_SECRET = "server-secret-key-do-not-send-0000"
PARAMS = Params(max_tokens=4)


def _sent_the_server_key(scripted) -> bool:
    return any(SERVER_SECRET in str(request["headers"]) for request in scripted.requests)


def test_the_servers_azure_key_never_goes_to_an_endpoint_a_visitor_typed(scripted):
    spec = load_specs()["azure-gpt-4o-mini"]
    visitor_endpoint = scripted.url("ok~tokens=2").removesuffix("/v1")
    ring = Keyring(
        visitor={"AZURE_OPENAI_ENDPOINT": visitor_endpoint},
        server={"AZURE_OPENAI_API_KEY": SERVER_SECRET, "AZURE_OPENAI_ENDPOINT": "https://server.example"},
    )
    # No key of the visitor's: refused before anything is sent, naming the key to set.
    with pytest.raises(MissingKeyError, match="needs your own key: set AZURE_OPENAI_API_KEY in Settings"):
        build_provider(spec, ring)
    scripted.requests.clear()
    # With the visitor's own key, that key (and only it) goes to the visitor's endpoint.
    ring = Keyring(visitor={**ring.visitor, "AZURE_OPENAI_API_KEY": "visitor-own-key"}, server=ring.server)
    run_model(spec, build_provider(spec, ring), build_request(spec, "hi", None, PARAMS), timeout_s=10)
    assert any("visitor-own-key" in str(r["headers"]) for r in scripted.requests)
    assert not _sent_the_server_key(scripted)


def test_a_visitor_endpoint_never_gets_a_server_variable_of_the_same_name(scripted):
    spec = custom_endpoint_spec("mine", scripted.url("ok~tokens=2"), "m")
    ring = Keyring(visitor={}, server={spec.api_key_env: SERVER_SECRET})
    scripted.requests.clear()
    result = run_model(
        spec, build_provider(spec, ring), build_request(spec, "hi", None, PARAMS), timeout_s=10
    )
    assert result.ok, result.error
    assert scripted.requests and not _sent_the_server_key(scripted)


def test_the_servers_own_models_still_use_the_servers_keys(scripted):
    from playground.core import ModelSpec

    spec = ModelSpec(
        key="cfg", provider="openai", model="m", base_url=scripted.url("ok~tokens=2"), api_key_env="CFG_KEY"
    )
    scripted.requests.clear()
    result = run_model(
        spec,
        build_provider(spec, Keyring(server={"CFG_KEY": SERVER_SECRET})),
        build_request(spec, "hi", None, PARAMS),
        timeout_s=10,
    )
    assert result.ok and _sent_the_server_key(scripted)  # a configured URL: the configured key


def test_a_json_schema_ref_fetches_nothing_and_reads_no_file(scripted, tmp_path):
    from playground.evals.metrics import MetricChoice, score_answer

    secret_file = tmp_path / "secret.json"
    secret_file.write_text('{"type": "string", "description": "TOP-SECRET-CONTENT"}')
    scripted.requests.clear()
    for ref in (scripted.url("ok~tokens=1") + "/schema.json", secret_file.as_uri()):
        choice = MetricChoice("json_schema", {"schema": json.dumps({"$ref": ref})})
        score = score_answer(choice, '{"a": 1}', None)
        assert score.error and "not allowed" in score.error and score.value is None
        assert "TOP-SECRET" not in f"{score.error} {score.detail}"
    assert scripted.requests == []  # nothing was fetched
    # References inside the schema itself still work.
    inner = (
        '{"$defs": {"n": {"type": "integer"}}, "type": "object", "properties": {"a": {"$ref": "#/$defs/n"}}}'
    )
    assert score_answer(MetricChoice("json_schema", {"schema": inner}), '{"a": 1}', None).passed


def test_csv_exports_are_safe_to_open_in_a_spreadsheet():
    import csv
    import io

    from playground.compare import open_history, runs_to_csv
    from playground.core import RunResult

    history = open_history()
    hostile = ['=HYPERLINK("http://evil","x")', "+cmd|' /C calc'!A0", "@SUM(1+1)", "-2+3", "\tTAB", "\rCR"]
    run_id = history.create_run(hostile[0], ["m"], {})
    for text in hostile:
        history.add_result(run_id, RunResult(model="m", text=text, run_id=run_id, ttft_s=-0.0))
    rows = list(csv.DictReader(io.StringIO(runs_to_csv(history.list_runs()))))
    assert {row["text"] for row in rows} == {"'" + text for text in hostile}
    assert rows[0]["prompt"].startswith("'=")
    assert rows[0]["ttft_s"] in ("-0.0", "0.0")  # numbers stay numbers


@pytest.mark.parametrize(
    "template",
    [
        "{{ (7 ** 10000000) % 10 }}",
        "{{ 'x' * 10**8 }}",
        "{{ [1] * 100000000 }}",
        "{{ 2 ** (2 ** 30) }}",
        "{% for i in range(100000) %}{{ 'xyzxyz' }}{% endfor %}",
    ],
)
def test_a_hostile_template_is_refused_within_a_second(template: str):
    import time

    from playground.evals.templating import PromptTemplate, TemplateError

    started = time.monotonic()
    with pytest.raises(TemplateError, match="too large|too long|over .* characters"):
        PromptTemplate(template).check(["text"], [{"text": "hi"}])
    assert time.monotonic() - started < 1.0


def test_ordinary_template_arithmetic_still_works():
    from playground.evals.templating import PromptTemplate

    assert PromptTemplate("{{ 2 ** 10 }} {{ 'ab' * 3 }} {text}").render({"text": "x"}) == "1024 ababab x"


@pytest.mark.parametrize("price", ["-136", "sNaN", "NaN", "Infinity", "abc", "1e999", "1e999999999"])
def test_a_custom_endpoint_price_must_be_a_number_of_zero_or_more(price: str):
    from playground.core import EndpointError

    with pytest.raises(EndpointError, match="Prices must be numbers"):
        custom_endpoint_spec("mine", "http://127.0.0.1:1/v1", "m", price_in=price)


def test_the_server_config_hides_tracebacks_and_caps_uploads():
    import tomllib

    from tests.processes import ROOT

    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert config["client"]["showErrorDetails"] == "none"
    assert config["server"]["maxUploadSize"] <= 10
    assert 'icon=":material/' not in (ROOT / "app.py").read_text()  # no font fetched from a public CDN


def test_the_regex_metrics_time_bound_holds_under_load():
    import subprocess
    import sys
    import threading
    import time

    from playground.evals.metrics import MetricChoice, score_answer

    choice = MetricChoice("regex", {"pattern": r"(a|aa)+$"})
    answer = "a" * 5000 + "b"
    took: list[float] = []

    def one() -> None:
        started = time.monotonic()
        score = score_answer(choice, answer, None)
        took.append(time.monotonic() - started)
        assert score.error and "took too long" in score.error

    busy = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        threads = [threading.Thread(target=one) for _ in range(3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(10)
    finally:
        busy.kill()
        busy.wait()
    assert len(took) == 3 and max(took) < 1.5, took


def test_error_bodies_from_a_visitors_url_are_neither_shown_nor_saved(scripted):
    from playground.compare import open_history

    visitor = custom_endpoint_spec("mine", scripted.url("status~code=500"), "m")
    result = run_model(
        visitor, build_provider(visitor, Keyring()), build_request(visitor, "hi", None, PARAMS), timeout_s=10
    )
    assert result.error.kind == "server_error" and "500" in result.error.message
    assert "scripted failure" not in result.error.message  # the body stayed out
    assert "Internal Server Error" in result.error.message  # our own reason
    history = open_history()
    run_id = history.create_run("hi", ["mine"], {})
    history.add_result(run_id, result)
    assert "scripted failure" not in str(history.get_run(run_id).results[0].error)
    # The server's own configured URLs still show the body (it helps the operator).
    from playground.core import ModelSpec

    own = ModelSpec(key="own", provider="openai", model="m", base_url=scripted.url("status~code=500"))
    mine = run_model(own, build_provider(own, {}), build_request(own, "hi", None, PARAMS), timeout_s=10)
    assert "scripted failure" in mine.error.message


IMAGE_SPELLINGS = [
    "![a [b] c](http://evil.example/1.png)",
    "![a\\]](http://evil.example/2.png)",
    "![r][1]\n\n[1]: http://evil.example/3.png",
    '<img src="http://evil.example/4.png">',
    "[click me](http://evil.example/5)",
]


@pytest.mark.parametrize("text", IMAGE_SPELLINGS)
def test_the_renderer_leaves_no_image_link_or_html_to_render(text: str):
    from markdown_it import MarkdownIt

    from playground.core import safe_markdown

    rendered = safe_markdown(text)
    # Parsed again as markdown (Streamlit's renderer is CommonMark too): no image, link or HTML token.
    tokens = MarkdownIt("commonmark", {"html": True}).parse(rendered)
    kinds = {child.type for token in tokens for child in (token.children or [])} | {t.type for t in tokens}
    assert not kinds & {"image", "link_open", "html_inline", "html_block"}, rendered
    if "http" in rendered:  # the address is shown as code, which GFM never turns into a link
        assert "`http" in rendered


def test_the_renderer_keeps_ordinary_formatting():
    from playground.core import safe_markdown

    text = "# Colors\n\n- **red**\n- *blue*\n\n`code` and\n\n```python\nprint('hi')\n```\n"
    rendered = safe_markdown(text)
    assert rendered.startswith("# Colors") and "- **red**" in rendered and "`code`" in rendered
    assert "print('hi')" in rendered


def test_a_share_link_value_is_accepted_only_in_the_run_ids_format():
    from pathlib import Path

    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(Path(__file__).resolve().parent.parent / "app.py"), default_timeout=60)
    at.query_params["run"] = "[Your session expired: sign in here](http://evil.example/login)"
    at.run()
    assert not at.exception
    shown = " ".join(e.value for e in at.error)
    assert "no run id" in shown and "evil.example" not in shown


def test_the_word_diff_shows_both_answers_as_plain_text():
    from markdown_it import MarkdownIt

    from playground.compare import word_diff_markdown

    diff = word_diff_markdown("a $x^2$ :smile: http://e.example/1", "b ![i](http://e.example/2.png) :red[c]")
    assert "\\$x^2\\$" in diff and ":\u2060smile" in diff and ":\u2060red\\[c\\]" in diff
    tokens = MarkdownIt("commonmark").parse(diff)
    assert not {c.type for t in tokens for c in (t.children or [])} & {"image", "link_open"}
    assert "`http://e.example/1`" in diff


def test_a_schemas_patterns_are_matched_under_a_time_bound():
    # A probe froze the server for 31 s: jsonschema matched `pattern` with Python's re (the GIL held).
    import time

    from playground.evals.metrics import MetricChoice, score_answer

    cases = [
        ('{"properties": {"a": {"type": "string", "pattern": "^(a|aa)+$"}}}', '{"a": "' + "a" * 5000 + 'b"}'),
        (
            '{"patternProperties": {"^(a|aa)+$": {}}, "additionalProperties": false}',
            '{"' + "a" * 5000 + 'b": 1}',
        ),
    ]
    for schema, answer in cases:
        started = time.monotonic()
        score = score_answer(MetricChoice("json_schema", {"schema": schema}), answer, None)
        # The 1 s bound itself is checked by the message; this only says the server is not held (the
        # probe's 31 s), with room for a loaded machine (1.58 s was seen with two test runs at once).
        assert time.monotonic() - started < 5.0
        assert score.error and "took over 1 s" in score.error
    valid = score_answer(MetricChoice("json_schema", {"schema": cases[0][0]}), '{"a": "aaa"}', None)
    assert valid.passed is True


def test_a_prompt_far_past_the_context_window_is_refused_before_the_shared_worker_counts_it():
    # A probe pasted ~23 MB into Compare: counting it held the shared worker until it was killed,
    # ending another user's answer on that model.
    import time

    from playground.compare import UsageError, plan_comparison
    from playground.core import Params, load_specs

    started = time.monotonic()
    with pytest.raises(UsageError, match="3,000,000 characters: more than this model's 8192-token context"):
        plan_comparison("x" * 3_000_000, ["smollm2-135m"], load_specs(), params=Params(max_tokens=8))
    assert time.monotonic() - started < 1.0


def test_chart_labels_from_users_are_text_not_markup():
    # A probe signed in with a subject holding <a href=…> and got a live link in the admin's chart legend.
    from decimal import Decimal

    from playground.compare import charts as compare_charts
    from playground.core.results import RunResult
    from playground.hosting import charts as admin_charts

    link = '<a href="http://evil.example/pay">PAY HERE</a>'
    legend = admin_charts.spend_per_day_figure(
        [{"owner": "iss|x", "user": link, "day": "2026-11-29", "spend (USD)": Decimal("1")}]
    )
    assert legend.data[0].name == '&lt;a href="http://evil.example/pay"&gt;PAY HERE&lt;/a&gt;'
    result = RunResult(
        model=link, text="t", ttft_s=0.1, total_s=0.5, cost_usd=Decimal("0.1"), output_tokens_per_s=3
    )
    for figure in (compare_charts.latency_figure([result]), compare_charts.cost_figure([result])):
        shown = [str(v) for trace in figure.data for v in (trace.y or ())]  # bars across, names down
        assert shown and all("<a" not in v and "&lt;a" in v for v in shown)


def test_an_azure_endpoint_gets_no_organization_or_project_from_the_servers_environment(
    scripted, monkeypatch
):
    from providers.base import CancelToken, ChatRequest, Message
    from providers.errors import ProviderError
    from providers.openai_compat import AzureOpenAIProvider

    monkeypatch.setenv("OPENAI_ORG_ID", "org-SERVER")
    monkeypatch.setenv("OPENAI_PROJECT_ID", "proj_SERVER")
    base = scripted.url("x").removesuffix("/x/v1")
    provider = AzureOpenAIProvider(
        deployment="d", api_key="visitor-key", endpoint=base, api_version="2024-10-21", visitor_url=True
    )
    scripted.requests.clear()
    request = ChatRequest(messages=(Message("user", "hi"),), max_tokens=2)
    with pytest.raises(ProviderError):  # the scripted server knows no Azure path; only the headers matter
        list(provider.stream(request, CancelToken()))
    sent = " ".join(f"{k}: {v}" for r in scripted.requests for k, v in r["headers"].items())
    assert scripted.requests and "org-SERVER" not in sent and "proj_SERVER" not in sent
