"""The single-path trainer every sampling-based method is built from, and vanilla SPOS.

A trainer = one supernet + an op mask + a sampler (uniform / fair) + an LR schedule + training policies
(methods/policies/), which it calls through their hooks only. SPOS, FairNAS, the Few-Shot sub-supernets and
GM-NAS leaves are all trainers.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from supernet_bench.core.errors import BenchError
from supernet_bench.methods import register_method
from supernet_bench.methods.base import Method, ScoringModel, TrainContext
from supernet_bench.methods.policies import Policy, TrainerSetup
from supernet_bench.methods.sampling import SAMPLERS
from supernet_bench.spaces.base import Arch, OpMask, SearchSpace

LR_SCHEDULES = ("cosine", "constant")
ZERO_GRAD_MODES = ("zeros", "none")
"""zeros: `zero_grad()` writes zeros (torch 1.x, what every reference code ran), so an op off the sampled path
still gets a momentum and weight-decay update; none: grads set to None (torch 2.x default), so SGD skips it."""


class SinglePathTrainer:
    """Trains one supernet on sampled single paths inside `mask` for `total_passes` passes."""

    def __init__(
        self,
        supernet: nn.Module,
        space: SearchSpace,
        mask: OpMask,
        rng: np.random.Generator,
        total_passes: int,
        *,
        sampler: str = "uniform",
        lr: float = 0.025,
        lr_min: float = 0.0,
        lr_schedule: str = "cosine",
        momentum: float = 0.9,
        nesterov: bool = True,
        weight_decay: float = 5e-4,
        grad_clip: float = 5.0,
        zero_grad: str = "zeros",
        policies: list[Policy] | tuple = (),
        exclude_slots: tuple[int, ...] = (),
        like: SinglePathTrainer | None = None,
    ):
        """`policies` are attached through `Policy.for_trainer`; `exclude_slots` are slots the method reserves
        (Few-Shot's split slot); `like` is an earlier trainer of the run whose policies' run-level choices
        (the MS slot) this one shares."""
        if lr < 0 or lr_min < 0:
            raise BenchError(f"learning rates must be >= 0 (lr={lr}, lr_min={lr_min})")
        if lr_schedule not in LR_SCHEDULES:
            raise BenchError(f"lr_schedule must be one of {LR_SCHEDULES}, got {lr_schedule!r}")
        if sampler not in SAMPLERS:
            raise BenchError(f"sampler must be one of {sorted(SAMPLERS)}, got {sampler!r}")
        if zero_grad not in ZERO_GRAD_MODES:
            raise BenchError(f"zero_grad must be one of {ZERO_GRAD_MODES}, got {zero_grad!r}")
        self.supernet, self.space, self.mask, self.rng = supernet, space, mask, rng
        self.sample = SAMPLERS[sampler]
        self.paths_per_step = 1 if sampler == "uniform" else max(len(m) for m in mask)
        self.total_steps = max(1, total_passes // self.paths_per_step)
        self.lr, self.lr_min, self.lr_schedule = lr, lr_min, lr_schedule
        self.grad_clip, self.set_to_none = grad_clip, zero_grad == "none"
        setup = TrainerSetup(space, mask, rng, self.paths_per_step, tuple(exclude_slots))
        priors = {type(p): p for p in like.policies} if like is not None else {}
        self.policies = [p.for_trainer(setup, priors.get(type(p))) for p in policies]
        chooser = [p for p in self.policies if p.num_optimizers() > 1]
        if len(chooser) > 1:
            names = ", ".join(p.name for p in chooser)
            raise BenchError(f"policies {names} each keep their own optimizers; use one of them")
        self.chooser = chooser[0] if chooser else None
        n_opt = self.chooser.num_optimizers() if self.chooser else 1
        params = list(supernet.parameters())
        self.optimizers = [
            torch.optim.SGD(params, lr=lr, momentum=momentum, nesterov=nesterov, weight_decay=weight_decay)
            for _ in range(n_opt)
        ]
        self.t = 0

    @property
    def progress(self) -> float:
        return min(self.t / self.total_steps, 1.0)

    def policy(self, name: str) -> Policy | None:
        """The attached policy registered as `name`, if any."""
        return next((p for p in self.policies if p.name == name), None)

    def scheduled_lr(self) -> float:
        if self.lr_schedule == "constant" or any(p.holds_lr(self) for p in self.policies):
            return self.lr  # e.g. FairNAS+CaLR puts the schedule into the loss weights (docs/methods.md#combinations)
        return self.lr_min + (self.lr - self.lr_min) * 0.5 * (1 + math.cos(math.pi * self.progress))

    def lr_for(self, arch: Arch) -> float:
        for p in self.policies:
            lr = p.step_lr(self, arch)
            if lr is not None:
                return lr
        return self.scheduled_lr()

    def sample_step(self) -> tuple[int, list[Arch]]:
        """(optimizer index, architectures) for the next step."""
        if self.chooser is None:
            return 0, self.sample(self.space, self.rng, self.mask)
        index, mask = self.chooser.choose(self.rng, self.mask)
        return index, self.sample(self.space, self.rng, mask)

    def step(self, x: torch.Tensor, y: torch.Tensor) -> int:
        """One optimizer step on one batch; returns the subnet passes spent."""
        opt_index, archs = self.sample_step()
        optimizer = self.optimizers[opt_index]
        self.supernet.train()
        optimizer.zero_grad(set_to_none=self.set_to_none)
        for arch in archs:
            loss = F.cross_entropy(self.supernet(x, arch), y)
            for p in self.policies:
                factor = p.loss_factor(self, arch)
                if factor is not None:
                    loss = loss * factor
            loss.backward()
        if self.grad_clip > 0:
            nn.utils.clip_grad_norm_(self.supernet.parameters(), self.grad_clip)
        for group in optimizer.param_groups:
            group["lr"] = self.lr_for(archs[0])
        optimizer.step()
        self.t += 1
        self.last_archs = archs
        return len(archs)

    def state_dict(self) -> dict[str, Any]:
        return {
            "supernet": self.supernet.state_dict(),
            "optimizers": [o.state_dict() for o in self.optimizers],
            "t": self.t,
            # with zero_grad="zeros" a parameter that ever had a gradient keeps a (zeroed) one, and SGD keeps
            # updating it; a resumed run must have the same ones
            "has_grad": [p.grad is not None for p in self.supernet.parameters()],
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.supernet.load_state_dict(state["supernet"])
        for o, s in zip(self.optimizers, state["optimizers"]):
            o.load_state_dict(s)
        self.t = state["t"]
        for p, has in zip(self.supernet.parameters(), state["has_grad"], strict=True):
            p.grad = torch.zeros_like(p) if has else None


@register_method("spos")
class SPOS(Method):
    """Vanilla single-path one-shot: one uniformly sampled subnet per batch (docs/methods.md#spos)."""

    accepts_policies = ("calr", "ms")
    sampler = "uniform"

    def __init__(
        self,
        lr: float = 0.025,
        lr_min: float = 0.0,
        lr_schedule: str = "cosine",
        momentum: float = 0.9,
        nesterov: bool = True,
        weight_decay: float = 5e-4,
        grad_clip: float = 5.0,
        zero_grad: str = "zeros",
        policies: list[Policy] | tuple = (),
    ):
        self.lr, self.lr_min, self.lr_schedule = lr, lr_min, lr_schedule
        self.momentum, self.nesterov, self.weight_decay = momentum, nesterov, weight_decay
        self.grad_clip, self.zero_grad = grad_clip, zero_grad
        self.policies = list(policies)

    def trainer_kwargs(self) -> dict[str, Any]:
        return dict(
            sampler=self.sampler,
            lr=self.lr,
            lr_min=self.lr_min,
            lr_schedule=self.lr_schedule,
            momentum=self.momentum,
            nesterov=self.nesterov,
            weight_decay=self.weight_decay,
            grad_clip=self.grad_clip,
            zero_grad=self.zero_grad,
        )

    def make_trainer(
        self,
        supernet: nn.Module,
        mask: OpMask,
        total_passes: int,
        exclude_slots: tuple[int, ...] = (),
        like: SinglePathTrainer | None = None,
    ) -> SinglePathTrainer:
        """A trainer with this method's settings and policies; `like` an earlier trainer of the run whose
        policies' run-level choices it shares (Few-Shot: one MS slot for all sub-supernets)."""
        return SinglePathTrainer(
            supernet, self.ctx.space, mask, self.ctx.rng, total_passes, policies=self.policies,
            exclude_slots=exclude_slots, like=like, **self.trainer_kwargs(),
        )  # fmt: skip

    def setup(self, ctx: TrainContext) -> None:
        self.ctx = ctx
        self.trainer = self.make_trainer(ctx.build_supernet(), ctx.space.allowed, ctx.total_passes)

    def step(self) -> int:
        x, y = self.ctx.next_batch()
        return self.trainer.step(x, y)

    def scoring_model(self, arch: Arch) -> ScoringModel:
        net = self.trainer.supernet
        return ScoringModel(net, lambda x: net(x, arch))

    def decisions(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for p in self.trainer.policies:
            out.update(p.decisions())
        return out

    def diagnostics(self) -> dict[str, float]:
        return {"lr": self.trainer.scheduled_lr()}

    def state_dict(self) -> dict[str, Any]:
        return {"trainer": self.trainer.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.trainer.load_state_dict(state["trainer"])
