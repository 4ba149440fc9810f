"""Errors a person's input causes before anything is sent."""

from __future__ import annotations


class UsageError(ValueError):
    """Bad input from the person: one clear line, nothing sent."""
