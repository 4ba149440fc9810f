"""Local LoRA fine-tuning of smollm2-135m on this machine's CPU, measured in one run:

1. Steps per second: the job's own measured step times (batch 4, the shipped sample, max 64 tokens per
   example, rank 8, 2 torch threads), median over the steps.
2. Seconds to the first adapter: from `start_local_tune` to the GGUF adapter written and listed.
3. The shipped held-out set before and after: the share of answers in the taught style (the evaluation's
   regex metric, pattern `^\\s*Answer:`), with 95% Wilson intervals, the base and the tuned model each
   through the project's own path (spec → adapter → local worker).
4. The installed size of the `lora` extra's distributions (the sizes in each one's RECORD, summed).

The 2 cores may be shared with other work: the load average is printed at start and end.

Run: .venv/bin/python bench/bench_lora.py [--steps N]
"""

from __future__ import annotations

import argparse
import importlib.metadata
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from playground.core.specs import load_specs  # noqa: E402
from playground.lora import TuneProgress, sample_training_set, start_local_tune, with_tuned_models  # noqa: E402
from tests.lora_heldout import style_rate  # noqa: E402

# The `lora` extra and what it pulls in beyond the app's own install (seen with pip in a fresh venv).
LORA_DISTRIBUTIONS = (
    "torch",
    "transformers",
    "peft",
    "gguf",
    "accelerate",
    "sympy",
    "mpmath",
    "networkx",
    "kernels",
)


def installed_mb(name: str) -> float:
    files = importlib.metadata.distribution(name).files or []
    return sum((f.size or 0) for f in files) / 1e6


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=20)
    args = parser.parse_args()
    print(f"load average at start: {os.getloadavg()[0]:.2f} (2 cores)")
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        started = time.monotonic()
        job = start_local_tune(
            sample_training_set(), "bench", steps=args.steps, root=root, threads=2, max_tokens=64
        )
        progress = [e for e in job.events() if isinstance(e, TuneProgress)]
        to_adapter = time.monotonic() - started
        assert job.result() is not None, job.ended
        step_s = statistics.median(p.step_s for p in progress)
        print(
            f"steps: {len(progress)}; median step {step_s:.2f} s -> {1 / step_s:.2f} steps/s "
            f"(min {min(p.step_s for p in progress):.2f} s, max {max(p.step_s for p in progress):.2f} s)"
        )
        print(f"loss: first step {progress[0].loss:.3f}, last step {progress[-1].loss:.3f}")
        trained_s = progress[-1].elapsed_s
        print(
            f"seconds to the first adapter (start -> GGUF adapter listed): {to_adapter:.1f} s, of which "
            f"training steps {trained_s:.1f} s; the rest is the worker's start, the GGUF load and the write"
        )
        specs = with_tuned_models(load_specs(), root)
        for label, key in (("base", "smollm2-135m"), ("tuned", "smollm2-135m+bench")):
            measured = style_rate(specs[key])
            print(
                f"held-out style rate, {label:5}: {measured.rate:.2f} "
                f"[95% CI {measured.low:.2f}-{measured.high:.2f}] over {len(measured.answers)} questions; "
                f"first answer {measured.answers[0]!r}"
            )
    sizes = {name: installed_mb(name) for name in LORA_DISTRIBUTIONS}
    print(
        "installed size of the lora extra: "
        + ", ".join(f"{n} {mb:.0f} MB" for n, mb in sizes.items())
        + f"; total {sum(sizes.values()):.0f} MB"
    )
    print(f"load average at end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
