"""The training budget in subnet passes (one forward+backward of one subnet on one batch).

Every method gets the same number of passes; checkpoints sit at fixed budget fractions. A method's step
is indivisible: the protocol trains whole steps until a checkpoint's pass count is reached, so a method
whose step costs k passes (FairNAS: one per op) stops at most k - 1 passes past it, and the passes
actually spent are recorded with every checkpoint's metrics.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Budget:
    total_passes: int
    checkpoint_passes: tuple[int, ...]
    batch_size: int
    train_size: int

    @classmethod
    def from_epochs(cls, epochs: float, batch_size: int, train_size: int, fractions) -> Budget:
        total = max(1, math.ceil(epochs * train_size / batch_size))
        return cls(total, tuple(round(f * total) for f in fractions), batch_size, train_size)

    def epoch_equiv(self, passes: int) -> float:
        """passes * batch_size / train_set_size (docs/protocol.md#budget)."""
        return passes * self.batch_size / self.train_size
