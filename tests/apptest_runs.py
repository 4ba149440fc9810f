"""Compare runs in the server while its page only follows them: AppTest (which has no timer to run the
live fragment) reruns the page until the run has ended."""

from __future__ import annotations

import time

from streamlit.testing.v1 import AppTest


def is_going(at: AppTest) -> bool:
    """The page shows a run still going (its Stop button)."""
    return "stop" in [b.key for b in at.button]


def follow_to_end(at: AppTest, timeout_s: float = 180.0) -> AppTest:
    """Rerun the page until the run it shows has ended (as the live fragment would, every 0.25 s)."""
    deadline = time.monotonic() + timeout_s
    while is_going(at) and not at.exception:
        assert time.monotonic() < deadline, "the run did not end in time"
        time.sleep(0.2)
        at.run()
    return at


def run_button(at: AppTest):
    """Compare's Run button (its key names the run the page shows: see pages/compare.py)."""
    (button,) = [b for b in at.button if b.key == "run" or (b.key or "").startswith("run-")]
    return button


def click_run(at: AppTest, timeout_s: float = 180.0) -> AppTest:
    """Press Run and follow the run to its end."""
    run_button(at).click().run()
    return follow_to_end(at, timeout_s)
