"""FairNAS: strict fairness (specs §2). Per step, m subnets that use every op of every edge exactly
once, gradients accumulated on the same batch, one optimizer step; m passes charged."""

from __future__ import annotations

from methods import register_method
from methods.single_path import SPOS


@register_method("fairnas")
class FairNAS(SPOS):
    """lr_schedule="cosine" is the paper's; "constant" reproduces the DYNAS baseline code (specs §11).
    grad_clip=0 (off) follows the DYNAS FairNAS code."""

    sampler = "fair"

    def __init__(
        self,
        lr: float = 0.025,
        lr_min: float = 0.0,
        lr_schedule: str = "cosine",
        momentum: float = 0.9,
        nesterov: bool = True,
        weight_decay: float = 5e-4,
        grad_clip: float = 0.0,
        zero_grad_set_to_none: bool = True,
        policies=(),
    ):
        super().__init__(
            lr, lr_min, lr_schedule, momentum, nesterov, weight_decay, grad_clip, zero_grad_set_to_none, policies
        )
