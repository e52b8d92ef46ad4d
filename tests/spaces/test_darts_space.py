"""The DARTS / NB301 space: constraint, sampling, size, Genotype strings, NB301 config dicts, #params."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch
from supernet_bench.core.errors import BenchError
from supernet_bench.spaces import get_space, space_names
from supernet_bench.spaces.darts.space import (
    CONFIG_PREFIX,
    NONE,
    NUM_SLOTS,
    OPS,
    arch_to_config,
    config_to_arch,
    darts_param_count,
    valid_arch,
)

DARTS_V2 = (
    "Genotype(normal=[('sep_conv_3x3', 0), ('sep_conv_3x3', 1), ('sep_conv_3x3', 0), ('sep_conv_3x3', 1), "
    "('sep_conv_3x3', 1), ('skip_connect', 0), ('skip_connect', 0), ('dil_conv_3x3', 2)], normal_concat=[2, 3, 4, 5], "
    "reduce=[('max_pool_3x3', 0), ('max_pool_3x3', 1), ('skip_connect', 2), ('max_pool_3x3', 1), ('max_pool_3x3', 0), "
    "('skip_connect', 2), ('skip_connect', 2), ('max_pool_3x3', 1)], reduce_concat=[2, 3, 4, 5])"
)


@pytest.fixture(scope="module")
def space():
    return get_space("darts")


def test_registry_and_slots(space):
    assert "darts" in space_names()
    assert len(space.slots) == NUM_SLOTS == 28 and all(s.ops == OPS for s in space.slots)
    assert OPS[0] == "none" and len(OPS) == 8
    assert space.slots[0].name == "normal:2<-0" and space.slots[13].name == "normal:5<-4"
    assert space.slots[14].name == "reduce:2<-0" and space.slots[27].name == "reduce:5<-4"


def test_size_is_exact(space):
    per_cell = math.prod(math.comb(to, 2) * 7**2 for to in (2, 3, 4, 5))
    assert space.size() == per_cell**2
    # a narrow mask: brute force over one cell with the other cell pinned
    reduce = space.decode(DARTS_V2)[14:]
    mask = [frozenset({0, 4})] * 14
    count = sum(1 for a in itertools.product(*[sorted(m) for m in mask]) if valid_arch(a + reduce))
    pinned = [frozenset({op}) for op in reduce]
    assert space.size(mask + pinned) == count == 180
    assert space.size(mask + [frozenset({op}) for op in (3, 3) + (0,) * 12]) == 0  # nodes 3..5 without inputs


def test_enumerate_raises(space):
    with pytest.raises(BenchError, match="cannot be enumerated"):
        space.enumerate()


def test_sample_is_valid_and_uniform_over_pairs(space):
    rng = np.random.default_rng(0)
    archs = [space.sample(rng) for _ in range(600)]
    assert all(space.contains(a) for a in archs)
    # node 5 of the normal cell: 10 input pairs, each ~1/10
    pairs = [tuple(i for i, k in enumerate(range(9, 14)) if a[k] != NONE) for a in archs]
    counts = np.array([pairs.count(p) for p in itertools.combinations(range(5), 2)])
    assert counts.min() > 30 and counts.max() < 100
    ops = np.array([a[k] for a in archs for k in range(28) if a[k] != NONE])
    assert set(ops) == set(range(1, 8))


def test_sample_respects_mask(space):
    rng = np.random.default_rng(1)
    mask = tuple(frozenset({0, 4, 5}) for _ in range(28))
    for _ in range(50):
        a = space.sample(rng, mask)
        assert space.contains(a, mask)
    bad = tuple(frozenset({4}) for _ in range(28))  # no none allowed -> no node can have exactly 2 inputs
    assert space.size(bad) == 0
    with pytest.raises(BenchError, match="no valid input pair"):
        space.sample(rng, bad)


def test_contains_enforces_two_inputs(space):
    a = space.decode(DARTS_V2)
    assert space.contains(a)
    three = list(a)
    three[4] = 4  # node 3 now has 3 inputs
    assert not space.contains(tuple(three))
    one = list(a)
    one[0] = NONE  # node 2 has one input
    assert not space.contains(tuple(one))
    with pytest.raises(BenchError, match="exactly 2 non-none"):
        space.check(tuple(one))
    with pytest.raises(BenchError, match="28 op indices"):
        space.check((1, 2))


def test_genotype_round_trip_many(space):
    rng = np.random.default_rng(2)
    for a in space.sample_distinct(rng, 300):
        text = space.encode(a)
        assert text.startswith("Genotype(normal=[(") and "normal_concat=[2, 3, 4, 5]" in text
        assert space.decode(text) == a


def test_genotype_parse_variants(space):
    a = space.decode(DARTS_V2)
    assert a[:14] == (4, 4, 4, 4, 0, 3, 4, 0, 0, 3, 0, 6, 0, 0)
    canonical = space.encode(a)  # node 4 lists (sep_conv_3x3, 1) before (skip_connect, 0) in DARTS_V2
    assert canonical != DARTS_V2 and "('skip_connect', 0), ('sep_conv_3x3', 1)" in canonical
    assert space.decode(canonical) == a
    # DARTS' own printout: range(2, 6) concat and pairs ordered by strength, not input
    swapped = DARTS_V2.replace("('sep_conv_3x3', 1), ('skip_connect', 0)", "('skip_connect', 0), ('sep_conv_3x3', 1)")
    swapped = swapped.replace("concat=[2, 3, 4, 5]", "concat=range(2, 6)")
    assert swapped != DARTS_V2 and space.decode(swapped) == a
    assert space.decode("  " + DARTS_V2.replace("Genotype(", "genotypes.Genotype(") + "\n") == a


@pytest.mark.parametrize(
    "text, pattern",
    [
        ("Genotype(normal=[", "syntax error"),
        ("Foo(normal=[], normal_concat=[], reduce=[], reduce_concat=[])", "expected Genotype"),
        (DARTS_V2.replace("normal_concat=[2, 3, 4, 5]", "normal_concat=[2, 3, 4]"), "normal_concat must be"),
        (DARTS_V2.replace("('dil_conv_3x3', 2)", "('dil_conv_3x3', 5)"), r"\(node 5\) has input 5"),
        (DARTS_V2.replace("('dil_conv_3x3', 2)", "('dil_conv_3x3', 0)"), "uses input 0 twice"),
        (DARTS_V2.replace("dil_conv_3x3", "dil_conv_3x4"), "unknown op 'dil_conv_3x4'.*Did you mean"),
        (DARTS_V2.replace("('dil_conv_3x3', 2)", "('none', 2)"), "unknown op 'none'"),
        (DARTS_V2.replace(", ('dil_conv_3x3', 2)]", "]"), "8 \\(op, input\\) pairs"),
        (DARTS_V2.replace("reduce_concat=[2, 3, 4, 5]", "extra=1"), "unknown field 'extra'"),
        (DARTS_V2.replace(", reduce_concat=[2, 3, 4, 5]", ""), "missing field"),
        ("Genotype(normal=__import__('os'), normal_concat=[2], reduce=[], reduce_concat=[])", "not a literal"),
    ],
)
def test_decode_errors(space, text, pattern):
    with pytest.raises(BenchError, match=pattern):
        space.decode(text)
    with pytest.raises(BenchError):
        space.decode(123)


def test_nb301_config_keys_and_numbering(space):
    a = space.decode(DARTS_V2)
    cfg = space.to_config(a)
    p = CONFIG_PREFIX
    assert cfg[f"{p}edge_normal_0"] == "sep_conv_3x3" and cfg[f"{p}edge_normal_1"] == "sep_conv_3x3"
    # node 3 (edges 2,3,4 from inputs 0,1,2) uses inputs 0 and 1
    assert cfg[f"{p}inputs_node_normal_3"] == "0_1" and f"{p}edge_normal_4" not in cfg
    # node 5 (edges 9..13): inputs 0 (skip) and 2 (dil_conv_3x3)
    assert cfg[f"{p}inputs_node_normal_5"] == "0_2"
    assert cfg[f"{p}edge_normal_9"] == "skip_connect" and cfg[f"{p}edge_normal_11"] == "dil_conv_3x3"
    assert cfg[f"{p}inputs_node_reduce_4"] == "0_2" and cfg[f"{p}edge_reduce_5"] == "max_pool_3x3"
    assert cfg[f"{p}edge_reduce_7"] == "skip_connect"
    assert len(cfg) == 2 * (8 + 3)
    assert f"{p}inputs_node_normal_2" not in cfg


def test_nb301_config_round_trip_many(space):
    rng = np.random.default_rng(3)
    for a in space.sample_distinct(rng, 300):
        cfg = arch_to_config(a)
        assert config_to_arch(cfg) == a
        assert space.check(cfg) == a  # check() accepts a config dict
        extra = {**cfg, "OptimizerSelector:sgd:learning_rate": 0.025}  # training keys are ignored
        assert space.from_config(extra) == a


def test_nb301_config_errors(space):
    cfg = arch_to_config(space.decode(DARTS_V2))
    p = CONFIG_PREFIX
    with pytest.raises(BenchError, match="inputs_node_normal_3"):
        config_to_arch({**cfg, f"{p}inputs_node_normal_3": "2_1"})
    with pytest.raises(BenchError, match="is set to"):
        config_to_arch({**cfg, f"{p}edge_normal_4": "skip_connect"})
    missing = dict(cfg)
    del missing[f"{p}edge_normal_0"]
    with pytest.raises(BenchError, match="active edge"):
        config_to_arch(missing)
    with pytest.raises(BenchError, match="must be a dict"):
        config_to_arch(["x"])


def test_complexity_darts_v2(space):
    """DARTS V2 on CIFAR-10 (C=36, 20 layers, no auxiliary head): DARTS logs 'param size = 3.349342MB'."""
    assert space.complexity(space.decode(DARTS_V2)) == 3349342
    rng = np.random.default_rng(4)
    values = space.complexities(space.sample_distinct(rng, 20))
    assert values.shape == (20,) and (values > 1e6).all() and (values < 1e7).all()


def _eval_network_params(arch, C, layers, num_classes=10) -> int:
    """#params of a torch DARTS evaluation network (affine ops, no pool BN), built from the supernet's parts."""
    from supernet_bench.spaces.darts.space import to_genotype
    from supernet_bench.spaces.darts.supernet import FactorizedReduce, ReLUConvBN, make_darts_op

    geno = to_genotype(arch)
    mods = [torch.nn.Conv2d(3, 3 * C, 3, padding=1, bias=False), torch.nn.BatchNorm2d(3 * C)]
    c_pp, c_p, c_cur, red_prev = 3 * C, 3 * C, C, False
    for i in range(layers):
        red = i in (layers // 3, 2 * layers // 3)
        c_cur *= 2 if red else 1
        mods.append(FactorizedReduce(c_pp, c_cur) if red_prev else ReLUConvBN(c_pp, c_cur, 1, 1, 0))
        mods.append(ReLUConvBN(c_p, c_cur, 1, 1, 0))
        for name, frm in geno["reduce" if red else "normal"]:
            op = make_darts_op(name, c_cur, 2 if red and frm < 2 else 1, True, True)
            if "pool" in name:
                op = op[0]  # the evaluation network has no BN after pools
            mods.append(op)
        red_prev, c_pp, c_p = red, c_p, 4 * c_cur
    mods.append(torch.nn.Linear(c_p, num_classes))
    return sum(p.numel() for m in mods for p in m.parameters())


def test_complexity_matches_torch_construction(space):
    rng = np.random.default_rng(5)
    for a in space.sample_distinct(rng, 3):
        assert darts_param_count(a, C=8, layers=5) == _eval_network_params(a, 8, 5)


def test_exact_complexity_bounds_for_calr(space):
    lo, hi = space.complexity_bounds()
    comps = space.complexities(space.sample_distinct(np.random.default_rng(4), 500))
    assert lo < comps.min() and comps.max() < hi
    pools = space.decode(DARTS_V2.replace("sep_conv_3x3", "max_pool_3x3").replace("dil_conv_3x3", "avg_pool_3x3"))
    assert space.complexity(pools) == lo  # pools and stride-1 skips only: no op parameters, like all-max_pool
    assert space.product_space is False  # FairNAS's per-slot permutations can leave the space
