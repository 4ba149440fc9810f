"""Prompt templates filled from dataset columns, rendered in Jinja2's sandbox (never eval)."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property

from jinja2 import StrictUndefined, TemplateSyntaxError, meta
from jinja2.sandbox import SandboxedEnvironment

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
    def _environment(self) -> SandboxedEnvironment:
        return SandboxedEnvironment(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=True)

    @cached_property
    def jinja_source(self) -> str:
        """The template in Jinja syntax."""
        return _SIMPLE_FIELD.sub(lambda m: "{{ " + m.group(1) + " }}", self.source)

    @cached_property
    def variables(self) -> frozenset[str]:
        """Names the template reads."""
        try:
            return frozenset(meta.find_undeclared_variables(self._environment.parse(self.jinja_source)))
        except TemplateSyntaxError as exc:
            raise TemplateError(f"template line {exc.lineno}: {exc.message}") from exc

    def check(self, columns: Sequence[str], rows: Sequence[Mapping[str, str]] = ()) -> None:
        """Raise TemplateError when a variable has no column (naming both) or a row lacks a value."""
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

    @cached_property
    def _compiled(self):  # noqa: ANN202 - a jinja2.Template
        return self._environment.from_string(self.jinja_source)

    def render(self, row: Mapping[str, str]) -> str:
        """The prompt for one row."""
        try:
            return self._compiled.render(**row)
        except Exception as exc:  # sandbox violations, undefined names, filter errors
            raise TemplateError(f"template could not be filled: {exc}") from exc
