"""Prompt templates filled from dataset columns: Jinja2's sandbox (never eval), in a worker process.

A template is read (for its variables) and filled by `playground.evals.template_pool`, in a process of
its own with a time and memory limit, so a hostile one cannot hold this server: no Jinja runs here.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property

from playground.evals import template_pool

# `{column}` (a bare name in single braces) is the simple form; it becomes Jinja's `{{ column }}`.
# Any other single brace (JSON in a prompt, say) stays literal, and full Jinja (`{{ x | upper }}`,
# `{% if %}`) works as well.
_SIMPLE_FIELD = re.compile(r"(?<!\{)\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}(?!\})")


class TemplateError(ValueError):
    """A template that cannot be used with this dataset; the message names the variable and the columns."""


@dataclass(frozen=True)
class PromptTemplate:
    """A prompt template checked against a dataset's columns once, then rendered per row."""

    source: str

    @cached_property
    def jinja_source(self) -> str:
        """The template in Jinja syntax."""
        return _SIMPLE_FIELD.sub(lambda m: "{{ " + m.group(1) + " }}", self.source)

    @cached_property
    def variables(self) -> frozenset[str]:
        """Names the template reads."""
        try:
            return template_pool.variables(self.jinja_source)
        except template_pool.WorkerError as exc:  # "template line 3: unexpected '}'", or time or memory
            raise TemplateError(str(exc)) from exc

    def check(self, columns: Sequence[str], rows: Sequence[Mapping[str, str]] = ()) -> None:
        """Raise TemplateError when a variable has no column (naming both), a row lacks a value, or the
        first row cannot be filled."""
        if not self.source.strip():
            raise TemplateError("the prompt template is empty")
        missing = sorted(self.variables - set(columns))
        if missing:
            raise TemplateError(
                f"template variable {', '.join(repr(m) for m in missing)} has no column in the dataset; "
                f"columns are: {', '.join(columns)}"
            )
        for number, row in enumerate(rows, start=1):
            absent = sorted(v for v in self.variables if v not in row)
            if absent:
                raise TemplateError(f"row {number} has no value for {', '.join(map(repr, absent))}")
        if rows:
            try:
                self.render(rows[0])  # a template that cannot be filled is refused before anything runs
            except TemplateError as exc:
                raise TemplateError(f"row 1: {exc}") from exc

    def render(self, row: Mapping[str, str]) -> str:
        """The prompt for one row (at most 200,000 characters), filled within a second in a worker process."""
        # Only the columns the template reads cross the pipe: a wide dataset costs nothing extra.
        values = {name: row[name] for name in self.variables if name in row}
        try:
            return template_pool.fill(self.jinja_source, values)
        except template_pool.WorkerError as exc:
            raise TemplateError(f"template could not be filled: {exc}") from exc
