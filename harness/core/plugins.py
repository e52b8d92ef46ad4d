"""Entry-point plugins: load every entry point of a group, and let one that fails cost only itself.

A third-party method or space registers itself when its module is imported. A broken plugin (missing
dependency, syntax error, duplicate name) must not take `list methods` or any other command down with it,
so its failure becomes one `PluginWarning` naming the entry point, its module and the error, and it is skipped.
"""

from __future__ import annotations

import warnings
from importlib.metadata import entry_points


class PluginWarning(UserWarning):
    """A plugin that failed to load and was skipped."""


def load_plugins(group: str) -> list[str]:
    """Import every entry point of `group`; return the names that loaded. Each failure warns once."""
    loaded, seen = [], set()
    for ep in entry_points(group=group):
        if (ep.name, ep.value) in seen:  # one distribution visible twice on sys.path
            continue
        seen.add((ep.name, ep.value))
        try:
            ep.load()
        except Exception as e:  # noqa: BLE001 - any import-time failure of foreign code is the plugin's
            first = (str(e).strip().splitlines() or [""])[0]
            warnings.warn(
                f"plugin {ep.name!r} ({ep.value}, group {group}) failed to load and is skipped: "
                f"{type(e).__name__}: {first}",
                PluginWarning,
                stacklevel=2,
            )
        else:
            loaded.append(ep.name)
    return loaded
