"""Background evaluation jobs in a real browser: closing the tab never stops an evaluation, the Evaluate page
follows its progress from the store (a new tab too), and Stop cancels the job on its worker.

`streamlit run app.py` and one `python -m playground worker` share a SQLite store; the evaluated model is the
scripted loopback server's slow echo, one answer at a time, so a run of the 10-row qa.csv takes ~10 s."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from playground.evals import evaluation_store
from playground.storage import Store
from playground.storage.jobs import JobStore
from tests.conftest import free_port
from tests.processes import ROOT, serving, streamlit_command
from tests.scripted_server import ScriptedServer
from tests.test_browser import ARTIFACTS, chromium_page, pytestmark  # noqa: F401 - same skip and marks

if TYPE_CHECKING:
    from playwright.sync_api import Page

ROWS = 10  # qa.csv
PER_ANSWER_S = 1.0  # the slow model's time to first token (it echoes the prompt at once after it)
WORKER = "w1"


@dataclass(frozen=True)
class App:
    url: str  # the Evaluate page
    scenario: str  # the scripted server's scenario for the slow model (unique to this test)
    scripted: ScriptedServer


@pytest.fixture
def app(
    scripted: ScriptedServer, clean_env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[App]:
    """The app and one worker on the test's store, with a `slow` model (PLAYGROUND_EVAL_JOBS=always)."""
    scenario = f"echo~ttft={PER_ANSWER_S}~test={tmp_path.name}"
    models = tmp_path / "models.toml"
    models.write_text(
        f'[models.slow]\nprovider = "openai"\nmodel = "m"\nbase_url = "{scripted.url(scenario)}"\n'
        "context_window = 4096\n"
    )
    monkeypatch.setenv("PLAYGROUND_MODELS_FILE", str(models))
    monkeypatch.setenv("PLAYGROUND_EVAL_JOBS", "always")
    env = os.environ.copy()  # PLAYGROUND_DB from clean_env: this process reads the same store
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    st_log, worker_log = tmp_path / "streamlit.log", tmp_path / "worker.log"
    with serving(streamlit_command(port), f"{url}/_stcore/health", st_log, env=env, timeout_s=60):
        with worker_log.open("wb") as out:
            worker = subprocess.Popen(
                [sys.executable, "-m", "playground", "worker", "--name", WORKER],
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=ROOT,
                env=env,
            )
        try:
            jobs = JobStore(Store())
            _wait_for(lambda: [w.id for w in jobs.workers_alive(30)] == [WORKER], 30, "the worker")
            yield App(f"{url}/evaluate", scenario, scripted)
        finally:
            worker.terminate()
            try:
                worker.wait(30)
            except subprocess.TimeoutExpired:
                worker.kill()
                worker.wait(10)
    for log in (st_log, worker_log):
        assert "Traceback" not in log.read_text(), log.read_text()[-3000:]


def _progress_line(page):  # noqa: ANN001, ANN202 - a playwright page and locator
    """The page's progress line for a job running on the worker."""
    return page.get_by_text(re.compile(rf"running on worker {WORKER} · answers \d+/{ROWS} · "))


def _running_evaluation(page, url: str, evals) -> str:  # noqa: ANN001 - a playwright page, the store
    """Start the evaluation in the page, see it running on the worker; its id."""
    from playwright.sync_api import expect

    _start_evaluation(page, url)
    expect(_progress_line(page)).to_be_visible(timeout=30_000)
    [listing] = evals.list()
    return listing.id


def test_closing_the_tab_never_stops_an_evaluation_and_a_new_tab_follows_it_to_the_end(app: App):
    from playwright.sync_api import expect

    evals = evaluation_store(Store())
    jobs = JobStore(Store())
    with chromium_page(1800) as page:
        eval_id = _running_evaluation(page, app.url, evals)
        expect(page.locator(f".st-key-ev-job-stop-{eval_id} button")).to_be_visible()

        browser = page.context.browser
        assert browser is not None
        page.close()  # the tab: its session and the fragment following the job go with it
        at_close = evals.done_count(eval_id)
        assert at_close < ROWS - 4, f"{at_close} answers already: the run is too quick for this test"
        _wait_for(
            lambda: evals.done_count(eval_id) >= at_close + 2, 10 * PER_ANSWER_S, "answers, no tab open"
        )
        job = jobs.get(eval_id)
        assert job is not None and job.state == "running" and job.worker == WORKER and not job.stop_requested
        reopened_at = evals.done_count(eval_id)
        assert reopened_at < ROWS - 2, "the run ended before a new tab could follow it"

        page = browser.new_page(viewport={"width": 1400, "height": 1800})
        page.goto(app.url)
        picked = page.get_by_role("combobox", name="Saved evaluations")
        expect(picked).to_have_value(re.compile(rf"· qa\.csv · slow · {ROWS} answers$"), timeout=30_000)
        running = page.get_by_text(re.compile(rf"running on worker {WORKER} · answers \d+/{ROWS} · "))
        expect(running).to_be_visible(timeout=10_000)
        shown = int(re.search(rf"answers (\d+)/{ROWS}", running.inner_text()).group(1))  # type: ignore[union-attr]
        assert shown >= reopened_at

        # No reload: when the worker ends the job the page draws the whole result by itself.
        finished = page.get_by_role("heading", name=f"qa.csv · {ROWS} of {ROWS} answers")
        expect(finished).to_be_visible(timeout=(ROWS + 10) * PER_ANSWER_S * 1000)
        expect(page.locator(f".st-key-ev-job-stop-{eval_id} button")).to_have_count(0)
        expect(running).to_have_count(0)
        assert page.get_by_text("Not finished").count() == 0
        assert page.get_by_role("button", name=re.compile("Resume")).count() == 0
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "evaluate-job.png"), full_page=True)

    job = jobs.get(eval_id)
    assert job is not None and job.state == "done" and job.worker == WORKER
    assert job.claims == 1  # one worker ran it from start to end: closing the tab did not hand it back
    saved = evals.get(eval_id)
    assert saved is not None and saved.complete and len(saved.cells) == ROWS
    assert all(cell.result.ok for cell in saved.cells)
    assert len(_asked(app)) == ROWS and set(_asked(app).values()) == {1}  # every question asked once


def test_stop_cancels_the_job_on_its_worker_and_resume_runs_only_the_rest(app: App):
    from playwright.sync_api import expect

    evals = evaluation_store(Store())
    jobs = JobStore(Store())
    with chromium_page(1800) as page:
        eval_id = _running_evaluation(page, app.url, evals)
        _wait_for(lambda: evals.done_count(eval_id) >= 2, 10 * PER_ANSWER_S, "two answers")
        page.locator(f".st-key-ev-job-stop-{eval_id} button").click()  # ours, not the toolbar's Stop

        _wait_for(lambda: _state(jobs, eval_id) == "stopped", 10, "the worker to stop the job")
        stopped_at = evals.done_count(eval_id)
        assert 2 <= stopped_at < ROWS
        resume = page.get_by_role("button", name="Resume (run only the missing answers)")
        expect(resume).to_be_visible(timeout=10_000)
        expect(page.get_by_text("Not finished: resume it below")).to_be_visible()
        expect(page.get_by_role("heading", name=f"qa.csv · {stopped_at} of {ROWS} answers")).to_be_visible()
        expect(_progress_line(page)).to_have_count(0)
        expect(page.get_by_role("button", name="Delete this evaluation")).to_be_visible()

        # Nothing more runs: over twice the time of one answer, no answer is saved and no question asked.
        asked = sum(_asked(app).values())
        assert asked <= stopped_at + 1  # at most the one in flight at the Stop, cancelled
        _holds(lambda: evals.done_count(eval_id) == stopped_at, 2.5 * PER_ANSWER_S, "no answer after Stop")
        assert sum(_asked(app).values()) == asked

        resume.click()  # queued again: the worker runs only the missing answers, the page follows it
        resumed = page.get_by_text(re.compile(rf"running on worker {WORKER} · .*answers \d+/{ROWS} · "))
        expect(resumed).to_be_visible(timeout=30_000)
        assert "went away" not in resumed.inner_text()  # the owner's Resume is a new round, not a rescue
        finished = page.get_by_role("heading", name=f"qa.csv · {ROWS} of {ROWS} answers")
        expect(finished).to_be_visible(timeout=(ROWS + 10) * PER_ANSWER_S * 1000)
        expect(resume).to_have_count(0)

    job = jobs.get(eval_id)
    assert job is not None and job.state == "done" and job.claims == 1  # a new round: no worker went away
    saved = evals.get(eval_id)
    assert saved is not None and saved.complete and len(saved.cells) == ROWS
    asked_per_question = _asked(app)
    assert len(asked_per_question) == ROWS
    assert sum(asked_per_question.values()) <= ROWS + 1  # only the answer cancelled by Stop asked twice


def _start_evaluation(page: Page, url: str) -> None:
    """Open Evaluate on an empty store, choose qa.csv and only the slow model, one at a time; Run.

    An empty store: once there is a saved evaluation, "New evaluation" folds up at the first widget change."""
    from playwright.sync_api import expect

    page.goto(url)
    expect(page.get_by_role("heading", name="Evaluate")).to_be_visible(timeout=60_000)
    sample = page.get_by_role("combobox", name="Sample dataset")
    sample.click()
    page.get_by_role("option", name="qa.csv", exact=True).click()
    expect(sample).to_have_value("qa.csv")
    expect(page.get_by_text(f"{ROWS} rows · columns: question, expected")).to_be_visible(timeout=30_000)
    models = page.locator("[data-testid='stMultiSelect']").filter(
        has=page.get_by_role("combobox", name="Models")
    )
    models.get_by_role("combobox", name="Models").click()
    page.get_by_role("option", name="slow", exact=True).click()
    page.keyboard.press("Escape")
    others = models.get_by_role("button", name=re.compile(r"^Remove (?!slow$)"))  # the defaults
    while (count := others.count()) > 0:
        others.first.click()
        expect(others).to_have_count(count - 1)
    expect(models.get_by_role("group", name="Selected values")).to_have_text("slow")
    concurrency = page.get_by_label("Concurrency")
    concurrency.fill("1")
    concurrency.press("Enter")
    expect(concurrency).to_have_value("1")
    expect(page.get_by_label("Rows (0 = all)")).to_have_value("0")
    run = page.get_by_role("button", name="Run evaluation")
    expect(run).to_be_enabled(timeout=30_000)
    run.click()


def _asked(app: App) -> dict[str, int]:
    """How many times each question reached the slow model of this test."""
    counts: dict[str, int] = {}
    for request in app.scripted.requests:
        if request["path"].startswith(f"/{app.scenario}/"):
            question = request["body"]["messages"][-1]["content"]
            counts[question] = counts.get(question, 0) + 1
    return counts


def _state(jobs: JobStore, eval_id: str) -> str | None:
    job = jobs.get(eval_id)
    return job.state if job else None


def _wait_for(condition: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def _holds(condition: Callable[[], bool], for_s: float, what: str) -> None:
    """`condition` stays true for `for_s` seconds (checked every 0.1 s)."""
    deadline = time.monotonic() + for_s
    while time.monotonic() < deadline:
        assert condition(), f"not so: {what}"
        time.sleep(0.1)
