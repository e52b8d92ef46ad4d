"""The two samplers and FairNAS mechanics (docs/methods.md#spos, #fairnas): SPOS draws uniformly; FairNAS uses every op
of every slot once per step, takes one optimizer step per m passes, and sums the m subnets' gradients
on one batch; with MS the cluster slot is pinned for all m."""

from __future__ import annotations

import copy

import numpy as np
import torch
import torch.nn.functional as F
from scipy.stats import chisquare
from supernet_bench.methods import create_method
from supernet_bench.methods.base import mask_with
from supernet_bench.methods.sampling import fair_paths
from supernet_bench.spaces import get_space

from tests.helpers import tiny_context


def setup_method(name: str, total_passes: int = 50):
    method = create_method(name)
    method.setup(tiny_context(total_passes=total_passes))
    return method


def record_batches(method) -> list:
    """Wrap the context's batch source so a test can replay what the method trained on."""
    seen, source = [], method.ctx.next_batch

    def next_batch():
        seen.append(source())
        return seen[-1]

    method.ctx.next_batch = next_batch
    return seen


def grads_at_optimizer_step(optimizer) -> list:
    """Record the gradients every `optimizer.step` call sees."""
    seen, real = [], optimizer.step

    def step(*args, **kwargs):
        seen.append([None if p.grad is None else p.grad.clone() for p in optimizer.param_groups[0]["params"]])
        return real(*args, **kwargs)

    optimizer.step = step
    return seen


def test_spos_samples_uniformly():
    trainer = setup_method("spos").trainer
    archs = np.array([trainer.sample_step()[1][0] for _ in range(5000)])
    for slot in range(6):
        assert chisquare(np.bincount(archs[:, slot], minlength=5)).pvalue > 1e-3
    pairs = archs[:, 0] * 5 + archs[:, 5]  # slots are drawn independently
    assert chisquare(np.bincount(pairs, minlength=25)).pvalue > 1e-3


def test_fair_paths_use_every_op_of_every_slot_once():
    space = get_space("nb201")
    rng = np.random.default_rng(0)
    for _ in range(20):
        archs = fair_paths(space, rng, space.allowed)
        assert len(archs) == 5
        for slot in range(6):
            assert sorted(a[slot] for a in archs) == [0, 1, 2, 3, 4]


def test_fair_paths_repeat_a_pinned_slot_and_cover_unequal_slots():
    space = get_space("nb201")
    rng = np.random.default_rng(0)
    mask = mask_with(space.allowed, {2: 3})
    mask = mask[:4] + (frozenset({1, 2}),) + mask[5:]
    archs = fair_paths(space, rng, mask)
    assert len(archs) == 5 and all(a[2] == 3 for a in archs)
    assert {a[4] for a in archs} == {1, 2}


def test_one_step_trains_m_fair_subnets_and_takes_one_optimizer_step():
    method = setup_method("fairnas")
    trainer = method.trainer
    calls = grads_at_optimizer_step(trainer.optimizers[0])
    for k in range(1, 4):
        assert method.step() == 5
        assert len(calls) == k and trainer.t == k
        assert len(trainer.last_archs) == 5
        for slot in range(6):
            assert sorted(a[slot] for a in trainer.last_archs) == [0, 1, 2, 3, 4]


def test_gradients_are_summed_over_the_m_subnets_on_one_batch():
    method = setup_method("fairnas")
    trainer = method.trainer
    method.step()  # non-trivial weights and momentum first
    before = copy.deepcopy(trainer.supernet)
    before.zero_grad(set_to_none=True)
    batches = record_batches(method)
    calls = grads_at_optimizer_step(trainer.optimizers[0])
    method.step()
    (x, y), = batches
    before.train()
    for arch in trainer.last_archs:
        F.cross_entropy(before(x, arch), y).backward()
    for got, p in zip(calls[0], before.parameters(), strict=True):
        if p.grad is None:
            assert got is None or not got.any()
        else:
            torch.testing.assert_close(got, p.grad, rtol=1e-5, atol=1e-7)


def test_fairnas_ms_pins_the_cluster_slot_for_all_m_subnets():
    method = setup_method("fairnas+ms")
    trainer = method.trainer
    slot = trainer.policy("ms").chosen
    assert method.decisions()["ms_slot"] == get_space("nb201").slots[slot].name
    pinned = set()
    for _ in range(6):
        assert method.step() == 5
        ops = {a[slot] for a in trainer.last_archs}
        assert len(ops) == 1
        pinned |= ops
        for other in set(range(6)) - {slot}:
            assert sorted(a[other] for a in trainer.last_archs) == [0, 1, 2, 3, 4]
    assert len(pinned) > 1  # the cluster is drawn per step
