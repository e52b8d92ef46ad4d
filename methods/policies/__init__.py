"""Training policies that compose with any sampling-based method (`spos+calr+ms`).

A policy adjusts how a single-path trainer treats a step: CaLR changes the learning rate (or loss
weight) per subnet; MS keeps one momentum buffer per cluster of subnets.
"""

from __future__ import annotations

import inspect
from typing import Any

from supernet_bench.core.registry import Registry


class Policy:
    """Base class: keyword hyperparameters stored as attributes; state set up per trainer."""

    name = ""

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
