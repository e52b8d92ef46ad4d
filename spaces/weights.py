"""Weight keying: where a candidate operation gets its parameters.

A supernet never owns candidate-op modules directly; for every live (layer, slot, op) it calls its
`weights` object. Methods that change the keying (CLOSE's GLOW blocks, conditional weights) swap in
another `OpWeights` without touching the supernet.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable

import torch
import torch.nn as nn

OpFactory = Callable[[int, int, int], nn.Module]
"""op_factory(layer, slot, op) -> a fresh module computing that op at that position.

Supernets pass their bound `make_op`. A supernet whose slots differ in shape within a layer (DARTS: stride-2
edges from the inputs of a reduce cell, stride-1 edges elsewhere, and the other cell type's slots unused) also
defines `slot_shape_class(layer, slot) -> int | None`; keyings that share one module among several slots
(GLOW blocks, methods/close/glow.py) read it from the factory's owner and share only within a class.
"""


class OpWeights(nn.Module):
    """Base: computes op `op` of slot `slot` in layer `layer` on `x` for architecture `arch`."""

    def __init__(self, op_factory: OpFactory, num_layers: int, num_slots: int, ops: int | list[list[int]]):
        super().__init__()
        self.op_factory = op_factory
        self.num_layers = num_layers
        self.num_slots = num_slots
        # candidate op indices per slot (same list for every layer)
        self.slot_ops = [list(range(ops))] * num_slots if isinstance(ops, int) else [list(o) for o in ops]

    def forward(self, layer: int, slot: int, op: int, x: torch.Tensor, arch: tuple[int, ...]) -> torch.Tensor:
        raise NotImplementedError

    def computation_key(self, layer: int, slot: int, op: int, arch: tuple[int, ...]) -> Hashable | None:
        """A key naming the module `forward(layer, slot, op, ., arch)` runs now (in eval mode), so that equal
        keys compute the same function (spaces/forward_cache.py); None: unknown, never cached. A module
        that serves several slots of `arch` must give None: recalibrated BN statistics pool every input
        the module sees in the architecture, so its output depends on more than this slot's input."""
        return None


def _key(*parts: int) -> str:
    return "_".join(str(p) for p in parts)


class EdgeWeights(OpWeights):
    """Vanilla keying: one module per (layer, slot, op), as in the standard weight-sharing supernet."""

    def __init__(self, op_factory: OpFactory, num_layers: int, num_slots: int, ops):
        super().__init__(op_factory, num_layers, num_slots, ops)
        self.ops = nn.ModuleDict(
            {
                _key(layer, slot, op): op_factory(layer, slot, op)
                for layer in range(num_layers)
                for slot in range(num_slots)
                for op in self.slot_ops[slot]
            }
        )

    def module(self, layer: int, slot: int, op: int) -> nn.Module:
        return self.ops[_key(layer, slot, op)]

    def forward(self, layer, slot, op, x, arch):
        return self.ops[_key(layer, slot, op)](x)

    def computation_key(self, layer, slot, op, arch):
        return ("edge", layer, slot, op)
