"""MS: momentum separation (CaLR+MS paper §3.2.2, Eqs. 7-8).

Subnets are clustered by their op on one chosen slot (a random edge per run for cell spaces, the
first layer for sequential spaces); each cluster has its own optimizer momentum buffer over all
(shared) weights, and only the sampled cluster's buffer is used and updated.
"""

from __future__ import annotations

import numpy as np
from supernet_bench.core.errors import BenchError
from supernet_bench.methods.base import mask_with
from supernet_bench.methods.policies import Policy, TrainerSetup, register_policy
from supernet_bench.spaces.base import OpMask, SearchSpace
from supernet_bench.spaces.capabilities import is_sequential


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
        elif is_sequential(space):
            self.chosen = candidates[0]
        else:
            self.chosen = int(rng.choice(candidates))
        self.clusters = sorted(mask[self.chosen])
        self.space = space
        return self

    # -- trainer hooks ---------------------------------------------------------------------------------------
    def for_trainer(self, setup: TrainerSetup, prior: Policy | None = None) -> MomentumSeparation:
        """A separate object per trainer (its own slot and clusters); a run's later trainers reuse the slot
        drawn for its first (`prior`), as DYNAS draws one MS edge per run."""
        params = self.get_params() if prior is None else {**self.get_params(), "slot": prior.chosen}
        return MomentumSeparation(**params).bind(setup.space, setup.mask, setup.rng, setup.exclude_slots)

    def num_optimizers(self) -> int:
        return len(self.clusters)

    def choose(self, rng: np.random.Generator, mask: OpMask) -> tuple[int, OpMask]:
        op = int(rng.choice(self.clusters))
        return self.cluster_of(op), mask_with(mask, {self.chosen: op})

    def cluster_of(self, op: int) -> int:
        return self.clusters.index(op)

    def decisions(self) -> dict:
        slot = self.space.slots[self.chosen]
        return {
            "ms_slot": slot.name,
            "ms_slot_index": self.chosen,
            "ms_clusters": [slot.ops[o] for o in self.clusters],
        }
