"""What a GGUF file is, read from its header before any server is started for it.

A deployment refuses a file that is missing, a folder, not a GGUF (by its magic bytes), or a LoRA adapter
that was not made for the base model's architecture: llama.cpp's server would otherwise fail later, in a
process of its own, with a message only its log shows. The metadata is read with `gguf`, the ggml
project's own reader.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

GGUF_MAGIC = b"GGUF"


class DeployError(ValueError):
    """A deployment that cannot be made or changed: the message says what to fix."""


@dataclass(frozen=True)
class GgufFacts:
    """The facts of one GGUF file a deployment needs."""

    path: Path
    kind: str  # general.type: "model" or "adapter" (older model files leave it out: "model")
    architecture: str  # general.architecture, e.g. "llama"
    adapter_type: str | None  # adapter.type ("lora") for an adapter
    has_chat_template: bool

    @property
    def is_adapter(self) -> bool:
        return self.kind == "adapter"


def checked_file(text: str, what: str = "GGUF file") -> Path:
    """The path a user gave, if it is an existing regular file that starts with GGUF's magic bytes."""
    path = Path(text.strip()).expanduser()
    if not text.strip():
        raise DeployError(f"no {what} given")
    if path.is_dir():
        raise DeployError(f"{path} is a folder, not a {what}")
    if not path.is_file():
        raise DeployError(f"{what} not found: {path}")
    try:
        with path.open("rb") as handle:
            magic = handle.read(len(GGUF_MAGIC))
    except OSError as exc:
        raise DeployError(f"cannot read {path}: {exc.strerror or exc}") from exc
    if magic != GGUF_MAGIC:
        raise DeployError(f"{path} is not a GGUF file (it does not start with the bytes 'GGUF')")
    return path.resolve()


def read_facts(path: Path) -> GgufFacts:
    """The header facts of a checked GGUF file; a damaged header is one DeployError."""
    stat = path.stat()
    return _read_facts(path, stat.st_size, stat.st_mtime_ns)


# GGUFReader maps every tensor's description (seconds for a model file): read each version of a file once.
@functools.lru_cache(maxsize=64)
def _read_facts(path: Path, _size: int, _mtime_ns: int) -> GgufFacts:
    from gguf import GGUFReader

    try:
        fields = GGUFReader(str(path)).fields
    except (ValueError, OSError, IndexError, KeyError) as exc:
        raise DeployError(f"{path} is not a readable GGUF file: {exc}") from exc

    def text(key: str) -> str | None:
        field = fields.get(key)
        value = field.contents() if field is not None else None
        return value if isinstance(value, str) else None

    architecture = text("general.architecture")
    if not architecture:
        raise DeployError(f"{path} names no architecture (general.architecture): not a llama.cpp model")
    return GgufFacts(
        path=path,
        kind=text("general.type") or "model",
        architecture=architecture,
        adapter_type=text("adapter.type"),
        has_chat_template=bool(text("tokenizer.chat_template")),
    )


def check_adapter(base: GgufFacts, lora: GgufFacts) -> None:
    """Refuse a LoRA file that is not a LoRA adapter for `base`'s architecture (one clear message)."""
    if not lora.is_adapter:
        raise DeployError(
            f"{lora.path.name} is a {lora.kind} file, not a LoRA adapter (its general.type is not 'adapter')"
        )
    if lora.adapter_type not in (None, "lora"):
        raise DeployError(
            f"{lora.path.name} is a {lora.adapter_type} adapter; llama.cpp's server loads LoRA ones"
        )
    if lora.architecture != base.architecture:
        raise DeployError(
            f"{lora.path.name} is a LoRA for {lora.architecture} models, but {base.path.name} is a "
            f"{base.architecture} model: it is not an adapter for that base"
        )
    if base.is_adapter:
        raise DeployError(f"{base.path.name} is itself an adapter: deploy the base model it was made for")
