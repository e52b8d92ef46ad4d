"""MS: momentum separation (CaLR+MS paper §3.2.2, Eqs. 7-8).

Subnets are clustered by their op on one chosen slot (a random edge per run for cell spaces, the
first layer for sequential spaces); each cluster has its own optimizer momentum buffer over all
(shared) weights, and only the sampled cluster's buffer is used and updated.
"""

from __future__ import annotations

import numpy as np
from supernet_bench.core.errors import BenchError
from supernet_bench.methods.policies import Policy, register_policy
from supernet_bench.spaces.base import OpMask, SearchSpace


@register_policy("ms")
class MomentumSeparation(Policy):
    """Momentum separation: one optimizer momentum per op of a chosen slot (CaLR+MS).

    slot: -1 = random (cell spaces) or the first slot (sequential spaces); else a slot index."""

    name = "ms"

    def __init__(self, slot: int = -1):
        self.slot = slot

    def bind(self, space: SearchSpace, mask: OpMask, rng: np.random.Generator, exclude: tuple[int, ...] = ()):
        candidates = [i for i, m in enumerate(mask) if len(m) > 1 and i not in exclude]
        if not candidates:
            raise BenchError("ms: no slot with more than one op to cluster on")
        if self.slot >= 0:
            if self.slot not in candidates:
                raise BenchError(f"ms slot {self.slot} is not a free slot of this (sub-)space: {candidates}")
            self.chosen = self.slot
        elif getattr(space, "sequential", False):
            self.chosen = candidates[0]
        else:
            self.chosen = int(rng.choice(candidates))
        self.clusters = sorted(mask[self.chosen])
        self.space = space
        return self

    def cluster_of(self, op: int) -> int:
        return self.clusters.index(op)

    def decisions(self) -> dict:
        slot = self.space.slots[self.chosen]
        return {
            "ms_slot": slot.name,
            "ms_slot_index": self.chosen,
            "ms_clusters": [slot.ops[o] for o in self.clusters],
        }
