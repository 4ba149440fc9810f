"""The cost of the portable llama.cpp build: decode tok/s of the README's build (GGML_NATIVE=OFF, AVX2
baseline) over a native build (-march=native) of the same llama-cpp-python version, on this machine.

Target: portable / native >= 0.9. Only meaningful where a native build runs (where it dies with SIGILL,
the portable build is the only one that works at all).

The native build is made once into ~/.cache/model-playground/bench/ (about 5 minutes on 2 cores), or
taken from NATIVE_WHEEL=path/to/llama_cpp_python-*.whl. Both builds decode the same prompt greedily in
processes of their own, alternating, with 1 and with 2 threads.

Run: .venv/bin/python bench/bench_build.py
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from providers.local_models import gguf_path  # noqa: E402

CACHE = Path.home() / ".cache" / "model-playground" / "bench"
PROBE = ROOT / "bench" / "decode_probe.py"
ROUNDS, MAX_TOKENS, ALTERNATIONS = 3, 96, 3


def native_python() -> Path:
    """A venv holding a native build of the installed llama-cpp-python version (made on first use)."""
    wanted = version("llama-cpp-python")
    venv = CACHE / f"native-{wanted}"
    python = venv / "bin" / "python"
    if python.exists():
        return python
    wheel = os.environ.get("NATIVE_WHEEL")
    if not wheel:
        wheels = CACHE / f"native-wheel-{wanted}"
        if not list(wheels.glob("*.whl")):
            print(f"building a native llama-cpp-python {wanted} (once, about 5 minutes)...", flush=True)
            subprocess.run(
                [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-cache-dir", "-w", str(wheels),
                 f"llama-cpp-python=={wanted}"],
                check=True, env={**os.environ, "CMAKE_BUILD_PARALLEL_LEVEL": str(os.cpu_count() or 1)},
            )  # fmt: skip
        wheel = str(next(wheels.glob("*.whl")))
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run([str(python), "-m", "pip", "install", "-q", wheel], check=True)
    return python


def probe(python: Path, model: Path, threads: int) -> dict:
    """Run the decode probe in `python`; returns its JSON."""
    out = subprocess.run(
        [str(python), str(PROBE), str(model), str(threads), str(ROUNDS), str(MAX_TOKENS)],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    builds = {"portable": Path(sys.executable), "native": native_python()}
    model = gguf_path("smollm2-135m")
    for threads in (1, 2):
        speeds: dict[str, list[float]] = {name: [] for name in builds}
        features: dict[str, list[str]] = {}
        for _ in range(ALTERNATIONS):
            for name, python in builds.items():
                result = probe(python, model, threads)
                speeds[name] += result["tok_s"]
                features[name] = result["features"]
        medians = {name: statistics.median(values) for name, values in speeds.items()}
        for name in builds:
            print(f"  {threads} thread(s) {name:8}: {medians[name]:6.1f} tok/s median of {len(speeds[name])}"
                  f"  (builds in: {' '.join(features[name])})")  # fmt: skip
        ratio = medians["portable"] / medians["native"]
        print(f"decode tok/s portable / native, {threads} thread(s): {ratio:.3f}  target >= 0.9")


if __name__ == "__main__":
    main()
