"""The race a probe found, end to end: two hosted replicas (`playground serve`) on one PostgreSQL, a real
OpenID Connect provider, one user signed in in six tabs (three on each replica), Run clicked in all six
at once on a priced model. At most the run limit goes at once, and the ledger stays within the budget."""

from __future__ import annotations

import re
from contextlib import ExitStack, contextmanager
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING

from playground.hosting import usage_report
from playground.storage import Store
from tests import postgres
from tests.admission_replica import priced_spec, race_plan
from tests.scripted_server import ScriptedServer
from tests.test_browser import pytestmark  # noqa: F401 - same skip and marks
from tests.test_hosted_browser import oidc_provider, sign_in, start_hosted  # noqa: F401 - a fixture
from tests.test_screenshots_browser import pick_models, settle

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

DAVE = "dave@example.com"
REFUSED = re.compile(r"runs going; the limit is 2 at once|Your daily limit is")


def _models_file(folder: Path, base_url: str, price: str) -> Path:
    path = folder / "models.toml"
    path.write_text(
        f'[models.paid]\nprovider = "openai"\nmodel = "gpt-4"\nbase_url = "{base_url}"\n'
        f'api_key_env = "ADMIN_KEY"\ncontext_window = 4096\nprice_input_per_mtok = {price}\n'
        f"price_output_per_mtok = {price}\n"
    )
    return path


def _ready(page: Page) -> None:
    """The Compare form with only the priced model, a prompt and 16 max tokens."""
    from playwright.sync_api import expect

    expect(page.get_by_label("Prompt", exact=True)).to_be_visible(timeout=60_000)
    pick_models(page, "Models", ("paid",))
    page.get_by_label("Prompt", exact=True).fill("hello")
    tokens = page.get_by_label("Max tokens")
    tokens.fill("16")
    tokens.press("Enter")
    settle(page)


def _click_all(pages: list[Page]) -> None:
    from playwright.sync_api import expect

    for page in pages:
        expect(page.get_by_role("button", name="Run", exact=True)).to_be_enabled(timeout=60_000)
    for page in pages:  # as fast as one thread clicks: well within a run's few seconds
        page.get_by_role("button", name="Run", exact=True).click()


def _outcome(page: Page) -> str:
    """'saved' or 'refused', once the page says which."""
    from playwright.sync_api import expect

    saved, refused = page.get_by_text("Run saved"), page.get_by_text(REFUSED)
    expect(saved.or_(refused).first).to_be_visible(timeout=120_000)
    return "saved" if saved.count() else "refused"


def test_six_tabs_on_two_replicas_clicking_run_at_once_hold_the_limits(
    postgres_cluster: str,
    scripted: ScriptedServer,
    oidc_provider: str,  # noqa: F811 - the fixture imported above
    browser: Browser,
    tmp_path: Path,
):
    from playwright.sync_api import expect

    url = postgres.fresh_database(postgres_cluster)
    scenario = "ok~tokens=60~gap=0.6~id=tabs"  # ignores max tokens; a run lasts a few seconds
    base_url = scripted.url(scenario)
    ceiling = race_plan(priced_spec(base_url, "10000"), 16).ask().max_cost_usd
    daily = ceiling * Decimal("3.5")  # three runs fit, not four
    env = {
        "PLAYGROUND_DB": url,
        "PLAYGROUND_MODELS_FILE": str(_models_file(tmp_path, base_url, "10000")),
        "ADMIN_KEY": "server-secret",
        "PLAYGROUND_USER_DAILY_USD": str(daily),
        "PLAYGROUND_MAX_CONCURRENT_RUNS": "2",
    }
    Store(url)  # migrated once, before two replicas start on it
    with ExitStack() as stack:
        replicas = []
        for name in ("a", "b"):
            folder = tmp_path / name
            folder.mkdir()
            replicas.append(stack.enter_context(contextmanager(start_hosted)(folder, oidc_provider, env)))
        pages = [sign_in(browser, replica, DAVE) for replica in replicas for _ in range(3)]
        for page in pages:
            _ready(page)
        scripted.reset_peak(scenario)

        _click_all(pages)
        first = [_outcome(page) for page in pages]
        assert first.count("saved") == 2, first
        assert scripted.peak(scenario) <= 2
        for page in pages:  # each admitted answer says it was cut where max tokens asked
            if page.get_by_text("Run saved").count():
                expect(page.get_by_text("cut by the playground").first).to_be_visible()
            page.goto(page.url.split("?")[0])  # a fresh form for the next wave (without ?current=)
            _ready(page)

        _click_all(pages)  # two runs are paid for: the budget has room for one more
        second = [_outcome(page) for page in pages]
        assert second.count("saved") == 1, second
        assert any("Your daily limit is" in page.inner_text("body") for page in pages)

    report = usage_report(Store(url))
    assert {record.owner for record in report.records} == {f"{oidc_provider}|{DAVE}"}
    spent = report.total_usd
    assert Decimal(0) < spent <= daily
    assert spent == 3 * ceiling  # each run charged exactly its admitted maximum: cut at 16 tokens
