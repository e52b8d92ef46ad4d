"""Reuse a complete run from another results root instead of training it again (suite ``reuse``).

A budget sweep's run at the board's budget trains exactly what the board's run of that method and seed
trained: the configs differ only in ``run.checkpoints``, and scoring draws no training randomness and leaves
the weights as it found them (tests/harness/test_protocol.py test_scoring_checkpoints_do_not_change_training),
so the final checkpoint's predictions are the same. Such a run is adopted: its result files are copied and its
manifest keeps its own config (the checkpoints it was really scored at) plus ``reused_from``. Nothing else
may differ, and the source must have been scored at the end of its schedule (checkpoint 1.0).
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from supernet_bench.config import RunConfig, config_differences
from supernet_bench.core.atomic import atomic_write, atomic_write_json
from supernet_bench.core.errors import BenchError
from supernet_bench.lock import DirLock
from supernet_bench.store import LINEAGES, MANIFEST, METRICS, PREDICTIONS, RunStore

REUSABLE_DIFFERENCES = frozenset({"run.checkpoints"})
"""Config keys in which an adopted run may differ from the one asked for (none changes what is trained)."""

REUSED_FROM = "reused_from"
"""Manifest key of an adopted run: the source folder and its run_id."""


def reusable(recorded: dict[str, Any], config: RunConfig) -> bool:
    """True when a recorded (complete) config trains what ``config`` trains and was scored at its end."""
    differences = config_differences(recorded, config)
    if not set(differences) <= REUSABLE_DIFFERENCES:
        return False
    checkpoints = recorded.get("run", {}).get("checkpoints", [])
    return bool(checkpoints) and float(checkpoints[-1]) == 1.0


def find_reusable(config: RunConfig, roots: tuple[str, ...]) -> Path | None:
    """The first complete run under ``roots`` that ``config`` may adopt (roots in order, folders sorted)."""
    from supernet_bench.aggregate import find_run_dirs

    for root in roots:  # checked by suite.plan; a root gone since then has no runs
        for run_dir in find_run_dirs(root):
            try:
                manifest = RunStore(run_dir).manifest()
            except BenchError:
                continue  # a corrupt candidate is not reused; its own root reports it
            if not isinstance(manifest, dict) or manifest.get("status") != "complete":
                continue
            recorded = manifest.get("config")
            if isinstance(recorded, dict) and manifest.get(REUSED_FROM) is None and reusable(recorded, config):
                return run_dir
    return None


def adopt(source: Path, target: Path) -> None:
    """Copy ``source``'s results into ``target`` under its lock (manifest last, so an interrupted copy leaves
    no complete-looking run); a target that already holds a manifest is left alone."""
    manifest = RunStore(source).manifest()
    with DirLock(target) as lock:
        if RunStore(target).manifest() is not None:
            return  # another suite adopted or started it meanwhile
        for name in (METRICS, PREDICTIONS, LINEAGES):
            if (source / name).exists():
                atomic_write(target / name, lambda tmp, name=name: shutil.copyfile(source / name, tmp))
        manifest[REUSED_FROM] = {"path": str(source), "run_id": manifest.get("run_id")}
        atomic_write_json(target / MANIFEST, manifest)
        lock.remove = True
