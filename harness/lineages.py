"""What split methods spend and how each part ranks: one row per (checkpoint, lineage) in lineages.parquet.

A lineage is one independently trained (sub-)supernet (a Few-Shot sub-supernet, a GM-NAS leaf) and the
architectures it scores; a method that never splits has one lineage holding every pass and architecture.
Per lineage: its passes (own, with its ancestors', behind its weights), the Kendall tau among the scored
architectures it owns (next to the run's global tau), and its best architecture by supernet score. The row
`selected` marks GM-NAS's own choice: the best architecture of each lineage, then the best of those by
ground truth (the reference code picks across leaves by querying the benchmark). For one lineage that is
the global top-1.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from supernet_bench.core.errors import BenchError
from supernet_bench.methods.base import Lineage
from supernet_bench.metrics import kendall_tau
from supernet_bench.spaces.base import Arch, SearchSpace

WHOLE = "all"
"""Name of the single lineage of a method that never splits."""


def run_lineages(method, space: SearchSpace, passes: int) -> list[Lineage]:
    """The method's lineages, or the whole supernet as one lineage that spent every pass."""
    lineages = method.lineages()
    if lineages is None:
        return [Lineage(WHOLE, space.allowed, passes, passes, passes)]
    return lineages


def owner_index(lineages: Sequence[Lineage], space: SearchSpace, archs: Sequence[Arch]) -> np.ndarray:
    """For each architecture, the index of the one lineage whose mask holds it."""
    out = np.empty(len(archs), dtype=np.int64)
    for i, arch in enumerate(archs):
        owners = [j for j, lin in enumerate(lineages) if space.contains(arch, lin.mask)]
        if len(owners) != 1:
            raise BenchError(f"architecture {arch!r} is held by {len(owners)} lineages, expected exactly one")
        out[i] = owners[0]
    return out


def lineage_rows(
    lineages: Sequence[Lineage],
    space: SearchSpace,
    archs: Sequence[Arch],
    arch_strings: Sequence[str],
    score: np.ndarray,
    gt: np.ndarray,
    keys: dict[str, Any],
) -> list[dict[str, Any]]:
    """One row per lineage (see the module docstring); `keys` (run and checkpoint keys) go on every row."""
    score, gt = np.asarray(score, dtype=np.float64), np.asarray(gt, dtype=np.float64)
    owner = owner_index(lineages, space, archs)
    global_kt = kendall_tau(pred=score, target=gt)
    rows = []
    for j, lin in enumerate(lineages):
        idx = np.flatnonzero(owner == j)
        best = int(idx[np.argsort(-score[idx], kind="stable")[0]]) if idx.size else None
        rows.append(
            {
                **keys,
                "lineage": lin.name,
                "own_passes": lin.own_passes,
                "lineage_passes": lin.lineage_passes,
                "weight_passes": lin.weight_passes,
                "n_archs": int(idx.size),
                "kendall_tau": kendall_tau(pred=score[idx], target=gt[idx]) if idx.size >= 2 else np.nan,
                "global_kendall_tau": global_kt,
                "best_arch": None if best is None else arch_strings[best],
                "best_score": np.nan if best is None else float(score[best]),
                "best_gt": np.nan if best is None else float(gt[best]),
                "selected": False,
            }
        )
    candidates = [r for r in rows if r["best_arch"] is not None]
    if candidates:
        max(candidates, key=lambda r: r["best_gt"])["selected"] = True  # first of equals
    return rows
