"""CLOSE-S: the two-stage simplified CLOSE (docs/methods.md#close-s; paper CLOSE App. C.3). No GATE.

Stage 1 (first `switch_fraction` of the budget, paper 400/1000 epochs): one GLOW block per cell,
used by every edge ("Supernet-2"; DARTS: one per cell and shape class, methods/close/glow.py). At the switch
each edge gets its own copy initialised from the shared one (WIT: pure copy by default;
`wit="additive"` gives edge e>0 its own init + shared, edge 0 keeps the shared block, mirroring CLOSE's
additive rule) and the optimizer restarts (SRT). Stage 2
is the vanilla per-edge supernet. LR, optimizer and sampling as CLOSE (methods/close/method.py).
No reference code exists for CLOSE-S; these details are the natural reading of the paper.

Sequential spaces (`space.sequential`, e.g. NAS-Bench-Macro): the interval variant
(docs/methods.md#interval-splitting) with
every position split at once (methods/close/interval_glow.py). Stage 1: per stage one block shared by all
positions after the stage's first (stride/channel-change) slot, which keeps its own fixed ops. At the
switch every position gets its own block (WIT from the shared one; the first position keeps it) + SRT.
"""

from __future__ import annotations

from typing import Any

import torch
from supernet_bench.core.errors import BenchError
from supernet_bench.methods import register_method
from supernet_bench.methods.base import ScoringModel, TrainContext
from supernet_bench.methods.close.gate import cell_dag
from supernet_bench.methods.close.glow import WIT_MODES, GlowWeights
from supernet_bench.methods.close.interval_glow import (
    SHARING_EXTENT_COUNTING_INTERVAL,
    IntervalGlowWeights,
    positions_of,
)
from supernet_bench.methods.close.method import (
    LR_SCHEDULES,
    SHARING_EXTENT_COUNTING,
    CloseTraining,
    RestartingTrainer,
    budget_schedule,
    build_glow_supernet,
    build_interval_supernet,
    check_cell_dag,
    edges_in_archs,
    num_archs,
    space_stages,
    step_at,
)
from supernet_bench.spaces.base import Arch
from supernet_bench.spaces.capabilities import is_sequential


@register_method("close-s")
class CLOSES(CloseTraining):
    """Shared block per cell, then per-edge copies at `switch_fraction` with WIT + SRT."""

    def __init__(
        self,
        switch_fraction: float = 0.4,
        restart_at_switch: bool = True,
        **params,
    ):
        super().__init__(**params)
        self.switch_fraction, self.restart_at_switch = switch_fraction, restart_at_switch

    def setup(self, ctx: TrainContext) -> None:
        if self.policies:
            raise BenchError("close-s takes no training policies")
        if not 0.0 <= self.switch_fraction <= 1.0:
            raise BenchError(f"switch_fraction must be in [0, 1], got {self.switch_fraction}")
        if self.wit not in WIT_MODES:
            raise BenchError(f"wit must be one of {WIT_MODES}, got {self.wit!r}")
        if self.lr_schedule not in LR_SCHEDULES:
            raise BenchError(f"lr_schedule must be one of {LR_SCHEDULES}, got {self.lr_schedule!r}")
        self.ctx = ctx
        self.assign = (IntervalCopies if is_sequential(ctx.space) else EdgeCopies)(self)
        self.supernet, self.num_edges = self.assign.build(ctx)
        self.total_steps, self.steps_per_epoch, self.patience_epochs = budget_schedule(ctx, self.patience_fraction)
        self.switch_step = step_at(self.switch_fraction, self.total_steps) if self.switch_fraction < 1 else None
        restarts = [self.switch_step] if self.restart_at_switch and self.switch_step is not None else []
        self.trainer = RestartingTrainer(
            self.supernet, ctx.space, ctx.space.allowed, ctx.rng, self.total_steps,
            lr=self.lr, lr_min=self.lr_min, lr_schedule=self.lr_schedule, lr_factor=self.lr_factor,
            patience_epochs=self.patience_epochs, steps_per_epoch=self.steps_per_epoch, restart_steps=restarts,
            momentum=self.momentum, nesterov=self.nesterov, weight_decay=self.weight_decay,
            grad_clip=self.grad_clip, zero_grad=self.zero_grad,
            sample_connected=self.sample_connected,
        )  # fmt: skip
        self.switched_at: int | None = None
        self.assign.start(ctx)

    @property
    def weights(self) -> GlowWeights | IntervalGlowWeights:
        return self.supernet.weights

    @property
    def switched(self) -> bool:
        return self.switched_at is not None

    @torch.no_grad()
    def switch(self) -> None:
        """Stage 2: per-slot copies of the shared block (WIT); SRT follows in the trainer at this step."""
        self.assign.switch()
        self.switched_at = self.trainer.t

    def edge_blocks(self) -> list[int]:
        return self.assign.edge_blocks()

    def step(self) -> int:
        if not self.switched and self.switch_step is not None and self.trainer.t >= self.switch_step:
            self.switch()
        x, y = self.ctx.next_batch()
        return self.trainer.step(x, y)

    def scoring_model(self, arch: Arch) -> ScoringModel:
        net = self.supernet
        return ScoringModel(net, lambda x: net(x, arch))

    def diagnostics(self) -> dict[str, float]:
        return {
            "num_blocks": float(self.num_edges if self.switched else 1),
            "sharing_extent": self.assign.sharing_extent(),
            "lr": float(self.trainer.scheduled_lr()),
            "restarts": float(len(self.trainer.restarts)),
            "lr_reductions": float(len(self.trainer.lr_reductions)),
        }

    def decisions(self) -> dict[str, Any]:
        return {
            "close-s": {
                "total_steps": self.total_steps,
                "switch_step": self.switch_step,
                "restart_steps": list(self.trainer.restart_steps),
                "steps_per_epoch": self.steps_per_epoch,
                "plateau_patience_epochs": self.patience_epochs,
                "wit": self.wit,
                "lr_schedule": self.lr_schedule,
                "sharing_extent_counting": self.assign.counting,
                "assignment": self.assign.kind,
                "partition": self.assign.partition(),
                "switched_at": self.switched_at,
                "restarted_at": list(self.trainer.restarts),
                "lr_reduced_at": list(self.trainer.lr_reductions),
            }
        }

    def state_dict(self) -> dict[str, Any]:
        return {"trainer": self.trainer.state_dict(), "switched_at": self.switched_at}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.trainer.load_state_dict(state["trainer"])
        self.switched_at = state["switched_at"]
        if self.switched:
            self.assign.restore_switched()


# -- CLOSE-S's two assignment strategies: what "one block per slot" means after the switch ------------------
class EdgeCopies:
    """Cell spaces: one GLOW block per cell before the switch, then one per edge of a cell (slot s of any cell
    group uses block s % edges)."""

    kind = "edge"
    counting = SHARING_EXTENT_COUNTING

    def __init__(self, method: CLOSES):
        self.m = method

    def build(self, ctx: TrainContext):
        check_cell_dag(ctx.space, "close-s")
        self.num_edges = len(cell_dag(ctx.space).edges)
        self.num_slots = len(ctx.space.slots)
        return build_glow_supernet(ctx, self.num_edges, self.m.dropout), self.num_edges

    def start(self, ctx: TrainContext) -> None:
        self.m.weights.set_assignment((0,) * self.num_slots)
        self.edge_arch_total = edges_in_archs(ctx.space, cell_dag(ctx.space).none_op)

    def edge_blocks(self) -> list[int]:
        """Stage-2 assignment: each edge of a cell its own block (DARTS: normal and reduce edge k share index k,
        in different layers; in a reduce cell the stride-2 and stride-1 edges use different shape classes)."""
        return [s % self.num_edges for s in range(self.num_slots)]

    def switch(self) -> None:
        w = self.m.weights
        for e in range(1, self.num_edges):
            w.inherit(e, 0, self.m.wit)
        self.restore_switched()

    def restore_switched(self) -> None:
        self.m.weights.num_active = self.num_edges
        self.m.weights.set_assignment(self.edge_blocks())

    def sharing_extent(self) -> float:
        return self.edge_arch_total / (self.num_edges if self.m.switched else 1)

    def partition(self) -> None:
        return None


class IntervalCopies:
    """Sequential spaces (docs/methods.md#interval-splitting, every position split at once): per stage one
    block shared by the
    positions after the stage's first slot, then one block per position."""

    kind = "interval"
    counting = SHARING_EXTENT_COUNTING_INTERVAL

    def __init__(self, method: CLOSES):
        self.m = method

    def build(self, ctx: TrainContext):
        num_edges = max(1, positions_of(space_stages(ctx.space)))  # blocks after the switch
        self.num_archs = num_archs(ctx.space)
        return build_interval_supernet(ctx, num_edges, self.m.dropout), num_edges

    def start(self, ctx: TrainContext) -> None:
        pass

    def switch(self) -> None:
        self.m.weights.split_all(self.m.wit)

    def restore_switched(self) -> None:
        p = self.m.num_edges if self.m.weights.num_positions else 0
        self.m.weights.load_partition([(i, i + 1, i) for i in range(p)])

    def sharing_extent(self) -> float:
        return self.m.weights.sharing_extent(self.num_archs)

    def partition(self):
        return self.m.weights.partition()
