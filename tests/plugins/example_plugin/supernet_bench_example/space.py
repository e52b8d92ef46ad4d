"""`chain`: a tiny sequential space (3 layers x {conv3x3, conv1x1, skip} = 27 architectures).

Its ground truth is generated in code, so the space needs no data files: a synthetic accuracy that rewards
3x3 convolutions over 1x1 over skips, plus a fixed per-architecture offset. It stands in for a benchmark
table; a real space reads its official file under the data folder in `ground_truth`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import torch
import torch.nn as nn
from supernet_bench.core.errors import BenchError, UnknownNameError
from supernet_bench.core.ground_truth import GroundTruth
from supernet_bench.spaces import register_space
from supernet_bench.spaces.base import Arch, OpMask, SearchSpace, Slot, build_checked, shorten

OPS = ("conv3x3", "conv1x1", "skip")
LAYERS = 3
GT_COLUMNS = ("synthetic",)


def synthetic_accuracy(arch: Arch) -> float:
    """The generated ground truth: 60 + 8 per conv3x3 + 5 per conv1x1 + a fixed offset in [0, 2)."""
    digest = hashlib.sha256("".join(map(str, arch)).encode()).digest()
    return 60.0 + 8.0 * arch.count(0) + 5.0 * arch.count(1) + 2.0 * digest[0] / 256


class ChainSupernet(nn.Module):
    """stem conv3x3 -> LAYERS choice layers (each holds all three ops) -> global pool -> linear."""

    def __init__(
        self,
        num_classes: int,
        weights_factory=None,
        C: int = 8,
        N: int = 1,
        bn_affine: bool = False,
        track_running_stats: bool = True,
        dropout: float = 0.0,
    ):
        super().__init__()
        if weights_factory is not None:
            raise BenchError("space chain does not support per-op weight factories")

        def conv_bn(k: int) -> nn.Module:
            return nn.Sequential(
                nn.ReLU(),
                nn.Conv2d(C, C, k, padding=k // 2, bias=False),
                nn.BatchNorm2d(C, affine=bn_affine, track_running_stats=track_running_stats),
            )

        self.stem = nn.Sequential(nn.Conv2d(3, C, 3, padding=1, bias=False), nn.BatchNorm2d(C))
        self.layers = nn.ModuleList(nn.ModuleList([conv_bn(3), conv_bn(1), nn.Identity()]) for _ in range(LAYERS))
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(C, num_classes)

    def forward(self, x: torch.Tensor, arch: Arch) -> torch.Tensor:
        x = self.stem(x)
        for ops, op in zip(self.layers, arch):
            x = ops[op](x)
        return self.classifier(self.dropout(x.mean(dim=(2, 3))))


@register_space("chain")
class ChainSpace(SearchSpace):
    """A 27-architecture sequential toy space with a ground truth generated in code (example plugin)."""

    name = "chain"
    slots = tuple(Slot(f"layer{i + 1}", OPS) for i in range(LAYERS))

    def __init__(self, subset: str = "full"):
        if subset != "full":
            raise UnknownNameError(f"Unknown chain subset {subset!r}. Available: full")
        self.subset = subset

    @property
    def allowed(self) -> OpMask:
        return tuple(frozenset(range(len(OPS))) for _ in range(LAYERS))

    def encode(self, arch: Arch) -> str:
        return "-".join(OPS[op] for op in self.check(arch))

    def decode(self, text: str) -> Arch:
        parts = text.split("-") if isinstance(text, str) else []
        if len(parts) != LAYERS or any(p not in OPS for p in parts):
            raise BenchError(f"malformed chain arch {shorten(text)}: expected {LAYERS} of {', '.join(OPS)} joined by -")
        return tuple(OPS.index(p) for p in parts)

    def complexity(self, arch: Arch) -> float:
        """Searchable parameters at width 8 (conv3x3: 9*8*8, conv1x1: 8*8, skip: 0)."""
        return float(sum((576, 64, 0)[op] for op in self.check(arch)))

    def build_supernet(self, num_classes: int, weights_factory=None, **size) -> nn.Module:
        return build_checked(self.label, ChainSupernet, num_classes, weights_factory, size)

    def ground_truth(self, column: str, data_dir, source=None) -> GroundTruth:
        if column not in GT_COLUMNS:
            raise UnknownNameError(f"Unknown chain ground-truth column {column!r}. Available: {', '.join(GT_COLUMNS)}")
        values = {self.encode(a): synthetic_accuracy(a) for a in self.enumerate()}
        return GroundTruth(space=self.name, column=column, values=values, source="generated (supernet_bench_example)")

    def gt_columns(self) -> Sequence[str]:
        return GT_COLUMNS
