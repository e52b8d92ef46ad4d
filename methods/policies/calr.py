"""CaLR: complexity-aware learning rate (CaLR+MS paper §3.2.1; Eqs. 3-6 rebuilt from the DYNAS code).

eta_t(alpha) = eta_0 * (1 - t/T) ** gamma(alpha),  gamma = w * ln C(alpha) + tau, where w and tau map
[ln C_min, ln C_max] linearly onto [gamma_max, 1/gamma_max]: small subnets decay fast, big ones slowly.
C_min/C_max are the space's exact extremes where it gives them (`complexity_bounds()`, as DYNAS uses the
smallest and largest NB201 cells), else the extremes over all architectures or over a seeded sample.
"""

from __future__ import annotations

import math

import numpy as np
from supernet_bench.core.errors import BenchError
from supernet_bench.methods.policies import Policy, TrainerSetup, register_policy
from supernet_bench.spaces.base import Arch, SearchSpace
from supernet_bench.spaces.capabilities import ComplexityBounds, Requirement

_ENUMERATE_LIMIT = 200_000  # larger spaces without `complexity_bounds()` get C_min/C_max from a seeded sample


FAIR_PATHS_IN_SPACE = Requirement(
    "strict-fairness paths leave the space (they pair ops on every slot independently), and CaLR's LR exponent "
    "is defined only for architectures of the space (their #params)",
    test=lambda space: space.product_space,
)


@register_policy("calr")
class CaLR(Policy):
    """Per-subnet LR decay exponent from its #params.

    mode: "auto" = LR per step for one subnet per step (SPOS), loss weights at constant LR when a
    step trains several subnets (FairNAS, docs/methods.md#combinations); "lr" / "loss" force one of the two.
    """

    name = "calr"

    def __init__(self, gamma_max: float = 4.0, mode: str = "auto"):
        self.gamma_max = gamma_max
        self.mode = mode

    def requirements(self, method) -> tuple[Requirement, ...]:
        if getattr(method, "sampler", "uniform") != "fair":
            return ()
        return (FAIR_PATHS_IN_SPACE,)

    def bind(self, space: SearchSpace) -> CaLR:
        if self.gamma_max <= 1.0:
            raise BenchError(f"calr gamma_max must be > 1, got {self.gamma_max}")
        if self.mode not in ("auto", "lr", "loss"):
            raise BenchError(f"calr mode must be auto, lr or loss, got {self.mode!r}")
        if getattr(self, "space", None) is space:
            return self  # already bound: C_min/C_max are per space (Few-Shot binds once per sub-supernet)
        self.space = space
        if isinstance(space, ComplexityBounds):  # exact extremes (DARTS, NDS): no need to sample
            self.c_min, self.c_max = (float(c) for c in space.complexity_bounds())
        else:
            if space.size() <= _ENUMERATE_LIMIT:
                archs = list(space.enumerate())
            else:
                archs = space.sample_distinct(np.random.default_rng(0), 20_000)
            comps = np.array([space.complexity(a) for a in archs], dtype=np.float64)
            self.c_min, self.c_max = float(comps.min()), float(comps.max())
        gamma_min = 1.0 / self.gamma_max
        span = math.log(self.c_max) - math.log(self.c_min)
        self.w = -(self.gamma_max - gamma_min) / span if span > 0 else 0.0
        self.tau = gamma_min - self.w * math.log(self.c_max)
        self._cache: dict[Arch, float] = {}
        return self

    # -- trainer hooks ---------------------------------------------------------------------------------------
    def for_trainer(self, setup: TrainerSetup, prior: Policy | None = None) -> CaLR:
        return self.bind(setup.space)

    def resolved_mode(self, paths_per_step: int) -> str:
        """"lr" or "loss": auto = LR per subnet when a step trains one subnet, loss weights when it trains several."""
        return self.mode if self.mode != "auto" else ("lr" if paths_per_step == 1 else "loss")

    def holds_lr(self, trainer) -> bool:
        return self.resolved_mode(trainer.paths_per_step) == "loss"  # FairNAS+CaLR: the schedule is in the loss

    def step_lr(self, trainer, arch: Arch) -> float | None:
        if self.resolved_mode(trainer.paths_per_step) != "lr":
            return None
        return trainer.lr * self.factor(trainer.progress, arch)

    def loss_factor(self, trainer, arch: Arch) -> float | None:
        if self.resolved_mode(trainer.paths_per_step) != "loss":
            return None
        return self.factor(trainer.progress, arch)

    def gamma(self, arch: Arch) -> float:
        g = self._cache.get(arch)
        if g is None:
            g = self.w * math.log(self.space.complexity(arch)) + self.tau
            self._cache[arch] = g
        return g

    def factor(self, progress: float, arch: Arch) -> float:
        """(1 - t/T) ** gamma(arch), progress = t/T in [0, 1]."""
        return max(0.0, 1.0 - progress) ** self.gamma(arch)

    def decisions(self) -> dict:
        return {"calr_c_min": self.c_min, "calr_c_max": self.c_max, "calr_gamma_max": self.gamma_max}
