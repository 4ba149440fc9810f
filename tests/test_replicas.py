"""Two app replicas (`streamlit run` processes) on one PostgreSQL: what is made on one is there on the other."""

from __future__ import annotations

import os
import re
from contextlib import ExitStack
from pathlib import Path

from playground.evals import Dataset, EvalSetup, Evaluation, MetricChoice, evaluation_store
from playground.storage import Store
from tests import postgres
from tests.conftest import free_port
from tests.processes import serving, streamlit_command
from tests.test_browser import CHROMIUM_ARGS, chromium_page, pytestmark  # noqa: F401 - same skip and marks


def test_a_run_and_a_stopped_evaluation_made_on_one_replica_are_on_the_other(
    postgres_cluster: str, tmp_path: Path
):
    from playwright.sync_api import expect

    url = postgres.fresh_database(postgres_cluster)
    env = {**os.environ, "PLAYGROUND_DB": url}
    with ExitStack() as stack:
        replicas = []
        for name in ("a", "b"):
            port = free_port()
            stack.enter_context(
                serving(
                    streamlit_command(port),
                    f"http://127.0.0.1:{port}/_stcore/health",
                    tmp_path / f"replica-{name}.log",
                    env=env,
                    timeout_s=60,
                )
            )
            replicas.append(f"http://127.0.0.1:{port}")
        a, b = replicas
        stopped = _stopped_evaluation(url)
        with chromium_page(1400) as page:
            page.goto(a)
            prompt = page.get_by_label("Prompt", exact=True)
            expect(prompt).to_be_visible(timeout=60_000)
            prompt.fill("made on replica a")
            tokens = page.get_by_label("Max tokens")
            tokens.fill("4")
            tokens.press("Enter")
            page.get_by_role("button", name="Run", exact=True).click()
            link = page.get_by_text(re.compile(r"\?run=[0-9a-f]{32}"))
            expect(link).to_be_visible(timeout=120_000)
            run_id = re.search(r"\?run=([0-9a-f]{32})", link.inner_text()).group(1)

            page.goto(f"{b}/?run={run_id}")  # its share link, on the other replica
            expect(page.get_by_text("Shared run (read-only)")).to_be_visible(timeout=60_000)
            assert "made on replica a" in page.inner_text("body")
            page.goto(f"{b}/history")
            expect(page.get_by_text("made on replica a").first).to_be_visible(timeout=60_000)
            page.goto(f"{b}/evaluate")
            expect(page.get_by_text("Not finished: resume it below")).to_be_visible(timeout=60_000)
            expect(page.get_by_role("button", name=re.compile("Resume"))).to_be_visible()
            assert stopped.name in page.inner_text("body")


def _stopped_evaluation(url: str) -> Dataset:
    """An evaluation stopped after its first answer (as a replica killed mid-run leaves it)."""
    store = evaluation_store(Store(url))
    rows = tuple({"text": f"sentence {i}", "expected": "x"} for i in range(3))
    dataset = Dataset("replicated sample", ("text", "expected"), rows)
    setup = EvalSetup(template="{text}", models=("smollm2-135m",), metrics=(MetricChoice("contains"),))
    from playground.core import load_specs

    evaluation = Evaluation(setup, dataset, load_specs(), store)
    run = evaluation.run()
    next(run)
    run.close()
    assert not store.get(evaluation.eval_id).complete
    return dataset
