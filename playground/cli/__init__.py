"""The `playground` command: models, run and eval, on the same services as the dashboard."""

from playground.cli.main import main

__all__ = ["main"]
