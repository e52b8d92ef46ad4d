"""Training policies that compose with any sampling-based method (`spos+calr+ms`).

A policy adjusts how a single-path trainer treats a step through the hooks below, which the trainer
(methods/single_path.py) calls without knowing any policy by name: CaLR sets the learning rate (or a loss
weight) per subnet; MS keeps one momentum buffer per cluster of subnets and picks the step's cluster. A new
policy is one module here that subclasses `Policy`, overrides the hooks it needs and registers itself.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Any

import numpy as np
from supernet_bench.core.registry import Registry


@dataclass(frozen=True)
class TrainerSetup:
    """What a policy sees of the trainer it is attached to, when that trainer is built."""

    space: Any  # SearchSpace
    mask: tuple  # OpMask the trainer samples inside
    rng: np.random.Generator
    paths_per_step: int  # subnets trained per optimizer step (1 = SPOS, m = FairNAS)
    exclude_slots: tuple[int, ...] = ()  # slots the method reserves (Few-Shot's split slot)


class Policy:
    """Base class: keyword hyperparameters stored as attributes; hooks that leave a step unchanged."""

    name = ""

    # -- hooks the single-path trainer calls -----------------------------------------------------------
    def for_trainer(self, setup: TrainerSetup, prior: Policy | None = None) -> Policy:
        """The policy as one trainer uses it (self, or a new object with per-trainer state). `prior` is the
        same policy of an earlier trainer of this run, whose run-level choices this one shares."""
        return self

    def num_optimizers(self) -> int:
        """Optimizers (momentum buffers) the trainer keeps; the step's one is chosen by `choose`."""
        return 1

    def choose(self, rng: np.random.Generator, mask: tuple) -> tuple[int, tuple]:
        """(optimizer index, mask to sample the step's subnets in), drawn before the subnets are."""
        return 0, mask

    def holds_lr(self, trainer) -> bool:
        """True when the step LR stays at lr0 because this policy moves the schedule elsewhere (into the loss)."""
        return False

    def step_lr(self, trainer, arch) -> float | None:
        """The LR of a step on `arch`, replacing the trainer's schedule, or None to keep it."""
        return None

    def loss_factor(self, trainer, arch) -> float | None:
        """A weight on the loss of `arch` in this step, or None for none."""
        return None

    def decisions(self) -> dict:
        """Run-level choices recorded in the manifest."""
        return {}

    @classmethod
    def default_params(cls) -> dict[str, Any]:
        sig = inspect.signature(cls.__init__)
        return {k: p.default for k, p in sig.parameters.items() if k != "self" and p.default is not p.empty}

    def requirements(self, method) -> tuple:
        """What this policy needs from a space when it runs with `method` (spaces/capabilities.Requirement)."""
        return ()

    def get_params(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.default_params()}


POLICIES: Registry[type[Policy]] = Registry("policy", base=Policy)
register_policy = POLICIES.register

from supernet_bench.methods.policies import calr, ms  # noqa: E402,F401  (registration; order = name order "calr", "ms")
