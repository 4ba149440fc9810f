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


def test_only_pages_and_app_import_streamlit():
    assert offenders("playground", ("streamlit",)) == []
    assert offenders("bench", ("streamlit",)) == []


def test_pages_reach_providers_only_through_the_playground():
    assert offenders("pages", ("providers",)) == []


def test_pages_import_package_apis_not_modules():
    # Pages import what a package's __init__ names, or a package's chart module (plotly loads late).
    packages = {f"playground.{name}" for name in ("core", "engine", "storage", "compare", "evals", "catalog")}
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
