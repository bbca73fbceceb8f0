"""Lazy attributes for chapter packages: figures load plotly only when asked for.

A chapter's ``__init__`` exposes its figure builders without importing plotly or
ipywidgets (GPU machines and kernel-only users lack them)::

    __getattr__ = lazy_attributes(__name__, "viz", ("run_figure", "debugger_panel"))
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable


def lazy_attributes(package: str, module: str, names: Iterable[str]) -> Callable:
    """Return a module ``__getattr__`` importing ``package.module`` on first use.

    Args:
        package: the package's ``__name__``.
        module: the submodule holding the attributes, e.g. ``"viz"``.
        names: the attributes served from it.
    """
    served = frozenset(names)

    def __getattr__(name: str):
        if name in served:
            return getattr(importlib.import_module(f"{package}.{module}"), name)
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    return __getattr__
