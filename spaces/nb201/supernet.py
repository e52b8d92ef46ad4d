"""The NAS-Bench-201 weight-sharing supernet (AutoDL-style macro skeleton, docs/methods.md#shared-substrate).

Stem conv3x3+BN; 3 stages of N cells at C, 2C, 4C channels with a ResNet basic block (stride 2)
between stages; BN-ReLU, global pooling, linear. All cells share one genotype. Candidate ops come
from `self.weights` (see spaces/weights.py); `none` edges and edges off every input-output path are
not computed at all.
"""

from __future__ import annotations

from functools import cache

import torch
import torch.nn as nn
from supernet_bench.spaces.folding import can_fold, folded_conv_bn
from supernet_bench.spaces.forward_cache import ForwardCache
from supernet_bench.spaces.nb201.space import EDGES, OPS, SKIP, live_edges
from supernet_bench.spaces.pooling import BoxAverage
from supernet_bench.spaces.weights import EdgeWeights


@cache
def live_edge_list(arch: tuple[int, ...]) -> tuple[tuple[int, int, int], ...]:
    """(edge index, from node, to node) of the edges the forward pass computes, in topological order."""
    return tuple((k, frm, to) for k, ((to, frm), live) in enumerate(zip(EDGES, live_edges(arch))) if live)


class ReLUConvBN(nn.Sequential):
    def __init__(self, c_in, c_out, kernel, stride, padding, affine=True, track_running_stats=True):
        super().__init__(
            nn.ReLU(inplace=False),
            nn.Conv2d(c_in, c_out, kernel, stride=stride, padding=padding, bias=False),
            nn.BatchNorm2d(c_out, affine=affine, track_running_stats=track_running_stats),
        )

    def forward(self, x):
        if can_fold(self[2]):  # scoring: conv and BN as one conv (spaces/folding.py)
            return folded_conv_bn(self[0](x), self[1], self[2])
        return super().forward(x)


class ResNetBasicBlock(nn.Module):
    """The fixed reduction block between stages (stride 2, channels doubled)."""

    def __init__(self, c_in, c_out, track_running_stats=True):
        super().__init__()
        self.conv_a = ReLUConvBN(c_in, c_out, 3, 2, 1, True, track_running_stats)
        self.conv_b = ReLUConvBN(c_out, c_out, 3, 1, 1, True, track_running_stats)
        self.downsample = nn.Sequential(
            BoxAverage(kernel_size=2, stride=2, padding=0), nn.Conv2d(c_in, c_out, 1, bias=False)
        )

    def forward(self, x):
        out = self.conv_b(self.conv_a(x))
        if torch.is_grad_enabled():
            return self.downsample(x) + out
        return self.downsample(x).add_(out)  # scoring: no new tensor, the same sum


class PreActivatedConvBN(ReLUConvBN):
    """NB201's ReLU-Conv-BN op whose ReLU the cell applies: one ReLU per node, shared by every conv edge
    leaving it. Same parameters, state-dict keys and init order as ReLUConvBN (index 0 is an Identity)."""

    def __init__(self, c_in, c_out, kernel, stride, padding, affine=True, track_running_stats=True):
        super().__init__(c_in, c_out, kernel, stride, padding, affine, track_running_stats)
        self[0] = nn.Identity()


PRE_ACTIVATED = frozenset(OPS.index(name) for name in ("nor_conv_1x1", "nor_conv_3x3"))
"""Ops that take relu(node) as input (the cell computes it once per node)."""


def make_nb201_op(name: str, channels: int, affine: bool, track_running_stats: bool) -> nn.Module:
    if name == "none":
        return nn.Identity()  # never called: none edges are skipped
    if name == "skip_connect":
        return nn.Identity()
    if name == "nor_conv_1x1":
        return PreActivatedConvBN(channels, channels, 1, 1, 0, affine, track_running_stats)
    if name == "nor_conv_3x3":
        return PreActivatedConvBN(channels, channels, 3, 1, 1, affine, track_running_stats)
    if name == "avg_pool_3x3":
        return BoxAverage(3, stride=1, padding=1, count_include_pad=False)
    raise ValueError(f"unknown NB201 op {name!r}")


class NB201Supernet(nn.Module):
    """forward(x, arch) -> logits for the single path `arch` (6 op indices, one per edge)."""

    num_slots = len(EDGES)
    ops = OPS

    def __init__(
        self,
        num_classes: int = 10,
        C: int = 16,
        N: int = 5,
        weights_factory=None,
        bn_affine: bool = False,
        track_running_stats: bool = True,
        dropout: float = 0.0,
    ):
        super().__init__()
        self.C, self.N = C, N
        self.bn_affine = bn_affine
        self.track_running_stats = track_running_stats
        self.stem = nn.Sequential(nn.Conv2d(3, C, 3, padding=1, bias=False), nn.BatchNorm2d(C))
        self.forward_cache = ForwardCache()  # used only while scoring (spaces/forward_cache.py)
        self.cell_channels = [C] * N + [2 * C] * N + [4 * C] * N
        self.reductions = nn.ModuleList(
            [ResNetBasicBlock(C, 2 * C, track_running_stats), ResNetBasicBlock(2 * C, 4 * C, track_running_stats)]
        )
        self.head = nn.Sequential(nn.BatchNorm2d(4 * C), nn.ReLU(inplace=False))
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.classifier = nn.Linear(4 * C, num_classes)
        factory = weights_factory or EdgeWeights
        self.weights = factory(self.make_op, len(self.cell_channels), self.num_slots, len(OPS))

    @property
    def num_layers(self) -> int:
        return len(self.cell_channels)

    def make_op(self, layer: int, slot: int, op: int) -> nn.Module:
        return make_nb201_op(OPS[op], self.cell_channels[layer], self.bn_affine, self.track_running_stats)

    def cell(
        self, layer: int, x: torch.Tensor, arch: tuple[int, ...], batch: torch.Tensor | None = None
    ) -> torch.Tensor:
        """One cell. With `batch` (the first cell while scoring), op outputs out of nodes 0 and 1 go through
        the forward cache: their input depends on at most the op of edge 1<-0 (spaces/forward_cache.py)."""
        nodes: list[torch.Tensor | None] = [x, None, None, None]
        activated: list[torch.Tensor | None] = [None, None, None, None]  # relu(node), computed once
        cached = batch is not None and self.forward_cache.enabled()
        keys: list[tuple | None] = [("stem",), (), (), ()]  # the computation behind each node so far
        # without autograd, a node sum this cell allocated accumulates in place (same values, no new tensor);
        # never a tensor it shares: the cell input, a skip edge's input, a forward-cache entry
        owned = [False] * 4
        in_place = not torch.is_grad_enabled()
        for k, frm, to in live_edge_list(arch):
            op = arch[k]
            if op in PRE_ACTIVATED:
                if activated[frm] is None:
                    activated[frm] = torch.relu(nodes[frm])
                inp = activated[frm]
            else:
                inp = nodes[frm]
            fresh = op != SKIP  # an op output nothing else refers to
            if cached:
                wkey = self.weights.computation_key(layer, k, op, arch)
                key = None if wkey is None or keys[frm] is None else (wkey, keys[frm])
                if key is not None and frm <= 1 and op != SKIP:
                    y = self.forward_cache(
                        key, batch, lambda k=k, op=op, inp=inp: self.weights(layer, k, op, inp, arch)
                    )
                    fresh = False
                else:
                    y = self.weights(layer, k, op, inp, arch)
                keys[to] = None if key is None or keys[to] is None else keys[to] + (key,)
            else:
                y = self.weights(layer, k, op, inp, arch)
            fresh = fresh and y is not inp
            if nodes[to] is None:
                nodes[to], owned[to] = y, fresh
            elif in_place and owned[to]:
                nodes[to].add_(y)
            elif in_place and fresh:
                nodes[to] = y.add_(nodes[to])
                owned[to] = True
            else:
                nodes[to], owned[to] = nodes[to] + y, True
        return nodes[3] if nodes[3] is not None else torch.zeros_like(x)

    def features(self, x: torch.Tensor, arch: tuple[int, ...]) -> torch.Tensor:
        batch = x
        x = self.forward_cache.stem(self.stem, batch)
        layer = 0
        for stage in range(3):
            for _ in range(self.N):
                x = self.cell(layer, x, arch, batch if layer == 0 else None)
                layer += 1
            if stage < 2:
                x = self.reductions[stage](x)
        return self.head(x)

    def forward(self, x: torch.Tensor, arch: tuple[int, ...]) -> torch.Tensor:
        out = self.features(x, tuple(arch)).mean(dim=(2, 3))
        return self.classifier(self.dropout(out))
