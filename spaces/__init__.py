"""Search spaces with ground truth. `get_space("nb201:no-zero")` is the one way in."""

from __future__ import annotations

import importlib
import pkgutil

from supernet_bench.core.plugins import load_plugins
from supernet_bench.core.registry import Registry
from supernet_bench.spaces.base import Arch, OpMask, SearchSpace, Slot

SPACES: Registry[type[SearchSpace]] = Registry("space", base=SearchSpace)
register_space = SPACES.register

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
            importlib.import_module(f"{__name__}.{info.name}")
    load_plugins("supernet_bench.spaces")  # a plugin that fails to import warns once; the rest still works


def space_names() -> list[str]:
    _discover()
    return SPACES.names()


def get_space(spec: str) -> SearchSpace:
    """Build a space from `name` or `name:subset` (e.g. `nb201:only-conv`)."""
    _discover()
    name, _, subset = spec.partition(":")
    cls = SPACES.get(name)
    return cls(subset=subset or "full")


__all__ = ["Arch", "OpMask", "SearchSpace", "Slot", "SPACES", "register_space", "get_space", "space_names"]
