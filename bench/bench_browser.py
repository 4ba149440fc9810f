"""Dashboard benchmarks in a real headless browser (Debian chromium + playwright), one run:

- cold page load to an interactive Prompt box                                  (target <= 2 s)
- per column: click Run -> first token visible, minus that model's reported TTFT  (target <= 0.25 s)

Run: .venv/bin/python bench/bench_browser.py
"""

from __future__ import annotations

import re
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import os  # noqa: E402

from tests.conftest import free_port  # noqa: E402
from tests.processes import serving, streamlit_command  # noqa: E402
from tests.test_browser import CHROMIUM, CHROMIUM_ARGS  # noqa: E402

MODELS = ("smollm2-135m", "gemma3-270m")


def main() -> None:
    from playwright.sync_api import sync_playwright

    port = free_port()
    env = {**os.environ, "PLAYGROUND_DB": f"sqlite:///{tempfile.mkdtemp()}/bench.db"}
    url = f"http://127.0.0.1:{port}"
    log = Path(tempfile.mkdtemp()) / "streamlit.log"
    with serving(streamlit_command(port), f"{url}/_stcore/health", log, env=env):
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1400, "height": 1400})
            started = time.perf_counter()
            page.goto(url)
            prompt = page.get_by_label("Prompt", exact=True)
            prompt.wait_for(state="visible", timeout=60_000)
            load_s = time.perf_counter() - started
            prompt.fill("Name three colors")
            prompt.press("Control+Enter")
            run = page.get_by_role("button", name="Run", exact=True)
            page.wait_for_function(
                "() => [...document.querySelectorAll('button')].some("
                "b => b.innerText.trim() === 'Run' && !b.disabled)",
                timeout=60_000,
            )
            # Warm the local models once so the measured run is not a model load.
            run.click()
            page.locator("[data-testid='stCaptionContainer']").filter(has_text="TTFT").nth(1).wait_for(
                timeout=120_000
            )
            run = page.get_by_role("button", name="Run", exact=True)
            clicked = time.perf_counter()
            run.click()
            first_seen: dict[str, float] = {}
            while len(first_seen) < len(MODELS) and time.perf_counter() - clicked < 60:
                columns = page.evaluate(
                    "() => [...document.querySelectorAll('[data-testid=\"stColumn\"]')].map(c => c.innerText)"
                )
                for text in columns:
                    for model in MODELS:
                        if model in text and model not in first_seen and "▌" in text:
                            first_seen[model] = time.perf_counter() - clicked
                time.sleep(0.01)
            page.locator("text=Run saved").wait_for(timeout=120_000)
            final_columns = page.evaluate(
                "() => [...document.querySelectorAll('[data-testid=\"stColumn\"]')].map(c => c.innerText)"
            )
            browser.close()
    print(f"cold page load to interactive Prompt box: {load_s:.2f} s  target <= 2 s")
    for model in MODELS:
        column = next((c for c in final_columns if c.startswith(model) and "TTFT" in c), "")
        ttft_match = re.search(r"TTFT ([0-9.]+) s", column)
        ttft = float(ttft_match.group(1)) if ttft_match else float("nan")
        seen = first_seen.get(model, float("nan"))
        print(
            f"{model}: click->first token visible {seen:.3f} s, reported TTFT {ttft:.3f} s, "
            f"difference {seen - ttft:.3f} s  target <= 0.25 s"
        )


if __name__ == "__main__":
    main()
