"""CLOSE: Curriculum Learning On Sharing Extent on CLOSENet (docs/methods.md#close; paper CLOSE, ECCV 2022).

CLOSENet = the space's supernet with GLOW-block weight keying (methods/close/glow.py) + a GATE
(methods/close/gate.py) that assigns a block to every edge of the sampled cell. Training starts with
one block per layer; blocks are added at budget fractions (paper epochs 1/201/401/601 of 1000 ->
0, 0.2, 0.4, 0.6), each initialised by WIT from the previous block together with a new gate output
unit, and SRT restarts the optimizer at `restart_fractions` (all shipped configs: epoch 401 -> 0.4).
Between restarts the LR is halved when the per-epoch mean training loss plateaus (aw_nas code;
the paper says supernet accuracy), with patience scaled to the budget (30 of 1000 epochs), or follows
a cosine curve (`lr_schedule="cosine"`).

Defaults follow the paper where code and paper differ; the code's choices are options (docs/methods.md#code-vs-paper):
`wit="additive"` (new = own init + previous), `freeze_gate_last_layer_between_restarts=True` (the
code's optimizer holds stale last-layer parameters after non-SRT switches), `eval_assignment="sampled"`
(the code Gumbel-samples the block at evaluation too). Scoring defaults to the argmax of the gate
logits, so a score is deterministic; sampled assignments use their own generator seeded by
(seed, step, arch) and never touch the training RNGs. One architecture per batch, 1 pass per step
(the K-block mixture costs compute, not passes).

Sequential spaces (`space.sequential`, e.g. NAS-Bench-Macro) have no cell DAG: there CLOSE uses the
interval-splitting variant (docs/methods.md#interval-splitting; methods/close/interval_glow.py) instead of the
GATE. Blocks are shared
across block positions of a stage (the stage's first, stride/channel-change slot is unshared); each
curriculum point splits one interval of positions (`cl_criteria` "pre": the multi-position interval
with the smallest start, "max": the longest), the new half getting WIT from the old block. The number of
blocks is len(block_fractions) capped at the number of positions; later fractions are ignored. The
gate options (`gate_*`, `gumbel_tau`, `eval_assignment`, `freeze_gate_last_layer_between_restarts`) do
not apply there; the LR recipe (plateau + SRT) is the same.
"""

from __future__ import annotations

import dataclasses
import math
import zlib
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from supernet_bench.core.errors import BenchError
from supernet_bench.methods import register_method
from supernet_bench.methods.base import Method, ScoringModel, TrainContext
from supernet_bench.methods.close.gate import Gate, cell_dag, gumbel_straight_through
from supernet_bench.methods.close.glow import WIT_MODES, GlowWeights
from supernet_bench.methods.close.interval_glow import (
    CL_CRITERIA,
    SHARING_EXTENT_COUNTING_INTERVAL,
    IntervalGlowWeights,
    positions_of,
)
from supernet_bench.methods.single_path import SinglePathTrainer
from supernet_bench.spaces.base import Arch, OpMask, SearchSpace
from supernet_bench.spaces.capabilities import (
    CellDAGSpace,
    CellEdges,
    Connectivity,
    Requirement,
    SequentialLayers,
    is_sequential,
)

LR_SCHEDULES = ("plateau", "cosine")
EVAL_ASSIGNMENTS = ("argmax", "sampled")
SHARING_EXTENT_COUNTING = (
    "s = sum over edges of |E_e| / K (paper Eq. 9); |E_e| = number of architectures of the (subset) space "
    "whose op on edge e is not `none` (dead edges included); K = GLOW blocks in use per layer"
)


# -- budget and schedule helpers ------------------------------------------------------------------------
def step_at(fraction: float, total_steps: int) -> int:
    """First step index whose start lies at or after `fraction` of the budget."""
    return min(total_steps, math.ceil(fraction * total_steps - 1e-9))


def check_fractions(name: str, values: Sequence[float]) -> list[float]:
    vals = [float(v) for v in values]
    if any(not 0.0 <= v < 1.0 for v in vals) or vals != sorted(vals):
        raise BenchError(f"{name} must be increasing budget fractions in [0, 1), got {list(values)}")
    return vals


def edges_in_archs(space: SearchSpace, none_op: int | None, mask: OpMask | None = None) -> int:
    """Sum over edges of the number of architectures containing the edge (op != none); see SHARING_EXTENT_COUNTING.

    Counted by `space.size` on the mask with `none` removed from the edge, so spaces with validity rules
    (DARTS: two inputs per node) count only their valid architectures."""
    mask = space.allowed if mask is None else mask
    total = 0
    for e, m in enumerate(mask):
        present = frozenset(op for op in m if op != none_op)
        if present:
            total += space.size(tuple(present if i == e else mi for i, mi in enumerate(mask)))
    return total


class PlateauLR:
    """torch ReduceLROnPlateau(mode="min", threshold=1e-4 rel, cooldown=0) as plain state
    (docs/methods.md#close-recipe)."""

    def __init__(self, factor: float, patience: int, min_lr: float = 0.0, threshold: float = 1e-4):
        self.factor, self.patience, self.min_lr, self.threshold = factor, patience, min_lr, threshold
        self.reset()

    def reset(self) -> None:
        self.best, self.bad_epochs = math.inf, 0

    def step(self, metric: float, lr: float) -> float:
        """The LR after one epoch with mean loss `metric`."""
        if metric < self.best * (1 - self.threshold):
            self.best, self.bad_epochs = metric, 0
        else:
            self.bad_epochs += 1
        if self.bad_epochs > self.patience:
            self.bad_epochs = 0
            new = max(lr * self.factor, self.min_lr)
            if lr - new > 1e-8:
                return new
        return lr

    def state_dict(self) -> dict[str, Any]:
        return {"best": self.best, "bad_epochs": self.bad_epochs}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.best, self.bad_epochs = state["best"], state["bad_epochs"]


class RestartingTrainer(SinglePathTrainer):
    """SinglePathTrainer + SRT restarts + plateau/cosine LR between them + optional connected-only sampling.

    Each step draws its torch seed from `rng`, so resume needs only the method's numpy stream.
    A restart re-creates the SGD optimizer (momentum buffers gone), sets the LR back to lr0 and
    resets the plateau scheduler, as aw_nas does at `switch_epochs`. The plateau is fed the mean
    training loss of each epoch (ceil(train_size / batch_size) steps), counted from the run start.
    """

    def __init__(
        self,
        net: nn.Module,
        space: SearchSpace,
        mask: OpMask,
        rng: np.random.Generator,
        total_passes: int,
        *,
        lr: float,
        lr_min: float,
        lr_schedule: str,
        lr_factor: float,
        patience_epochs: int,
        steps_per_epoch: int,
        restart_steps: Sequence[int],
        momentum: float,
        nesterov: bool,
        weight_decay: float,
        grad_clip: float,
        zero_grad: str,
        sample_connected: bool = False,
    ):
        if lr_schedule not in LR_SCHEDULES:
            raise BenchError(f"lr_schedule must be one of {LR_SCHEDULES}, got {lr_schedule!r}")
        super().__init__(
            net, space, mask, rng, total_passes,
            sampler="uniform", lr=lr, lr_min=lr_min, lr_schedule="constant", momentum=momentum,
            nesterov=nesterov, weight_decay=weight_decay, grad_clip=grad_clip,
            zero_grad=zero_grad,
        )  # fmt: skip
        if sample_connected and not isinstance(space, Connectivity):
            raise BenchError(f"sample_connected: space {space.label} has no is_connected()")
        self.opt_kwargs = dict(momentum=momentum, nesterov=nesterov, weight_decay=weight_decay)
        self.schedule = lr_schedule
        self.plateau = PlateauLR(lr_factor, patience_epochs, lr_min)
        self.steps_per_epoch = max(1, steps_per_epoch)
        self.restart_steps = tuple(sorted(restart_steps))
        self.sample_connected = sample_connected
        self.current_lr = lr
        self.segment_start = 0
        self.epoch_loss = [0.0, 0]
        self.restarts: list[int] = []
        self.lr_reductions: list[int] = []
        self.on_restart: list[Callable[[], None]] = []
        self._last_out: torch.Tensor | None = None
        net.register_forward_hook(self._capture)

    def _capture(self, module, inputs, output) -> None:
        self._last_out = output.detach()

    def scheduled_lr(self) -> float:
        if self.schedule == "cosine":
            end = next((s for s in self.restart_steps if s > self.segment_start), self.total_steps)
            p = min(max(self.t - self.segment_start, 0) / max(1, end - self.segment_start), 1.0)
            return self.lr_min + (self.lr - self.lr_min) * 0.5 * (1 + math.cos(math.pi * p))
        return self.current_lr

    def sample_step(self) -> tuple[int, list[Arch]]:
        if not self.sample_connected:
            return super().sample_step()
        while True:
            arch = self.space.sample(self.rng, self.mask)
            if self.space.is_connected(arch):
                return 0, [arch]

    def restart(self) -> None:
        """SRT: fresh optimizer and plateau state, LR back to lr0."""
        self.optimizers = [torch.optim.SGD(list(self.supernet.parameters()), lr=self.lr, **self.opt_kwargs)]
        self.current_lr = self.lr
        self.plateau.reset()
        self.epoch_loss = [0.0, 0]
        self.segment_start = self.t
        self.restarts.append(self.t)
        for hook in self.on_restart:
            hook()

    def step(self, x: torch.Tensor, y: torch.Tensor) -> int:
        while len(self.restarts) < len(self.restart_steps) and self.restart_steps[len(self.restarts)] <= self.t:
            self.restart()
        # torch's global RNG (dropout, Gumbel noise) is seeded per step from the method's own stream,
        # so training randomness is a function of ctx.rng alone and the caller's torch RNG is untouched
        seed = int(self.rng.integers(2**63 - 1))
        device = next(self.supernet.parameters()).device
        with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
            torch.manual_seed(seed)
            spent = super().step(x, y)
        self.epoch_loss[0] += F.cross_entropy(self._last_out.float(), y).item()
        self.epoch_loss[1] += 1
        if self.t % self.steps_per_epoch == 0:
            mean = self.epoch_loss[0] / self.epoch_loss[1]
            self.epoch_loss = [0.0, 0]
            if self.schedule == "plateau":
                new = self.plateau.step(mean, self.current_lr)
                if new < self.current_lr:
                    self.current_lr = new
                    self.lr_reductions.append(self.t)
        return spent

    def state_dict(self) -> dict[str, Any]:
        return {
            **super().state_dict(),
            "current_lr": self.current_lr,
            "plateau": self.plateau.state_dict(),
            "segment_start": self.segment_start,
            "epoch_loss": list(self.epoch_loss),
            "restarts": list(self.restarts),
            "lr_reductions": list(self.lr_reductions),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self.current_lr = state["current_lr"]
        self.plateau.load_state_dict(state["plateau"])
        self.segment_start = state["segment_start"]
        self.epoch_loss = list(state["epoch_loss"])
        self.restarts = list(state["restarts"])
        self.lr_reductions = list(state["lr_reductions"])


def build_glow_supernet(ctx: TrainContext, num_blocks: int, dropout: float) -> nn.Module:
    """The space's supernet with GLOW keying and the method's classifier dropout."""
    sized = dataclasses.replace(ctx, supernet_kwargs={**ctx.supernet_kwargs, "dropout": dropout})
    net = sized.build_supernet(weights_factory=partial(GlowWeights, num_blocks=num_blocks))
    if not isinstance(getattr(net, "weights", None), GlowWeights):
        raise BenchError(f"space {ctx.space.label}: its supernet does not take a weights_factory")
    return net


def build_interval_supernet(ctx: TrainContext, num_blocks: int, dropout: float) -> nn.Module:
    """The sequential space's supernet with interval-split GLOW blocks (docs/methods.md#interval-splitting)."""
    stages = space_stages(ctx.space)
    sized = dataclasses.replace(ctx, supernet_kwargs={**ctx.supernet_kwargs, "dropout": dropout})
    net = sized.build_supernet(weights_factory=partial(IntervalGlowWeights, num_blocks=num_blocks, stages=stages))
    if not isinstance(getattr(net, "weights", None), IntervalGlowWeights):
        raise BenchError(f"space {ctx.space.label}: its supernet does not take a weights_factory")
    return net


def check_cell_dag(space: SearchSpace, method: str) -> None:
    """The space's slots must be the edges of its cell groups (NB201: one cell; DARTS: normal + reduce)."""
    dag = cell_dag(space)
    if dag.num_slots != len(space.slots):
        raise BenchError(
            f"{method} does not support space {space.label}: its {len(space.slots)} slots are not the "
            f"{dag.num_groups} x {len(dag.edges)} edges of its cell DAG"
        )


def space_stages(space: SearchSpace) -> tuple[tuple[int, ...], ...]:
    """The slot runs of a sequential space's stages (`space.stage_slices()`); BenchError if it has none."""
    if not isinstance(space, SequentialLayers):
        raise BenchError(f"sequential space {space.label} describes no stages (stage_slices())")
    return tuple(tuple(st) for st in space.stage_slices())


def num_archs(space: SearchSpace, mask: OpMask | None = None) -> int:
    mask = space.allowed if mask is None else mask
    return int(np.prod([len(m) for m in mask], dtype=np.int64))


def budget_schedule(ctx: TrainContext, patience_fraction: float) -> tuple[int, int, int]:
    """(total steps, steps per epoch, plateau patience in epochs).

    Patience = patience_fraction of the budget's epochs (paper: 30 of 1000), at least 1 so that short
    budgets do not halve the LR after every single epoch without improvement.
    """
    total = max(1, ctx.total_passes)
    per_epoch = max(1, math.ceil(ctx.train_size / ctx.batch_size))
    patience = max(1, round(patience_fraction * total / per_epoch))
    return total, per_epoch, patience


class CLOSENet(nn.Module):
    """Supernet + GATE. Training forward: Gumbel-ST block assignment (Eqs. 6-8); eval forward: argmax."""

    def __init__(self, supernet: nn.Module, gate: Gate, tau: float):
        super().__init__()
        self.supernet, self.gate, self.tau = supernet, gate, tau

    @property
    def weights(self) -> GlowWeights:
        return self.supernet.weights

    def assignment(self, arch: Arch, sampled: bool = False, generator: torch.Generator | None = None) -> list[int]:
        """Scoring assignment without gradients, dropout or training RNG: argmax of lambda (or lambda+g)."""
        was = self.gate.training
        self.gate.eval()
        with torch.no_grad():
            logits = self.gate.logits(arch, self.weights.num_active).float().cpu()
        self.gate.train(was)
        if sampled:
            return gumbel_straight_through(logits, self.tau, generator)[1].tolist()
        return logits.argmax(dim=-1).tolist()

    def forward(self, x: torch.Tensor, arch: Arch) -> torch.Tensor:
        arch = tuple(arch)
        if self.training:
            st, index = gumbel_straight_through(self.gate.logits(arch, self.weights.num_active), self.tau)
            self.weights.set_assignment(index.tolist(), st)
        else:
            self.weights.set_assignment(self.assignment(arch))
        return self.supernet(x, arch)


CELL_DAG_OR_STAGES = Requirement(
    "it assigns GLOW blocks to the edges of a cell DAG (`edges` and `ops`, or `cell_dag()`) or to the positions "
    "of sequential stages (`stage_slices()`), and the space describes neither",
    any_of=(CellDAGSpace, CellEdges, SequentialLayers),
)
CONNECTIVITY = Requirement(
    "sample_connected needs the space to tell connected architectures (`is_connected`)", any_of=(Connectivity,)
)


class CloseTraining(Method):
    """The training recipe CLOSE and CLOSE-S share (paper CLOSE App. B.1): SGD lr 0.05, LR halved on a
    plateau of the epoch's training loss, SRT restarts, clip 5, dropout 0.1 before the classifier."""

    accepts_policies = ()

    @property
    def requires(self) -> tuple[Requirement, ...]:
        return (CELL_DAG_OR_STAGES, CONNECTIVITY) if self.sample_connected else (CELL_DAG_OR_STAGES,)

    def __init__(
        self,
        lr: float = 0.05,
        lr_min: float = 0.0,
        lr_schedule: str = "plateau",
        lr_factor: float = 0.5,
        patience_fraction: float = 0.03,
        momentum: float = 0.9,
        nesterov: bool = False,
        weight_decay: float = 5e-4,
        grad_clip: float = 5.0,
        zero_grad: str = "zeros",
        dropout: float = 0.1,
        wit: str = "copy",
        sample_connected: bool = False,
        policies=(),
    ):
        self.lr, self.lr_min, self.lr_schedule, self.lr_factor = lr, lr_min, lr_schedule, lr_factor
        self.patience_fraction, self.momentum, self.nesterov = patience_fraction, momentum, nesterov
        self.weight_decay, self.grad_clip, self.zero_grad = weight_decay, grad_clip, zero_grad
        self.dropout, self.wit, self.sample_connected = dropout, wit, sample_connected
        self.policies = list(policies)


@register_method("close")
class CLOSE(CloseTraining):
    """CLOSE with GATE, WIT and SRT (docs/methods.md#close). Fractions are of the run's pass budget."""

    def __init__(
        self,
        # list defaults: hyperparameters come from TOML arrays and are type-checked against the default
        block_fractions: list = [0.0, 0.2, 0.4, 0.6],  # noqa: B006
        restart_fractions: list = [0.4],  # noqa: B006
        freeze_gate_last_layer_between_restarts: bool = False,
        eval_assignment: str = "argmax",
        gumbel_tau: float = 5.0,
        gate_op_dim: int = 48,
        gate_node_dim: int = 48,
        gate_hid_dim: int = 96,
        gate_gcn_dims: list = [128, 128, 128, 128, 128],  # noqa: B006
        gate_mlp_dims: list = [200, 200, 200],  # noqa: B006
        gate_mlp_dropout: float = 0.1,
        cl_criteria: str = "pre",
        **params,
    ):
        super().__init__(**params)
        self.cl_criteria = cl_criteria
        self.block_fractions, self.restart_fractions = list(block_fractions), list(restart_fractions)
        self.freeze_gate_last_layer_between_restarts = freeze_gate_last_layer_between_restarts
        self.eval_assignment, self.gumbel_tau = eval_assignment, gumbel_tau
        self.gate_op_dim, self.gate_node_dim, self.gate_hid_dim = gate_op_dim, gate_node_dim, gate_hid_dim
        self.gate_gcn_dims, self.gate_mlp_dims = list(gate_gcn_dims), list(gate_mlp_dims)
        self.gate_mlp_dropout = gate_mlp_dropout

    # -- setup --------------------------------------------------------------------------------------------
    def _validate(self) -> None:
        if self.policies:
            raise BenchError("close takes no training policies")
        fr = check_fractions("block_fractions", self.block_fractions)
        if not fr or fr[0] != 0.0:
            raise BenchError(f"block_fractions must start with 0.0 (one GLOW block from the start), got {fr}")
        check_fractions("restart_fractions", self.restart_fractions)
        if self.wit not in WIT_MODES:
            raise BenchError(f"wit must be one of {WIT_MODES}, got {self.wit!r}")
        if self.cl_criteria not in CL_CRITERIA:
            raise BenchError(f"cl_criteria must be one of {CL_CRITERIA}, got {self.cl_criteria!r}")
        if self.eval_assignment not in EVAL_ASSIGNMENTS:
            raise BenchError(f"eval_assignment must be one of {EVAL_ASSIGNMENTS}, got {self.eval_assignment!r}")
        if self.gumbel_tau <= 0 or self.patience_fraction < 0 or not 0 < self.lr_factor <= 1:
            raise BenchError("need gumbel_tau > 0, patience_fraction >= 0 and 0 < lr_factor <= 1")
        if not (self.gate_gcn_dims and all(int(d) > 0 for d in self.gate_gcn_dims + self.gate_mlp_dims)):
            raise BenchError("gate_gcn_dims must be non-empty and all gate widths positive")

    def setup(self, ctx: TrainContext) -> None:
        self._validate()
        self.ctx = ctx
        self.total_steps, self.steps_per_epoch, self.patience_epochs = budget_schedule(ctx, self.patience_fraction)
        self.restart_steps = [step_at(f, self.total_steps) for f in self.restart_fractions]
        self.gate_frozen = False
        self.block_events: list[int] = []  # step at which each block beyond the first was added
        self.assign = (IntervalBlocks if is_sequential(ctx.space) else GateBlocks)(self)
        self.net, self.block_steps = self.assign.build(ctx)
        self.trainer = self._make_trainer(self.net)
        self.assign.attach(self.trainer)

    def _make_trainer(self, net: nn.Module) -> RestartingTrainer:
        ctx = self.ctx
        return RestartingTrainer(
            net, ctx.space, ctx.space.allowed, ctx.rng, self.total_steps,
            lr=self.lr, lr_min=self.lr_min, lr_schedule=self.lr_schedule, lr_factor=self.lr_factor,
            patience_epochs=self.patience_epochs, steps_per_epoch=self.steps_per_epoch,
            restart_steps=self.restart_steps, momentum=self.momentum, nesterov=self.nesterov,
            weight_decay=self.weight_decay, grad_clip=self.grad_clip,
            zero_grad=self.zero_grad, sample_connected=self.sample_connected,
        )  # fmt: skip

    @property
    def weights(self) -> GlowWeights | IntervalGlowWeights:
        return self.net.weights

    # -- curriculum ---------------------------------------------------------------------------------------
    def _freeze_gate_last_layer(self, frozen: bool) -> None:
        self.assign.freeze(frozen)

    def add_block(self) -> int:
        """One more GLOW block, placed by the assignment strategy (GATE: a new block per layer + gate unit by
        WIT; interval: the upper half of a split interval of positions)."""
        k = self.assign.add_block(self.trainer.t)
        self.block_events.append(self.trainer.t)
        return k

    def step(self) -> int:
        t = self.trainer.t
        w = self.weights
        while w.num_active < w.num_blocks and self.block_steps[w.num_active] <= t:
            self.add_block()
        x, y = self.ctx.next_batch()
        return self.trainer.step(x, y)

    # -- scoring ------------------------------------------------------------------------------------------
    def scoring_assignment(self, arch: Arch) -> list[int]:
        if self.eval_assignment == "sampled":
            key = zlib.crc32(repr((self.ctx.seed, self.trainer.t, tuple(arch))).encode())
            return self.net.assignment(arch, sampled=True, generator=torch.Generator().manual_seed(key))
        return self.net.assignment(arch)

    def scoring_model(self, arch: Arch) -> ScoringModel:
        return self.assign.scoring_model(arch)

    # -- records ------------------------------------------------------------------------------------------
    def diagnostics(self) -> dict[str, float]:
        return {
            "num_blocks": float(self.weights.num_active),
            "sharing_extent": self.assign.sharing_extent(),
            "lr": float(self.trainer.scheduled_lr()),
            "restarts": float(len(self.trainer.restarts)),
            "lr_reductions": float(len(self.trainer.lr_reductions)),
            "gate_last_layer_frozen": float(self.gate_frozen),
        }

    def decisions(self) -> dict[str, Any]:
        return {"close": self.assign.decisions()}

    def state_dict(self) -> dict[str, Any]:
        return {
            "trainer": self.trainer.state_dict(),
            "num_active": self.weights.num_active,
            "gate_frozen": self.gate_frozen,
            "block_events": list(self.block_events),
            **self.assign.state_dict(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.assign.load_blocks(state)
        self.trainer.load_state_dict(state["trainer"])
        self._freeze_gate_last_layer(bool(state["gate_frozen"]))
        self.block_events = list(state["block_events"])


# -- CLOSE's two assignment strategies: which GLOW block serves which slot ----------------------------------
class GateBlocks:
    """Cell spaces: a GATE over the cell DAG assigns one of the active GLOW blocks to every edge of the sampled
    cell (Gumbel-ST in training, argmax or sampled when scoring); each new block comes with a new gate unit."""

    def __init__(self, method: CLOSE):
        self.m = method

    def build(self, ctx: TrainContext) -> tuple[nn.Module, list[int]]:
        m = self.m
        check_cell_dag(ctx.space, "close")
        self.dag = cell_dag(ctx.space)
        k_max = len(m.block_fractions)
        supernet = build_glow_supernet(ctx, k_max, m.dropout)
        gate = Gate(
            self.dag, k_max, m.gate_op_dim, m.gate_node_dim, m.gate_hid_dim,
            [int(d) for d in m.gate_gcn_dims], [int(d) for d in m.gate_mlp_dims], m.gate_mlp_dropout,
        ).to(ctx.device)  # fmt: skip
        self.edge_arch_total = edges_in_archs(ctx.space, self.dag.none_op)
        return CLOSENet(supernet, gate, m.gumbel_tau), [step_at(f, m.total_steps) for f in m.block_fractions]

    def attach(self, trainer: RestartingTrainer) -> None:
        trainer.on_restart.append(lambda: self.freeze(False))

    def freeze(self, frozen: bool) -> None:
        m = self.m
        for p in m.net.gate.last_layer.parameters():
            p.requires_grad_(not frozen)
            if frozen:
                p.grad = None  # so SGD skips it even with zero_grad="zeros"
        m.gate_frozen = frozen

    def add_block(self, t: int) -> int:
        m = self.m
        k = m.weights.add_block(m.wit)
        m.net.gate.inherit_unit(k, k - 1, m.wit)
        if m.freeze_gate_last_layer_between_restarts and t not in m.restart_steps:
            self.freeze(True)
        return k

    def scoring_model(self, arch: Arch) -> ScoringModel:
        net = self.m.net
        blocks = self.m.scoring_assignment(arch)

        def forward(x: torch.Tensor) -> torch.Tensor:
            net.weights.set_assignment(blocks)
            return net.supernet(x, arch)

        return ScoringModel(net, forward)

    def sharing_extent(self) -> float:
        return self.edge_arch_total / self.m.weights.num_active

    def decisions(self) -> dict[str, Any]:
        m = self.m
        return {
            "assignment": "gate",
            "total_steps": m.total_steps,
            "block_steps": m.block_steps,
            "restart_steps": m.restart_steps,
            "steps_per_epoch": m.steps_per_epoch,
            "plateau_patience_epochs": m.patience_epochs,
            "scoring_assignment": m.eval_assignment,
            "wit": m.wit,
            "lr_schedule": m.lr_schedule,
            "freeze_gate_last_layer_between_restarts": m.freeze_gate_last_layer_between_restarts,
            "sharing_extent_counting": SHARING_EXTENT_COUNTING,
            "blocks_added_at": list(m.block_events),
            "restarted_at": list(m.trainer.restarts),
            "lr_reduced_at": list(m.trainer.lr_reductions),
        }

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_blocks(self, state: dict[str, Any]) -> None:
        self.m.weights.num_active = int(state["num_active"])


class IntervalBlocks:
    """Sequential spaces (docs/methods.md#interval-splitting): blocks shared across the positions of an interval
    of a stage, no GATE; a
    new block takes the upper half of a split interval (WIT from the old block)."""

    def __init__(self, method: CLOSE):
        self.m = method

    def build(self, ctx: TrainContext) -> tuple[nn.Module, list[int]]:
        m = self.m
        positions = positions_of(space_stages(ctx.space))
        k_max = min(len(m.block_fractions), max(1, positions))
        net = build_interval_supernet(ctx, k_max, m.dropout)
        self.num_archs = num_archs(ctx.space)
        self.partitions: list[dict[str, Any]] = [{"step": 0, "intervals": net.weights.partition()}]
        return net, [step_at(f, m.total_steps) for f in m.block_fractions[:k_max]]

    def attach(self, trainer: RestartingTrainer) -> None:
        pass

    def freeze(self, frozen: bool) -> None:
        pass  # no gate

    def add_block(self, t: int) -> int:
        w = self.m.weights
        _, (_, _, k) = w.split(self.m.cl_criteria, self.m.wit)
        self.partitions.append({"step": t, "intervals": w.partition()})
        return k

    def scoring_model(self, arch: Arch) -> ScoringModel:
        net = self.m.net
        return ScoringModel(net, lambda x: net(x, arch))

    def sharing_extent(self) -> float:
        return self.m.weights.sharing_extent(self.num_archs)

    def decisions(self) -> dict[str, Any]:
        m = self.m
        return {
            "assignment": "interval",
            "total_steps": m.total_steps,
            "num_positions": m.weights.num_positions,
            "stages": [list(st) for st in m.weights.stages],
            "num_blocks": m.weights.num_blocks,
            "block_steps": m.block_steps,
            "ignored_block_fractions": m.block_fractions[m.weights.num_blocks :],
            "restart_steps": m.restart_steps,
            "steps_per_epoch": m.steps_per_epoch,
            "plateau_patience_epochs": m.patience_epochs,
            "cl_criteria": m.cl_criteria,
            "wit": m.wit,
            "lr_schedule": m.lr_schedule,
            "sharing_extent_counting": SHARING_EXTENT_COUNTING_INTERVAL,
            "blocks_added_at": list(m.block_events),
            "partitions": [dict(p) for p in self.partitions],
            "restarted_at": list(m.trainer.restarts),
            "lr_reduced_at": list(m.trainer.lr_reductions),
        }

    def state_dict(self) -> dict[str, Any]:
        return {"partitions": [{"step": p["step"], "intervals": [list(iv) for iv in p["intervals"]]}
                               for p in self.partitions]}  # fmt: skip

    def load_blocks(self, state: dict[str, Any]) -> None:
        self.partitions = [{"step": p["step"], "intervals": [list(iv) for iv in p["intervals"]]}
                           for p in state["partitions"]]  # fmt: skip
        self.m.weights.load_partition(self.partitions[-1]["intervals"])
