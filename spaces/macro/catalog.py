"""What the harness needs per NAS-Bench-Macro beyond the space: the official JSON (fetch/check), its probe and
parquet conversion, and the leaderboard's seed-to-seed ceiling.

URL provenance: ``nas-bench-macro_cifar10.json`` in xiusu/NAS-Bench-Macro (``data/`` folder).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from supernet_bench.core.catalog import Benchmark, Log, ReferenceLine, ReferenceRequest, Resource, SpaceCatalog
from supernet_bench.core.errors import DataError
from supernet_bench.spaces import register_catalog
from supernet_bench.spaces.macro import ground_truth as macro_gt
from supernet_bench.spaces.macro.space import GT_COLUMNS

BENCHMARK = Benchmark(
    name="macro",
    description="NAS-Bench-Macro ground truth (CIFAR-10, 6561 archs)",
    resources=(
        Resource(
            url="https://raw.githubusercontent.com/xiusu/NAS-Bench-Macro/master/data/nas-bench-macro_cifar10.json",
            target="nas-bench-macro/nas-bench-macro_cifar10.json",
            post=("macro-parquet",),
            verified=False,
            outputs=("nas-bench-macro_cifar10.*.parquet",),
        ),
    ),
    expect=(("file", "nas-bench-macro/nas-bench-macro_cifar10.json"),),
    probe="macro",
)


def probe(paths: list[Path]) -> str:
    p = paths[0]
    try:
        data = json.loads(p.read_bytes())
    except (OSError, ValueError) as e:
        raise DataError(f"cannot read {p}: {e}") from None
    if not isinstance(data, dict):
        raise DataError(f"{p} is not a JSON object")
    return f"{len(data)} archs"


def to_parquet(arg: str, path: Path, data_dir: Path, log: Log) -> None:
    for column in GT_COLUMNS:
        out = path.with_name(f"{path.stem}.{column}.parquet")
        gt = macro_gt.load_macro_ground_truth(column, source=path)
        gt.to_parquet(out)
        log(f"wrote {out} ({len(gt)} archs)")


def seed_to_seed_ceiling(req: ReferenceRequest) -> list[ReferenceLine]:
    """The Kendall tau between independent stand-alone trainings: the practical ceiling on Macro."""
    value = macro_gt.seed_to_seed_kendall_tau(req.data_dir)
    tau = value.get("mean", math.nan) if isinstance(value, dict) else value
    note = "mean Kendall tau between the benchmark's stand-alone training runs (whole space)"
    return [ReferenceLine("seed-to-seed ceiling", note, kendall_tau=float(tau))]


register_catalog(
    "macro",
    SpaceCatalog(
        benchmarks=(BENCHMARK,),
        probes={"macro": probe},
        post_steps={"macro-parquet": to_parquet},
        references={"macro": seed_to_seed_ceiling},
    ),
)
