"""What the harness needs per NDS space beyond the spaces: the training statistics (fetch/check) and a probe
naming which design spaces (files) are present.

URL provenance: facebookresearch/nds README -> https://dl.fbaipublicfiles.com/nds/data.zip.
"""

from __future__ import annotations

from pathlib import Path

from supernet_bench.core.catalog import Benchmark, Resource, SpaceCatalog
from supernet_bench.spaces import register_catalog
from supernet_bench.spaces.nds.design import RESNET, RESNEXT_A

BENCHMARK = Benchmark(
    name="nds",
    description="NDS (On Network Design Spaces) training statistics",
    resources=(
        Resource(
            url="https://dl.fbaipublicfiles.com/nds/data.zip",
            target="nds/data.zip",
            post=("extract:nds",),
            verified=False,
        ),
    ),
    expect=(("glob", "nds/**/*.json"),),
    probe="nds",
    notes="space nds-resnet reads ResNet.json (and ResNet_rng1..3.json), nds-resnexta reads ResNeXt-A.json",
)


def probe(paths: list[Path]) -> str:
    """Which NDS design spaces (file stems) are present, and which harness spaces they serve."""
    names = sorted({p.name for p in paths if not p.name.startswith("._")})  # skip macOS AppleDouble files
    parts = []
    for space, design in (("nds-resnet", RESNET), ("nds-resnexta", RESNEXT_A)):
        files = [design.file, *design.seed_files]
        have = [f for f in files if f in names]
        parts.append(f"{space}: {', '.join(have) if have else 'no ' + design.file}")
    others = [n[: -len(".json")] for n in names if n not in (RESNET.file, RESNEXT_A.file, *RESNET.seed_files)]
    other = f"; other design spaces: {', '.join(others)}" if others else ""
    return f"{len(names)} JSON file(s); {'; '.join(parts)}{other}"


register_catalog("nds", SpaceCatalog(benchmarks=(BENCHMARK,), probes={"nds": probe}))
