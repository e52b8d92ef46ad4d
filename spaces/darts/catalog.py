"""What the harness needs per DARTS/NAS-Bench-301 beyond the space: the surrogate models (fetch/check) and
their probe.

URL provenance: automl/nasbench301 README -> figshare article 13061510 (nasbench301_models_v1_0.zip); the
direct file id 24992018 is the one nasbench301's own download script uses.
"""

from __future__ import annotations

from pathlib import Path

from supernet_bench.core.catalog import Benchmark, Resource, SpaceCatalog
from supernet_bench.spaces import register_catalog

BENCHMARK = Benchmark(
    name="nb301",
    description="NAS-Bench-301 surrogate models v1.0 (we use nb_models/xgb_v1.0)",
    resources=(
        Resource(
            url="https://ndownloader.figshare.com/files/24992018",
            target="nb301/nasbench301_models_v1.0.zip",
            post=("extract:nb301",),
            verified=False,
        ),
    ),
    expect=(("dir", "nb301/nb_models/xgb_v1.0"),),
    probe="nb301",
    extra="nb301",
    notes="the surrogate needs `pip install supernet-bench[nb301]` (xgboost) at scoring time",
)


def probe(paths: list[Path]) -> str:
    p = paths[0]
    members = sorted(d.name for d in p.iterdir() if d.is_dir())
    return f"model folder {p.parent.name}/{p.name}, {len(members)} ensemble member(s)"


register_catalog("darts", SpaceCatalog(benchmarks=(BENCHMARK,), probes={"nb301": probe}))
