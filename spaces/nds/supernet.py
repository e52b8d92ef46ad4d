"""The NDS weight-sharing supernet: channel-sliced residual blocks, depth = the first d blocks of a stage.

Layout (aw_nas `germ_nds.py` GermAnyNet, the CLOSE paper's NDS supernet, rebuilt): stem conv3x3
3->16 + BN + ReLU; three stages of `max_depth` blocks each, every block sized for the largest width
(and bottleneck width); head = global average pooling, (dropout), linear. A subnet runs the first
`depth` blocks of each stage and uses the leading channels of every conv, BN and the classifier
(ordinal channel slicing, aw_nas `force_ordinal: true`). A grouped 3x3 conv with g groups uses the
block-diagonal part of the dense kernel (aw_nas GroupMaskHandler). A block projects its shortcut
(sliced conv1x1 + BN) exactly when the stand-alone block would: stride 2, or input width != output
width, so a subnet computes what the stand-alone network with the sliced weights computes
(`extract`). All widths are scaled by `width_mult` (round half up, at least 1); a scaled bottleneck
width is rounded to a multiple of the group count (at width 1 every NDS value is already one).

Weight keying: `weights_factory(op_factory, 1, 3 * max_depth, 1)`; block b of stage s is computed by
`self.weights(0, s * max_depth + b, 0, x, arch)` (one "op" per position). The per-stage widths of the
current forward live in `self.active`, which every block reads; it is set at the start of `forward`.
`bn_affine` applies to the blocks' BNs; the stem BN is always affine. Initialisation as pycls
(conv N(0, sqrt(2 / fan_out)), BN 1/0, linear N(0, 0.01)).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from supernet_bench.core.errors import BenchError
from supernet_bench.spaces.nds.design import (
    BASIC,
    NUM_STAGES,
    RESNET,
    RESNEXT_A,
    STEM_WIDTH,
    STRIDES,
    Design,
    StageConfig,
    arch_to_config,
)
from supernet_bench.spaces.pointwise import PointwiseConv2d, subsample
from supernet_bench.spaces.weights import EdgeWeights


def scaled(channels: int, width_mult: float) -> int:
    """Channels scaled by the width multiplier (round half up, at least 1)."""
    return max(1, int(np.floor(channels * width_mult + 0.5)))


def scaled_bottleneck(width: int, bot_mul: float, groups: int) -> int:
    """Bottleneck width of a (scaled) stage width: round(width * bot_mul) to a multiple of `groups`, >= groups."""
    return groups * max(1, int(round(width * bot_mul / groups)))


@dataclass
class ActivePath:
    """Per-stage channel choices of the subnet being computed (written by the supernet's forward)."""

    widths: list[int] = field(default_factory=lambda: [0] * NUM_STAGES)
    bottlenecks: list[int] = field(default_factory=lambda: [0] * NUM_STAGES)
    groups: list[int] = field(default_factory=lambda: [1] * NUM_STAGES)


# --- sliced layers ---------------------------------------------------------------------------------------
class SlicedConv2d(nn.Conv2d):
    """A max-size conv whose forward uses the leading `out` output and `x.shape[1]` input channels."""

    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int = 1):
        super().__init__(c_in, c_out, kernel, stride=stride, padding=kernel // 2, bias=False)

    def sliced_weight(self, c_in: int, c_out: int, groups: int = 1) -> torch.Tensor:
        if groups == 1:
            return self.weight[:c_out, :c_in]
        gi, go = c_in // groups, c_out // groups
        return torch.cat([self.weight[j * go : (j + 1) * go, j * gi : (j + 1) * gi] for j in range(groups)])

    def forward(self, x: torch.Tensor, c_out: int, groups: int = 1) -> torch.Tensor:
        w = self.sliced_weight(x.shape[1], c_out, groups)
        if self.kernel_size == (1, 1):  # strided 1x1 as a subsample (spaces/pointwise.py)
            return F.conv2d(subsample(x, self.stride), w, None, 1, 0, 1, groups)
        return F.conv2d(x, w, None, self.stride, self.padding, 1, groups)


class SlicedBatchNorm2d(nn.BatchNorm2d):
    """BatchNorm over the leading `x.shape[1]` channels of max-size buffers (running stats updated in place).

    Same momentum / cumulative-average (momentum=None) rules as nn.BatchNorm2d, so the harness's BN
    recalibration and batch-statistics modes work unchanged.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        c = x.shape[1]
        factor = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats and self.num_batches_tracked is not None:
            self.num_batches_tracked.add_(1)
            factor = 1.0 / float(self.num_batches_tracked) if self.momentum is None else self.momentum
        use_batch = self.training or self.running_mean is None
        track = not self.training or self.track_running_stats
        return F.batch_norm(
            x,
            self.running_mean[:c] if track and self.running_mean is not None else None,
            self.running_var[:c] if track and self.running_var is not None else None,
            self.weight[:c] if self.affine else None,
            self.bias[:c] if self.affine else None,
            use_batch,
            factor,
            self.eps,
        )


class SlicedLinear(nn.Linear):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.weight[:, : x.shape[1]], self.bias)


# --- blocks ------------------------------------------------------------------------------------------------
class SlicedBlock(nn.Module):
    """A residual block at max size; `stage` selects its widths from the shared ActivePath.

    `first`: the stage's block 0 (stride, width change: may project its shortcut); the other positions
    of a stage all have the same shapes (so CLOSE can share them).
    """

    def __init__(self, block_type, stage, c_in, c_out, c_b, stride, first, affine, track, active: ActivePath):
        super().__init__()
        self.basic = block_type == BASIC
        self.stage, self.stride, self.active = stage, stride, active

        def bn(c):
            return SlicedBatchNorm2d(c, affine=affine, track_running_stats=track)

        if self.basic:
            self.a, self.a_bn = SlicedConv2d(c_in, c_out, 3, stride), bn(c_out)
            self.b, self.b_bn = SlicedConv2d(c_out, c_out, 3), bn(c_out)
        else:
            self.a, self.a_bn = SlicedConv2d(c_in, c_b, 1), bn(c_b)
            self.b, self.b_bn = SlicedConv2d(c_b, c_b, 3, stride), bn(c_b)
            self.c, self.c_bn = SlicedConv2d(c_b, c_out, 1), bn(c_out)
        if first:
            self.proj, self.proj_bn = SlicedConv2d(c_in, c_out, 1, stride), bn(c_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s, act = self.stage, self.active
        w = act.widths[s]
        if self.basic:
            y = F.relu(self.a_bn(self.a(x, w)))
            y = self.b_bn(self.b(y, w))
        else:
            wb, g = act.bottlenecks[s], act.groups[s]
            y = F.relu(self.a_bn(self.a(x, wb)))
            y = F.relu(self.b_bn(self.b(y, wb, g)))
            y = self.c_bn(self.c(y, w))
        if self.stride != 1 or x.shape[1] != w:
            if not hasattr(self, "proj"):
                raise RuntimeError("a shape-changing block must be its stage's first")
            x = self.proj_bn(self.proj(x, w))
        return F.relu(x + y)


def init_weights(m: nn.Module) -> None:
    """pycls/aw_nas initialisation."""
    if isinstance(m, nn.Conv2d):
        fan_out = m.kernel_size[0] * m.kernel_size[1] * m.out_channels
        m.weight.data.normal_(mean=0.0, std=float(np.sqrt(2.0 / fan_out)))
    elif isinstance(m, nn.BatchNorm2d) and m.affine:
        m.weight.data.fill_(1.0)
        m.bias.data.zero_()
    elif isinstance(m, nn.Linear):
        m.weight.data.normal_(mean=0.0, std=0.01)
        m.bias.data.zero_()


# --- the supernet ------------------------------------------------------------------------------------------
class NDSSupernet(nn.Module):
    """forward(x, arch) -> logits of the subnet `arch` (op indices of the space's slots)."""

    design: Design
    io_modules = ("stem", "classifier")  # outside GM-NAS's shared weights

    def __init__(
        self,
        num_classes: int = 10,
        width_mult: float = 1.0,
        weights_factory=None,
        bn_affine: bool = False,
        track_running_stats: bool = True,
        dropout: float = 0.0,
    ):
        super().__init__()
        name = f"nds {self.design.name} supernet"
        if isinstance(width_mult, bool) or not isinstance(width_mult, (int, float)) or not width_mult > 0:
            raise BenchError(f"{name}: width_mult must be a number > 0, got {width_mult!r}")
        if not 0.0 <= dropout < 1.0:
            raise BenchError(f"{name}: dropout must be in [0, 1), got {dropout!r}")
        d = self.design
        self.width_mult = float(width_mult)
        self.bn_affine, self.track_running_stats = bn_affine, track_running_stats
        self.max_depth = d.max_depth
        self.stem_width = scaled(STEM_WIDTH, self.width_mult)
        self.width_options = tuple(scaled(w, self.width_mult) for w in d.widths)
        self.max_width = max(self.width_options)
        self.max_bottleneck = max(
            (scaled_bottleneck(w, b, g) for w in self.width_options for b in d.bot_muls for g in d.groups), default=0
        )
        self.active = ActivePath()
        self.stem = nn.Sequential(
            nn.Conv2d(3, self.stem_width, 3, padding=1, bias=False),
            nn.BatchNorm2d(self.stem_width, track_running_stats=track_running_stats),
            nn.ReLU(inplace=True),
        )
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.classifier = SlicedLinear(self.max_width, num_classes)
        factory = weights_factory or EdgeWeights
        self.weights = factory(self.make_op, 1, NUM_STAGES * self.max_depth, 1)
        self.apply(init_weights)

    @property
    def num_layers(self) -> int:
        return 1

    def make_op(self, layer: int, slot: int, op: int) -> nn.Module:
        stage, pos = divmod(slot, self.max_depth)
        first = pos == 0
        c_in = self.stem_width if stage == 0 and first else self.max_width
        return SlicedBlock(
            self.design.block_type, stage, c_in, self.max_width, self.max_bottleneck,
            STRIDES[stage] if first else 1, first, self.bn_affine, self.track_running_stats, self.active,
        )  # fmt: skip

    def path(self, arch) -> tuple[StageConfig, list[int], list[int], list[int]]:
        """(stage config, scaled widths, bottleneck widths, groups) of `arch`."""
        cfg = arch_to_config(self.design, arch)
        widths = [self.width_options[self.design.widths.index(w)] for w in cfg.widths]
        if self.design.bottleneck:
            groups = list(cfg.groups)
            wbs = [scaled_bottleneck(w, b, g) for w, b, g in zip(widths, cfg.bot_muls, groups)]
        else:
            groups, wbs = [1] * NUM_STAGES, [0] * NUM_STAGES
        return cfg, widths, wbs, groups

    def forward(self, x: torch.Tensor, arch) -> torch.Tensor:
        arch, n = tuple(arch), len(self.design.keys) * NUM_STAGES
        if len(arch) != n:
            raise BenchError(f"NDS {self.design.name} arch must have {n} op indices, got {arch!r}")
        cfg, widths, wbs, groups = self.path(arch)
        self.active.widths[:], self.active.bottlenecks[:], self.active.groups[:] = widths, wbs, groups
        x = self.stem(x)
        for s, depth in enumerate(cfg.depths):
            for b in range(depth):
                x = self.weights(0, s * self.max_depth + b, 0, x, arch)
        return self.classifier(self.dropout(x.mean(dim=(2, 3))))

    def shared_params_for(self, slot: int, mask) -> list[nn.Parameter]:
        """GM-NAS's shared weights w_s for any split slot: every block weight (no choice owns weights here)."""
        return list(self.weights.parameters())

    @torch.no_grad()
    def extract(self, arch) -> NDSNetwork:
        """The stand-alone network of `arch` at this supernet's width, holding the weights the subnet uses.

        Only for keyings with one module per position (EdgeWeights, or interval blocks via `weights.module`).
        """
        cfg, widths, wbs, groups = self.path(tuple(arch))
        net = NDSNetwork(
            self.design.block_type, self.stem_width, cfg.depths, widths, wbs, groups,
            self.classifier.out_features, self.bn_affine,
        )  # fmt: skip
        net.stem.load_state_dict(self.stem.state_dict(), strict=self.track_running_stats)
        w_in = self.stem_width
        for s, depth in enumerate(cfg.depths):
            for b in range(depth):
                src = self.weights.module(0, s * self.max_depth + b, 0)
                _copy_block(src, net.stages[s][b], w_in, widths[s], wbs[s], groups[s])
                w_in = widths[s]
        net.fc.weight.copy_(self.classifier.weight[:, :w_in])
        net.fc.bias.copy_(self.classifier.bias)
        return net


def _copy_bn(src: SlicedBatchNorm2d, dst: nn.BatchNorm2d) -> None:
    c = dst.num_features
    for name in ("running_mean", "running_var"):
        getattr(dst, name).copy_(getattr(src, name)[:c])
    dst.num_batches_tracked.copy_(src.num_batches_tracked)
    if src.affine:
        dst.weight.copy_(src.weight[:c])
        dst.bias.copy_(src.bias[:c])


def _copy_block(src: SlicedBlock, dst: nn.Module, w_in: int, w: int, wb: int, g: int) -> None:
    if src.basic:
        convs = [("a", w_in, w, 1), ("b", w, w, 1)]
    else:
        convs = [("a", w_in, wb, 1), ("b", wb, wb, g), ("c", wb, w, 1)]
    for name, ci, co, groups in convs:
        getattr(dst, name).weight.copy_(getattr(src, name).sliced_weight(ci, co, groups))
        _copy_bn(getattr(src, f"{name}_bn"), getattr(dst, f"{name}_bn"))
    if hasattr(dst, "proj"):
        dst.proj.weight.copy_(src.proj.sliced_weight(w_in, w))
        _copy_bn(src.proj_bn, dst.proj_bn)


# --- the stand-alone network -----------------------------------------------------------------------------
class StandaloneBlock(nn.Module):
    """pycls ResBasicBlock / ResBottleneckBlock at fixed widths."""

    def __init__(self, block_type, w_in, w_out, stride, w_b=0, groups=1, affine=True):
        super().__init__()
        self.basic = block_type == BASIC

        def bn(c):
            return nn.BatchNorm2d(c, affine=affine)

        if self.basic:
            self.a, self.a_bn = nn.Conv2d(w_in, w_out, 3, stride, 1, bias=False), bn(w_out)
            self.b, self.b_bn = nn.Conv2d(w_out, w_out, 3, 1, 1, bias=False), bn(w_out)
        else:
            self.a, self.a_bn = nn.Conv2d(w_in, w_b, 1, bias=False), bn(w_b)
            self.b, self.b_bn = nn.Conv2d(w_b, w_b, 3, stride, 1, groups=groups, bias=False), bn(w_b)
            self.c, self.c_bn = nn.Conv2d(w_b, w_out, 1, bias=False), bn(w_out)
        if w_in != w_out or stride != 1:
            self.proj, self.proj_bn = PointwiseConv2d(w_in, w_out, stride), bn(w_out)

    def forward(self, x):
        y = F.relu(self.a_bn(self.a(x)))
        if self.basic:
            y = self.b_bn(self.b(y))
        else:
            y = self.c_bn(self.c(F.relu(self.b_bn(self.b(y)))))
        if hasattr(self, "proj"):
            x = self.proj_bn(self.proj(x))
        return F.relu(x + y)


class NDSNetwork(nn.Module):
    """The stand-alone network of one configuration (pycls AnyNet with a CIFAR stem), for checks and export."""

    def __init__(self, block_type, stem_w, depths, widths, w_bs=(), groups=(), num_classes=10, affine=True):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, stem_w, 3, padding=1, bias=False), nn.BatchNorm2d(stem_w), nn.ReLU())
        stages, w_in = [], stem_w
        for s, (d, w) in enumerate(zip(depths, widths)):
            wb, g = (w_bs[s], groups[s]) if block_type != BASIC else (0, 1)
            blocks = [StandaloneBlock(block_type, w_in if b == 0 else w, w, STRIDES[s] if b == 0 else 1, wb, g, affine)
                      for b in range(d)]  # fmt: skip
            stages.append(nn.Sequential(*blocks))
            w_in = w
        self.stages = nn.ModuleList(stages)
        self.fc = nn.Linear(w_in, num_classes)
        self.apply(init_weights)

    def forward(self, x):
        x = self.stem(x)
        for stage in self.stages:
            x = stage(x)
        return self.fc(x.mean(dim=(2, 3)))


# --- one class per design (build_checked reads the constructor signature) --------------------------------
class NDSResNetSupernet(NDSSupernet):
    design = RESNET


class NDSResNeXtASupernet(NDSSupernet):
    design = RESNEXT_A


def supernet_class(design: Design) -> type[NDSSupernet]:
    return {RESNET.name: NDSResNetSupernet, RESNEXT_A.name: NDSResNeXtASupernet}[design.name]
