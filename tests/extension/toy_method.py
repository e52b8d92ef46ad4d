"""A toy method and a toy policy defined outside the package, registered through the public registries.

`toy-spos` is SPOS that needs sequential layers (a declared capability) and accepts the `half-lr` policy,
which halves every step's learning rate through the trainer's `step_lr` hook.
"""

from __future__ import annotations

from supernet_bench.methods import register_method
from supernet_bench.methods.policies import Policy, register_policy
from supernet_bench.methods.single_path import SPOS
from supernet_bench.spaces.capabilities import Requirement, SequentialLayers


@register_policy("half-lr")
class HalfLR(Policy):
    name = "half-lr"

    def __init__(self, factor: float = 0.5):
        self.factor = factor

    def step_lr(self, trainer, arch):
        return self.factor * trainer.scheduled_lr()

    def decisions(self) -> dict:
        return {"half_lr_factor": self.factor}


@register_method("toy-spos")
class ToySPOS(SPOS):
    accepts_policies = ("half-lr",)
    requires = (
        Requirement("it trains layer chains and needs sequential layers (stage_slices)", any_of=(SequentialLayers,)),
    )
