"""Checking a training set before anything is spent: every bad line named, tokens per example with the
model's tokenizer, the estimated training cost, and a seeded held-out split.

Accepted: chat-format JSONL, OpenAI's fine-tuning format (one {"messages": [{"role", "content"}, ...]}
per line), or a CSV with `prompt` and `completion` columns (each row becomes a user and an assistant
message). Hand-written because the format is small and every refusal must name its line and reason.
"""

from __future__ import annotations

import csv
import io
import json
import random
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from playground.core.errors import UsageError
from playground.core.sizes import megabytes_limit
from playground.core.specs import ModelSpec
from playground.engine.tokens import estimator_for
from providers.base import ChatRequest, Message

MAX_MB_ENV = "PLAYGROUND_MAX_TRAINING_MB"
DEFAULT_MAX_MB = 20.0
MAX_LINES = 50_000  # more examples than any hosted job here needs; a bigger set is refused, named
ROLES = ("system", "user", "assistant")
PRICE_PER = Decimal(1_000_000)  # price_training_per_mtok is per million tokens
# Fewer training examples than this: OpenAI's fine-tuning API refuses the file.
MIN_TRAINING_EXAMPLES = 10


class TrainingFileError(UsageError):
    """A training file that cannot be read at all (too big, not UTF-8, empty, wrong type): names the file."""


@dataclass(frozen=True)
class BadLine:
    """One line (JSONL) or row (CSV, counted as lines of the file) that cannot be trained on, and why."""

    line: int
    reason: str


@dataclass(frozen=True)
class Example:
    """One training example: its line in the file, its messages, and its tokens."""

    line: int
    messages: tuple[Message, ...]
    tokens: int

    def to_json(self) -> dict[str, Any]:
        """The example in OpenAI's fine-tuning format (one JSONL line's object)."""
        return {"messages": [{"role": m.role, "content": m.content} for m in self.messages]}

    @property
    def prompt_messages(self) -> tuple[Message, ...]:
        """Every message before the last assistant one: what a model is asked when evaluated."""
        last = max(i for i, m in enumerate(self.messages) if m.role == "assistant")
        return self.messages[:last]

    @property
    def answer(self) -> str:
        """The last assistant message: the answer the tuned model should give."""
        return [m for m in self.messages if m.role == "assistant"][-1].content


@dataclass(frozen=True)
class TrainingCost:
    """The estimated training cost: `usd` (None when unknown or local) and where the price comes from."""

    usd: Decimal | None
    source: str  # "models file: price_training_per_mtok", "unknown", "local"

    @property
    def label(self) -> str:
        """The cost as shown: "$1.23", or "unknown" / "local" (never $0 for want of a price)."""
        return f"${self.usd:.4f}" if self.usd is not None else self.source


@dataclass(frozen=True)
class TrainingCheck:
    """A training file checked for one base model: the good examples split into training and held-out
    sets, the bad lines, token totals and the estimated cost of `epochs` epochs."""

    name: str
    model: str  # the base model's key
    counted_by: str  # "estimated:o200k_base" (tiktoken), "counted" (a local model's own tokenizer)
    context_window: int | None
    train: tuple[Example, ...]
    holdout: tuple[Example, ...]
    bad: tuple[BadLine, ...]
    epochs: int
    holdout_fraction: float
    seed: int
    cost: TrainingCost

    @property
    def training_tokens(self) -> int:
        """Tokens of the training examples, one epoch."""
        return sum(example.tokens for example in self.train)

    @property
    def billed_tokens(self) -> int:
        """Tokens trained on: the training examples' tokens × epochs."""
        return self.training_tokens * self.epochs

    @property
    def ok(self) -> bool:
        """True when a job may start: no bad line, and enough training examples."""
        return not self.bad and len(self.train) >= MIN_TRAINING_EXAMPLES

    @property
    def problem(self) -> str | None:
        """Why a job may not start (None when it may)."""
        if self.bad:
            return f"{self.name}: {len(self.bad)} bad line(s); fix them first"
        if len(self.train) < MIN_TRAINING_EXAMPLES:
            return (
                f"{self.name}: {len(self.train)} training example(s) after the held-out split; "
                f"at least {MIN_TRAINING_EXAMPLES} are needed"
            )
        return None

    def training_jsonl(self) -> bytes:
        """The training examples as the JSONL file a provider is sent."""
        return "".join(json.dumps(e.to_json(), ensure_ascii=False) + "\n" for e in self.train).encode()


def max_bytes() -> int:
    """The size limit for one training file: $PLAYGROUND_MAX_TRAINING_MB (default 20 MB)."""
    try:
        return megabytes_limit(MAX_MB_ENV, DEFAULT_MAX_MB)
    except ValueError as exc:
        raise TrainingFileError(str(exc)) from exc


def check_training_file(
    name: str, data: bytes, spec: ModelSpec, *, epochs: int = 3, holdout: float = 0.1, seed: int = 0
) -> TrainingCheck:
    """Check `data` (the file called `name`) for training `spec`: TrainingFileError when the file cannot be
    read at all; otherwise every bad line is in the result's `bad`."""
    if epochs < 1 or epochs > 50:
        raise UsageError(f"epochs must be from 1 to 50, not {epochs}")
    if not 0 <= holdout < 1:
        raise UsageError(f"the held-out share must be from 0 to less than 1, not {holdout}")
    text = _text(name, data)
    parsed, bad = _parse(name, text)
    counter = _counter(spec)
    examples: list[Example] = []
    for line, messages in parsed:
        tokens = counter.count_request(ChatRequest(messages=messages))
        if spec.context_window is not None and tokens > spec.context_window:
            bad.append(
                BadLine(
                    line, f"{tokens} tokens, over {spec.key}'s {spec.context_window}-token context window"
                )
            )
            continue
        examples.append(Example(line, messages, tokens))
    train, held = _split(examples, holdout, seed)
    check = TrainingCheck(
        name=name,
        model=spec.key,
        counted_by=f"estimated:{counter.name}",
        context_window=spec.context_window,
        train=train,
        holdout=held,
        bad=tuple(sorted(bad, key=lambda b: b.line)),
        epochs=epochs,
        holdout_fraction=holdout,
        seed=seed,
        cost=TrainingCost(None, "unknown"),
    )
    return _with_cost(check, spec)


def _with_cost(check: TrainingCheck, spec: ModelSpec) -> TrainingCheck:
    from dataclasses import replace

    if spec.is_local:
        return replace(check, cost=TrainingCost(None, "local"))
    if spec.price_training_per_mtok is None:
        return replace(check, cost=TrainingCost(None, "unknown"))
    usd = Decimal(check.billed_tokens) * spec.price_training_per_mtok / PRICE_PER
    return replace(check, cost=TrainingCost(usd, "models file: price_training_per_mtok"))


def _counter(spec: ModelSpec) -> Any:
    # tiktoken (engine/tokens.py): the model's own encoding for OpenAI models, an estimate otherwise. A
    # local model's own tokenizer belongs to the local training (playground/lora), not to this check.
    return estimator_for(spec.model)


def _text(name: str, data: bytes) -> str:
    limit = max_bytes()
    if len(data) > limit:
        raise TrainingFileError(
            f"{name} is {len(data) / 1e6:.1f} MB, over the {limit / 1e6:g} MB limit ({MAX_MB_ENV})"
        )
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise TrainingFileError(f"{name} is not UTF-8 text (line {line})") from exc
    if not text.strip():
        raise TrainingFileError(f"{name} is empty")
    lines = text.count("\n") + 1
    if lines > MAX_LINES:
        raise TrainingFileError(f"{name} has {lines:,} lines, over the limit of {MAX_LINES:,}")
    return text


def _parse(name: str, text: str) -> tuple[list[tuple[int, tuple[Message, ...]]], list[BadLine]]:
    suffix = Path(name).suffix.lower()
    if suffix in (".jsonl", ".ndjson"):
        return _parse_jsonl(text)
    if suffix == ".csv":
        return _parse_csv(name, text)
    raise TrainingFileError(
        f"{name}: use a chat-format .jsonl file or a .csv with prompt and completion columns"
    )


def _parse_jsonl(text: str) -> tuple[list[tuple[int, tuple[Message, ...]]], list[BadLine]]:
    good, bad = [], []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            bad.append(BadLine(number, f"not JSON ({exc.msg})"))
            continue
        messages, reason = _messages(record)
        if reason:
            bad.append(BadLine(number, reason))
        else:
            good.append((number, messages))
    return good, bad


def _messages(record: Any) -> tuple[tuple[Message, ...], str | None]:
    """The record's messages, or why it has none fit to train on."""
    if not isinstance(record, dict) or not isinstance(record.get("messages"), list) or not record["messages"]:
        return (), 'missing "messages" (a list of {"role", "content"} objects)'
    messages = []
    for index, item in enumerate(record["messages"], start=1):
        if not isinstance(item, dict) or "role" not in item:
            return (), f"message {index} has no role"
        role, content = item.get("role"), item.get("content")
        if role not in ROLES:
            return (), f"message {index} has unknown role {str(role)[:40]!r} (use {', '.join(ROLES)})"
        if not isinstance(content, str):
            return (), f"message {index} ({role}) has content that is not text"
        if not content.strip():
            return (), f"message {index} ({role}) has empty content"
        messages.append(Message(role, content))
    if not any(m.role == "assistant" for m in messages):
        return (), "no assistant message (nothing to learn from)"
    return tuple(messages), None


def _parse_csv(name: str, text: str) -> tuple[list[tuple[int, tuple[Message, ...]]], list[BadLine]]:
    reader = csv.DictReader(io.StringIO(text, newline=""), strict=True)
    try:
        columns = [c.strip() for c in reader.fieldnames or ()]
    except csv.Error as exc:
        raise TrainingFileError(f"{name} line 1: malformed CSV ({exc})") from exc
    if not {"prompt", "completion"} <= set(columns):
        raise TrainingFileError(f"{name} line 1: a training CSV needs prompt and completion columns")
    reader.fieldnames = columns  # " prompt" in a header is the prompt column
    good, bad = [], []
    try:
        for row in reader:
            number = reader.line_num
            prompt, completion = (row.get("prompt") or "").strip(), (row.get("completion") or "").strip()
            if not prompt and not completion:
                continue
            if not prompt or not completion:
                bad.append(BadLine(number, f"empty {'prompt' if not prompt else 'completion'}"))
                continue
            good.append((number, (Message("user", prompt), Message("assistant", completion))))
    except csv.Error as exc:
        raise TrainingFileError(f"{name} line {reader.line_num}: malformed CSV ({exc})") from exc
    return good, bad


def _split(
    examples: Sequence[Example], holdout: float, seed: int
) -> tuple[tuple[Example, ...], tuple[Example, ...]]:
    """A seeded held-out split: round(share × examples) chosen at random, the rest in file order."""
    size = round(len(examples) * holdout)
    chosen = set(random.Random(seed).sample(range(len(examples)), size)) if size else set()
    train = tuple(e for i, e in enumerate(examples) if i not in chosen)
    held = tuple(e for i, e in enumerate(examples) if i in chosen)
    return train, held
