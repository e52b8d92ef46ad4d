"""Balanced graph min-cut by brute force (GM-NAS Eq. 3, docs/methods.md#gm-nas).

The op sets being partitioned are tiny (3-5 ops per edge), so enumerating every balanced partition
is exact and cheap. Balanced = group sizes differ by at most one (B=2 on 5 ops: 2 + 3).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
from supernet_bench.core.errors import BenchError

KINDS = ("similarity", "distance")


@dataclass(frozen=True)
class Cut:
    groups: tuple[tuple[int, ...], ...]  # node indices per group, each sorted; groups ordered by first node
    cut: float  # sum of the matrix over the links between different groups (each pair once)


def balanced_partitions(n: int, groups: int) -> Iterator[tuple[tuple[int, ...], ...]]:
    """Every partition of range(n) into `groups` unlabeled groups whose sizes differ by <= 1.

    Canonical order (a restricted-growth labelling): node i joins an existing group or opens the
    next one, so each partition appears exactly once.
    """
    if not 1 <= groups <= n:
        raise BenchError(f"cannot split {n} nodes into {groups} non-empty groups")
    small, n_large = divmod(n, groups)
    large = small + (n_large > 0)
    blocks: list[list[int]] = []

    def rec(i: int) -> Iterator[tuple[tuple[int, ...], ...]]:
        if i == n:
            if len(blocks) == groups and sum(len(b) == large for b in blocks) == (n_large or groups):
                yield tuple(tuple(b) for b in blocks)
            return
        if groups - len(blocks) > n - i:  # not enough nodes left to open the remaining groups
            return
        for b in blocks:
            if len(b) < large:
                b.append(i)
                yield from rec(i + 1)
                b.pop()
        if len(blocks) < groups:
            blocks.append([i])
            yield from rec(i + 1)
            blocks.pop()

    return rec(0)


def cut_value(matrix: np.ndarray, groups: tuple[tuple[int, ...], ...]) -> float:
    label = np.empty(len(matrix), dtype=np.int64)
    for g, members in enumerate(groups):
        label[list(members)] = g
    cross = label[:, None] != label[None, :]
    return float(np.triu(matrix * cross, k=1).sum())


def balanced_mincut(matrix, groups: int = 2, kind: str = "similarity") -> Cut:
    """The balanced partition with the smallest cut (similarities) or the largest cut (distances).

    `kind="similarity"` minimises the summed similarity across the cut (the paper's min-cut);
    `kind="distance"` maximises the summed distance across the cut (the code's form, which for
    balanced groups and d = 1 - cos is the same partition). Ties keep the first partition in the
    canonical enumeration. The returned `cut` is the sum of `matrix` over cut links.
    """
    if kind not in KINDS:
        raise BenchError(f"kind must be one of {KINDS}, got {kind!r}")
    m = np.asarray(matrix, dtype=np.float64)
    if m.ndim != 2 or m.shape[0] != m.shape[1]:
        raise BenchError(f"balanced_mincut needs a square matrix, got shape {m.shape}")
    m = (m + m.T) / 2.0  # each pair counted once, from the symmetric part
    sign = 1.0 if kind == "similarity" else -1.0
    best: Cut | None = None
    for partition in balanced_partitions(len(m), groups):
        value = cut_value(m, partition)
        if best is None or sign * value < sign * best.cut:
            best = Cut(partition, value)
    assert best is not None
    return best
