"""A chat-format training set (OpenAI's fine-tuning JSONL: one {"messages": [...]} per line), checked."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from playground.lora.errors import TrainingSetError

ROLES = ("system", "user", "assistant")
MAX_FILE_BYTES = 50_000_000  # far above any set a CPU can train on in a session
_SHOWN_PROBLEMS = 5


@dataclass(frozen=True)
class TrainingExample:
    """One conversation; training learns its last message, which is the assistant's."""

    messages: tuple[tuple[str, str], ...]  # (role, content)

    def as_chat(self) -> list[dict[str, str]]:
        """The messages as chat-template input."""
        return [{"role": role, "content": content} for role, content in self.messages]


def _problem(record: object) -> str | None:
    """Why one parsed line is not a usable example (None: it is)."""
    if not isinstance(record, dict) or not isinstance(record.get("messages"), list):
        return 'expected an object with a "messages" list'
    messages = record["messages"]
    for index, message in enumerate(messages, 1):
        if not isinstance(message, dict) or message.get("role") not in ROLES:
            return f"message {index}: role must be one of {', '.join(ROLES)}"
        content = message.get("content")
        if not isinstance(content, str) or not content.strip():
            return f"message {index}: content must be non-empty text"
    if not any(m["role"] == "user" for m in messages):
        return "no user message"
    if messages[-1]["role"] != "assistant":
        return "the last message must be the assistant's (the answer to learn)"
    return None


def parse_training_set(text: str, source: str = "training set") -> list[TrainingExample]:
    """Every example of the file, or TrainingSetError naming the bad lines (nothing is half-read)."""
    examples, problems = [], []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            problems.append(f"line {number}: not JSON ({exc.msg})")
            continue
        problem = _problem(record)
        if problem:
            problems.append(f"line {number}: {problem}")
            continue
        examples.append(TrainingExample(tuple((m["role"], m["content"]) for m in record["messages"])))
    if problems:
        more = len(problems) - _SHOWN_PROBLEMS
        shown = "; ".join(problems[:_SHOWN_PROBLEMS]) + (f"; and {more} more" if more > 0 else "")
        raise TrainingSetError(f"{source}: {len(problems)} bad line(s): {shown}")
    if not examples:
        raise TrainingSetError(f"{source}: no examples")
    return examples


def read_training_set(path: Path) -> list[TrainingExample]:
    """parse_training_set on a file, with one clear error for a missing, huge or non-UTF-8 file."""
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            raise TrainingSetError(f"{path.name}: larger than {MAX_FILE_BYTES // 1_000_000} MB")
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise TrainingSetError(f"{path}: file not found") from None
    except UnicodeDecodeError:
        raise TrainingSetError(f"{path.name}: not UTF-8 text") from None
    except IsADirectoryError:
        raise TrainingSetError(f"{path}: a folder, not a file") from None
    return parse_training_set(text, path.name)
