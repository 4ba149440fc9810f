"""Screenshots of every page at 1280×720 (a projector's size) in a real headless browser, with local models
only and with several priced scripted models, for people to look at; the DOM is checked for what matters:
no cost chart where nothing has a price, the one line saying so, and unpriced models named under a chart.

The PNGs go to tests/artifacts/screens/ (gitignored): `<case>-<page>.png` is the whole page at 1280 px wide,
`<case>-<page>-charts.png` the 1280×720 view with the charts in it, as a demo audience would see them."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from playground.compare.stats import SPREAD_FIELDS
from playground.core import RunResult
from tests.conftest import free_port
from tests.processes import serving, streamlit_command
from tests.scripted_server import ScriptedServer
from tests.test_browser import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, pytestmark  # noqa: F401 - same marks

if TYPE_CHECKING:
    from playwright.sync_api import Page

SCREENS = ARTIFACTS / "screens"
VIEWPORT = {"width": 1280, "height": 720}
LOCAL = ("smollm2-135m", "gemma3-270m")
NOTES = "[class*='chart-notes']"  # the lines in place of charts that would show nothing


@dataclass(frozen=True)
class PricedModel:
    """A model of the models file: the scripted server's scenario, and its price per million tokens."""

    key: str
    scenario: str
    price_in: str
    price_out: str


# Two with the same price (their catalog points coincide), one dear, one with a long name.
PRICED = (
    PricedModel("fast-mini", "echo~ttft=0.2", "0.15", "0.60"),
    PricedModel("azure-fast-mini", "echo~ttft=0.5", "0.15", "0.60"),
    PricedModel("large-pro", "ok~tokens=40~ttft=0.8~gap=0.01~usage=1", "2.50", "10.00"),
    PricedModel("reasoning-preview-2025-long-name", "echo~ttft=1.2", "15.00", "60.00"),
)


def models_file(folder: Path, scripted: ScriptedServer) -> Path:
    """A models file with the PRICED models, each on its scenario of the scripted server."""
    path = folder / "models.toml"
    path.write_text(
        "".join(
            f'[models."{m.key}"]\nprovider = "openai"\nmodel = "{m.key}"\n'
            f'base_url = "{scripted.url(m.scenario)}"\ncontext_window = 16384\ntask = "chat"\n'
            f'price_input_per_mtok = "{m.price_in}"\nprice_output_per_mtok = "{m.price_out}"\n\n'
            for m in PRICED
        )
    )
    return path


def _serve(folder: Path) -> Iterator[str]:
    """`streamlit run app.py` on a free loopback port with this process's environment; its URL."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = folder / "streamlit.log"
    with serving(streamlit_command(port), f"{url}/_stcore/health", log, timeout_s=60):
        yield url
    assert "Traceback" not in log.read_text(), log.read_text()[-3000:]


@pytest.fixture
def local_app(clean_env: Path, tmp_path: Path) -> Iterator[str]:
    """The app with no key and no models file: only the bundled local models can answer."""
    yield from _serve(tmp_path)


@pytest.fixture
def priced_app(
    scripted: ScriptedServer, clean_env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[str]:
    """The app with the PRICED scripted models as well as the local ones."""
    monkeypatch.setenv("PLAYGROUND_MODELS_FILE", str(models_file(tmp_path, scripted)))
    yield from _serve(tmp_path)


@pytest.fixture
def page() -> Iterator[Page]:
    """A 1280×720 page in headless Debian chromium."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser.new_page(viewport=VIEWPORT)
        finally:
            browser.close()


def shoot(page: Page, name: str) -> None:
    """Save the whole page at 1280 px wide, and the 1280×720 view from the first chart (or "no chart" line)."""
    SCREENS.mkdir(parents=True, exist_ok=True)
    page.mouse.move(1275, 715)  # in a corner: no hover label, chart toolbar or sidebar button in the pictures
    page.wait_for_timeout(1500)  # plotly's transitions and Streamlit's fade-in end
    # Streamlit scrolls its main section, not the document: a viewport as tall as that section shows it all.
    height = page.locator("[data-testid='stMain']").evaluate("main => main.scrollHeight")
    page.set_viewport_size({"width": VIEWPORT["width"], "height": max(height, VIEWPORT["height"])})
    page.wait_for_timeout(1000)
    page.screenshot(path=str(SCREENS / f"{name}.png"))
    page.set_viewport_size(VIEWPORT)
    page.wait_for_timeout(1000)
    first = page.locator(f".js-plotly-plot, {NOTES}").first
    if first.count():
        first.scroll_into_view_if_needed()
        page.mouse.move(800, 400)
        page.mouse.wheel(0, -60)  # a little of what is above the charts, as a reader scrolls to them
        page.mouse.move(1275, 715)
        page.wait_for_timeout(800)
        page.screenshot(path=str(SCREENS / f"{name}-charts.png"))


def settle(page: Page) -> None:
    """Wait until the app has finished its rerun (Streamlit shows its status widget while running)."""
    from playwright.sync_api import expect

    page.wait_for_timeout(300)
    expect(page.locator("[data-testid='stStatusWidget']")).to_have_count(0, timeout=60_000)


def pick_models(page: Page, label: str, keys: tuple[str, ...]) -> None:
    """Make exactly `keys` the choice of the multiselect `label` (the tags read "<provider> · <key>").

    Rounds of: remove what is not wanted, add what is missing; until the tags are right. A rerun that was
    under way when the page was first touched can still set the widget's defaults back once."""
    from playwright.sync_api import expect

    box = page.locator("[data-testid='stMultiSelect']").filter(has=page.get_by_role("combobox", name=label))
    combo = box.get_by_role("combobox", name=label)

    def chosen() -> dict[str, str]:
        names = box.get_by_role("button", name=re.compile(r"^Remove ")).evaluate_all(
            "buttons => buttons.map(b => b.getAttribute('aria-label'))"
        )
        return {name.removeprefix("Remove ").split(" · ")[-1]: name for name in names}

    for _ in range(5):
        settle(page)
        for key, button in chosen().items():
            if key not in keys:
                box.get_by_role("button", name=button, exact=True).click()
                settle(page)
        for key in keys:
            if key in chosen():
                continue
            combo.click()
            combo.fill(key)
            option = page.get_by_role("option").filter(has_text=re.compile(rf"(^| · ){re.escape(key)}$"))
            try:
                expect(option).to_have_count(1, timeout=10_000)
                option.click()
            except AssertionError:
                pass  # the list lagged a rerun behind: the next round tries again
            page.keyboard.press("Escape")
            settle(page)
        if sorted(chosen()) == sorted(keys):
            return
    raise AssertionError(f"could not choose {keys}: {sorted(chosen())}")


def run_comparison(page: Page, url: str, models: tuple[str, ...], repeat: int = 1) -> None:
    """Compare: a short prompt to `models` (`repeat` times), until the run is saved."""
    from playwright.sync_api import expect

    page.goto(url)
    prompt = page.get_by_label("Prompt", exact=True)
    expect(prompt).to_be_visible(timeout=60_000)
    pick_models(page, "Models", models)
    prompt.fill("Name three colors")
    tokens = page.get_by_label("Max tokens")
    tokens.fill("24")
    tokens.press("Enter")
    repeats = page.get_by_label("Repeat k")
    repeats.fill(str(repeat))
    repeats.press("Enter")
    settle(page)
    run = page.get_by_role("button", name="Run", exact=True)
    expect(run).to_be_enabled(timeout=60_000)
    run.click()
    expect(page.get_by_text("Run saved")).to_be_visible(timeout=180_000)


def run_evaluation(page: Page, url: str, models: tuple[str, ...], rows: int) -> None:
    """Evaluate: the first `rows` of qa.csv on `models`, until every answer is in."""
    from playwright.sync_api import expect

    page.goto(f"{url}/evaluate")
    expect(page.get_by_role("heading", name="Evaluate")).to_be_visible(timeout=60_000)
    sample = page.get_by_role("combobox", name="Sample dataset")
    sample.click()
    page.get_by_role("option", name="qa.csv", exact=True).click()
    expect(page.get_by_text(re.compile(r"^10 rows · columns"))).to_be_visible(timeout=30_000)
    pick_models(page, "Models", models)
    limit = page.get_by_label("Rows (0 = all)")
    limit.fill(str(rows))
    limit.press("Enter")
    run = page.get_by_role("button", name="Run evaluation")
    expect(run).to_be_enabled(timeout=30_000)
    run.click()
    total = rows * len(models)
    expect(page.get_by_text(f"{total} of {total} answers")).to_be_visible(timeout=240_000)


def open_catalog(page: Page, url: str, usable_only: bool) -> None:
    from playwright.sync_api import expect

    page.goto(f"{url}/catalog")
    expect(page.get_by_role("heading", name="Model catalog")).to_be_visible(timeout=60_000)
    if usable_only:
        page.get_by_text("Usable now (key or endpoint present)").click()
    expect(page.locator(f".js-plotly-plot, {NOTES}").first).to_be_visible(timeout=60_000)


def open_history(page: Page, url: str) -> None:
    from playwright.sync_api import expect

    page.goto(f"{url}/history")
    expect(page.get_by_role("heading", name="History")).to_be_visible(timeout=60_000)
    expect(page.get_by_text("Prompt: Name three colors").first).to_be_visible(timeout=60_000)
    expect(page.locator(f".js-plotly-plot, {NOTES}").first).to_be_visible(timeout=60_000)


# Every text of every chart on the page: where it is cut by its chart's edge, and which point labels cover
# each other (plotly clips nothing it draws outside its own SVG: a cut shows as a box beyond it).
CHART_TEXT_PROBLEMS = """() => {
  const problems = [];
  for (const plot of document.querySelectorAll('.js-plotly-plot')) {
    const edge = plot.querySelector('svg.main-svg').getBoundingClientRect();
    const texts = [...plot.querySelectorAll('svg text')].filter(t => t.textContent.trim());
    for (const text of texts) {
      const r = text.getBoundingClientRect();
      if (r.width && (r.left < edge.left - 1 || r.right > edge.right + 1 || r.top < edge.top - 1
                      || r.bottom > edge.bottom + 1)) problems.push('cut: ' + text.textContent);
    }
    const labels = [...plot.querySelectorAll('.annotation-text-g')].map(a => [a.textContent, a.getBoundingClientRect()]);
    labels.forEach(([a, r], i) => labels.slice(i + 1).forEach(([b, q]) => {
      if (Math.min(r.right, q.right) - Math.max(r.left, q.left) > 1
          && Math.min(r.bottom, q.bottom) - Math.max(r.top, q.top) > 1) problems.push('overlap: ' + a + ' / ' + b);
    }));
  }
  return problems;
}"""


def chart_titles(page: Page) -> list[str]:
    """The titles of the charts on the page, in order."""
    return page.locator(".js-plotly-plot .gtitle").all_text_contents()


def notes(page: Page) -> str:
    """The lines standing in for charts with nothing to show."""
    return " ".join(page.locator(NOTES).all_inner_texts())


def check(
    page: Page, titles: list[str], note: str | None = None, left_out: dict[str, str] | None = None
) -> None:
    """The page shows these charts, no chart text is cut or covered, the note (if any) is there, and each
    chart of `left_out` names, under it, the models it does not draw."""
    from playwright.sync_api import expect

    expect(page.locator(".js-plotly-plot .gtitle")).to_have_count(len(titles), timeout=30_000)
    assert chart_titles(page) == titles
    assert page.evaluate(CHART_TEXT_PROBLEMS) == []
    if note is not None:
        expect(page.locator(NOTES)).to_contain_text(note)
    else:
        assert page.locator(NOTES).count() == 0
    for key, names in (left_out or {}).items():
        expect(page.locator(f".st-key-{key}-left-out")).to_have_text(names)


def test_every_page_with_local_models_only(local_app: str, page: Page):
    run_comparison(page, local_app, LOCAL)
    shoot(page, "local-compare")
    check(page, ["Latency", "Decode speed"], "No cost charts: no model in this run has a price; smollm2-135m")
    open_history(page, local_app)
    shoot(page, "local-history")
    check(page, ["Latency", "Decode speed"], "No cost charts: no model in this run has a price")
    open_catalog(page, local_app, usable_only=True)
    shoot(page, "local-catalog")
    local = "gemma3-270m, piper-joe, smollm2-135m, whisper-tiny-en and wordllama-256 are local (run on this machine)"
    check(page, ["Context window"], f"No price chart: no model in view has a price; {local}")
    run_comparison(page, local_app, LOCAL[:1], repeat=3)
    shoot(page, "local-compare-one-model-3-runs")
    boxes = [f"{label.title}, 3 runs" for label in (RunResult.label(f) for f in SPREAD_FIELDS)]
    check(page, boxes)  # one model: only the spreads over its runs
    table = page.locator("[data-testid='stDataFrame']").filter(has_text="p90")
    assert table.get_by_text("time to first token (s)", exact=True).count() == 1  # labels, not field names
    run_evaluation(page, local_app, LOCAL, rows=2)
    shoot(page, "local-evaluate")
    check(
        page,
        ["Mean score per metric", "Latency per answer"],
        "No score-vs-cost chart: no model in this evaluation has a price; smollm2-135m and gemma3-270m",
    )


def test_every_page_with_priced_models(priced_app: str, page: Page):
    models = (*(m.key for m in PRICED), "smollm2-135m")
    local = "Not drawn, no price: smollm2-135m is local (run on this machine)."
    run_comparison(page, priced_app, models)
    shoot(page, "priced-compare")
    compare = ["Latency", "Decode speed", "Cost", "Cost vs latency"]
    check(page, compare, left_out={"chart-cost": local, "chart-pareto": local})
    open_history(page, priced_app)
    shoot(page, "priced-history")
    check(page, compare, left_out={"chart-cost": local, "chart-pareto": local})
    open_catalog(page, priced_app, usable_only=False)
    shoot(page, "priced-catalog")
    check(page, ["Price per million tokens", "Context window"])
    expect_text = page.locator(".st-key-cat-price-chart-left-out").inner_text()
    assert "smollm2-135m" in expect_text and "are local" in expect_text
    run_evaluation(page, priced_app, models, rows=3)
    shoot(page, "priced-evaluate")
    check(page, ["Score vs cost", "Mean score per metric", "Latency per answer"], left_out={"ev-cost": local})
