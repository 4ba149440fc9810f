"""Tuned models on disk: one folder per model under the playground's data directory.

Why files and not a table: the adapter is a file anyway (llama.cpp loads it by path), and a folder holding
the adapter, its manifest and its training log is whole on its own: listing is reading the manifests, and
removing a model is removing its folder. The folder sits beside the default history database
(platformdirs' user data directory), or at $PLAYGROUND_TUNED_DIR.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

from playground.core.specs import ModelSpec, load_specs
from playground.lora.errors import TunedModelNameError
from playground.lora.settings import TuneSettings

TUNED_DIR_ENV = "PLAYGROUND_TUNED_DIR"
MANIFEST_FILE = "manifest.json"
# Lower-case letters, digits and inner hyphens: no dots, slashes or spaces, so a name is never a path trick
# and reads the same in a model key, a folder name and a URL.
_NAME = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?")
KEY_JOINER = "+"


@dataclass(frozen=True)
class TunedModel:
    """A finished local tune, as its manifest describes it."""

    name: str
    base: str
    adapter_path: str
    rank: int
    alpha: float
    steps: int
    examples: int
    final_loss: float | None
    created_at: str  # ISO 8601, UTC

    @property
    def key(self) -> str:
        """The model key Compare and Evaluate use: base + name."""
        return f"{self.base}{KEY_JOINER}{self.name}"


def tuned_models_dir() -> Path:
    """$PLAYGROUND_TUNED_DIR, else `tuned/` in the user data directory (where history.db lives)."""
    if os.environ.get(TUNED_DIR_ENV):
        return Path(os.environ[TUNED_DIR_ENV])
    from platformdirs import user_data_dir

    return Path(user_data_dir("model-playground")) / "tuned"


def check_name(name: str) -> str:
    """The name, or TunedModelNameError saying what is allowed."""
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise TunedModelNameError(
            f"bad tuned model name {name!r}: use 1-40 lower-case letters, digits and inner hyphens"
        )
    return name


def write_manifest(settings: TuneSettings, adapter: Path, final_loss: float | None) -> TunedModel:
    """Record a finished tune; the manifest is written last, so a listed model is a whole one."""
    model = TunedModel(
        name=settings.name,
        base=settings.base,
        adapter_path=str(adapter),
        rank=settings.rank,
        alpha=settings.alpha,
        steps=settings.steps,
        examples=len(settings.examples),
        final_loss=final_loss,
        created_at=datetime.now(UTC).isoformat(timespec="seconds"),
    )
    partial = settings.folder / (MANIFEST_FILE + ".partial")
    partial.write_text(json.dumps(asdict(model), indent=2), encoding="utf-8")
    partial.replace(settings.folder / MANIFEST_FILE)
    return model


def _read_manifest(path: Path) -> TunedModel | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        model = TunedModel(**data)
        check_name(model.name)
    except (OSError, ValueError, TypeError):
        return None  # a damaged manifest hides that one model, never the list
    # The adapter is the file beside its manifest, whatever path the manifest holds.
    return replace(model, adapter_path=str(path.parent / Path(model.adapter_path).name))


def list_tuned_models(root: Path | None = None) -> list[TunedModel]:
    """Every finished tune under root (default tuned_models_dir()), oldest first."""
    root = root or tuned_models_dir()
    if not root.is_dir():
        return []
    found = [_read_manifest(folder / MANIFEST_FILE) for folder in sorted(root.iterdir()) if folder.is_dir()]
    return sorted((m for m in found if m is not None), key=lambda m: m.created_at)


def tuned_specs(
    base_specs: dict[str, ModelSpec] | None = None, root: Path | None = None
) -> dict[str, ModelSpec]:
    """A spec per tuned model: its base's spec with the adapter (`lora`) and its own key and labels."""
    base_specs = base_specs if base_specs is not None else load_specs()
    specs = {}
    for tuned in list_tuned_models(root):
        base = base_specs.get(tuned.base)
        if base is None or base.provider != "llamacpp":
            continue
        specs[tuned.key] = replace(
            base,
            key=tuned.key,
            model=f"{base.model} + LoRA {tuned.name}",
            lora=tuned.adapter_path,
            stage="fine-tuned",
            description=(
                f"{tuned.base} with a LoRA (rank {tuned.rank}) trained locally on {tuned.examples} examples "
                f"for {tuned.steps} steps, {tuned.created_at}."
            ),
        )
    return specs


def with_tuned_models(specs: dict[str, ModelSpec], root: Path | None = None) -> dict[str, ModelSpec]:
    """specs plus every tuned model whose base is among them (what Catalog, Compare and Evaluate list)."""
    return {**specs, **tuned_specs(specs, root)}
