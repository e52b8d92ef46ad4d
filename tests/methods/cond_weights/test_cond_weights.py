"""Conditional super-network weights (methods/cond_weights/method.py, methods/cond_weights/weights.py): tiny NB201
supernets (C=4, N=1, 8x8 random images) in a fake training context."""

from __future__ import annotations

import copy
import dataclasses
import types

import numpy as np
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from supernet_bench.core.errors import BenchError
from supernet_bench.methods import create_method
from supernet_bench.methods.base import TrainContext
from supernet_bench.methods.cond_weights.weights import (
    DEFAULT_DEPENDENCIES,
    ConditionalWeights,
    conditional_weights_factory,
    dependencies_for,
    sequential_dependencies,
    unsplit_ops_for,
)
from supernet_bench.spaces import get_space, space_names
from supernet_bench.spaces.base import Slot
from supernet_bench.spaces.nb201.space import CONV1, CONV3, NONE, POOL, SKIP

from tests.helpers import FakeBatches, fake_context

NB201_DEPS = {0: (), 1: (), 2: (0,), 3: (), 4: (0,), 5: (1, 2)}


def make(space: str = "nb201", total_passes: int = 10, seed: int = 0, **params):
    ctx = fake_context(space, total_passes, seed)
    method = create_method("cond-weights", {"cond-weights": params})
    method.setup(ctx)
    return method, ctx


def train_on(method, arch) -> None:
    """One optimizer step of the method's trainer on a chosen architecture."""
    tr = method.trainer
    x, y = method.ctx.next_batch()
    opt = tr.optimizers[0]
    tr.supernet.train()
    opt.zero_grad(set_to_none=tr.set_to_none)
    F.cross_entropy(tr.supernet(x, arch), y).backward()
    opt.step()


def snapshot(module: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in module.state_dict().items()}


# --- dependency tables and weight-set counts --------------------------------------------------------------
def test_nb201_default_table_is_the_papers():
    assert DEFAULT_DEPENDENCIES["nb201"] == NB201_DEPS
    assert dependencies_for(get_space("nb201")) == NB201_DEPS


@pytest.mark.parametrize("subset", ["full", "no-zero", "only-conv"])
def test_weight_set_counts_follow_the_formula(subset):
    method, ctx = make(f"nb201:{subset}")
    a = len(ctx.space.allowed[0])  # ops per slot in this subset
    weighted = len({CONV1, CONV3} & ctx.space.allowed[0])
    expected_after = sum(weighted * int(np.prod([a for _ in NB201_DEPS[s]])) for s in range(6))
    assert {"full": 76, "no-zero": 54, "only-conv": 22}[subset] == expected_after  # 4- and 16-fold / 2- and 4-fold
    sets = method.weights.weight_sets()
    assert sets == [(6 * weighted, expected_after)] * 3  # 3 cells (N=1)
    d = method.decisions()
    assert (d["weight_sets_per_layer_before"], d["weight_sets_per_layer_after"]) == (6 * weighted, expected_after)
    method.split()
    assert method.weights.weight_sets() == sets  # the same count read from the split structure
    w = method.weights
    remaining = sum(
        1
        for k, m in w.ops.items()
        if int(k.split("_")[2]) in ctx.space.allowed[int(k.split("_")[1])] and any(True for _ in m.parameters())
    )
    n_modules = len(w.copies) + remaining
    assert n_modules == 3 * expected_after


def test_extra_parameter_memory_is_the_copies():
    method, _ = make()
    per_cell = sum(9 * c * c + c * c for c in (4, 8, 16))  # conv3x3 + conv1x1 weights (in-cell BN affine=False)
    extra_sets = 4 + 4 + 24  # slots 2<-1 and 3<-1: 5 copies each, 3<-2: 25
    assert method.decisions()["extra_param_mb"] == pytest.approx(per_cell * extra_sets * 4 / 2**20)
    before = sum(p.numel() for p in method.trainer.supernet.parameters())
    method.split()
    after = sum(p.numel() for p in method.trainer.supernet.parameters())
    assert (after - before) * 4 / 2**20 == pytest.approx(method.decisions()["extra_param_mb"])


def _fake_sequential_space():
    return types.SimpleNamespace(
        name="fake-seq",
        label="fake-seq",
        sequential=True,  # with stage_slices: the SequentialLayers capability
        stage_slices=lambda: (range(8),),
        slots=tuple(Slot(f"l{i}", ("a", "b", "skip")) for i in range(8)),
    )


def _fake_op(layer, slot, op):
    return nn.Identity() if op == 2 else nn.Conv2d(2, 2, 1)


def test_sequential_rule_gives_44_on_an_8_layer_3_op_space():
    space = _fake_sequential_space()
    deps = dependencies_for(space)
    assert deps == sequential_dependencies(8) == {0: (), **{i: (i - 1,) for i in range(1, 8)}}
    allowed = tuple(frozenset(range(3)) for _ in range(8))
    weights = ConditionalWeights(_fake_op, 1, 8, 3, dependencies=deps, allowed=allowed)
    assert weights.weight_sets() == [(16, 44)]
    weights.split()
    assert len(weights.copies) + sum(1 for k in weights.ops if not k.endswith("_2")) == 44


@pytest.mark.skipif("macro" not in space_names(), reason="spaces/macro not present")
def test_macro_space_gives_16_to_44():
    space = get_space("macro")
    deps = dependencies_for(space)
    assert deps == sequential_dependencies(8)
    factory = conditional_weights_factory(deps, space.allowed, unsplit_ops_for(space))
    torch.manual_seed(0)
    net = space.build_supernet(10, weights_factory=factory, width_mult=0.125)
    assert net.weights.weight_sets() == [(16, 44)]


def test_space_without_a_table_is_refused():
    space = types.SimpleNamespace(name="odd", label="odd", slots=(Slot("a", ("x",)),))
    with pytest.raises(BenchError, match="dependency table"):
        dependencies_for(space)
    space.conditional_dependencies = {0: (0,)}
    with pytest.raises(BenchError, match="not earlier slots"):
        dependencies_for(space)


# --- the split ----------------------------------------------------------------------------------------
def test_split_at_the_configured_fraction_and_records_it():
    method, _ = make(total_passes=10, split_fraction=0.5)
    for _ in range(5):
        method.step()
        assert not method.is_split
    method.step()
    assert method.is_split
    d = method.decisions()
    assert d["split_at_passes"] == 5 and d["split_done_at_passes"] == 5
    assert d["dependencies"]["3<-2"] == ["2<-0", "2<-1"]


def test_outputs_unchanged_right_after_the_split():
    method, ctx = make(split_fraction=1.0)
    for _ in range(3):
        method.step()
    net = method.trainer.supernet
    archs = [(CONV3,) * 6, (CONV1, SKIP, CONV3, NONE, CONV1, CONV3), (POOL, CONV3, CONV1, CONV3, SKIP, CONV1)]
    archs += ctx.space.sample_distinct(np.random.default_rng(1), 5)
    x = torch.randn(6, 3, 8, 8, generator=torch.Generator().manual_seed(7))
    net.eval()
    with torch.no_grad():
        before = [net(x, a) for a in archs]
    method.split()
    net.eval()
    with torch.no_grad():
        after = [net(x, a) for a in archs]
    for a, b in zip(before, after):
        assert torch.equal(a, b)


@pytest.mark.parametrize("copy_momentum", ["per-copy", "shared"])
@pytest.mark.parametrize("zero_grad", ["none", "zeros"])
def test_archs_differing_in_a_predecessor_use_different_copies(copy_momentum, zero_grad):
    method, _ = make(split_fraction=0.0, copy_momentum=copy_momentum, zero_grad=zero_grad)
    method.step()  # splits first (fraction 0), then trains one random path
    assert method.is_split
    w = method.weights
    a = (CONV1, SKIP, CONV3, SKIP, SKIP, SKIP)  # 2<-1 is conv3x3 conditioned on 1<-0 = conv1x1
    b = (CONV3, SKIP, CONV3, SKIP, SKIP, SKIP)  # same, but 1<-0 = conv3x3
    copy_a, copy_b = w.copy_module(0, 2, CONV3, (CONV1,)), w.copy_module(0, 2, CONV3, (CONV3,))
    others = {p: w.copy_module(0, 2, CONV3, (p,)) for p in (NONE, SKIP, POOL)}
    sa, sb = snapshot(copy_a), snapshot(copy_b)
    so = {p: snapshot(m) for p, m in others.items()}
    train_on(method, a)
    assert any(not torch.equal(v, copy_a.state_dict()[k]) for k, v in sa.items())
    for k, v in sb.items():
        assert torch.equal(v, copy_b.state_dict()[k])
    for p, m in others.items():
        for k, v in so[p].items():
            assert torch.equal(v, m.state_dict()[k])
    state = method.trainer.optimizers[0].state
    if copy_momentum == "shared":
        assert state[copy_a[1].weight] is state[copy_b[1].weight]
    else:
        assert copy_b[1].weight not in state or state[copy_b[1].weight] is not state[copy_a[1].weight]
    # and b trains its own copy only
    sa = snapshot(copy_a)
    train_on(method, b)
    assert all(torch.equal(v, copy_a.state_dict()[k]) for k, v in sa.items())


def test_copies_start_with_the_originals_momentum():
    for mode in ("per-copy", "shared"):
        method, _ = make(split_fraction=1.0, copy_momentum=mode)
        train_on(method, (CONV3,) * 6)
        orig = method.weights.ops["0_5_3"][1].weight
        buf = method.trainer.optimizers[0].state[orig]["momentum_buffer"].clone()
        method.split()
        state = method.trainer.optimizers[0].state
        bufs = [
            state[method.weights.copy_module(0, 5, CONV3, p)[1].weight]["momentum_buffer"] for p in [(1, 2), (4, 4)]
        ]
        assert all(torch.equal(b, buf) for b in bufs)
        assert (bufs[0] is bufs[1]) == (mode == "shared")


def test_split_fraction_one_is_spos_bit_for_bit():
    method, _ = make(split_fraction=1.0, total_passes=6)
    torch.manual_seed(0)
    spos = create_method("spos")
    spos.setup(
        TrainContext(
            space=get_space("nb201"),
            num_classes=10,
            supernet_kwargs=dict(C=4, N=1),
            next_batch=FakeBatches(),
            total_passes=6,
            batch_size=4,
            train_size=16,
            seed=0,
            rng=np.random.default_rng(0),
        )
    )
    for _ in range(4):
        assert method.step() == spos.step() == 1
    a, b = method.trainer.supernet.state_dict(), spos.trainer.supernet.state_dict()
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.parametrize("copy_momentum", ["per-copy", "shared"])
@pytest.mark.parametrize("cut", [2, 5])  # resume from before and from after the split
def test_resume_is_bit_identical(copy_momentum, cut):
    total, split = 8, 0.5
    a, ctx_a = make(total_passes=total, split_fraction=split, copy_momentum=copy_momentum)
    for _ in range(cut):
        a.step()
    saved = copy.deepcopy({"m": a.state_dict(), "rng": ctx_a.rng.bit_generator.state, "i": ctx_a.next_batch.i})
    for _ in range(total - cut):
        a.step()

    b, ctx_b = make(total_passes=total, split_fraction=split, copy_momentum=copy_momentum)
    b.load_state_dict(saved["m"])
    ctx_b.rng.bit_generator.state, ctx_b.next_batch.i = saved["rng"], saved["i"]
    if copy_momentum == "shared" and b.is_split:
        state = b.trainer.optimizers[0].state
        group = b.weights.copy_groups()[0]
        assert state[group[0][0]] is state[group[1][0]]
    for _ in range(total - cut):
        b.step()
    sa, sb = a.state_dict(), b.state_dict()
    assert sa["split"] and sb["split"] and sa["passes"] == sb["passes"]
    na, nb = sa["trainer"]["supernet"], sb["trainer"]["supernet"]
    assert na.keys() == nb.keys() and all(torch.equal(na[k], nb[k]) for k in na)
    oa, ob = sa["trainer"]["optimizers"][0]["state"], sb["trainer"]["optimizers"][0]["state"]
    assert oa.keys() == ob.keys()
    for k in oa:
        assert oa[k].keys() == ob[k].keys()
        assert all(torch.equal(oa[k][n], ob[k][n]) for n in oa[k])


def test_bad_options_are_refused():
    with pytest.raises(BenchError, match="copy_momentum"):
        make(copy_momentum="both")
    with pytest.raises(BenchError, match="split_fraction"):
        make(split_fraction=1.5)
    with pytest.raises(BenchError, match="split_fraction must be a number"):
        make(split_fraction="late")


@pytest.mark.parametrize(("space", "size", "expected"), [("nb201", {}, 0.6), ("macro", {"width_mult": 0.25}, 0.84)])
def test_split_defaults_to_the_papers_best_split_of_the_space(space, size, expected):
    def setup(**params):
        ctx = fake_context(space, total_passes=100)
        if size:
            ctx = dataclasses.replace(ctx, supernet_kwargs=size)
        method = create_method("cond-weights", {"cond-weights": params})
        method.setup(ctx)
        return method

    method = setup()
    assert method.split_point == expected and method.split_at == round(expected * 100)
    assert setup(split_fraction=0.3).split_at == 30  # an explicit value wins
