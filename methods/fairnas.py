"""FairNAS: strict fairness (docs/methods.md#fairnas). Per step, m subnets that use every op of every edge exactly
once, gradients accumulated on the same batch, one optimizer step; m passes charged."""

from __future__ import annotations

from supernet_bench.methods import register_method
from supernet_bench.methods.single_path import SPOS


@register_method("fairnas")
class FairNAS(SPOS):
    """FairNAS strict fairness: every op of every slot trained once per step (one step = one pass per op).

    lr_schedule="cosine" is the paper's; "constant" reproduces the DYNAS baseline code (docs/methods.md#code-vs-paper).
    grad_clip=0 (off) follows the DYNAS FairNAS code."""

    sampler = "fair"

    def __init__(self, grad_clip: float = 0.0, **params):
        super().__init__(grad_clip=grad_clip, **params)
