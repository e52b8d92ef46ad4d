"""The DARTS cell supernet: shapes, slot usage per cell type, none edges skipped, build options."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from supernet_bench.core.errors import BenchError
from supernet_bench.spaces import get_space
from supernet_bench.spaces.darts.space import EDGES_PER_CELL, NONE
from supernet_bench.spaces.darts.supernet import DartsSupernet


def tiny(**kw):
    torch.manual_seed(0)
    return DartsSupernet(num_classes=10, C=4, layers=5, **kw)


def spy_calls(net, arch, x):
    calls = []
    original = net.weights.forward

    def spy(layer, slot, op, inp, a):
        calls.append((layer, slot, op))
        return original(layer, slot, op, inp, a)

    net.weights.forward = spy
    out = net(x, arch)
    return calls, out


def test_layout():
    net = tiny()
    assert net.reduction == [False, True, False, True, False]
    assert net.cell_channels == [4, 8, 8, 16, 16]
    assert net.classifier.in_features == 64


def test_forward_backward_and_slot_usage():
    net = tiny()
    arch = get_space("darts").sample(np.random.default_rng(0))
    x = torch.randn(2, 3, 8, 8)
    calls, out = spy_calls(net, arch, x)
    assert out.shape == (2, 10)
    out.sum().backward()
    assert len(calls) == 5 * 8  # 8 non-none edges per cell, none edges skipped
    for layer, slot, op in calls:
        base = EDGES_PER_CELL if net.reduction[layer] else 0
        assert base <= slot < base + EDGES_PER_CELL and op == arch[slot] and op != NONE
    used = {(layer, slot, op) for layer, slot, op in calls}
    for name, p in net.weights.named_parameters():
        layer, slot, op = (int(v) for v in name.split(".")[1].split("_"))
        assert (p.grad is not None and p.grad.abs().sum() > 0) == ((layer, slot, op) in used), name


def test_unused_slots_have_no_parameters():
    net = tiny()
    for layer in range(5):
        base = EDGES_PER_CELL if net.reduction[layer] else 0
        other = EDGES_PER_CELL - base
        for slot in range(other, other + EDGES_PER_CELL):
            for op in range(8):
                assert sum(p.numel() for p in net.weights.module(layer, slot, op).parameters()) == 0


def test_reduction_ops_stride_two_and_bn_affine():
    net = tiny(bn_affine=True)
    x = torch.randn(2, 3, 16, 16)
    s0 = s1 = net.stem(x)
    s0, s1 = s1, net.cell(0, s0, s1, get_space("darts").sample(np.random.default_rng(1)))
    assert s1.shape == (2, 16, 16, 16)
    out = net.cell(1, s0, s1, get_space("darts").sample(np.random.default_rng(2)))
    assert out.shape == (2, 32, 8, 8)
    assert any(m.affine for m in net.weights.modules() if isinstance(m, torch.nn.BatchNorm2d))
    assert not any(m.affine for m in tiny().weights.modules() if isinstance(m, torch.nn.BatchNorm2d))


def test_arch_outside_space_still_runs():
    """FairNAS paths ignore the 2-input constraint; nodes without inputs become zeros."""
    net = tiny()
    out = net(torch.randn(1, 3, 8, 8), (NONE,) * 28)
    assert out.shape == (1, 10)
    out = net(torch.randn(1, 3, 8, 8), (4,) * 28)
    assert out.shape == (1, 10)


def test_build_supernet_options():
    space = get_space("darts")
    net = space.build_supernet(10, C=4, layers=3, dropout=0.1)
    assert isinstance(net, DartsSupernet) and net.reduction == [False, True, True]
    with pytest.raises(BenchError, match="unknown supernet option.*N"):
        space.build_supernet(10, C=4, N=1)
    with pytest.raises(BenchError, match="did you mean 'layers'"):
        space.build_supernet(10, C=4, layer=3)
