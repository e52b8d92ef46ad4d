"""Conditional super-network weights (`cond-weights`, Laube & Zell).

Specification: docs/methods.md#conditional-weights, #code-vs-paper.

Plain SPOS until `split_fraction` of the budget, then
every weighted candidate is copied once per combination of its predecessors' ops
(methods/cond_weights/weights.py) and training continues with the copy the sampled architecture selects.
The LR schedule runs on over the whole budget; only the optimizer's parameter list changes.
`split_fraction` defaults per space (SPLIT_FRACTIONS): the paper's best split, 0.84 on NAS-Bench-Macro
(epoch 42 of 50), else 0.6 (its best window on NB201, ~150 of 250 epochs).

`copy_momentum`:
- "per-copy" (default): each copy gets its own SGD momentum buffer, initialised as a clone of the
  original's buffer at the split (so the split itself does not perturb training) and updated only
  when that copy is trained.
- "shared" (uninas-faithful, docs/methods.md#code-vs-paper): all copies of one op read and write one momentum buffer
  (the original's). Implemented by pointing the copies' optimizer-state entries at one dict, so the
  in-place SGD update of whichever copy is active moves the buffer all copies see.
In both modes a copy that is not on the sampled path takes no optimizer step at all (no momentum or
weight-decay update even with zero_grad="zeros"), as in uninas where only the resident
copy is in the optimizer.

Hyperparameter defaults are SPOS's, so cond-weights vs spos isolates the split; the paper's values
(lr 0.025 -> 1e-5, momentum 0.9 without nesterov, wd 3e-4 not on BN/bias, no clipping) can be set
in the profile, except the weight-decay filter, which the shared trainer does not offer.
"""

from __future__ import annotations

from typing import Any

import torch
from supernet_bench.core.errors import BenchError
from supernet_bench.methods import register_method
from supernet_bench.methods.base import TrainContext
from supernet_bench.methods.cond_weights.weights import (
    DEFAULT_DEPENDENCIES,
    ConditionalWeights,
    conditional_weights_factory,
    copy_state,
    dependencies_for,
    unsplit_ops_for,
)
from supernet_bench.methods.single_path import SPOS
from supernet_bench.spaces.capabilities import (
    ConditionalDependencies,
    Requirement,
    SequentialLayers,
    SharedBlockWeights,
)

COPY_MOMENTUM = ("per-copy", "shared")
DEFAULT_SPLIT_FRACTION = 0.6
SPLIT_FRACTIONS = {"macro": 0.84}  # per space name: the paper's best split there (epoch 42 of 50)
PER_OP_WEIGHTS = Requirement(
    "its slots choose sizes of blocks whose weights every choice shares, so there are no per-op weights to "
    "copy per predecessor choice",
    none_of=(SharedBlockWeights,),
)
DEPENDENCY_TABLE = Requirement(
    "the space has no dependency table for conditional weights (a `conditional_dependencies` table "
    "{slot: (prior slots)} or sequential layers)",
    any_of=(ConditionalDependencies, SequentialLayers, *DEFAULT_DEPENDENCIES),
)
_SGD_KEYS = ("lr", "momentum", "dampening", "weight_decay", "nesterov")


@register_method("cond-weights")
class CondWeights(SPOS):
    """SPOS with weights split by predecessor ops at `split_fraction` of the budget."""

    accepts_policies = ()  # MS keeps several optimizers, which the split does not rebuild
    requires = (PER_OP_WEIGHTS, DEPENDENCY_TABLE)

    def __init__(
        self,
        split_fraction: float | None = None,  # None: the space's default (module docstring)
        copy_momentum: str = "per-copy",
        **params,
    ):
        super().__init__(**params)
        self.split_fraction = split_fraction
        self.copy_momentum = copy_momentum

    # --- setup ---------------------------------------------------------------------------------------
    def setup(self, ctx: TrainContext) -> None:
        split = self.split_fraction
        if split is None:
            split = SPLIT_FRACTIONS.get(ctx.space.name, DEFAULT_SPLIT_FRACTION)
        if isinstance(split, bool) or not isinstance(split, (int, float)) or not 0.0 <= split <= 1.0:
            raise BenchError(f"cond-weights: split_fraction must be a number in [0, 1], got {split!r}")
        self.split_point = float(split)
        if self.copy_momentum not in COPY_MOMENTUM:
            raise BenchError(f"cond-weights: copy_momentum must be one of {COPY_MOMENTUM}, got {self.copy_momentum!r}")
        self.ctx = ctx
        self.dependencies = dependencies_for(ctx.space)
        factory = conditional_weights_factory(self.dependencies, ctx.space.allowed, unsplit_ops_for(ctx.space))
        net = ctx.build_supernet(weights_factory=factory)
        if not isinstance(getattr(net, "weights", None), ConditionalWeights):
            raise BenchError(f"cond-weights: the {ctx.space.label} supernet does not take a weights_factory")
        self.trainer = self.make_trainer(net, ctx.space.allowed, ctx.total_passes)
        self.split_at = round(self.split_point * ctx.total_passes)
        self.passes = 0
        self.split_pass: int | None = None

    @property
    def weights(self) -> ConditionalWeights:
        return self.trainer.supernet.weights

    @property
    def is_split(self) -> bool:
        return self.weights.is_split

    # --- training -------------------------------------------------------------------------------------
    def step(self) -> int:
        if not self.is_split and self.passes >= self.split_at:
            self.split()
        x, y = self.ctx.next_batch()
        spent = self.trainer.step(x, y)
        self.passes += spent
        return spent

    def split(self) -> None:
        """Split the weights and rebuild the optimizer over originals-kept + copies, carrying state."""
        old = self.trainer.optimizers[0]
        moved = self.weights.split()
        new = torch.optim.SGD(self.trainer.supernet.parameters(), **{k: old.defaults[k] for k in _SGD_KEYS})
        kept = {id(p) for g in new.param_groups for p in g["params"]}
        for p, state in old.state.items():
            if id(p) in kept:
                new.state[p] = state
        for originals, copies in moved:
            for j, p in enumerate(originals):
                state = old.state.get(p)
                if self.copy_momentum == "shared":
                    shared = state if state is not None else {}
                    for params in copies:
                        new.state[params[j]] = shared
                elif state is not None:
                    for params in copies:
                        new.state[params[j]] = copy_state(state)
        self._install(new)
        self.split_pass = self.passes

    def _install(self, optimizer: torch.optim.Optimizer) -> None:
        weights = self.weights
        optimizer.register_step_pre_hook(lambda *_: weights.drop_inactive_grads())
        optimizer.register_step_post_hook(lambda *_: weights.clear_active())
        self.trainer.optimizers[0] = optimizer

    def _tie_shared_momentum(self) -> None:
        """After loading an optimizer state dict, point every copy of an op at one state dict again."""
        state = self.trainer.optimizers[0].state
        for copies in self.weights.copy_groups():
            for j in range(len(copies[0])):
                shared = state[copies[0][j]]
                for params in copies[1:]:
                    state[params[j]] = shared

    # --- records -------------------------------------------------------------------------------------
    def decisions(self) -> dict[str, Any]:
        sets = self.weights.weight_sets()
        before = sorted({b for b, _ in sets})
        after = sorted({a for _, a in sets})
        param_bytes, buffer_bytes = self.weights.extra_bytes()
        slots = self.ctx.space.slots
        return {
            "split_fraction": self.split_point,
            "split_at_passes": self.split_at,
            "split_done_at_passes": self.split_pass,
            "copy_momentum": self.copy_momentum,
            "dependencies": {slots[s].name: [slots[d].name for d in deps] for s, deps in self.dependencies.items()},
            "weight_sets_per_layer_before": before[0] if len(before) == 1 else before,
            "weight_sets_per_layer_after": after[0] if len(after) == 1 else after,
            "weight_sets_total_before": sum(b for b, _ in sets),
            "weight_sets_total_after": sum(a for _, a in sets),
            "extra_param_mb": param_bytes / 2**20,
            "extra_buffer_mb": buffer_bytes / 2**20,
        }

    def diagnostics(self) -> dict[str, float]:
        return {"lr": self.trainer.scheduled_lr(), "split": float(self.is_split)}

    # --- resume --------------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        return {
            "trainer": self.trainer.state_dict(),
            "passes": self.passes,
            "split": self.is_split,
            "split_pass": self.split_pass,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if state["split"] and not self.is_split:
            self.split()  # rebuild the structure (and optimizer) first; the state below overwrites both
        self.trainer.load_state_dict(state["trainer"])
        if self.is_split and self.copy_momentum == "shared":
            self._tie_shared_momentum()
        self.passes = state["passes"]
        self.split_pass = state["split_pass"]
