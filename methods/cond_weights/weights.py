"""Conditional super-network weights (Laube & Zell; docs/methods.md#conditional-weights) as an `OpWeights`.

Before `split()` this behaves exactly like `EdgeWeights` (same modules, same creation order, same
state-dict keys), so a run that never splits is SPOS bit for bit. `split()` copies every weighted
candidate (an op module with parameters) of every slot that has predecessors once per combination
of the allowed ops on those predecessor slots -- eagerly, as the paper describes, BN buffers
included -- and afterwards each forward uses the copy selected by the architecture's prior ops.

Which slots condition on which is a property of the search space: a space may define
`conditional_dependencies` ({slot: (prior slots)}, spaces/capabilities.py); otherwise the table below is
used for known spaces, and sequential spaces condition each layer on the previous one. Per space, this
method also names ops that stay shared although they carry parameters (DEFAULT_UNSPLIT_OPS, op names):
the paper counts skip as weight-free (Macro 16 -> 44), but the Macro supernet's stride-2 `identity` is a
conv1x1 + BN shortcut, which therefore stays one shared weight set, uncounted.
"""

from __future__ import annotations

import copy
import itertools
from collections.abc import Callable, Mapping
from functools import partial

import torch
import torch.nn as nn
from supernet_bench.core.errors import BenchError
from supernet_bench.spaces.base import OpMask, SearchSpace
from supernet_bench.spaces.capabilities import ConditionalDependencies, is_sequential
from supernet_bench.spaces.weights import OpFactory, OpWeights

Dependencies = dict[int, tuple[int, ...]]

DEFAULT_DEPENDENCIES: dict[str, Dependencies] = {
    # "the edges entering the source node" (docs/methods.md#conditional-weights;
    # uninas mixed_priors [[], [], [-2], [], [-4], [-4, -3]]):
    # 2<-1 and 3<-1 depend on 1<-0; 3<-2 on 2<-0 and 2<-1.
    "nb201": {0: (), 1: (), 2: (0,), 3: (), 4: (0,), 5: (1, 2)},
}


DEFAULT_UNSPLIT_OPS: dict[str, tuple[str, ...]] = {"macro": ("identity",)}


def sequential_dependencies(num_slots: int) -> Dependencies:
    """Each layer conditions on the immediately preceding one (uninas priors [-1]); layer 0 never splits."""
    return {i: ((i - 1,) if i > 0 else ()) for i in range(num_slots)}


def dependencies_for(space: SearchSpace) -> Dependencies:
    """The space's own table, else the default for its name, else the sequential rule; validated."""
    num_slots = len(space.slots)
    if isinstance(space, ConditionalDependencies):
        deps = dict(space.conditional_dependencies)
    elif space.name in DEFAULT_DEPENDENCIES:
        deps = DEFAULT_DEPENDENCIES[space.name]
    elif is_sequential(space):
        deps = sequential_dependencies(num_slots)
    else:
        raise BenchError(
            f"space {space.label} has no dependency table for conditional weights: give it a "
            "`conditional_dependencies` attribute ({slot: (prior slots)}) or sequential layers"
        )
    return validate_dependencies(deps, num_slots)


def unsplit_ops_for(space: SearchSpace) -> tuple[frozenset[int], ...]:
    """Per slot, the op indices that never split (and are not counted as weight sets)."""
    names = DEFAULT_UNSPLIT_OPS.get(space.name, ())
    return tuple(frozenset(i for i, op in enumerate(slot.ops) if op in names) for slot in space.slots)


def validate_dependencies(deps: Mapping[int, tuple[int, ...]], num_slots: int) -> Dependencies:
    out: Dependencies = {}
    for slot in range(num_slots):
        prior = tuple(int(d) for d in deps.get(slot, ()))
        bad = [d for d in prior if not 0 <= d < slot]
        if bad:
            raise BenchError(f"conditional weights: slot {slot} depends on {bad}, which are not earlier slots")
        out[slot] = prior
    extra = sorted(set(deps) - set(range(num_slots)))
    if extra:
        raise BenchError(f"conditional weights: dependency table names unknown slots {extra}")
    return out


def _key(*parts: int) -> str:
    return "_".join(str(p) for p in parts)


def _has_params(module: nn.Module) -> bool:
    return any(True for _ in module.parameters())


class ConditionalWeights(OpWeights):
    """Vanilla (layer, slot, op) weights until `split()`; then (layer, slot, op, prior ops) weights."""

    def __init__(
        self,
        op_factory: OpFactory,
        num_layers: int,
        num_slots: int,
        ops,
        *,
        dependencies: Mapping[int, tuple[int, ...]],
        allowed: OpMask,
        unsplit: tuple[frozenset[int], ...] | None = None,
    ):
        super().__init__(op_factory, num_layers, num_slots, ops)
        self.dependencies = validate_dependencies(dependencies, num_slots)
        self.allowed = tuple(frozenset(m) for m in allowed)
        self.unsplit = tuple(frozenset(u) for u in unsplit) if unsplit is not None else (frozenset(),) * num_slots
        # identical to EdgeWeights: same attribute name, keys and creation order (same RNG draws)
        self.ops = nn.ModuleDict(
            {
                _key(layer, slot, op): op_factory(layer, slot, op)
                for layer in range(num_layers)
                for slot in range(num_slots)
                for op in self.slot_ops[slot]
            }
        )
        self.copies = nn.ModuleDict()
        self.is_split = False
        self._targets = self._split_targets()
        self._target_set = set(self._targets)
        self._active: set[str] = set()

    # --- what splits, and into how many --------------------------------------------------------------
    def _weighted(self, layer: int, slot: int, op: int) -> bool:
        """An allowed candidate with parameters that the space does not keep shared."""
        return (
            op in self.allowed[slot]
            and op not in self.unsplit[slot]
            and _has_params(self._module_before_split(layer, slot, op))
        )

    def _split_targets(self) -> list[tuple[int, int, int]]:
        """(layer, slot, op) of every weighted candidate on a slot that has predecessors."""
        return [
            (layer, slot, op)
            for layer in range(self.num_layers)
            for slot in range(self.num_slots)
            if self.dependencies[slot]
            for op in self.slot_ops[slot]
            if self._weighted(layer, slot, op)
        ]

    def prior_keys(self, slot: int) -> list[tuple[int, ...]]:
        """Every combination of allowed ops on the slot's predecessors (one copy each)."""
        return list(itertools.product(*(sorted(self.allowed[d]) for d in self.dependencies[slot])))

    def multiplier(self, slot: int) -> int:
        return len(self.prior_keys(slot))

    def weight_sets(self) -> list[tuple[int, int]]:
        """Per layer: (weight sets before the split, after it); NB201 full 12 -> 76
        (docs/methods.md#conditional-weights)."""
        out = []
        for layer in range(self.num_layers):
            before = after = 0
            for slot in range(self.num_slots):
                for op in self.slot_ops[slot]:
                    if (layer, slot, op) in self._target_set:
                        before, after = before + 1, after + self.multiplier(slot)
                    elif self._weighted(layer, slot, op):
                        before, after = before + 1, after + 1
            out.append((before, after))
        return out

    def extra_bytes(self) -> tuple[int, int]:
        """(parameter bytes, buffer bytes) that the split adds (copies minus the originals they replace)."""
        params = buffers = 0
        for layer, slot, op in self._targets:
            module = self._module_before_split(layer, slot, op)
            extra = self.multiplier(slot) - 1
            params += extra * sum(p.numel() * p.element_size() for p in module.parameters())
            buffers += extra * sum(b.numel() * b.element_size() for b in module.buffers())
        return params, buffers

    def _module_before_split(self, layer: int, slot: int, op: int) -> nn.Module:
        key = _key(layer, slot, op)
        if key in self.ops:
            return self.ops[key]
        return self.copies[self._copy_name(layer, slot, op, self.prior_keys(slot)[0])]

    @staticmethod
    def _copy_name(layer: int, slot: int, op: int, prior: tuple[int, ...]) -> str:
        return f"{_key(layer, slot, op)}__{_key(*prior)}"

    # --- the split ---------------------------------------------------------------------------------------
    def split(self) -> list[tuple[list[nn.Parameter], list[list[nn.Parameter]]]]:
        """Copy every target once per prior combination (weights and BN buffers); drop the original.

        Returns, per target, (original parameters, parameters of each copy) so the method can carry
        the optimizer state over (per-copy or shared momentum).
        """
        if self.is_split:
            raise BenchError("conditional weights are already split")
        moved = []
        for layer, slot, op in self._targets:
            key = _key(layer, slot, op)
            original = self.ops[key]
            copies = []
            for prior in self.prior_keys(slot):
                clone = copy.deepcopy(original)
                self.copies[self._copy_name(layer, slot, op, prior)] = clone
                copies.append(list(clone.parameters()))
            del self.ops[key]
            moved.append((list(original.parameters()), copies))
        self.is_split = True
        return moved

    def copy_groups(self) -> list[list[list[nn.Parameter]]]:
        """Per split target: the parameter lists of its copies (to tie shared momentum after a resume)."""
        return [
            [list(self.copies[self._copy_name(layer, slot, op, p)].parameters()) for p in self.prior_keys(slot)]
            for layer, slot, op in self._targets
        ]

    def copy_module(self, layer: int, slot: int, op: int, prior: tuple[int, ...]) -> nn.Module:
        return self.copies[self._copy_name(layer, slot, op, tuple(prior))]

    # --- forward -----------------------------------------------------------------------------------------
    def _selected_copy(self, layer: int, slot: int, op: int, arch) -> str | None:
        """Name of the copy `arch` selects for (layer, slot, op), or None where the original op serves."""
        if self.is_split and (layer, slot, op) in self._target_set:
            return self._copy_name(layer, slot, op, tuple(arch[d] for d in self.dependencies[slot]))
        return None

    def computation_key(self, layer, slot, op, arch):
        name = self._selected_copy(layer, slot, op, arch)
        return ("edge", layer, slot, op) if name is None else ("copy", name)

    def forward(self, layer, slot, op, x, arch):
        name = self._selected_copy(layer, slot, op, arch)
        if name is None:
            return self.ops[_key(layer, slot, op)](x)
        if self.training:
            self._active.add(name)
        return self.copies[name](x)

    # --- keeping unused copies out of the optimizer step --------------------------------------------
    def drop_inactive_grads(self) -> None:
        """Give copies not used since the last step no gradient, so SGD skips them.

        With zero_grad(set_to_none=False) every parameter holds a zero gradient and SGD would apply
        momentum and weight decay to all copies; uninas keeps only the resident copy in the
        optimizer, so the others are untouched. This makes both zero_grad modes behave that way.
        """
        for name, module in self.copies.items():
            if name not in self._active:
                for p in module.parameters():
                    p.grad = None

    def clear_active(self) -> None:
        self._active.clear()


def conditional_weights_factory(
    dependencies: Mapping[int, tuple[int, ...]], allowed: OpMask, unsplit: tuple[frozenset[int], ...] | None = None
) -> Callable:
    """A `weights_factory` for `SearchSpace.build_supernet`."""
    return partial(ConditionalWeights, dependencies=dict(dependencies), allowed=allowed, unsplit=unsplit)


def copy_state(state: dict) -> dict:
    """An optimizer state entry with its tensors cloned (a per-copy momentum buffer)."""
    return {k: (v.clone() if isinstance(v, torch.Tensor) else copy.deepcopy(v)) for k, v in state.items()}
