"""`playground serve`: start the dashboard, refusing to start a hosted instance that is not hardened.

The app also refuses to serve such an instance (every page shows what to fix), but a server that starts
and answers its health check looks ready to a deployment; this command exits before it ever listens."""

from __future__ import annotations

import os
import sys
import tomllib
from pathlib import Path
from typing import Any

import typer

from playground.cli.common import fail_usage
from playground.core.policy import HostedPolicy, HostingConfigError
from playground.hosting.hardening import CHECKED_OPTIONS, hardening_problems

APP = Path(__file__).resolve().parents[2] / "app.py"


def serve_command(context: typer.Context) -> None:
    """Start the dashboard (`streamlit run app.py` with any --section.option=value given after it)."""
    flags = _flags(context.args)
    os.chdir(APP.parent)  # Streamlit reads .streamlit/config.toml and secrets from the working directory
    try:
        policy = HostedPolicy.from_env()
    except HostingConfigError as exc:
        raise fail_usage(str(exc)) from exc
    if policy.enabled:
        options = _streamlit_options(flags)
        problems = hardening_problems(options, _auth_settings(options.get("secrets.files")))
        if problems:
            for problem in problems:
                print(f"- {problem}", file=sys.stderr)
            raise fail_usage("this hosted instance refuses to start until the settings above are fixed")
    command = [sys.executable, "-m", "streamlit", "run", str(APP), *context.args]
    os.execv(sys.executable, command)


def _flags(args: list[str]) -> dict[str, str]:
    """`--server.address=X` or `--server.address X` pairs, as Streamlit takes them on its command line."""
    flags, items = {}, iter(args)
    for item in items:
        if not item.startswith("--"):
            raise fail_usage(
                f"unexpected argument {item!r}: give Streamlit options as --section.option=value"
            )
        name, _, value = item[2:].partition("=")
        flags[name] = value if _ else next(items, "")
    return flags


def _streamlit_options(flags: dict[str, str]) -> dict[str, Any]:
    """The options Streamlit will run with: its config files, the environment, then these flags."""
    from streamlit import config

    config.get_config_options(force_reparse=True, options_from_flags=_typed(flags))
    return {name: config.get_option(name) for name in (*CHECKED_OPTIONS, "secrets.files")}


def _typed(flags: dict[str, str]) -> dict[str, Any]:
    # Streamlit's own command line turns "true", "false" and numbers into values before it sets them.
    def value(text: str) -> Any:
        lowered = text.lower()
        if lowered in ("true", "false"):
            return lowered == "true"
        return int(text) if text.isdigit() else text

    return {name: value(text) for name, text in flags.items()}


def _auth_settings(files: list[str] | str | None) -> dict[str, Any] | None:
    """The [auth] section of the first secrets file that has one (as st.secrets would read it)."""
    for file in [files] if isinstance(files, str) else files or []:
        try:
            auth = tomllib.loads(Path(file).read_text(encoding="utf-8")).get("auth")
        except (OSError, tomllib.TOMLDecodeError):
            continue
        if auth:
            return auth
    return None
