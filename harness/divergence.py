"""Divergence: a training loss that is not finite or has exploded ends the run as failed, not complete.

A run trained to NaN (``--set methods.all.lr=1e6``) scores every architecture alike; marked complete,
its constant scores would sit on a leaderboard like any other result. The protocol therefore watches
every cross-entropy a method computes during ``step()`` (all methods train through
``torch.nn.functional.cross_entropy``, so no method has to report its loss) and stops the run at the
first step whose loss is NaN, infinite or above ``LOSS_LIMIT``.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager

import torch
import torch.nn.functional as F
from supernet_bench.core.errors import BenchError

# A cross-entropy above this is no longer training: at initialization it is ln(classes) (2.3 for 10,
# 6.9 for 1000), and logits 1e4 apart mean the weights have blown up.
LOSS_LIMIT = 1e4


class Diverged(BenchError):
    """The run's training loss became non-finite or exploded; its manifest is marked failed."""


def is_bad(loss: float) -> bool:
    return not math.isfinite(loss) or loss > LOSS_LIMIT


@contextmanager
def watch_losses() -> Iterator[list[torch.Tensor]]:
    """Collect (detached) every cross-entropy computed inside the block; restores F.cross_entropy after."""
    original = F.cross_entropy
    seen: list[torch.Tensor] = []

    def recording(*args, **kwargs):
        out = original(*args, **kwargs)
        seen.append(out.detach())
        return out

    F.cross_entropy = recording
    try:
        yield seen
    finally:
        F.cross_entropy = original


def worst_loss(losses: list[torch.Tensor]) -> float:
    """The largest loss seen (NaN if any is NaN); 0.0 when none was recorded."""
    if not losses:
        return 0.0
    values = torch.stack([v.float().reshape(-1).max() if v.numel() else v.new_zeros(()) for v in losses])
    if torch.isnan(values).any():
        return math.nan
    return float(values.max())
