"""harness/lineages.py: per-lineage Kendall tau on the architectures each lineage owns, its best architecture,
and GM-NAS's selection (the best of each lineage, then the best of those by ground truth)."""

from __future__ import annotations

import numpy as np
import pytest
from supernet_bench.core.errors import BenchError
from supernet_bench.lineages import WHOLE, lineage_rows, run_lineages
from supernet_bench.methods.base import Lineage
from supernet_bench.metrics import kendall_tau, top1_gt
from supernet_bench.spaces import get_space

SPACE = get_space("nb201")


def two_lineages() -> list[Lineage]:
    allowed = SPACE.allowed
    low = (frozenset({0, 1, 2}), *allowed[1:])
    high = (frozenset({3, 4}), *allowed[1:])
    return [Lineage("low", low, 10, 30, 10), Lineage("high", high, 12, 32, 12)]


def sample(n: int = 40, seed: int = 0):
    rng = np.random.default_rng(seed)
    archs = SPACE.sample_distinct(rng, n)
    return archs, [SPACE.encode(a) for a in archs], rng.random(n), rng.random(n) * 100


def test_within_lineage_kt_best_arch_and_selection():
    lineages = two_lineages()
    archs, names, score, gt = sample()
    rows = lineage_rows(lineages, SPACE, archs, names, score, gt, {"checkpoint": 3})
    assert [r["lineage"] for r in rows] == ["low", "high"] and all(r["checkpoint"] == 3 for r in rows)
    for r, lin in zip(rows, lineages):
        idx = [i for i, a in enumerate(archs) if SPACE.contains(a, lin.mask)]
        assert r["n_archs"] == len(idx) > 2
        assert r["kendall_tau"] == pytest.approx(kendall_tau(pred=score[idx], target=gt[idx]))
        best = max(idx, key=lambda i: score[i])
        assert (r["best_arch"], r["best_gt"]) == (names[best], gt[best])
        assert (r["own_passes"], r["lineage_passes"], r["weight_passes"]) == (
            lin.own_passes, lin.lineage_passes, lin.weight_passes,
        )  # fmt: skip
    assert rows[0]["global_kendall_tau"] == pytest.approx(kendall_tau(pred=score, target=gt))
    selected = [r for r in rows if r["selected"]]
    assert len(selected) == 1 and selected[0]["best_gt"] == max(r["best_gt"] for r in rows)


def test_one_lineage_selection_is_the_global_top1():
    class Whole:
        def lineages(self):
            return None

    lineages = run_lineages(Whole(), SPACE, passes=77)
    assert [(x.name, x.own_passes, x.lineage_passes, x.weight_passes) for x in lineages] == [(WHOLE, 77, 77, 77)]
    archs, names, score, gt = sample(seed=1)
    (row,) = lineage_rows(lineages, SPACE, archs, names, score, gt, {})
    assert row["selected"] and row["best_gt"] == top1_gt(pred=score, target=gt)
    assert row["kendall_tau"] == pytest.approx(row["global_kendall_tau"])


def test_an_architecture_outside_every_lineage_is_refused():
    lineages = two_lineages()[:1]
    archs, names, score, gt = sample()
    with pytest.raises(BenchError, match="held by 0 lineages"):
        lineage_rows(lineages, SPACE, archs, names, score, gt, {})


def test_a_lineage_without_scored_architectures_has_no_best():
    lineages = two_lineages()
    archs, names, score, gt = sample()
    keep = [i for i, a in enumerate(archs) if a[0] in (0, 1, 2)]
    rows = lineage_rows(lineages, SPACE, [archs[i] for i in keep], [names[i] for i in keep], score[keep], gt[keep], {})
    assert rows[1]["n_archs"] == 0 and rows[1]["best_arch"] is None and np.isnan(rows[1]["kendall_tau"])
    assert rows[0]["selected"] and not rows[1]["selected"]
