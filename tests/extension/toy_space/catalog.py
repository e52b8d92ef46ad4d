"""The toy space's catalog: one leaderboard reference line (ranking by #params), no files to fetch."""

from __future__ import annotations

from supernet_bench.core.catalog import ReferenceLine, ReferenceRequest, SpaceCatalog
from supernet_bench.spaces import get_space, register_catalog


def params_ranking(req: ReferenceRequest) -> list[ReferenceLine]:
    space = get_space(req.space)
    archs = [space.decode(a) for a in req.archs]
    complexity = [space.complexity(a) for a in archs]
    target = space.ground_truth(req.gt_column, req.data_dir).lookup(list(req.archs))
    return [ReferenceLine("#params", "rank by parameter count", pred=complexity, target=target, complexity=complexity)]


register_catalog("toy-chain", SpaceCatalog(references={"toy-chain": params_ranking}))
