"""The README's two commands are the set-up: CI runs the test one exactly as written, and both build
llama.cpp for the portable baseline with a wheel cache of their own."""

from __future__ import annotations

import re
from pathlib import Path

from tests.processes import ROOT


def readme_commands() -> list[str]:
    return re.findall(r"```bash\n(.+?)\n```", (ROOT / "README.md").read_text())[:2]


def test_ci_runs_the_readmes_test_command_as_written():
    app, tests = readme_commands()
    assert app.endswith("streamlit run app.py") and tests.endswith("python -m pytest")
    assert tests in (ROOT / ".ci" / "run").read_text().splitlines()


def test_both_commands_build_the_portable_llama_cpp_with_their_own_cache():
    for command in readme_commands():
        assert 'CMAKE_ARGS="-DGGML_NATIVE=OFF"' in command
        assert "--cache-dir ~/.cache/model-playground/pip-portable" in command
        assert command.startswith("python3 -m venv .venv && ")


def test_the_wheel_installs_and_lists_models_outside_the_repository(tmp_path: Path):
    # The built-in models file and the migrations are package data: a wheel install needs no checkout.
    import json
    import site
    import subprocess
    import sys

    wheels, venv, elsewhere = tmp_path / "wheels", tmp_path / "venv", tmp_path / "elsewhere"
    elsewhere.mkdir()
    import shutil

    pip = [sys.executable, "-m", "pip"]
    source = tmp_path / "source"  # a copy: setuptools writes build/ next to the sources
    shutil.copytree(
        ROOT, source, ignore=shutil.ignore_patterns(".venv", ".git", "build", "*.egg-info", "tests")
    )
    subprocess.run([*pip, "wheel", "--no-deps", "-q", "-w", str(wheels), str(source)], check=True)
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    subprocess.run(
        [*pip, "--python", str(python), "install", "-q", "--no-deps", *wheels.glob("*.whl")], check=True
    )
    # The dependencies come from this environment's site-packages (a path in a .pth file runs no code, so
    # the editable checkout installed there is not on the path).
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        check=True, capture_output=True, text=True,
    ).stdout.strip()  # fmt: skip
    Path(purelib, "dependencies.pth").write_text(site.getsitepackages()[0] + "\n")
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "PLAYGROUND_DB": f"sqlite:///{tmp_path / 'h.db'}"}
    listed = subprocess.run(
        [str(venv / "bin" / "playground"), "models", "--json"],
        cwd=elsewhere, env=env, check=True, capture_output=True, text=True,
    )  # fmt: skip
    keys = {json.loads(line)["key"] for line in listed.stdout.splitlines()}
    assert {"smollm2-135m", "gemma3-270m", "gpt-4o-mini"} <= keys
    # The migrations and the sample datasets are package data too.
    data_check = "from playground.storage import Store; from playground.evals import load_sample; Store(); print(len(load_sample('qa.csv').rows))"
    rows = subprocess.run(
        [str(python), "-c", data_check], cwd=elsewhere, env=env, check=True, capture_output=True, text=True
    )
    assert int(rows.stdout) > 0
    samples_check = "from playground.speech import load_samples; print(len(load_samples()))"
    samples = subprocess.run(
        [str(python), "-c", samples_check], cwd=elsewhere, env=env, check=True, capture_output=True, text=True
    )
    assert int(samples.stdout) == 6  # the labelled speech samples ship in the wheel
    where = subprocess.run(
        [str(python), "-c", "import playground; print(playground.__file__)"],
        cwd=elsewhere, env=env, check=True, capture_output=True, text=True,
    ).stdout  # fmt: skip
    assert str(ROOT) not in where  # the installed wheel, not the checkout
