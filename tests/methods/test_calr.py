"""CaLR (docs/methods.md#calr, #combinations):
eta_t(alpha) = eta0 * (1 - t/T) ** gamma(alpha), gamma log-linear in #params
from gamma_max (smallest net) to 1/gamma_max (largest); with FairNAS the factor weights each subnet's
loss at constant LR instead."""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from supernet_bench.methods import create_method
from supernet_bench.methods.policies.calr import CaLR
from supernet_bench.spaces import get_space

from tests.helpers import tiny_context

LR = 0.025
SMALLEST, LARGEST = (0,) * 6, (3,) * 6  # all none, all conv3x3


@pytest.fixture(scope="module")
def space():
    return get_space("nb201")


@pytest.fixture(scope="module")
def median_arch(space):
    archs = list(space.enumerate())
    comps = space.complexities(archs)
    return archs[int(np.argsort(comps, kind="stable")[len(archs) // 2])]


def expected_gamma(space, arch, gamma_max=4.0) -> float:
    """Eqs. 4-6 written out independently of the implementation."""
    comps = space.complexities(list(space.enumerate()))
    ln_min, ln_max = math.log(comps.min()), math.log(comps.max())
    w = -(gamma_max - 1 / gamma_max) / (ln_max - ln_min)
    tau = 1 / gamma_max - w * ln_max
    return w * math.log(space.complexity(arch)) + tau


def pin_sampler(trainer, arch) -> None:
    trainer.sample = lambda space, rng, mask: [arch]


def test_gamma_spans_gamma_max_to_its_reciprocal(space):
    calr = CaLR(gamma_max=4.0).bind(space)
    assert calr.gamma(SMALLEST) == pytest.approx(4.0)
    assert calr.gamma(LARGEST) == pytest.approx(0.25)
    # worked values of docs/methods.md#calr (DYNAS conv-only count; ours adds BN, so 0.04 slack)
    for arch, gamma in [((2,) * 6, 2.56), ((3, 3, 3, 0, 0, 0), 1.05), ((2, 2, 2, 3, 3, 3), 0.93)]:
        assert calr.gamma(arch) == pytest.approx(gamma, abs=0.04)


@pytest.mark.parametrize("which", ["smallest", "median", "largest"])
def test_spos_calr_lr_follows_the_power_law(space, median_arch, which):
    arch = {"smallest": SMALLEST, "median": median_arch, "largest": LARGEST}[which]
    gamma = expected_gamma(space, arch)
    method = create_method("spos+calr")
    method.setup(tiny_context(total_passes=40))
    trainer = method.trainer
    T = trainer.total_steps
    assert T == 40
    pin_sampler(trainer, arch)
    for t in (0, T // 2, T):
        want = LR * (1 - t / T) ** gamma
        trainer.t = t
        assert trainer.lr_for(arch) == pytest.approx(want, rel=1e-12, abs=1e-15)
        if t < T:  # the optimizer really steps with it
            method.step()
            assert trainer.optimizers[0].param_groups[0]["lr"] == pytest.approx(want, rel=1e-12)


def test_fairnas_calr_weights_each_loss_by_its_factor_at_constant_lr(space):
    method = create_method("fairnas+calr")
    method.setup(tiny_context(total_passes=50))
    trainer = method.trainer
    assert trainer.policy("calr").resolved_mode(trainer.paths_per_step) == "loss"
    method.step()
    trainer.t = trainer.total_steps // 2
    progress = trainer.t / trainer.total_steps
    before = copy.deepcopy(trainer.supernet)
    before.zero_grad(set_to_none=True)
    batches, source = [], method.ctx.next_batch
    method.ctx.next_batch = lambda: batches.append(source()) or batches[-1]
    opt = trainer.optimizers[0]
    grads, real_step = [], opt.step

    def step(*a, **k):
        grads.append([None if p.grad is None else p.grad.clone() for p in opt.param_groups[0]["params"]])
        return real_step(*a, **k)

    opt.step = step
    method.step()
    assert opt.param_groups[0]["lr"] == LR
    (x, y), = batches
    factors = [(1 - progress) ** expected_gamma(space, a) for a in trainer.last_archs]
    assert len(set(np.round(factors, 12))) > 1  # the step mixes subnets of different size
    for arch, f in zip(trainer.last_archs, factors, strict=True):
        (f * F.cross_entropy(before(x, arch), y)).backward()
    for got, p in zip(grads[0], before.parameters(), strict=True):
        if p.grad is None:
            assert got is None or not got.any()
        else:
            torch.testing.assert_close(got, p.grad, rtol=1e-5, atol=1e-7)


def test_calr_decisions_record_the_complexity_range(space):
    method = create_method("spos+calr")
    method.setup(tiny_context())
    d = method.decisions()
    assert d["calr_gamma_max"] == 4.0
    assert d["calr_c_min"] == space.complexity(SMALLEST) and d["calr_c_max"] == space.complexity(LARGEST)
