"""The README's two commands are the set-up: CI runs the test one exactly as written, and both build
llama.cpp for the portable baseline with a wheel cache of their own."""

from __future__ import annotations

import re

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
