"""Package APIs whose names are imported on first use.

Each package's `__init__` names its public API in one table; a name's submodule is imported only when the
name is first read. Pages import these APIs on every rerun, and the first page load must not import
plotly, SQLAlchemy, pandas or an SDK (tests/test_pages.py checks): eager re-exports would.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any


def lazy_exports(package: str, exports: Mapping[str, str]) -> tuple[list[str], Callable[[str], Any]]:
    """`__all__` and a module `__getattr__` for `package`, from {public name: submodule}."""

    def __getattr__(name: str) -> Any:
        submodule = exports.get(name)
        if submodule is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(importlib.import_module(f"{package}.{submodule}"), name)

    return sorted(exports), __getattr__
