"""The import rules of ARCHITECTURE.md, checked on the source: layers import only downwards."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.processes import ROOT


def imports(path: Path) -> set[str]:
    """Every module a file imports (absolute names), wherever the import statement is."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
    return found


def files(folder: str) -> list[Path]:
    return sorted((ROOT / folder).rglob("*.py"))


def offenders(folder: str, forbidden: tuple[str, ...]) -> list[str]:
    return [
        f"{path.relative_to(ROOT)} imports {name}"
        for path in files(folder)
        for name in sorted(imports(path))
        if any(name == f or name.startswith(f + ".") for f in forbidden)
    ]


def test_providers_import_neither_the_playground_nor_streamlit():
    assert offenders("providers", ("playground", "streamlit")) == []


# `playground serve` launches Streamlit: it reads the options Streamlit will run with from Streamlit's own
# config loader (its files, environment and flags, in its order) to refuse an unsafe hosted start.
STREAMLIT_LAUNCHER = "playground/cli/serve.py"


def test_only_pages_and_app_import_streamlit():
    launcher = [o for o in offenders("playground", ("streamlit",)) if o.startswith(STREAMLIT_LAUNCHER)]
    assert launcher == [
        f"{STREAMLIT_LAUNCHER} imports streamlit",
        f"{STREAMLIT_LAUNCHER} imports streamlit.config",
    ]
    assert [o for o in offenders("playground", ("streamlit",)) if o not in launcher] == []
    assert offenders("bench", ("streamlit",)) == []


def test_pages_reach_providers_and_storage_only_through_services():
    assert offenders("pages", ("providers", "playground.storage")) == []


# The packages whose __init__ names a public API.
API_PACKAGES = (
    "core",
    "engine",
    "storage",
    "hosting",
    "rag",
    "compare",
    "evals",
    "catalog",
    "arena",
    "speech",
    "images",
    "tuning",
    "deploy",
    "lora",
)


def test_pages_import_package_apis_not_modules():
    # Pages import what a package's __init__ names, or a package's chart module (plotly loads late).
    packages = {f"playground.{name}" for name in API_PACKAGES}
    deep = []
    for path in files("pages") + [ROOT / "app.py"]:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("playground"):
                if node.module not in packages or any(
                    a.name not in _api(node.module) | {"charts"} for a in node.names
                ):
                    deep.append(f"{path.relative_to(ROOT)}: from {node.module} import ...")
            elif isinstance(node, ast.Import) and any(a.name.startswith("playground") for a in node.names):
                deep.append(f"{path.relative_to(ROOT)}: import {node.names[0].name}")
    assert deep == []


def _api(package: str) -> set[str]:
    import importlib

    return set(getattr(importlib.import_module(package), "__all__", ()))


def test_every_package_api_name_is_the_thing_it_names():
    # A public name equal to one of the package's submodules would hand out the module once it is imported.
    import importlib
    import types

    for package in API_PACKAGES:
        module = importlib.import_module(f"playground.{package}")
        for name in module.__all__:
            value = getattr(module, name)
            assert not isinstance(value, types.ModuleType), f"playground.{package}.{name} is a module"


# Within playground/: which packages each may import (besides itself, providers/ and the standard library).
LAYERS = {
    "core": set(),
    "engine": {"core"},
    "storage": {"core"},
    "hosting": {"core", "engine", "storage"},
    "rag": {"core", "engine", "storage", "hosting"},  # every embedding call is admitted by the Gate
    "compare": {"core", "engine", "storage", "hosting", "rag"},
    "speech": {"core", "engine", "storage", "hosting"},  # every hosted speech call is admitted by the Gate
    "images": {"core", "engine", "storage", "hosting"},  # every hosted image call is admitted by the Gate
    "evals": {"core", "engine", "storage", "hosting", "rag", "images"},  # image sets scored by its metrics
    "catalog": {"core", "engine", "storage", "hosting", "rag", "compare"},
    "arena": {"core", "engine", "storage", "hosting"},
    # A job's start is admitted by the Gate; base vs tuned is an evaluation.
    "tuning": {"core", "engine", "storage", "hosting", "evals", "lora"},  # base vs a local LoRA too
    "deploy": {"core", "engine", "storage", "hosting"},  # serves models; admins only in hosted mode
    # Local fine-tuning: specs from core; the base GGUF found by providers.local_models.
    "lora": {"core"},
    "cli": set(API_PACKAGES),  # the command line may use every package
}


def test_packages_import_only_the_layers_below():
    wrong = []
    for package, allowed in LAYERS.items():
        for path in files(f"playground/{package}"):
            for name in imports(path):
                parts = name.split(".")
                if parts[0] == "playground" and len(parts) > 1 and parts[1] in LAYERS:
                    if parts[1] != package and parts[1] not in allowed:
                        wrong.append(f"{path.relative_to(ROOT)} imports {name}")
    assert wrong == []
