"""The NAS-Bench-Macro weight-sharing supernet (paper CondWeights App. A Table 3; repo
xiusu/NAS-Bench-Macro `train/model.py`).

Stem conv3x3 3->32 + BN + ReLU; 8 searchable layers in stages of 2, 3, 3 (first layer of a stage:
stride 2, channels doubled, 32->64->128->256); head conv1x1 ->1280 + BN + ReLU, global average
pooling, (dropout), linear. All channel counts are scaled by `width_mult`. The official blocks use
ReLU (not ReLU6); the MobileNetV2 block adds its input when stride is 1 and channels match.
"""

from __future__ import annotations

import torch
import torch.nn as nn
from supernet_bench.core.errors import BenchError
from supernet_bench.spaces.forward_cache import ForwardCache
from supernet_bench.spaces.macro.space import (
    EXPANSION,
    HEAD_CHANNELS,
    IDENTITY,
    KERNEL,
    NUM_LAYERS,
    OPS,
    STEM_CHANNELS,
    layer_plan,
    scaled,
)
from supernet_bench.spaces.pointwise import PointwiseConv2d
from supernet_bench.spaces.weights import EdgeWeights


def _bn(c: int, affine: bool, track_running_stats: bool) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(c, affine=affine, track_running_stats=track_running_stats)


class InvertedResidual(nn.Module):
    """MobileNetV2 block: 1x1 expand + BN + ReLU, depthwise kxk (stride) + BN + ReLU, 1x1 project + BN."""

    def __init__(self, c_in, c_out, stride, expansion, kernel, affine=True, track_running_stats=True):
        super().__init__()
        h = c_in * expansion
        self.conv = nn.Sequential(
            nn.Conv2d(c_in, h, 1, bias=False),
            _bn(h, affine, track_running_stats),
            nn.ReLU(inplace=True),
            nn.Conv2d(h, h, kernel, stride, padding=kernel // 2, groups=h, bias=False),
            _bn(h, affine, track_running_stats),
            nn.ReLU(inplace=True),
            nn.Conv2d(h, c_out, 1, bias=False),
            _bn(c_out, affine, track_running_stats),
        )
        self.use_shortcut = stride == 1 and c_in == c_out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x) + x if self.use_shortcut else self.conv(x)


def make_macro_op(
    op: int, c_in: int, c_out: int, stride: int, affine: bool = True, track_running_stats: bool = True
) -> nn.Module:
    """Candidate op `op` at a layer; identity is conv1x1 + BN where the layer reduces/widens."""
    if op == IDENTITY:
        if stride == 1 and c_in == c_out:
            return nn.Identity()
        return nn.Sequential(
            PointwiseConv2d(c_in, c_out, stride), _bn(c_out, affine, track_running_stats)
        )
    if op in (1, 2):
        return InvertedResidual(c_in, c_out, stride, EXPANSION[op], KERNEL[op], affine, track_running_stats)
    raise ValueError(f"unknown NAS-Bench-Macro op index {op!r}")


class MacroSupernet(nn.Module):
    """forward(x, arch) -> logits for the single path `arch` (8 op indices, layer1 first).

    Weight keying: the whole network is ONE weights "layer" with 8 slots, i.e. the factory is
    called as `weights_factory(op_factory, num_layers=1, num_slots=8, ops=3)` and every searchable
    op is computed by `self.weights(0, slot, arch[slot], x, arch)`. So `slot` is the position in
    `arch` (what methods index, e.g. conditional weights read `arch[slot - 1]`) and EdgeWeights
    keys `(0, slot, op)` are unique. `identity` goes through `weights` too (a parameter-free
    nn.Identity at stride-1 layers, conv1x1 + BN at the three stride-2 layers).
    `bn_affine` applies to the candidate ops' BNs; stem and head BNs are always affine.
    """

    num_slots = NUM_LAYERS
    ops = OPS

    def __init__(
        self,
        num_classes: int = 10,
        width_mult: float = 1.0,
        weights_factory=None,
        bn_affine: bool = True,
        track_running_stats: bool = True,
        dropout: float = 0.0,
    ):
        super().__init__()
        if isinstance(width_mult, bool) or not isinstance(width_mult, (int, float)) or not width_mult > 0:
            raise BenchError(f"macro supernet width_mult must be a number > 0, got {width_mult!r}")
        if not 0.0 <= dropout < 1.0:
            raise BenchError(f"macro supernet dropout must be in [0, 1), got {dropout!r}")
        self.width_mult = float(width_mult)
        self.bn_affine = bn_affine
        self.track_running_stats = track_running_stats
        self.plan = layer_plan(self.width_mult)  # (c_in, c_out, stride) per searchable layer
        stem = scaled(STEM_CHANNELS, self.width_mult)
        head = scaled(HEAD_CHANNELS, self.width_mult)
        self.stem = nn.Sequential(
            nn.Conv2d(3, stem, 3, padding=1, bias=False),
            _bn(stem, True, track_running_stats),
            nn.ReLU(inplace=True),
        )
        self.forward_cache = ForwardCache()  # used only while scoring (spaces/forward_cache.py)
        self.head = nn.Sequential(
            nn.Conv2d(self.plan[-1][1], head, 1, bias=False),
            _bn(head, True, track_running_stats),
            nn.ReLU(inplace=True),
        )
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.classifier = nn.Linear(head, num_classes)
        factory = weights_factory or EdgeWeights
        self.weights = factory(self.make_op, 1, self.num_slots, len(OPS))

    @property
    def num_layers(self) -> int:
        return 1

    def make_op(self, layer: int, slot: int, op: int) -> nn.Module:
        return make_macro_op(op, *self.plan[slot], self.bn_affine, self.track_running_stats)

    def features(self, x: torch.Tensor, arch: tuple[int, ...]) -> torch.Tensor:
        if len(arch) != NUM_LAYERS:
            raise BenchError(f"NAS-Bench-Macro arch must have {NUM_LAYERS} op indices, got {arch!r}")
        x = self.forward_cache.stem(self.stem, x)
        for slot in range(NUM_LAYERS):
            x = self.weights(0, slot, arch[slot], x, arch)
        return self.head(x)

    def forward(self, x: torch.Tensor, arch: tuple[int, ...]) -> torch.Tensor:
        out = self.features(x, tuple(arch)).mean(dim=(2, 3))
        return self.classifier(self.dropout(out))
