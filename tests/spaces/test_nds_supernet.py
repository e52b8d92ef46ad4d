"""NDS weight-sharing supernet: shapes at min/max depth and width, slicing = the stand-alone network,
BN slicing, and the weight keyings methods swap in (CLOSE interval splitting, CLOSE-S, GM-NAS)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn as nn
from supernet_bench.core.errors import BenchError
from supernet_bench.evaluation import score_architecture
from supernet_bench.methods import create_method
from supernet_bench.methods.close.interval_glow import IntervalGlowWeights
from supernet_bench.spaces import get_space
from supernet_bench.spaces.nds.design import anynet_params
from supernet_bench.spaces.nds.supernet import SlicedBatchNorm2d, SlicedBlock, scaled

from tests.methods.close.test_close import perturb_bn, scores
from tests.spaces.nds_helpers import nds_context

SPACES = ["nds-resnet", "nds-resnexta"]
WIDTH = 0.125  # widths 2..32


def _numel(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def corner(space, depth: str, width: str) -> tuple[int, ...]:
    """An arch with every depth / width at its min or max (other choices at their min / max too)."""
    small, large = space.extreme_archs()
    pick = {"depth": depth, "width": width}
    return tuple(
        (large if pick.get(slot.name.rstrip("123"), width) == "max" else small)[i] for i, slot in enumerate(space.slots)
    )


@pytest.mark.parametrize("name", SPACES)
@pytest.mark.parametrize(("depth", "width"), [("min", "min"), ("min", "max"), ("max", "min"), ("max", "max")])
def test_output_shapes_at_min_and_max_depth_and_width(name, depth, width):
    sp = get_space(name)
    torch.manual_seed(0)
    net = sp.build_supernet(10, width_mult=WIDTH)
    arch = corner(sp, depth, width)
    cfg = sp.config(arch)
    shapes = []
    hooks = [m.register_forward_hook(lambda m, i, o: shapes.append(tuple(o.shape)))
             for m in net.modules() if isinstance(m, SlicedBlock)]  # fmt: skip
    out = net(torch.randn(2, 3, 16, 16), arch)
    for h in hooks:
        h.remove()
    assert out.shape == (2, 10)
    expected = [
        (2, scaled(w, WIDTH), 16 // r, 16 // r) for d, w, r in zip(cfg.depths, cfg.widths, (1, 2, 4)) for _ in range(d)
    ]
    assert shapes == expected


@pytest.mark.parametrize("name", SPACES)
def test_keying_one_block_per_position(name):
    sp = get_space(name)
    net = sp.build_supernet(10, width_mult=WIDTH)
    d = sp.design.max_depth
    assert net.weights.num_slots == 3 * d and len(net.weights.ops) == 3 * d
    firsts = [net.weights.module(0, s * d, 0) for s in range(3)]
    assert all(hasattr(b, "proj") for b in firsts)
    assert not any(hasattr(net.weights.module(0, slot, 0), "proj") for slot in range(3 * d) if slot % d)
    assert net.max_width == scaled(256, WIDTH) and net.stem_width == scaled(16, WIDTH)


@pytest.mark.parametrize("name", SPACES)
@pytest.mark.parametrize("bn_affine", [False, True])
def test_subnet_computes_the_standalone_network_with_its_weights(name, bn_affine):
    sp = get_space(name)
    torch.manual_seed(1)
    net = sp.build_supernet(10, width_mult=WIDTH, bn_affine=bn_affine)
    perturb_bn(net)
    x = torch.randn(3, 3, 8, 8)
    for arch in [*sp.extreme_archs(), *sp.sample_distinct(np.random.default_rng(2), 3)]:
        sub = net.extract(arch)
        _, widths, wbs, groups = net.path(arch)
        cfg = sp.config(arch)
        assert _numel(sub) == anynet_params(
            sp.design.block_type, net.stem_width, cfg.depths, widths, wbs, groups, affine=bn_affine
        )
        net.eval(), sub.eval()
        with torch.no_grad():
            assert torch.allclose(net(x, arch), sub(x), atol=1e-5)
        net.train(), sub.train()
        with torch.no_grad():
            assert torch.allclose(net(x, arch), sub(x), atol=1e-4)  # batch statistics


def test_sliced_bn_updates_only_the_used_channels_and_recalibrates():
    sp = get_space("nds-resnet")
    torch.manual_seed(0)
    net = sp.build_supernet(10, width_mult=WIDTH)
    arch = sp.decode("ds=1,1,1;ws=16,16,16")  # width 2 in every stage
    net.train()
    net(torch.randn(4, 3, 8, 8), arch)
    bn = net.weights.module(0, 0, 0).a_bn
    assert isinstance(bn, SlicedBatchNorm2d)
    assert not torch.equal(bn.running_mean[:2], torch.zeros(2)) and torch.equal(bn.running_mean[2:], torch.zeros(30))
    batch = (torch.randn(8, 3, 8, 8), torch.randint(0, 10, (8,)))
    acc, loss = score_architecture(lambda x: net(x, arch), net, [batch], [batch], "recalibrate")
    assert 0 <= acc <= 100 and np.isfinite(loss)


def test_options_are_checked():
    sp = get_space("nds-resnexta")
    with pytest.raises(BenchError, match="width_mult must be a number > 0"):
        sp.build_supernet(10, width_mult=0)
    with pytest.raises(BenchError, match="unknown supernet option.*nds-resnexta: C"):
        sp.build_supernet(10, C=4)
    with pytest.raises(BenchError, match="must have 12 op indices"):
        sp.build_supernet(10, width_mult=WIDTH)(torch.randn(1, 3, 8, 8), (0,) * 6)


# --- CLOSE interval splitting on NDS (mirrors the NAS-Bench-Macro test) -----------------------------------------
def make(method: str, ctx, **params):
    m = create_method(method, {method: params})
    m.setup(ctx)
    return m


@pytest.mark.parametrize(("name", "half"), [("nds-resnet", 11), ("nds-resnexta", 7)])
def test_close_interval_split_keeps_the_network_function(name, half):
    m = make("close", nds_context(name, total_passes=10), block_fractions=[0.0, 0.5])
    w = m.weights
    sp = m.ctx.space
    positions = sp.design.max_depth - 1
    assert isinstance(w, IntervalGlowWeights) and w.num_positions == positions and w.num_blocks == 2
    m.step()
    m.step()
    perturb_bn(m.net)
    archs = [*sp.extreme_archs(), *sp.sample_distinct(np.random.default_rng(0), 3)]
    x = torch.randn(2, 3, 8, 8)
    before = scores(m, archs, x)
    m.add_block()
    after = scores(m, archs, x)
    assert all(torch.equal(b, a) for b, a in zip(before, after))
    assert w.partition() == [[0, half, 0], [half, positions, 1]]
    deep = sp.extreme_archs()[1]  # max depth: positions beyond `half` use the new block
    assert w.module(0, 1, 0) is w.blocks[0][0][0]["0"] and w.module(0, half + 1, 0) is w.blocks[0][0][1]["0"]
    m.step()
    assert m.diagnostics()["num_blocks"] == 2 and np.isfinite(m.net(x, deep).sum().item())


def test_close_paper_schedule_splits_nine_times_at_the_start():
    fractions = [0.0] * 9 + [0.2, 0.2, 0.4, 0.4, 0.6, 0.6, 0.8, 0.8]  # aw_nas resnet_cl-9-22446688_lr-4_pre
    m = make("close", nds_context("nds-resnet", total_passes=20), block_fractions=fractions)
    assert m.weights.num_blocks == 17
    m.step()
    ivs = m.weights.partition()
    assert len(ivs) == 9 and ivs[0][0] == 0 and ivs[-1][1] == 23
    assert all(a[1] == b[0] for a, b in zip(ivs, ivs[1:]))


def test_close_s_split_all_keeps_the_network_function():
    m = make("close-s", nds_context("nds-resnexta", total_passes=10))
    sp = m.ctx.space
    m.step()
    perturb_bn(m.supernet)
    archs = [sp.extreme_archs()[1], *sp.sample_distinct(np.random.default_rng(0), 2)]
    x = torch.randn(2, 3, 8, 8)
    before = scores(m, archs, x)
    m.switch()
    assert all(torch.equal(b, a) for b, a in zip(before, scores(m, archs, x)))
    assert m.weights.num_active == sp.design.max_depth - 1


def test_gmnas_shared_weights_are_every_block_weight():
    m = make("gmnas", nds_context("nds-resnet", total_passes=200), gm_budget_fraction=0.06)
    node = m.nodes[0]
    net = node.trainer.supernet
    for slot in (0, 4):
        assert {id(p) for p in m.shared_params(node, slot)} == {id(p) for p in net.weights.parameters()}
    while m.phase == "warmup":
        assert m.step() == 1
    assert m.step() in (9, 12)  # one gradient-matching batch: every depth (9) or width (12) of the scored slot
