"""What the harness needs per NAS-Bench-201 beyond the space: the official file (fetch/check), its probe and
parquet conversion, and the leaderboard's hp12-training reference line.

URL provenance: D-X-Y/NAS-Bench-201 README -> Google Drive file 1SKW0Cu0u8-gb18zDpaAGi0f74UdXeGKs
(``NAS-Bench-201-v1_0-e61699.pth``).
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
from supernet_bench.core.catalog import Benchmark, Log, ReferenceLine, ReferenceRequest, Resource, SpaceCatalog
from supernet_bench.spaces import get_space, register_catalog
from supernet_bench.spaces.nb201.ground_truth import load_nb201_ground_truth
from supernet_bench.spaces.nb201.space import GT_COLUMNS

BENCHMARK = Benchmark(
    name="nb201",
    description="NAS-Bench-201 v1.0 API file (about 2 GB)",
    resources=(
        Resource(
            url="https://drive.google.com/uc?export=download&id=1SKW0Cu0u8-gb18zDpaAGi0f74UdXeGKs",
            target="nas-bench-201/NAS-Bench-201-v1_0-e61699.pth",
            post=("nb201-parquet",),
            verified=False,  # Google Drive may answer a large file with a confirmation page
        ),
    ),
    expect=(("file", "nas-bench-201/NAS-Bench-201-v1_0-e61699.pth"),),
    alternatives=("nas-bench-201/nb201.csv", "nas-bench-201/NAS-Bench-201-v1_1-096897.pth"),
    probe="nb201",
    extra="nb201-api",
    notes="converting the .pth into canonical parquet needs `pip install supernet-bench[nb201-api]`",
)


def probe(paths: list[Path]) -> str:
    p = paths[0]
    if p.suffix == ".csv":
        import pandas as pd

        cols = list(pd.read_csv(p, nrows=0).columns)
        hp = sorted(c for c in cols if re.search(r"_hp\d+$", c))
        with open(p, "rb") as f:
            rows = max(0, sum(1 for _ in f) - 1)
        return f"table {p.name}: {rows} archs, {len(hp)} GT columns ({', '.join(hp)})"
    m = re.search(r"v(\d+)_(\d+)", p.name)
    return f"API file {p.name} (v{m.group(1)}.{m.group(2)})" if m else f"API file {p.name}"


def to_parquet(arg: str, path: Path, data_dir: Path, log: Log) -> None:
    try:
        import nas_201_api  # noqa: F401
    except ImportError:
        log(
            f"note: {path.name} is in place; converting it to canonical parquet needs the nb201-api extra "
            "(pip install supernet-bench[nb201-api]), then run `supernet-bench data fetch nb201` again"
        )
        return
    for column in GT_COLUMNS:
        out = path.parent / f"{column}.parquet"
        gt = load_nb201_ground_truth(column, data_dir, source=path)
        gt.to_parquet(out)
        log(f"wrote {out} ({len(gt)} archs)")


def hp12_training(req: ReferenceRequest) -> list[ReferenceLine]:
    """The 12-epoch NB201 training (`<dataset>_<split>_hp12`) ranked against the hp200 GT column."""
    suffix = "_hp200"
    if not req.gt_column.endswith(suffix) or len(req.archs) < 2:
        return []
    proxy_column = req.gt_column[: -len(suffix)] + "_hp12"
    space = get_space(req.space)
    target = space.ground_truth(req.gt_column, req.data_dir).lookup(list(req.archs))
    pred = space.ground_truth(proxy_column, req.data_dir).lookup(list(req.archs))
    complexity = np.array([space.complexity(space.decode(a)) for a in req.archs], dtype=np.float64)
    note = f"{proxy_column} vs {req.gt_column} on the same {len(req.archs)} architectures"
    return [ReferenceLine("hp12 training", note, pred=pred, target=target, complexity=complexity)]


register_catalog(
    "nb201",
    SpaceCatalog(
        benchmarks=(BENCHMARK,),
        probes={"nb201": probe},
        post_steps={"nb201-parquet": to_parquet},
        references={"nb201": hp12_training},
    ),
)
