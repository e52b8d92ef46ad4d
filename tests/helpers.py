"""Small builders shared by tests (not fixtures: plain functions are easier to parametrize)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from supernet_bench.methods.base import TrainContext
from supernet_bench.spaces import get_space

TINY_SUPERNET = {"C": 4, "N": 1}
TINY_OVERRIDES = [
    "run.budget_epochs=1.0",
    "run.batch_size=32",
    "data.train_limit=128",
    "data.eval_limit=64",
    "data.resolution=8",
    'eval.sample="random:8"',
    "eval.recal_batches=1",
    "eval.recal_batch_size=32",
    "supernet.C=4",
]


DEVICES = [pytest.param("cpu", id="cpu"), pytest.param("cuda", id="cuda", marks=pytest.mark.gpu)]
"""Params of device-generic tests: the CPU always, CUDA as a `gpu`-marked copy (skipped without CUDA)."""


def tiny_context(
    space: str = "nb201", total_passes: int = 20, seed: int = 0, batch: int = 8, res: int = 8, device: str = "cpu"
):
    """A TrainContext over random tensors (on `device`): enough for method mechanics, no data files."""
    g = torch.Generator().manual_seed(1234)
    images = torch.randn(64, 3, res, res, generator=g).to(device)
    labels = torch.randint(0, 10, (64,), generator=g).to(device)
    state = {"i": 0}

    def next_batch():
        i = state["i"]
        state["i"] = (i + batch) % 64
        return images[i : i + batch], labels[i : i + batch]

    torch.manual_seed(seed)
    return TrainContext(
        space=get_space(space),
        num_classes=10,
        supernet_kwargs=dict(TINY_SUPERNET),
        next_batch=next_batch,
        total_passes=total_passes,
        batch_size=batch,
        train_size=64,
        seed=seed,
        rng=np.random.default_rng(seed),
        device=torch.device(device),
    )


class FakeBatches:
    """Deterministic random 8x8 batches; the counter is the stream state."""

    def __init__(self, batch_size: int = 4):
        self.batch_size, self.i = batch_size, 0

    def __call__(self):
        g = torch.Generator().manual_seed(1000 + self.i)
        self.i += 1
        return torch.randn(self.batch_size, 3, 8, 8, generator=g), torch.randint(0, 10, (self.batch_size,), generator=g)


def fake_context(space: str = "nb201", total_passes: int = 10, seed: int = 0) -> TrainContext:
    """A tiny C=4 context on FakeBatches (seeded torch global RNG, as the protocol does)."""
    torch.manual_seed(seed)
    return TrainContext(
        space=get_space(space),
        num_classes=10,
        supernet_kwargs=dict(C=4, N=1),
        next_batch=FakeBatches(),
        total_passes=total_passes,
        batch_size=4,
        train_size=16,
        seed=seed,
        rng=np.random.default_rng(seed),
    )
