"""The DARTS cell weight-sharing supernet (repo quark0/darts `cnn/model_search.py` structure, single path).

Stem Conv3x3(3 -> stem_multiplier*C) + BN; `layers` cells with the channel count doubled and a reduction cell
at layers//3 and 2*layers//3; each cell preprocesses its two inputs (FactorizedReduce for input 0 after a
reduction cell, else ReLUConvBN 1x1; ReLUConvBN 1x1 for input 1), computes nodes 2..5 as the sum of their
non-none incoming edges and concatenates them (4C channels); global average pooling and a linear classifier.

Slots: normal layers use slots 0-13 (normal-cell edges), reduction layers slots 14-27 (reduce-cell edges);
edges from the input nodes of a reduction cell have stride 2. Candidate ops use affine-free BN (`bn_affine`),
pools are followed by an affine-free BN as in the DARTS search network. Every computed op goes through
`self.weights(layer, slot, op, x, arch)`; `none` edges are not computed. The op factory returns a
parameterless placeholder for (layer, slot) pairs the forward never uses (reduce slots in normal layers
and vice versa), so EdgeWeights-style keyings that build every (layer, slot, op) stay cheap.
"""

from __future__ import annotations

import torch
import torch.nn as nn
from supernet_bench.spaces.darts.space import CELL_EDGES, EDGES_PER_CELL, NONE, NUM_SLOTS, OPS
from supernet_bench.spaces.forward_cache import ForwardCache
from supernet_bench.spaces.pointwise import PointwiseConv2d
from supernet_bench.spaces.pooling import BoxAverage
from supernet_bench.spaces.weights import EdgeWeights


def _bn(c, affine, track):
    return nn.BatchNorm2d(c, affine=affine, track_running_stats=track)


class ReLUConvBN(nn.Sequential):
    def __init__(self, c_in, c_out, kernel, stride, padding, affine=True, track_running_stats=True):
        super().__init__(
            nn.ReLU(inplace=False),
            nn.Conv2d(c_in, c_out, kernel, stride=stride, padding=padding, bias=False),
            _bn(c_out, affine, track_running_stats),
        )


class DilConv(nn.Sequential):
    def __init__(self, c_in, c_out, kernel, stride, padding, dilation, affine=True, track_running_stats=True):
        super().__init__(
            nn.ReLU(inplace=False),
            nn.Conv2d(c_in, c_in, kernel, stride, padding, dilation=dilation, groups=c_in, bias=False),
            nn.Conv2d(c_in, c_out, 1, bias=False),
            _bn(c_out, affine, track_running_stats),
        )


class SepConv(nn.Sequential):
    """Two stacked depthwise-separable convs (the first carries the stride), as in DARTS."""

    def __init__(self, c_in, c_out, kernel, stride, padding, affine=True, track_running_stats=True):
        super().__init__(
            DilConv(c_in, c_in, kernel, stride, padding, 1, affine, track_running_stats),
            DilConv(c_in, c_out, kernel, 1, padding, 1, affine, track_running_stats),
        )


class FactorizedReduce(nn.Module):
    """Stride-2 1x1 convs on x and on x shifted by one pixel, concatenated (needs even spatial size)."""

    def __init__(self, c_in, c_out, affine=True, track_running_stats=True):
        super().__init__()
        self.relu = nn.ReLU(inplace=False)
        self.conv_1 = PointwiseConv2d(c_in, c_out // 2, stride=2)
        self.conv_2 = PointwiseConv2d(c_in, c_out - c_out // 2, stride=2)
        self.bn = _bn(c_out, affine, track_running_stats)

    def forward(self, x):
        x = self.relu(x)
        return self.bn(torch.cat([self.conv_1(x), self.conv_2(x[:, :, 1:, 1:])], dim=1))


class _Unused(nn.Module):
    """Placeholder for a (layer, slot) the forward pass never computes."""

    def forward(self, x):  # pragma: no cover - never called
        raise RuntimeError("DARTS supernet: this (layer, slot) is not used by the cell type of the layer")


def make_darts_op(name: str, c: int, stride: int, affine: bool, track: bool) -> nn.Module:
    if name == "none":
        return nn.Identity()  # never called: none edges are skipped
    if name == "max_pool_3x3":
        return nn.Sequential(nn.MaxPool2d(3, stride=stride, padding=1), _bn(c, False, track))
    if name == "avg_pool_3x3":
        return nn.Sequential(BoxAverage(3, stride=stride, padding=1, count_include_pad=False), _bn(c, False, track))
    if name == "skip_connect":
        return nn.Identity() if stride == 1 else FactorizedReduce(c, c, affine, track)
    if name == "sep_conv_3x3":
        return SepConv(c, c, 3, stride, 1, affine, track)
    if name == "sep_conv_5x5":
        return SepConv(c, c, 5, stride, 2, affine, track)
    if name == "dil_conv_3x3":
        return DilConv(c, c, 3, stride, 2, 2, affine, track)
    if name == "dil_conv_5x5":
        return DilConv(c, c, 5, stride, 4, 2, affine, track)
    raise ValueError(f"unknown DARTS op {name!r}")


class DartsSupernet(nn.Module):
    """forward(x, arch) -> logits for the single path `arch` (28 op indices: normal edges, then reduce edges)."""

    num_slots = NUM_SLOTS
    ops = OPS

    def __init__(
        self,
        num_classes: int = 10,
        C: int = 16,
        layers: int = 8,
        weights_factory=None,
        stem_multiplier: int = 3,
        bn_affine: bool = False,
        track_running_stats: bool = True,
        dropout: float = 0.0,
    ):
        super().__init__()
        if layers < 1 or C < 2:
            raise ValueError(f"DartsSupernet needs layers >= 1 and C >= 2, got layers={layers}, C={C}")
        self.C, self.layers = C, layers
        self.bn_affine, self.track_running_stats = bn_affine, track_running_stats
        track = track_running_stats
        c_stem = stem_multiplier * C
        self.stem = nn.Sequential(nn.Conv2d(3, c_stem, 3, padding=1, bias=False), nn.BatchNorm2d(c_stem))
        self.reduction = [i in (layers // 3, 2 * layers // 3) for i in range(layers)]
        self.forward_cache = ForwardCache()  # used only while scoring (spaces/forward_cache.py)
        self.cell_channels: list[int] = []
        pre0, pre1 = [], []
        c_pp, c_p, c_cur = c_stem, c_stem, C
        reduction_prev = False
        for i in range(layers):
            if self.reduction[i]:
                c_cur *= 2
            self.cell_channels.append(c_cur)
            if reduction_prev:
                pre0.append(FactorizedReduce(c_pp, c_cur, bn_affine, track))
            else:
                pre0.append(ReLUConvBN(c_pp, c_cur, 1, 1, 0, bn_affine, track))
            pre1.append(ReLUConvBN(c_p, c_cur, 1, 1, 0, bn_affine, track))
            reduction_prev = self.reduction[i]
            c_pp, c_p = c_p, 4 * c_cur
        self.preprocess0 = nn.ModuleList(pre0)
        self.preprocess1 = nn.ModuleList(pre1)
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.classifier = nn.Linear(c_p, num_classes)
        factory = weights_factory or EdgeWeights
        self.weights = factory(self.make_op, layers, NUM_SLOTS, len(OPS))

    @property
    def num_layers(self) -> int:
        return self.layers

    def slot_base(self, layer: int) -> int:
        """First slot of the layer's cell type: 0 (normal) or 14 (reduce)."""
        return EDGES_PER_CELL if self.reduction[layer] else 0

    def slot_shape_class(self, layer: int, slot: int) -> int | None:
        """None for the other cell type's slots; in a reduce cell 1 for stride-2 edges (from the inputs), else 0."""
        base = self.slot_base(layer)
        if not base <= slot < base + EDGES_PER_CELL:
            return None
        _, frm = CELL_EDGES[slot - base]
        return 1 if self.reduction[layer] and frm < 2 else 0

    def make_op(self, layer: int, slot: int, op: int) -> nn.Module:
        base = self.slot_base(layer)
        if not base <= slot < base + EDGES_PER_CELL:
            return _Unused()
        _, frm = CELL_EDGES[slot - base]
        stride = 2 if self.reduction[layer] and frm < 2 else 1
        return make_darts_op(OPS[op], self.cell_channels[layer], stride, self.bn_affine, self.track_running_stats)

    def cell(self, layer: int, s0: torch.Tensor, s1: torch.Tensor, arch: tuple[int, ...]) -> torch.Tensor:
        s0, s1 = self.preprocess0[layer](s0), self.preprocess1[layer](s1)
        base = self.slot_base(layer)
        states: list[torch.Tensor | None] = [s0, s1, None, None, None, None]
        for k, (to, frm) in enumerate(CELL_EDGES):  # ordered by target node
            op = arch[base + k]
            if op == NONE or states[frm] is None:
                continue
            y = self.weights(layer, base + k, op, states[frm], arch)
            states[to] = y if states[to] is None else states[to] + y
        n, c, h, w = s1.shape
        if self.reduction[layer]:
            h, w = (h + 1) // 2, (w + 1) // 2
        zero = None
        outs = []
        for s in states[2:]:
            if s is None:  # a node without inputs (only for archs outside the space, e.g. FairNAS paths)
                zero = s1.new_zeros(n, c, h, w) if zero is None else zero
                s = zero
            outs.append(s)
        return torch.cat(outs, dim=1)

    def features(self, x: torch.Tensor, arch: tuple[int, ...]) -> torch.Tensor:
        s0 = s1 = self.forward_cache.stem(self.stem, x)
        for layer in range(self.layers):
            s0, s1 = s1, self.cell(layer, s0, s1, arch)
        return s1

    def forward(self, x: torch.Tensor, arch: tuple[int, ...]) -> torch.Tensor:
        out = self.features(x, tuple(arch)).mean(dim=(2, 3))
        return self.classifier(self.dropout(out))
