"""Fair use of a shared server: a concurrency limit from the models file holds for every session at once,
and a 429 from one server slows only the calls to that server."""

from __future__ import annotations

import threading
import time

from playground.core import Params, build_request
from playground.engine import build_provider
from playground.engine.runner import run_model
from tests.conftest import remote_spec
from tests.scripted_server import ScriptedServer


def call(spec, results: list, prompt: str = "hi") -> None:  # noqa: ANN001 - a ModelSpec
    request = build_request(spec, prompt, None, Params(max_tokens=32))  # the whole answer: never cut
    results.append(run_model(spec, build_provider(spec, {}), request, timeout_s=20))


def in_threads(*calls) -> None:  # noqa: ANN002 - (spec, results) pairs, started 0.1 s apart
    threads = []
    for spec, results in calls:
        threads.append(threading.Thread(target=call, args=(spec, results)))
        threads[-1].start()
        time.sleep(0.1)
    for thread in threads:
        thread.join(30)


def test_max_concurrency_from_the_models_file_holds_across_calls(scripted: ScriptedServer):
    scenario = "ok~tokens=4~gap=0.1~id=limited"
    spec = remote_spec(scripted.url(scenario), key="limited", max_concurrency=1)
    results: list = []
    scripted.reset_peak(scenario)
    in_threads(*[(spec, results)] * 3)
    assert scripted.peak(scenario) == 1  # one call at a time reached the server
    assert all(r.ok for r in results)
    waits = sorted(r.queue_wait_s or 0 for r in results)
    assert waits[0] < 0.1 and waits[1] > 0.2 and waits[2] > waits[1]  # each waited for the ones before
    assert all(r.ttft_s < 0.3 for r in results)  # the wait is reported apart, never as latency


def test_a_429_slows_only_that_server(scripted: ScriptedServer):
    limited = remote_spec(scripted.url("ratelimit~fail=1~after=1~id=cooling"), key="cooling")
    other = remote_spec(scripted.url("ok~tokens=2~id=other"), key="other")
    first, second, elsewhere = [], [], []
    in_threads((limited, first), (limited, second), (other, elsewhere))
    assert first[0].ok and first[0].attempts == 2  # it met the 429 and retried after its own backoff
    assert second[0].ok and second[0].attempts == 1  # it waited out the cooldown instead of meeting a 429
    assert second[0].queue_wait_s > 0.5 and second[0].ttft_s < 0.5
    assert elsewhere[0].ok and (elsewhere[0].queue_wait_s or 0) < 0.1  # the other server was not slowed


def test_max_concurrency_in_the_models_file_must_be_a_positive_whole_number():
    import pytest

    from playground.core.specs import SpecError, parse_models_text

    good = parse_models_text('[models.v]\nprovider = "openai"\nmodel = "m"\nmax_concurrency = 4\n', "f.toml")
    assert good["v"].max_concurrency == 4
    for bad in ("0", "-1", "2.5", '"4"'):
        with pytest.raises(SpecError, match="max_concurrency"):
            parse_models_text(
                f'[models.v]\nprovider = "openai"\nmodel = "m"\nmax_concurrency = {bad}\n', "f.toml"
            )
