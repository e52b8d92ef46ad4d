"""The method contract, checked for every registered name (composites included), as the protocol uses it:
steps report positive passes, scoring works, a seed fixes the result, and state_dict/load_state_dict
continue a run bit-identically."""

from __future__ import annotations

import copy
import json

import numpy as np
import pytest
import torch
from supernet_bench.evaluation import score_architecture
from supernet_bench.methods import create_method, method_names
from supernet_bench.methods.base import TrainContext
from supernet_bench.spaces import get_space

TOTAL_PASSES = 6  # small, so budget events (Few-Shot's split, ...) happen within a few steps
PARAMS = {"gmnas": {"gm_budget_fraction": 0.06}}  # a budget this small cannot pay for full gradient matching
STEPS = 2


class Stream:
    """Random 8x8 batches whose position can be saved and restored, like the protocol's BatchStream."""

    def __init__(self, batch: int = 8, n: int = 32):
        g = torch.Generator().manual_seed(1234)
        self.images = torch.randn(n, 3, 8, 8, generator=g)
        self.labels = torch.randint(0, 10, (n,), generator=g)
        self.batch, self.i = batch, 0

    def next(self):
        i = self.i
        self.i = (i + self.batch) % len(self.labels)
        return self.images[i : i + self.batch], self.labels[i : i + self.batch]


def build(name: str, seed: int = 0):
    """A set-up method and its stream, seeded the way the protocol seeds a run."""
    stream = Stream()
    torch.manual_seed(seed)
    ctx = TrainContext(
        space=get_space("nb201"),
        num_classes=10,
        supernet_kwargs={"C": 4, "N": 1},
        next_batch=stream.next,
        total_passes=TOTAL_PASSES,
        batch_size=stream.batch,
        train_size=len(stream.labels),
        seed=seed,
        rng=np.random.default_rng(seed),
    )
    method = create_method(name, PARAMS)
    method.setup(ctx)
    return method, ctx, stream


def steps(method, n: int = STEPS) -> list[int]:
    return [method.step() for _ in range(n)]


def assert_same(a, b, where: str = "state") -> None:
    """Nested containers equal, tensors bit-identical."""
    if isinstance(a, torch.Tensor):
        assert isinstance(b, torch.Tensor) and a.dtype == b.dtype and torch.equal(a, b), where
    elif isinstance(a, dict):
        assert isinstance(b, dict) and a.keys() == b.keys(), where
        for k in a:
            assert_same(a[k], b[k], f"{where}.{k}")
    elif isinstance(a, (list, tuple)):
        assert isinstance(b, (list, tuple)) and len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            assert_same(x, y, f"{where}[{i}]")
    else:
        assert a == b, where


def scores(method, stream: Stream) -> tuple[float, float]:
    arch = (3, 1, 2, 4, 3, 1)
    sm = method.scoring_model(arch)
    batch = (stream.images[:16], stream.labels[:16])
    return score_architecture(sm.forward, sm.module, [batch], [batch], "recalibrate")


@pytest.fixture(params=method_names())
def name(request):
    return request.param


def test_steps_report_positive_passes(name):
    method, _, _ = build(name)
    spent = steps(method)
    assert all(isinstance(p, int) and p > 0 for p in spent)


def test_scoring_model_scores_any_arch_and_keeps_training_state(name):
    method, ctx, stream = build(name)
    steps(method)
    before = copy.deepcopy(method.state_dict())
    batch = (stream.images[:8], stream.labels[:8])
    for arch in ctx.space.sample_distinct(np.random.default_rng(0), 5):
        sm = method.scoring_model(arch)
        acc, loss = score_architecture(sm.forward, sm.module, [batch], [batch], "recalibrate")
        assert 0 <= acc <= 100 and np.isfinite(loss)
    assert_same(before, method.state_dict())  # BN state lives in the module the scoring model names


def test_decisions_and_diagnostics_are_json(name):
    method, _, _ = build(name)
    json.dumps(method.decisions())
    steps(method)
    diag = method.diagnostics()
    assert all(isinstance(v, (int, float)) for v in diag.values())
    json.dumps(method.get_params())


def test_same_seed_gives_identical_weights(name):
    a, _, _ = build(name, seed=3)
    b, _, _ = build(name, seed=3)
    assert steps(a) == steps(b)
    assert_same(a.state_dict(), b.state_dict())


def test_state_dict_round_trip_continues_identically(name):
    a, ctx_a, stream_a = build(name)
    steps(a)
    saved = copy.deepcopy(
        {
            "method": a.state_dict(),
            "numpy": ctx_a.rng.bit_generator.state,
            "torch": torch.get_rng_state(),
            "stream": stream_a.i,
        }
    )
    spent_a = steps(a)

    b, ctx_b, stream_b = build(name)
    torch.manual_seed(99)  # any RNG use after setup must come from the restored state
    b.load_state_dict(saved["method"])  # as the protocol: method first, then the random streams
    ctx_b.rng.bit_generator.state = saved["numpy"]
    torch.set_rng_state(saved["torch"])
    stream_b.i = saved["stream"]
    assert steps(b) == spent_a
    assert_same(a.state_dict(), b.state_dict())
    assert scores(a, stream_a) == scores(b, stream_b)
