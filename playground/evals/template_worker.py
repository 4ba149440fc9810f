"""The process that fills prompt templates: Jinja's sandbox, bounded, under CPU and memory limits.

`python -P -m playground.evals.template_worker`

A prompt template is code a visitor writes. Jinja's sandbox keeps it from reaching Python's internals,
but not from spending: `{{ "x" | center(300000000) }}`, `lipsum(n=100000)` or two nested loops of
100,000 hold a process's CPU and memory (and, in the web server, the interpreter lock every session
needs) for seconds to hours. Even finding a template's variables runs Jinja's code generator, which
folds constants such as `'%300000000d' % 1`. So templates are read and filled here, in a process of its
own with an address-space limit, and `playground.evals.template_pool` stops any request that takes
over a second and starts a new process. This module imports only Jinja and the standard library, and
the process gets a bare environment (no API keys).

Wire format: one JSON object per line, one request at a time.
- Out at start: {"ready": true}.
- In:  {"variables": Jinja source}  ->  {"names": [name, ...]} or {"error": message}
       {"source": Jinja source, "values": {name: value}}  ->  {"text": prompt} or {"error": message}
  Either may instead get {"memory": true} when it ran out of memory; then the process exits (after a
  MemoryError its state is not trusted).
End of stdin ends the process.
"""

from __future__ import annotations

import functools
import json
import math
import resource
import sys
from collections.abc import Mapping
from typing import Any, BinaryIO

from jinja2 import StrictUndefined, Template, TemplateSyntaxError, meta
from jinja2.sandbox import ImmutableSandboxedEnvironment

# Bounds that keep one template from taking its process: a prompt this long is far past any model's
# context window, and integers this large are no prompt's business.
MAX_PROMPT_CHARS = 200_000
_MAX_INT_BITS = 100_000
# The process's whole address space (the interpreter and Jinja take about 25 MB of it): room for a
# 10 MB dataset row and a 200,000-character prompt many times over.
MEMORY_LIMIT_MB = 256
# CPU seconds one request may use before the kernel ends the process. The supervisor stops a request
# after a second of wall time; this limit still holds when the supervisor is gone.
CPU_LIMIT_S = 3
# An error message is shown on a page: a hostile template can make one hold its own huge values.
_MAX_ERROR_CHARS = 500


class BoundsError(Exception):
    """A template that went past one of the bounds; its message is shown to whoever wrote it."""


class _BoundedSandbox(ImmutableSandboxedEnvironment):
    """Jinja's immutable sandbox with ** and * bounded before they run.

    `{{ (7 ** 10000000) % 10 }}` or `'x' * 10**8` would otherwise take seconds or gigabytes before the
    process limits stop them, with a vaguer message; intercepted operators are also never folded at
    compile time."""

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
            raise BoundsError(f"{base} ** {exponent} is too large for a template")


def _check_product(left: object, right: object) -> None:
    for sized, times in ((left, right), (right, left)):
        if isinstance(sized, str | list | tuple) and isinstance(times, int):
            if len(sized) * times > MAX_PROMPT_CHARS:
                raise BoundsError(f"repeating {len(sized)} items {times} times is too long for a prompt")
    if isinstance(left, int) and isinstance(right, int):
        if abs(left).bit_length() + abs(right).bit_length() > _MAX_INT_BITS:
            raise BoundsError("a product this large is too large for a template")


# Strict about missing names, no escaping (a prompt is not HTML), a trailing newline kept.
_ENVIRONMENT = _BoundedSandbox(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=True)


@functools.lru_cache(maxsize=32)
def _compiled(source: str) -> Template:
    # An evaluation fills one template thousands of times: it is compiled once.
    return _ENVIRONMENT.from_string(source)


def variables(source: str) -> list[str]:
    """The names `source` (Jinja) reads from its values, sorted."""
    try:
        return sorted(meta.find_undeclared_variables(_ENVIRONMENT.parse(source)))
    except RecursionError as exc:  # `{{ ((((…1)))) }}` nested a few hundred deep
        raise BoundsError("the template is nested too deeply to read") from exc


def fill(source: str, values: Mapping[str, Any]) -> str:
    """The prompt `source` (Jinja) makes from `values`, in this process, stopped at MAX_PROMPT_CHARS."""
    parts, size = [], 0
    for part in _compiled(source).generate(**values):
        size += len(part)
        if size > MAX_PROMPT_CHARS:
            raise BoundsError(f"the prompt would be over {MAX_PROMPT_CHARS} characters")
        parts.append(part)
    return "".join(parts)


def _limit_process() -> None:
    """Cap the address space for good (soft and hard: nothing here can raise it again); no core files."""
    limit = MEMORY_LIMIT_MB * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def _allow_cpu(seconds: int) -> None:
    """Let the next request use `seconds` more CPU time: the limit counts the process's whole life."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    _, hard = resource.getrlimit(resource.RLIMIT_CPU)
    resource.setrlimit(resource.RLIMIT_CPU, (math.ceil(usage.ru_utime + usage.ru_stime) + seconds, hard))


def _answer(line: bytes) -> dict[str, Any]:
    """One request's reply: the names or the prompt, or why there are none."""
    try:
        request = json.loads(line)
        if "variables" in request:
            return {"names": variables(request["variables"])}
        return {"text": fill(request["source"], request["values"])}
    except MemoryError:
        raise
    except TemplateSyntaxError as exc:
        message = f"template line {exc.lineno}: {exc.message}"
    except Exception as exc:  # noqa: BLE001 - sandbox violations, undefined names, filter errors
        message = str(exc) or type(exc).__name__
    if len(message) > _MAX_ERROR_CHARS:
        message = message[:_MAX_ERROR_CHARS] + "…"
    return {"error": message}


def _send(stream: BinaryIO, message: dict[str, Any]) -> None:
    stream.write(json.dumps(message).encode("ascii") + b"\n")  # ASCII JSON: any str survives the pipe
    stream.flush()


def main() -> None:
    """Answer requests from stdin until it ends."""
    _limit_process()
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    _send(stdout, {"ready": True})
    while True:
        try:
            line = stdin.readline()
            if not line:
                return
            _allow_cpu(CPU_LIMIT_S)
            reply = _answer(line)
        except MemoryError:
            _send(stdout, {"memory": True})
            return
        _send(stdout, reply)


if __name__ == "__main__":
    main()
