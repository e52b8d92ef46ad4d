"""`spos-balanced`: single-path one-shot whose sampler favours the ops trained least so far.

SPOS draws each slot's op uniformly, so op counts drift apart by chance; this variant draws op o of slot s
with probability proportional to exp(-beta * (n_so - mean_s)), where n_so is how often o has been trained
on s. beta = 0 is SPOS's sampler; a large beta approaches FairNAS's equal counts with one path per step.
It uses only the method contract (supernet_bench.methods.base), as a third-party method would.
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
from supernet_bench.spaces.base import Arch


@register_method("spos-balanced")
class BalancedSPOS(Method):
    """SPOS with a count-balancing sampler: ops trained less often are drawn more often."""

    def __init__(
        self,
        beta: float = 0.5,
        lr: float = 0.025,
        momentum: float = 0.9,
        weight_decay: float = 5e-4,
        grad_clip: float = 5.0,
        policies=(),  # the policies named after `+` in the method name; this method accepts none
    ):
        self.beta, self.lr, self.momentum = beta, lr, momentum
        self.weight_decay, self.grad_clip = weight_decay, grad_clip

    def setup(self, ctx: TrainContext) -> None:
        if self.beta < 0:
            raise BenchError(f"spos-balanced: beta must be >= 0, got {self.beta}")
        self.ctx = ctx
        self.supernet = ctx.build_supernet()
        self.optimizer = torch.optim.SGD(
            self.supernet.parameters(), lr=self.lr, momentum=self.momentum, weight_decay=self.weight_decay
        )
        self.mask = [sorted(m) for m in ctx.space.allowed]
        self.counts = [np.zeros(len(ops), dtype=np.int64) for ops in self.mask]
        self.t = 0

    def sample(self) -> Arch:
        arch = []
        for ops, n in zip(self.mask, self.counts):
            logits = -self.beta * (n - n.mean())
            p = np.exp(logits - logits.max())
            k = int(self.ctx.rng.choice(len(ops), p=p / p.sum()))
            n[k] += 1
            arch.append(ops[k])
        return tuple(arch)

    def step(self) -> int:
        x, y = self.ctx.next_batch()
        arch = self.sample()
        progress = min(self.t / max(self.ctx.total_passes, 1), 1.0)
        for group in self.optimizer.param_groups:  # cosine to zero over the run's budget
            group["lr"] = self.lr * 0.5 * (1 + math.cos(math.pi * progress))
        self.supernet.train()
        self.optimizer.zero_grad(set_to_none=True)
        F.cross_entropy(self.supernet(x, arch), y).backward()
        if self.grad_clip > 0:
            nn.utils.clip_grad_norm_(self.supernet.parameters(), self.grad_clip)
        self.optimizer.step()
        self.t += 1
        return 1  # one subnet pass

    def scoring_model(self, arch: Arch) -> ScoringModel:
        net = self.supernet
        return ScoringModel(net, lambda x: net(x, arch))

    def diagnostics(self) -> dict[str, float]:
        """Spread of the per-op training counts (max - min over all slots): small when the sampler balances."""
        return {"count_spread": float(max(int(n.max() - n.min()) for n in self.counts))}

    def state_dict(self) -> dict[str, Any]:
        return {
            "supernet": self.supernet.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "counts": [n.copy() for n in self.counts],
            "t": self.t,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.supernet.load_state_dict(state["supernet"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.counts = [np.asarray(n, dtype=np.int64).copy() for n in state["counts"]]
        self.t = state["t"]
