"""Search spaces with ground truth. `get_space("nb201:no-zero")` is the one way in.

A space is one folder (spaces/<name>/: space, supernet, ground truth) whose `catalog.py` registers what the
harness needs per benchmark (files to fetch and check, probes, leaderboard references) with
`register_catalog`; a space defined outside this package registers both itself and its catalog the same way.
"""

from __future__ import annotations

import importlib
import pkgutil

from supernet_bench.core.catalog import SpaceCatalog
from supernet_bench.core.plugins import load_plugins
from supernet_bench.core.registry import Registry
from supernet_bench.spaces.base import Arch, OpMask, SearchSpace, Slot

SPACES: Registry[type[SearchSpace]] = Registry("space", base=SearchSpace)
register_space = SPACES.register
CATALOGS: Registry[SpaceCatalog] = Registry("space catalog")
register_catalog = CATALOGS.register

_discovered = False


def _discover() -> None:
    """Import every module/package under spaces/ and every `supernet_bench.spaces` entry point, so their
    @register_space decorators run."""
    global _discovered
    if _discovered:
        return
    _discovered = True
    for info in pkgutil.iter_modules(__path__):
        if info.name != "base":
            module = importlib.import_module(f"{__name__}.{info.name}")
            if info.ispkg and any(m.name == "catalog" for m in pkgutil.iter_modules(module.__path__)):
                importlib.import_module(f"{module.__name__}.catalog")
    load_plugins("supernet_bench.spaces")  # a plugin that fails to import warns once; the rest still works


def space_names() -> list[str]:
    _discover()
    return SPACES.names()


def space_catalogs() -> list[SpaceCatalog]:
    """Every registered space catalog, by registration name."""
    _discover()
    return [catalog for _, catalog in CATALOGS.items()]


def get_space(spec: str) -> SearchSpace:
    """Build a space from `name` or `name:subset` (e.g. `nb201:only-conv`)."""
    _discover()
    name, _, subset = spec.partition(":")
    cls = SPACES.get(name)
    return cls(subset=subset or "full")


__all__ = [
    "Arch", "OpMask", "SearchSpace", "Slot", "SPACES", "CATALOGS", "register_space", "register_catalog",
    "get_space", "space_names", "space_catalogs",
]  # fmt: skip
