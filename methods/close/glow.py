"""GLOW-block weight keying (CLOSE): weights = (layer, GLOW block, op), not (layer, edge, op).

Specification: docs/methods.md#glow-and-gate.

Each layer owns `num_blocks` GLOW blocks per *shape class*; a block is one full set of candidate-op
modules, built with the supernet's `op_factory(layer, representative_slot, op)`. All edges of an NB201
cell have one shape (one class, representative slot 0). A supernet whose edges differ in shape declares
`slot_shape_class(layer, slot) -> int | None` (spaces/weights.py): the DARTS reduce cell has a stride-2
class (edges from the two cell inputs) and a stride-1 class (edges between intermediate nodes), as the
`c_reduce_k` / `c_normal_k` blocks of aw_nas CloseCell, and `None` marks a slot the layer does not use
(the other cell type's edges). Block k of a class serves only slots of that class; blocks are per layer,
never shared across layers. Module index inside a layer: class * num_blocks + block.

Which block an edge uses is set on this object before each forward (`set_assignment`); the same
assignment applies to every layer, as in CLOSE (one gate decision per architecture per step).
Two ways to use a block:

- hard: `blocks[slot]` picks one block per slot (scoring; CLOSE-S; CLOSE with a fixed map).
- straight-through mixture (CLOSE training): also given `st_weights` of shape (num_slots, K_cur) whose
  values are an exact one-hot, the training forward evaluates every active block on the edge and
  sums them weighted by that row, so the gate gets a gradient (docs/methods.md#glow-and-gate, aw_nas NB201CloseCell).
  In eval mode (scoring, BN recalibration) only the assigned block runs.

All `num_blocks` blocks are allocated up front, and only the first `num_active` are in use: the
module's state_dict then has the same keys at every curriculum stage (bit-identical --resume), and
an unused block keeps its untouched random init, which the code's additive WIT adds to.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn as nn
from supernet_bench.spaces.capabilities import SlotShapeClasses
from supernet_bench.spaces.weights import OpFactory, OpWeights

WIT_MODES = ("copy", "additive")


def _stateless(module: nn.Module) -> bool:
    return next(module.parameters(), None) is None and next(module.buffers(), None) is None


class GlowWeights(OpWeights):
    """Per layer and shape class `num_blocks` GLOW blocks shared by the class's edges; see the module docstring."""

    def __init__(
        self,
        op_factory: OpFactory,
        num_layers: int,
        num_slots: int,
        ops,
        *,
        num_blocks: int = 1,
        num_active: int = 1,
    ):
        super().__init__(op_factory, num_layers, num_slots, ops)
        if not 1 <= num_active <= num_blocks:
            raise ValueError(f"need 1 <= num_active <= num_blocks, got {num_active}, {num_blocks}")
        self.num_blocks = num_blocks
        self.num_active = num_active
        self.block_ops = sorted({op for slot_ops in self.slot_ops for op in slot_ops})
        # per layer: slot -> dense class index (None = unused) and the representative slot of each class
        self.slot_class, self.representatives = shape_classes(op_factory, num_layers, num_slots)
        self.blocks = nn.ModuleList(
            nn.ModuleList(
                nn.ModuleDict({str(op): op_factory(layer, rep, op) for op in self.block_ops})
                for rep in self.representatives[layer]
                for _ in range(num_blocks)
            )
            for layer in range(num_layers)
        )
        # parameter-free ops (skip, pool) give the same output in every block of a class: computed once
        self._stateless = [
            [{op: _stateless(self.blocks[layer][c * num_blocks][str(op)]) for op in self.block_ops}
             for c in range(len(self.representatives[layer]))]
            for layer in range(num_layers)
        ]  # fmt: skip
        self.assignment: tuple[int, ...] = (0,) * num_slots
        self.st_weights: torch.Tensor | None = None

    @property
    def num_classes(self) -> list[int]:
        """Shape classes per layer."""
        return [len(reps) for reps in self.representatives]

    # -- assignment -----------------------------------------------------------------------------------
    def set_assignment(self, blocks: Sequence[int], st_weights: torch.Tensor | None = None) -> None:
        """Block index per slot; `st_weights` (num_slots, num_active), exact one-hot values, for training."""
        blocks = tuple(int(b) for b in blocks)
        if len(blocks) != self.num_slots or not all(0 <= b < self.num_active for b in blocks):
            raise ValueError(
                f"assignment {blocks} must give each of {self.num_slots} slots a block < {self.num_active}"
            )
        if st_weights is not None and tuple(st_weights.shape) != (self.num_slots, self.num_active):
            raise ValueError(
                f"st_weights must have shape {(self.num_slots, self.num_active)}, got {tuple(st_weights.shape)}"
            )
        self.assignment, self.st_weights = blocks, st_weights

    # -- curriculum ------------------------------------------------------------------------------------
    @torch.no_grad()
    def inherit(self, dst: int, src: int, mode: str = "copy") -> None:
        """WIT in every layer and class: block dst <- block src ("copy", the paper) or dst + src ("additive", the code).

        Covers parameters and buffers (BN running stats included), like the code's state_dict walk.
        """
        if mode not in WIT_MODES:
            raise ValueError(f"wit must be one of {WIT_MODES}, got {mode!r}")
        k = self.num_blocks
        for layer, layer_blocks in enumerate(self.blocks):
            for c in range(len(self.representatives[layer])):
                target = layer_blocks[c * k + dst].state_dict()
                for name, value in layer_blocks[c * k + src].state_dict().items():
                    if mode == "copy":
                        target[name].copy_(value)
                    else:
                        target[name].add_(value)

    def add_block(self, wit: str = "copy") -> int:
        """Activate the next block, inheriting from the previous one (CLOSE WIT); returns its index."""
        if self.num_active >= self.num_blocks:
            raise ValueError(f"all {self.num_blocks} GLOW blocks are already active")
        new = self.num_active
        self.inherit(new, new - 1, wit)
        self.num_active += 1
        self.st_weights = None
        return new

    def module(self, layer: int, block: int, op: int, cls: int = 0) -> nn.Module:
        return self.blocks[layer][cls * self.num_blocks + block][str(op)]

    # -- forward ---------------------------------------------------------------------------------------
    def computation_key(self, layer, slot, op, arch):
        """None where the module serves another slot of `arch` too: its BN then normalises with statistics
        pooled over all of its inputs in this architecture, so its output is not a function of this input
        alone and must not be reused by an architecture where the module sees other inputs."""
        c = self.slot_class[layer][slot]
        if c is None or (self.training and self.st_weights is not None):
            return None  # the straight-through mixture is never cached
        block, row = self.assignment[slot], self.slot_class[layer]
        for other, other_op in enumerate(arch):  # arch[s] is slot s's op in every space that uses GLOW
            if other != slot and other_op == op and row[other] == c and self.assignment[other] == block:
                return None
        return ("glow", layer, c, block, op)

    def forward(self, layer, slot, op, x, arch):
        c = self.slot_class[layer][slot]
        if c is None:
            raise ValueError(f"layer {layer} does not use slot {slot} (supernet slot_shape_class)")
        blocks, base = self.blocks[layer], c * self.num_blocks
        w = self.st_weights
        if w is None or not self.training:
            return blocks[base + self.assignment[slot]][str(op)](x)
        row = w[slot]
        if self._stateless[layer][c][op]:
            return blocks[base][str(op)](x) * row.sum()  # value exactly 1; same gradient as the full sum
        out = row[0] * blocks[base][str(op)](x)
        for k in range(1, self.num_active):
            out = out + row[k] * blocks[base + k][str(op)](x)
        return out


def shape_classes(
    op_factory: OpFactory, num_layers: int, num_slots: int
) -> tuple[list[list[int | None]], list[list[int]]]:
    """(slot -> dense class index or None, per layer; representative slot per class, per layer).

    Asks the supernet that owns `op_factory` for `slot_shape_class(layer, slot)`; without it every slot is
    class 0 (one shape per layer, NB201). Classes are numbered in order of their first slot.
    """
    owner = getattr(op_factory, "__self__", None)  # the supernet, when the factory is its bound method
    declared = owner.slot_shape_class if isinstance(owner, SlotShapeClasses) else None
    slot_class: list[list[int | None]] = []
    representatives: list[list[int]] = []
    for layer in range(num_layers):
        dense: dict[int, int] = {}
        row: list[int | None] = []
        reps: list[int] = []
        for slot in range(num_slots):
            raw = declared(layer, slot) if declared is not None else 0
            if raw is None:
                row.append(None)
                continue
            if raw not in dense:
                dense[raw] = len(reps)
                reps.append(slot)
            row.append(dense[raw])
        if not reps:
            raise ValueError(f"layer {layer} uses no slot (slot_shape_class is None everywhere)")
        slot_class.append(row)
        representatives.append(reps)
    return slot_class, representatives
