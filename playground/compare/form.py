"""What the Compare form holds, with its defaults in one place: the page's widgets start from them,
and History's "Re-run" fills the form from a stored run."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from playground.compare.service import stored_params
from playground.core.params import DEFAULT_MAX_TOKENS

if TYPE_CHECKING:
    from playground.storage.runs import StoredRun

# The two bundled local models: a fresh page compares them with no key.
LOCAL_DEFAULTS = ("smollm2-135m", "gemma3-270m")


@dataclass(frozen=True)
class CompareForm:
    """The Compare page's inputs. `seed` -1 means none; blank per-model cells use the shared values."""

    prompt: str = ""
    system: str = ""
    models: tuple[str, ...] = LOCAL_DEFAULTS
    temperature: float = 0.7
    top_p: float = 1.0
    max_tokens: int = DEFAULT_MAX_TOKENS
    seed: int = -1
    repeat: int = 1
    per_model: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    deadline_s: float | None = None  # None: each model's own (ModelSpec.deadline_s)

    @classmethod
    def from_run(cls, run: StoredRun, known: Collection[str]) -> CompareForm:
        """The form that repeats a stored run (models no longer known are left out)."""
        params, per_model = stored_params(run.params)
        defaults = cls()
        return cls(
            prompt=run.prompt,
            system=run.system or "",
            models=tuple(k for k in run.models if k in known),
            temperature=params.temperature if params.temperature is not None else defaults.temperature,
            top_p=params.top_p if params.top_p is not None else defaults.top_p,
            max_tokens=params.max_tokens,
            seed=params.seed if params.seed is not None else -1,
            repeat=int(run.params.get("repeat", 1)),
            per_model=per_model,
            deadline_s=run.params.get("timeout_s"),
        )
