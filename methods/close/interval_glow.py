"""Interval-split GLOW blocks for sequential spaces (CLOSE on non-topological spaces).

Specification: docs/methods.md#interval-splitting.

In a sequential space (NAS-Bench-Macro, NDS ResNet/ResNeXt) GLOW blocks are shared across block
POSITIONS instead of cell edges (paper CLOSE App. A.3; aw_nas `germ_nds.py` GermCloseWeightsManager):

- The space splits its slots into stages (`space.stage_slices()`). The first slot of every stage
  (stride / channel change) owns a fixed, unshared set of candidate ops.
- The remaining slots of a stage are positions 0, 1, ... (slot `stage[p + 1]` is position p). A
  partition of positions 0..P-1 (P = longest stage minus one) into contiguous intervals maps every
  position to a curriculum block. The SAME partition holds in every stage, but every stage has its
  own block weights (all positions of a stage have the same shape; checked at construction).
  A stage shorter than P + 1 slots simply does not use the positions it lacks.
- Training starts with one block covering [0, P). `split` cuts one interval [l, r) at
  m = floor((l + r) / 2): [l, m) keeps the old block, [m, r) gets the next unused block, initialised
  by WIT from the old one (copy, or the code's additive new <- own init + old) in every stage and layer.
  Which interval: "pre" = the multi-position interval with the smallest start; "max" = the longest
  (ties: smallest start).
- `split_all` gives every position its own block at once (CLOSE-S on sequential spaces): the first
  position of an interval keeps its block, every other position gets a new block by WIT.

All `num_blocks` blocks are allocated up front (same state_dict keys at every curriculum stage);
only the first `num_active` are in use. Blocks are numbered in creation order, so after n splits
the partition uses exactly blocks 0..n.

Sharing extent (diagnostics): s = |A| * sum_stages (n_stage - 1) / sum_stages K_stage, where |A| is
the number of architectures of the (subset) mask, n_stage the stage's slot count and K_stage the
number of distinct blocks covering the stage's positions: the mean number of (architecture,
position) pairs one block's weights serve (the sequential analogue of paper Eq. 9; every
architecture uses every position; the fixed first layers are not shared and not counted).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn as nn
from supernet_bench.methods.close.glow import WIT_MODES
from supernet_bench.spaces.weights import OpFactory, OpWeights

CL_CRITERIA = ("pre", "max")
SHARING_EXTENT_COUNTING_INTERVAL = (
    "s = |A| * sum over stages of (slots - 1) / sum over stages of the distinct blocks covering the stage's "
    "positions; |A| = architectures of the (subset) space; the first (stride/channel-change) slot of each "
    "stage is unshared and not counted"
)

Interval = tuple[int, int, int]  # (l, r, block): positions l..r-1 use `block`


def _key(*parts: int) -> str:
    return "_".join(str(p) for p in parts)


def _signature(module: nn.Module) -> tuple:
    """Module types and state-dict shapes: two modules with equal signatures can share weights."""
    return (
        tuple(type(m).__name__ for m in module.modules()),
        tuple((k, tuple(v.shape)) for k, v in module.state_dict().items()),
    )


def positions_of(stages: Sequence[Sequence[int]]) -> int:
    """P: the number of shared positions (longest stage minus its first slot)."""
    return max((len(s) - 1 for s in stages), default=0)


class IntervalGlowWeights(OpWeights):
    """Per stage: fixed first-slot ops + `num_blocks` GLOW blocks mapped to positions by an interval partition."""

    def __init__(
        self,
        op_factory: OpFactory,
        num_layers: int,
        num_slots: int,
        ops,
        *,
        stages: Sequence[Sequence[int]],
        num_blocks: int = 1,
    ):
        super().__init__(op_factory, num_layers, num_slots, ops)
        stages = tuple(tuple(int(s) for s in st) for st in stages)
        flat = [s for st in stages for s in st]
        if not stages or any(not st for st in stages) or flat != list(range(num_slots)):
            raise ValueError(f"stages {stages} must split slots 0..{num_slots - 1} into contiguous non-empty runs")
        self.stages = stages
        self.num_positions = positions_of(stages)
        if not 1 <= num_blocks <= max(1, self.num_positions):
            raise ValueError(f"need 1 <= num_blocks <= {max(1, self.num_positions)} positions, got {num_blocks}")
        self.num_blocks = num_blocks
        self.num_active = 1
        # slot -> (stage, position); position -1 = the stage's fixed first slot
        self.place = {slot: (si, p - 1) for si, st in enumerate(stages) for p, slot in enumerate(st)}
        self.first = nn.ModuleList(
            nn.ModuleDict(
                {_key(st[0], op): op_factory(layer, st[0], op) for st in stages for op in self.slot_ops[st[0]]}
            )
            for layer in range(num_layers)
        )
        self.stage_ops = [sorted({op for s in st[1:] for op in self.slot_ops[s]}) for st in stages]
        self.blocks = nn.ModuleList(
            nn.ModuleList(
                nn.ModuleList(
                    nn.ModuleDict({str(op): op_factory(layer, st[1], op) for op in self.stage_ops[si]})
                    if len(st) > 1
                    else nn.ModuleDict()
                    for _ in range(num_blocks)
                )
                for si, st in enumerate(stages)
            )
            for layer in range(num_layers)
        )
        self._check_shapes(op_factory)
        self.intervals: list[Interval] = [(0, self.num_positions, 0)] if self.num_positions else []
        self._refresh()

    def _check_shapes(self, op_factory: OpFactory) -> None:
        for layer in range(self.num_layers):
            for si, st in enumerate(self.stages):
                for slot in st[2:]:
                    for op in self.slot_ops[slot]:
                        if _signature(op_factory(layer, slot, op)) != _signature(self.blocks[layer][si][0][str(op)]):
                            raise ValueError(
                                f"slot {slot} op {op} differs in shape from slot {st[1]}: positions of a stage "
                                f"after its first slot must be interchangeable to share GLOW blocks"
                            )

    def _refresh(self) -> None:
        self.position_block = tuple(b for l, r, b in self.intervals for _ in range(l, r))

    # -- partition ----------------------------------------------------------------------------------------
    def partition(self) -> list[list[int]]:
        """The intervals as [l, r, block] lists, by start."""
        return [list(iv) for iv in self.intervals]

    def load_partition(self, intervals: Sequence[Sequence[int]]) -> None:
        """Restore a partition (resume); blocks must be 0..n-1 (creation order), intervals contiguous."""
        ivs = sorted((int(l), int(r), int(b)) for l, r, b in intervals)
        starts = [0] + [r for _, r, _ in ivs[:-1]]
        ok = (
            [l for l, _, _ in ivs] == starts[: len(ivs)]
            and all(l < r for l, r, _ in ivs)
            and (ivs[-1][1] if ivs else 0) == self.num_positions
            and sorted(b for _, _, b in ivs) == list(range(len(ivs)))
            and len(ivs) <= self.num_blocks
        )
        if not ok:
            raise ValueError(f"bad partition {intervals} for {self.num_positions} positions, {self.num_blocks} blocks")
        self.intervals = ivs
        self.num_active = max(1, len(ivs))
        self._refresh()

    def choose(self, criteria: str = "pre") -> Interval | None:
        """The interval `split` would cut, or None when every interval has one position."""
        if criteria not in CL_CRITERIA:
            raise ValueError(f"cl_criteria must be one of {CL_CRITERIA}, got {criteria!r}")
        multi = [iv for iv in self.intervals if iv[1] - iv[0] > 1]
        if not multi:
            return None
        if criteria == "pre":
            return min(multi, key=lambda iv: iv[0])
        return min(multi, key=lambda iv: (-(iv[1] - iv[0]), iv[0]))

    @torch.no_grad()
    def split(self, criteria: str = "pre", wit: str = "copy") -> tuple[Interval, Interval]:
        """Cut the chosen interval at m = floor((l + r) / 2); [m, r) gets the next block by WIT."""
        if self.num_active >= self.num_blocks:
            raise ValueError(f"all {self.num_blocks} GLOW blocks are already active")
        iv = self.choose(criteria)
        if iv is None:
            raise ValueError("no interval with more than one position left to split")
        l, r, old = iv
        m = (l + r) // 2
        new = self.num_active
        self.inherit(new, old, wit)
        self.num_active += 1
        i = self.intervals.index(iv)
        self.intervals[i : i + 1] = [(l, m, old), (m, r, new)]
        self._refresh()
        return (l, m, old), (m, r, new)

    @torch.no_grad()
    def split_all(self, wit: str = "copy") -> None:
        """Every position its own block: an interval's first position keeps its block, the others inherit it."""
        needed = sum(r - l - 1 for l, r, _ in self.intervals)
        if self.num_active + needed > self.num_blocks:
            raise ValueError(f"splitting every position needs {self.num_active + needed} > {self.num_blocks} blocks")
        out: list[Interval] = []
        for l, r, b in self.intervals:
            out.append((l, l + 1, b))
            for p in range(l + 1, r):
                new = self.num_active
                self.inherit(new, b, wit)
                self.num_active += 1
                out.append((p, p + 1, new))
        self.intervals = out
        self._refresh()

    @torch.no_grad()
    def inherit(self, dst: int, src: int, mode: str = "copy") -> None:
        """WIT in every layer and stage: block dst <- src ("copy") or dst + src ("additive"), buffers included."""
        if mode not in WIT_MODES:
            raise ValueError(f"wit must be one of {WIT_MODES}, got {mode!r}")
        for layer_stages in self.blocks:
            for stage_blocks in layer_stages:
                target = stage_blocks[dst].state_dict()
                for name, value in stage_blocks[src].state_dict().items():
                    if mode == "copy":
                        target[name].copy_(value)
                    else:
                        target[name].add_(value)

    # -- sharing extent -------------------------------------------------------------------------------------
    def blocks_in_use(self) -> int:
        """Sum over stages of the distinct blocks covering the stage's positions."""
        return sum(len(set(self.position_block[: len(st) - 1])) for st in self.stages)

    def shared_uses(self) -> int:
        """Sum over stages of the stage's shared positions (slots after the first)."""
        return sum(len(st) - 1 for st in self.stages)

    def sharing_extent(self, num_archs: int) -> float:
        """See the module docstring; 0 when the space has no shared positions."""
        used = self.blocks_in_use()
        return num_archs * self.shared_uses() / used if used else 0.0

    # -- forward ------------------------------------------------------------------------------------------
    def module(self, layer: int, slot: int, op: int) -> nn.Module:
        """The module slot `slot` runs for `op` under the current partition."""
        stage, pos = self.place[slot]
        if pos < 0:
            return self.first[layer][_key(slot, op)]
        return self.blocks[layer][stage][self.position_block[pos]][str(op)]

    def forward(self, layer, slot, op, x, arch):
        return self.module(layer, slot, op)(x)
