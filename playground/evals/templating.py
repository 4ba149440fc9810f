"""Prompt templates filled from dataset columns, rendered in Jinja2's sandbox (never eval)."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property

from jinja2 import StrictUndefined, TemplateSyntaxError, meta
from jinja2.sandbox import ImmutableSandboxedEnvironment

# `{column}` (a bare name in single braces) is the simple form; it becomes Jinja's `{{ column }}`.
# Any other single brace (JSON in a prompt, say) stays literal, and full Jinja (`{{ x | upper }}`,
# `{% if %}`) works as well.
_SIMPLE_FIELD = re.compile(r"(?<!\{)\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}(?!\})")


# Bounds that keep one template from taking the server: a prompt this long is far past any model's
# context window, and integers this large are no prompt's business.
MAX_PROMPT_CHARS = 200_000
_MAX_INT_BITS = 100_000


class TemplateError(ValueError):
    """A template that cannot be used with this dataset; the message names the variable and the columns."""


class _BoundedSandbox(ImmutableSandboxedEnvironment):
    """Jinja's immutable sandbox with ** and * bounded before they run.

    `{{ (7 ** 10000000) % 10 }}` or `'x' * 10**8` would otherwise hold the server's CPU (and the GIL, so
    every session) for seconds; intercepted operators are also never folded at compile time."""

    intercepted_binops = frozenset({"**", "*"})

    def call_binop(self, context, operator, left, right):  # noqa: ANN001, ANN201 - Jinja's hook
        if operator == "**":
            _check_power(left, right)
        elif operator == "*":
            _check_product(left, right)
        return super().call_binop(context, operator, left, right)


def _check_power(base: object, exponent: object) -> None:
    if isinstance(base, int) and isinstance(exponent, int) and exponent > 0:
        if abs(base) > 1 and max(abs(base).bit_length() - 1, 1) * exponent > _MAX_INT_BITS:
            raise TemplateError(f"{base} ** {exponent} is too large for a template")


def _check_product(left: object, right: object) -> None:
    for sized, times in ((left, right), (right, left)):
        if isinstance(sized, str | list | tuple) and isinstance(times, int):
            if len(sized) * times > MAX_PROMPT_CHARS:
                raise TemplateError(f"repeating {len(sized)} items {times} times is too long for a prompt")
    if isinstance(left, int) and isinstance(right, int):
        if abs(left).bit_length() + abs(right).bit_length() > _MAX_INT_BITS:
            raise TemplateError("a product this large is too large for a template")


@dataclass(frozen=True)
class PromptTemplate:
    """A prompt template checked against a dataset's columns once, then rendered per row."""

    source: str

    @cached_property
    def _environment(self) -> _BoundedSandbox:
        return _BoundedSandbox(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=True)

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
        if rows:
            self.render(rows[0])  # a template that cannot be filled is refused before anything runs

    @cached_property
    def _compiled(self):  # noqa: ANN202 - a jinja2.Template
        return self._environment.from_string(self.jinja_source)

    def render(self, row: Mapping[str, str]) -> str:
        """The prompt for one row (at most MAX_PROMPT_CHARS: rendering stops there)."""
        parts, size = [], 0
        try:
            for part in self._compiled.generate(**row):
                size += len(part)
                if size > MAX_PROMPT_CHARS:
                    raise TemplateError(f"the prompt would be over {MAX_PROMPT_CHARS} characters")
                parts.append(part)
        except TemplateError as exc:
            raise TemplateError(f"template could not be filled: {exc}") from exc
        except Exception as exc:  # sandbox violations, undefined names, filter errors
            raise TemplateError(f"template could not be filled: {exc}") from exc
        return "".join(parts)
