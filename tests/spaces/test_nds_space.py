"""NDS ResNet / ResNeXt-A spaces: registry, slots, encodings, NDS `net` dicts, #params, hooks methods use."""

from __future__ import annotations

import numpy as np
import pytest
import torch.nn as nn
from supernet_bench.core.errors import BenchError, UnknownNameError
from supernet_bench.methods import check_supported, create_method
from supernet_bench.methods.policies.calr import CaLR
from supernet_bench.methods.policies.ms import MomentumSeparation
from supernet_bench.spaces import get_space, space_names
from supernet_bench.spaces.nds.design import BOTTLENECK, RESNEXT_A, anynet_params
from supernet_bench.spaces.nds.supernet import NDSNetwork

RESNET_EXAMPLE = "ds=16,8,6;ws=40,40,16"
RESNEXT_EXAMPLE = "ds=16,8,4;ws=32,32,16;bot_muls=0.25,0.5,1;num_gs=4,2,1"


@pytest.fixture(scope="module", params=["nds-resnet", "nds-resnexta"])
def space(request):
    return get_space(request.param)


def _numel(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


# --- registry and slots ------------------------------------------------------------------------------------
def test_registry_slots_sizes_and_subsets():
    assert {"nds-resnet", "nds-resnexta"} <= set(space_names())
    r, x = get_space("nds-resnet"), get_space("nds-resnexta")
    assert r.sequential and x.sequential and r.label == "nds-resnet"
    assert [s.name for s in r.slots] == ["depth1", "depth2", "depth3", "width1", "width2", "width3"]
    assert [s.name for s in x.slots][6:] == ["bot_mul1", "bot_mul2", "bot_mul3", "groups1", "groups2", "groups3"]
    assert r.slots[0].ops == ("1", "2", "3", "4", "6", "8", "12", "16", "24") and r.slots[3].ops[-1] == "256"
    assert x.slots[6].ops == ("0.25", "0.5", "1") and x.slots[9].ops == ("1", "2", "4")
    # the aw_nas supernet tests' sizes: 108^3 and 225^3 (75^3 without group search)
    assert r.size() == 1_259_712 and x.size() == 11_390_625 and get_space("nds-resnexta:no-groups").size() == 421_875
    assert list(r.gt_columns()) == ["test_acc", "final_test_acc", "test_acc_3seed"]
    assert list(x.gt_columns()) == ["test_acc", "final_test_acc"]
    with pytest.raises(UnknownNameError, match="Unknown nds-resnet subset 'no-groups'. Available: full"):
        get_space("nds-resnet:no-groups")


# --- encodings ----------------------------------------------------------------------------------------------
def test_round_trip_of_encodings(space):
    rng = np.random.default_rng(0)
    for arch in space.sample_distinct(rng, 300):
        text = space.encode(arch)
        assert space.decode(text) == arch and space.from_net(space.to_net(arch)) == arch
        assert space.check(space.to_net(arch)) == arch and space.check(list(arch)) == arch


def test_known_strings_and_lenient_parsing():
    r, x = get_space("nds-resnet"), get_space("nds-resnexta")
    arch = r.decode(RESNET_EXAMPLE)
    assert arch == (7, 5, 4, 3, 3, 0) and r.encode(arch) == RESNET_EXAMPLE
    assert r.decode(" ws = 40,40,16 ; ds=16.0,8,6 ") == arch  # key order, spaces, 16.0
    a = x.decode(RESNEXT_EXAMPLE)
    assert x.encode(a) == RESNEXT_EXAMPLE and x.config(a).bot_muls == (0.25, 0.5, 1.0)
    assert x.to_net(a) == {
        "block_type": BOTTLENECK, "ds": [1, 16, 8, 4], "ws": [16, 32, 32, 16], "ss": [1, 1, 2, 2],
        "bot_muls": [0.0, 0.25, 0.5, 1.0], "num_gs": [1, 4, 2, 1],
    }  # fmt: skip
    nogroups = get_space("nds-resnexta:no-groups")
    with pytest.raises(BenchError, match="not in space nds-resnexta:no-groups"):
        nogroups.decode(RESNEXT_EXAMPLE)


@pytest.mark.parametrize(
    ("text", "pattern"),
    [
        ("ds=1,2,4", "missing ws"),
        ("ds=1,2,4;ws=16,32", "ws needs 3 values"),
        ("ds=1,2,5;ws=16,32,64", r"ds 5 is not in the design space \(one of 1, 2, 3, 4, 6, 8, 12, 16, 24\)"),
        ("ds=1,2,4;ws=16,32,64;num_gs=1,1,1", "unknown key 'num_gs'"),
        ("ds=1,2,4;ds=1,2,4", "key 'ds' given twice"),
        ("ds=1,two,4;ws=16,32,64", "ds values must be numbers"),
        ("depth 1 2 4", "expected key=v1,v2,v3 parts"),
        (123, "must be a string, got int"),
    ],
)
def test_decode_errors(text, pattern):
    with pytest.raises(BenchError, match=pattern):
        get_space("nds-resnet").decode(text)


# --- NDS `net` dicts ----------------------------------------------------------------------------------------
def test_net_dict_variants_are_accepted():
    r, x = get_space("nds-resnet"), get_space("nds-resnexta")
    arch = r.decode(RESNET_EXAMPLE)
    net = r.to_net(arch)
    assert net == {"block_type": "res_basic_block", "ds": [1, 16, 8, 6], "ws": [16, 40, 40, 16], "ss": [1, 1, 2, 2]}
    extras = {**net, "stem_type": "res_stem_cifar", "stem_w": 16, "nc": 10, "se_r": None, "bot_muls": []}
    assert r.from_net(extras) == arch
    stages_only = {"ds": [16, 8, 6], "ws": [40, 40, 16], "ss": [1, 2, 2]}  # without the stem entry
    assert r.from_net(stages_only) == arch
    a = x.decode(RESNEXT_EXAMPLE)
    xnet = {**x.to_net(a), "bot_muls": [0, 0.25, 0.5, 1], "num_gs": [1.0, 4, 2, 1]}  # ints/floats mixed
    assert x.from_net(xnet) == a


@pytest.mark.parametrize(
    ("change", "pattern"),
    [
        ({"block_type": BOTTLENECK}, "is a 'res_bottleneck_block' network; NDS ResNet holds 'res_basic_block'"),
        ({"ws": [32, 40, 40, 16]}, r"net\['ws'\]\[0\] is the stem's entry and must be 16"),
        ({"ss": [1, 2, 2, 2]}, r"strides \[2, 2, 2\] differ from the design space's \[1, 2, 2\]"),
        ({"ws": [16, 40, 41, 16]}, "ws 41 is not in the design space"),
        ({"ds": [1, 16]}, r"net\['ds'\] must list 4 values"),
        ({"bot_muls": [0.0, 0.25, 0.25, 0.25]}, "res_basic_block networks have no bot_muls"),
        ({"se_r": 0.25}, "squeeze-excitation"),
        ({"stem_w": 32}, "stem width 32"),
    ],
)
def test_bad_net_dicts(change, pattern):
    r = get_space("nds-resnet")
    net = {**r.to_net(r.decode(RESNET_EXAMPLE)), **change}
    with pytest.raises(BenchError, match=pattern):
        r.from_net(net)


def test_net_must_be_a_dict():
    with pytest.raises(BenchError, match="net must be a dict, got list"):
        get_space("nds-resnet").from_net([1, 2])


# --- #params ------------------------------------------------------------------------------------------------
def test_params_by_hand():
    # ResNet smallest: stem 27*16+32, stage 1 (16->16, no projection) 2*(9*256)+4*16,
    # stages 2-3 the same + projection 16*16+32, head 16*10+10
    assert get_space("nds-resnet").complexity_bounds()[0] == 464 + 4672 + 2 * (4672 + 288) + 170
    # ResNeXt-A smallest (d1, w16, bot_mul 0.25 -> w_b 4, 4 groups): block 16*4 + 9*4*1 + 4*16 + BN 2*(4+4+16)
    block = 64 + 36 + 64 + 48
    assert get_space("nds-resnexta").complexity_bounds()[0] == 464 + block + 2 * (block + 288) + 170


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("nds-resnet", "ds=1,2,1;ws=16,24,16"),  # stage 1 keeps the stem width: identity shortcut
        ("nds-resnet", "ds=2,1,3;ws=24,16,40"),  # width decreases: stride-2 projections
        ("nds-resnexta", "ds=2,1,2;ws=16,32,16;bot_muls=0.25,1,0.5;num_gs=1,4,2"),
        ("nds-resnexta", "ds=1,2,1;ws=32,16,64;bot_muls=1,0.5,0.25;num_gs=2,2,4"),
    ],
)
def test_params_formula_equals_the_standalone_network(name, text):
    sp = get_space(name)
    cfg = sp.config(sp.decode(text))
    w_bs = [round(w * b) for w, b in zip(cfg.widths, cfg.bot_muls)]
    net = NDSNetwork(sp.design.block_type, 16, cfg.depths, cfg.widths, w_bs, cfg.groups)
    assert _numel(net) == sp.complexity(sp.decode(text))
    assert sp.complexity(sp.decode(text)) == anynet_params(sp.design.block_type, 16, cfg.depths, cfg.widths, w_bs,
                                                           cfg.groups)  # fmt: skip


def test_complexity_bounds_are_the_extreme_corners(space):
    lo, hi = space.complexity_bounds()
    small, large = space.extreme_archs()
    assert (space.complexity(small), space.complexity(large)) == (lo, hi)
    comps = space.complexities(space.sample_distinct(np.random.default_rng(1), 400))
    assert lo <= comps.min() and comps.max() <= hi
    calr = CaLR().bind(space)  # CaLR takes the exact bounds instead of sampling
    assert (calr.c_min, calr.c_max) == (lo, hi)


def test_groups_lower_and_bottleneck_multipliers_raise_params():
    x = get_space("nds-resnexta")
    base = "ds=2,2,2;ws=64,64,64;bot_muls={b};num_gs={g}"
    c = {(b, g): x.complexity(x.decode(base.format(b=f"{b},{b},{b}", g=f"{g},{g},{g}")))
         for b in (0.25, 0.5, 1) for g in (1, 2, 4)}  # fmt: skip
    assert c[(0.25, 1)] < c[(0.5, 1)] < c[(1, 1)] and c[(1, 4)] < c[(1, 2)] < c[(1, 1)]
    assert RESNEXT_A.groups == (1, 2, 4)


# --- what methods read from the space -----------------------------------------------------------------------
def test_stage_slices_are_block_positions(space):
    d = space.design.max_depth
    assert [list(r) for r in space.stage_slices()] == [list(range(s * d, (s + 1) * d)) for s in range(3)]


def test_ms_clusters_on_stage_one_depth(space):
    ms = MomentumSeparation().bind(space, space.allowed, np.random.default_rng(3))
    assert ms.chosen == 0 and ms.decisions()["ms_slot"] == "depth1"
    assert ms.decisions()["ms_clusters"] == list(space.slots[0].ops)


def test_conditional_weights_refused_with_one_clear_error(space):
    with pytest.raises(BenchError, match=f"^cond-weights does not apply to space {space.label}: .*shares"):
        check_supported(create_method("cond-weights"), space)
    check_supported(create_method("close"), space)  # stages: CLOSE's interval variant applies
