"""CLOSE-S (methods/close/close_s.py): shared block per cell, then per-edge copies with WIT + SRT."""

from __future__ import annotations

import copy

import pytest
import torch
from supernet_bench.methods import create_method
from supernet_bench.spaces.nb201.space import CONV1, CONV3, NONE, POOL, SKIP

from tests.methods.close.test_close import ARCHS, make_ctx, params_equal, scores


def make_close_s(ctx=None, **params):
    method = create_method("close-s", {"close-s": params})
    method.setup(ctx or make_ctx())
    return method


def block(m, layer, k, op=CONV3):
    return m.weights.blocks[layer][k][str(op)][1].weight  # the conv of ReLU-Conv-BN


def test_switch_keeps_outputs_and_restarts_lr():
    m = make_close_s(make_ctx(total_passes=10), lr_schedule="cosine")  # switch at step 4
    assert m.switch_step == 4
    x = torch.randn(3, 3, 8, 8)
    lrs = []
    for _ in range(4):
        m.step()
        lrs.append(m.trainer.optimizers[0].param_groups[0]["lr"])
    assert not m.switched and m.weights.assignment == (0,) * 6
    assert m.diagnostics()["num_blocks"] == 1
    before = scores(m, ARCHS, x)
    m.switch()
    after = scores(m, ARCHS, x)
    for b, a in zip(before, after):
        assert torch.equal(b, a)
    assert m.weights.assignment == tuple(range(6))
    assert all(torch.equal(block(m, 0, e), block(m, 0, 0)) for e in range(6))
    m.step()  # the SRT restart happens in this step
    assert m.trainer.restarts == [4]
    assert lrs[-1] < lrs[0] == pytest.approx(0.05)
    assert m.trainer.optimizers[0].param_groups[0]["lr"] == pytest.approx(0.05)
    assert m.diagnostics()["num_blocks"] == 6
    assert m.diagnostics()["sharing_extent"] == pytest.approx(4 * 5**5)
    assert m.decisions()["close-s"]["switched_at"] == 4


def test_stage_two_trains_edges_independently():
    m = make_close_s(make_ctx(total_passes=8), switch_fraction=0.25)
    for _ in range(8):
        m.step()
    assert m.switched
    w = [block(m, 0, e) for e in range(6)]
    assert any(not torch.equal(w[0], w[e]) for e in range(1, 6))


def test_stage_one_shares_one_copy_so_isomorphic_cells_compute_the_same_function():
    """With one op copy per cell, nodes 1 and 2 swapped (edge 2<-1 none) give the same network."""
    m = make_close_s(make_ctx(total_passes=10))
    for _ in range(3):
        m.step()
    a = (CONV3, CONV1, NONE, SKIP, POOL, CONV3)
    b = (CONV1, CONV3, NONE, SKIP, CONV3, POOL)
    x = torch.randn(3, 3, 8, 8)
    oa, ob = scores(m, [a, b], x)
    assert torch.allclose(oa, ob, atol=1e-5)
    m.switch()
    oa, ob = scores(m, [a, b], x)
    assert torch.allclose(oa, ob, atol=1e-5)  # copies are still identical right after the switch


def test_additive_wit_differs():
    m = make_close_s(wit="additive")
    m.step()
    shared = block(m, 0, 0).detach().clone()
    m.switch()
    assert torch.equal(block(m, 0, 0), shared)  # edge 0 keeps the shared block
    assert not torch.equal(block(m, 0, 1), shared)  # edge 1 = own init + shared


def test_resume_is_bit_identical():
    def fresh():
        return make_close_s(make_ctx(total_passes=8), switch_fraction=0.5)

    full = fresh()
    for _ in range(8):
        full.step()
    half = fresh()
    for _ in range(5):  # past the switch
        half.step()
    state = copy.deepcopy(half.state_dict())
    trng, nrng, i = torch.get_rng_state(), copy.deepcopy(half.ctx.rng.bit_generator.state), half.ctx.next_batch.i
    resumed = fresh()
    resumed.load_state_dict(state)
    torch.set_rng_state(trng)
    resumed.ctx.rng.bit_generator.state = nrng
    resumed.ctx.next_batch.i = i
    for _ in range(3):
        resumed.step()
    assert params_equal(resumed.supernet, full.supernet)
    assert resumed.decisions() == full.decisions()
