"""Load and soak of one dashboard server, in real browser sessions (Debian chromium + playwright), one run:

1. N = 5, 10, 20 browser contexts against one server, each typing a prompt and comparing two scripted
   models that answer after 1 s (the scripted server, in this process): completion rate (target 100 %,
   no error), p50 and p90 of click -> first token visible minus the scripted 1 s TTFT, wall time over a
   single session's, and the server's memory per session.
2. N = 6 sessions on the two bundled local models at once: the queue wait of each session's calls (fair:
   no session waits more than one generation longer than another).
3. 50 consecutive runs in one session: the server's memory growth (target: bounded).

Run: .venv/bin/python bench/bench_sessions.py [--quick]   (--quick: N = 5 only, 10 soak runs)
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from playground.storage.runs import Store  # noqa: E402
from tests.conftest import free_port  # noqa: E402
from tests.processes import serving, streamlit_command  # noqa: E402
from tests.scripted_server import ScriptedServer  # noqa: E402
from tests.test_browser import CHROMIUM, CHROMIUM_ARGS  # noqa: E402

SCRIPTED_TTFT_S = 1.0
SESSION_TIMEOUT_S = float(os.environ.get("BENCH_SESSION_TIMEOUT_S", "300"))
SHOTS = Path(os.environ["BENCH_SHOTS"]) if os.environ.get("BENCH_SHOTS") else None
# --sizes 5,10 runs only those loads (and skips the local-model part and the soak).
SIZES = tuple(
    int(n)
    for n in next((a.split("=", 1)[1] for a in sys.argv if a.startswith("--sizes=")), "5,10,20").split(",")
)
LOCAL = ("smollm2-135m", "gemma3-270m")
# Both scripted models take the bundled models' keys (a models file overrides by key), so every session
# compares them with the page's own defaults.
FIRST_TEXT = """models => {
  window.__first = {};
  new MutationObserver(() => {
    for (const column of document.querySelectorAll('[data-testid="stColumn"]')) {
      const text = column.innerText;
      for (const m of models) {
        if (!window.__first[m] && text.includes(m) && text.includes('▌')) window.__first[m] = Date.now();
      }
    }
  }).observe(document.body, {subtree: true, childList: true, characterData: true});
}"""


def own_rss_mb(pid: int) -> float:
    """Resident memory of one process alone."""
    try:
        return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6
    except (OSError, ValueError, IndexError):
        return float("nan")


def rss_mb(pid: int) -> float:
    """Resident memory of a process and its children (the server and its local model workers)."""
    total = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            if int(entry.name) == pid or ppid == pid:
                total += int((entry / "statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE")
        except (OSError, ValueError, IndexError):
            continue
    return total / 1e6


async def one_session(browser, url: str, prompt: str, ready: list, start: asyncio.Event) -> dict:  # noqa: ANN001
    """Open the page, get ready, wait for the common start, click Run, wait for both answers."""
    context = await browser.new_context(viewport={"width": 1400, "height": 1200})
    page = await context.new_page()
    await page.goto(url)
    box = page.get_by_label("Prompt", exact=True)
    await box.wait_for(state="visible", timeout=120_000)
    await box.fill(prompt)
    tokens = page.get_by_label("Max tokens")
    await tokens.fill("8")
    await tokens.press("Enter")
    run = page.get_by_role("button", name="Run", exact=True)
    await page.wait_for_function(
        "() => [...document.querySelectorAll('button')].some(b => b.innerText.trim() === 'Run' && !b.disabled)",
        timeout=120_000,
    )
    await page.evaluate(FIRST_TEXT, list(LOCAL))
    ready.append(prompt)
    await start.wait()
    clicked = await page.evaluate("Date.now()")
    await run.click()
    outcome = {"ok": False, "first": {}, "done_at": None}
    try:
        try:
            await page.get_by_text("share link").wait_for(timeout=SESSION_TIMEOUT_S * 1000)
        except Exception:
            if SHOTS:  # what a page that never showed its finished run looks like
                await page.screenshot(path=str(SHOTS / f"{prompt.replace(' ', '-')}.png"), full_page=True)
            raise
        outcome["done_at"] = time.perf_counter()
        body = await page.inner_text("body")
        # Both answers with their figures, and no alert (an error, or answers not saved): the answers'
        # own words may say "error".
        alerts = await page.locator('[data-testid="stAlert"]').count()
        outcome["ok"] = body.count("TTFT") >= 2 and alerts == 0
        outcome["error"] = (
            None if outcome["ok"] else f"{body.count('TTFT')} answers with figures, {alerts} alerts"
        )
        first = await page.evaluate("window.__first")
        outcome["first"] = {m: (t - clicked) / 1000 for m, t in first.items()}
    finally:
        await context.close()
    return outcome


async def sessions(url: str, n: int) -> tuple[list[dict], float]:
    """N sessions clicking Run at the same moment; their outcomes and the wall time to the last answer."""
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        start, ready = asyncio.Event(), []
        tasks = [
            asyncio.create_task(one_session(browser, url, f"session {i}", ready, start)) for i in range(n)
        ]
        while len(ready) < n and not any(t.done() for t in tasks):  # every page loaded and ready to click
            await asyncio.sleep(0.1)
        began = time.perf_counter()
        start.set()
        outcomes = await asyncio.gather(*tasks, return_exceptions=True)
        await browser.close()
    done = [o for o in outcomes if isinstance(o, dict)]
    ends = [o["done_at"] for o in done if o["done_at"]]
    return [o if isinstance(o, dict) else {"ok": False, "first": {}, "error": repr(o)} for o in outcomes], (
        max(ends) - began if ends else float("nan")
    )


def scripted_models(server: ScriptedServer, folder: Path) -> Path:
    scenario = f"ok~ttft={SCRIPTED_TTFT_S}~tokens=6~gap=0.05~usage=1"
    path = folder / "models.toml"
    path.write_text(
        "".join(
            f'[models.{key}]\nprovider = "openai"\nmodel = "scripted"\nbase_url = "{server.url(scenario + "~id=" + key)}"\n'
            f"price_input_per_mtok = 0\nprice_output_per_mtok = 0\n\n"
            for key in LOCAL
        )
    )
    return path


def load_part(quick: bool) -> None:
    folder = Path(tempfile.mkdtemp())
    with ScriptedServer() as server:
        env = {**os.environ, "PLAYGROUND_DB": f"sqlite:///{folder}/bench.db",
               "PLAYGROUND_MODELS_FILE": str(scripted_models(server, folder))}  # fmt: skip
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        with serving(streamlit_command(port), f"{url}/_stcore/health", folder / "s.log", env=env) as process:
            outcomes, single_wall = asyncio.run(sessions(url, 1))
            report_load(1, outcomes, single_wall, single_wall, rss_mb(process.pid), rss_mb(process.pid))
            for n in SIZES if not quick else (5,):
                before = rss_mb(process.pid)
                outcomes, wall = asyncio.run(sessions(url, n))
                after = rss_mb(process.pid)
                report_load(n, outcomes, wall, single_wall, before, after)


def report_load(
    n: int, outcomes: list[dict], wall: float, single: float, before: float, after: float
) -> None:
    ok = sum(1 for o in outcomes if o["ok"])
    extra = sorted(t - SCRIPTED_TTFT_S for o in outcomes for t in o["first"].values())
    p50 = statistics.median(extra) if extra else float("nan")
    p90 = extra[max(0, int(len(extra) * 0.9) - 1)] if extra else float("nan")
    print(
        f"N={n}: completed {ok}/{n} ({100 * ok / n:.0f} %); click->first token minus scripted TTFT "
        f"p50 {p50:.3f} s, p90 {p90:.3f} s; wall {wall:.2f} s = {wall / single:.2f}x one session; "
        f"server RSS {before:.0f} -> {after:.0f} MB ({(after - before) / n:+.1f} MB per session)"
    )
    for o in outcomes:
        if not o["ok"]:
            print("   failed:", o.get("error", "an answer or its figures missing"))


def local_part(quick: bool) -> None:
    folder = Path(tempfile.mkdtemp())
    db = f"sqlite:///{folder}/bench.db"
    env = {**os.environ, "PLAYGROUND_DB": db}
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with serving(streamlit_command(port), f"{url}/_stcore/health", folder / "s.log", env=env) as process:
        asyncio.run(sessions(url, 1))  # loads both local models once
        outcomes, wall = asyncio.run(sessions(url, 6))
        runs = Store(db).list_runs(limit=100)[:6]
        waits = {run.id: max((r.queue_wait_s or 0) for r in run.results) for run in runs}
        generation = max(r.total_s or 0 for run in runs for r in run.results)
        ok = sum(1 for o in outcomes if o["ok"])
        for o in outcomes:
            if not o["ok"]:
                print("   failed:", o.get("error"))
        ordered = sorted(waits.values())
        step = max((b - a for a, b in zip(ordered, ordered[1:], strict=False)), default=0.0)
        print(
            f"6 sessions on the local models: completed {ok}/6, wall {wall:.1f} s; queue wait per session "
            f"{', '.join(f'{w:.1f}' for w in sorted(waits.values()))} s; longest generation {generation:.2f} s"
        )
        # First come, first served: each session waits at most one generation longer than the one before.
        verdict = "fair" if step <= generation else "NOT fair"
        print(
            f"   largest step between consecutive sessions' waits {step:.2f} s vs one generation: {verdict}"
        )
        soak(url, process.pid, 10 if quick else 50)


def soak(url: str, pid: int, runs: int) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1200})
        page.goto(url)
        box = page.get_by_label("Prompt", exact=True)
        box.wait_for(state="visible", timeout=120_000)
        box.fill("Name three colors")
        tokens = page.get_by_label("Max tokens")
        tokens.fill("8")
        tokens.press("Enter")
        memory = []
        for index in range(runs):
            page.get_by_role("button", name="Run", exact=True).click()
            page.wait_for_function(
                "n => (document.body.innerText.match(/share link/g) || []).length > 0 && "
                "[...document.querySelectorAll('button')].some(b => b.innerText.trim() === 'Run' && !b.disabled)",
                arg=index,
                timeout=300_000,
            )
            time.sleep(0.5)
            memory.append((rss_mb(pid), own_rss_mb(pid)))
        browser.close()
    tenth = max(1, runs // 10)
    for label, index in (("server and its model workers", 0), ("server process alone", 1)):
        series = [m[index] for m in memory]
        print(
            f"{runs} runs in one session, {label}: RSS after run 1 {series[0]:.0f} MB, after run {tenth} "
            f"{series[tenth - 1]:.0f} MB, after run {runs // 2} {series[runs // 2 - 1]:.0f} MB, after run {runs} "
            f"{series[-1]:.0f} MB; growth over the second half {series[-1] - series[runs // 2 - 1]:+.0f} MB"
        )


if __name__ == "__main__":
    quick = "--quick" in sys.argv
    if "--soak" not in sys.argv:
        load_part(quick)
    if "--soak" in sys.argv:  # only the local-model part and the soak
        local_part(quick)
        sys.exit()
    if not any(a.startswith("--sizes=") for a in sys.argv):
        local_part(quick)
