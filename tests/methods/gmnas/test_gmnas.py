"""GM-NAS (methods/gmnas/method.py) and the balanced min-cut (methods/gmnas/mincut.py): tiny NB201 supernets
(C=4, N=1, 8x8 random images) in a fake training context."""

from __future__ import annotations

import copy
import itertools
import math

import numpy as np
import pytest
import torch
from supernet_bench.core.errors import BenchError
from supernet_bench.methods import create_method
from supernet_bench.methods.gmnas.method import GradientMatch, cosine_distances
from supernet_bench.methods.gmnas.mincut import balanced_mincut, balanced_partitions, cut_value
from supernet_bench.spaces.nb201.supernet import NB201Supernet

from tests.helpers import fake_context

# a plan with every phase present: P=120, GM capped at 84 passes -> M=1 on all edges (6*5 + 2*5*5 = 80),
# 40 training passes -> 3 warm-up passes per supernet (20/260 of them), 7 per leaf (50/260)
PARAMS = dict(gm_budget_fraction=0.7, gm_batches=100)
TOTAL = 120


def make(total_passes: int = TOTAL, seed: int = 0, space: str = "nb201", **params):
    ctx = fake_context(space, total_passes, seed)
    method = create_method("gmnas", {"gmnas": {**PARAMS, **params}})
    method.setup(ctx)
    return method, ctx


# --- min-cut ----------------------------------------------------------------------------------------------
def exhaustive(matrix: np.ndarray, groups: int, kind: str) -> float:
    """Best balanced cut value over every labelling of the nodes (independent of the canonical enumeration)."""
    n = len(matrix)
    sym = (matrix + matrix.T) / 2
    best = None
    for labels in itertools.product(range(groups), repeat=n):
        sizes = [labels.count(g) for g in range(groups)]
        if min(sizes) == 0 or max(sizes) - min(sizes) > 1:
            continue
        value = sum(sym[i, j] for i in range(n) for j in range(i + 1, n) if labels[i] != labels[j])
        if best is None or (value < best if kind == "similarity" else value > best):
            best = value
    return best


@pytest.mark.parametrize("kind", ["similarity", "distance"])
@pytest.mark.parametrize("n,groups", [(3, 2), (4, 2), (5, 2), (6, 2), (5, 3), (6, 3)])
def test_mincut_equals_exhaustive_search(n, groups, kind):
    rng = np.random.default_rng(n * 10 + groups)
    for _ in range(5):
        m = rng.random((n, n))
        cut = balanced_mincut(m, groups, kind=kind)
        assert cut.cut == pytest.approx(exhaustive(m, groups, kind))
        assert cut.cut == pytest.approx(cut_value((m + m.T) / 2, cut.groups))


@pytest.mark.parametrize("n,groups", [(2, 2), (4, 2), (5, 2), (5, 3), (7, 3), (6, 4)])
def test_partitions_are_balanced_and_complete(n, groups):
    parts = list(balanced_partitions(n, groups))
    for p in parts:
        assert len(p) == groups
        assert sorted(i for g in p for i in g) == list(range(n))
        assert {len(g) for g in p} <= {n // groups, math.ceil(n / groups)}
    assert len({frozenset(frozenset(g) for g in p) for p in parts}) == len(parts)  # no duplicates
    if groups == 2:
        expected = math.comb(n, n // 2) // (2 if n % 2 == 0 else 1)
        assert len(parts) == expected  # 5 ops -> the 10 ways of picking the pair (the code's 2-subsets)


def test_mincut_finds_planted_clusters():
    sim = np.full((5, 5), 0.1)
    for group in [(0, 1, 4), (2, 3)]:
        for i, j in itertools.product(group, group):
            sim[i, j] = 0.9
    assert balanced_mincut(sim, 2).groups == ((0, 1, 4), (2, 3))
    assert balanced_mincut(1 - sim, 2, kind="distance").groups == ((0, 1, 4), (2, 3))


# --- gradient-matching averages -----------------------------------------------------------------------------
def test_averaging_orders_differ_on_a_constructed_example():
    batches = [
        [torch.tensor([1.0, 0.0]), torch.tensor([1.0, 0.0])],  # agree: distance 0
        [torch.tensor([0.0, 10.0]), torch.tensor([0.0, -10.0])],  # opposite, large: distance 2
    ]
    dist, grad = GradientMatch(2, "distance"), GradientMatch(2, "gradient")
    for b in batches:
        dist.add(b)
        grad.add(b)
    assert dist.distances()[0, 1] == pytest.approx(1.0)  # mean of 0 and 2
    # mean gradients (0.5, 5) and (0.5, -5): cos = (0.25 - 25) / 25.25
    assert grad.distances()[0, 1] == pytest.approx(1 - (0.25 - 25) / 25.25)
    assert cosine_distances([torch.ones(3), torch.ones(3)])[0, 1] == pytest.approx(0.0)


# --- one full tiny run, instrumented -------------------------------------------------------------------------
@pytest.fixture(scope="module")
def run():
    """Run the whole plan once, counting supernet forwards and snapshotting around the splits."""
    forwards = [0]
    original = NB201Supernet.forward

    def counting(self, x, arch):
        forwards[0] += 1
        return original(self, x, arch)

    NB201Supernet.forward = counting
    try:
        method, ctx = make()
        plan = method.plan
        spent, phases = [], []
        inherited = before_restart = restarted = None
        root_spent = None
        while len(spent) < 1000:
            level = method.level
            if level == method.splits - 1 and method.phase == "split" and before_restart is None:
                before_restart = {n.name: copy.deepcopy(n.trainer.supernet.state_dict()) for n in method.nodes}
            phases.append(method.phase)
            spent.append(method.step())
            if method.level == 1 and level == 0:  # children of the first split, right after it
                root_spent = sum(spent)
                inherited = [
                    (n, copy.deepcopy(n.trainer.optimizers[0].state_dict()), n.trainer.t) for n in method.nodes
                ]
            if method.level == method.splits and restarted is None:
                before_leaves = sum(spent)
                restarted = [(n.name, len(n.trainer.optimizers[0].state), n.trainer.t) for n in method.nodes]
            if sum(spent) >= ctx.total_passes:
                break
    finally:
        NB201Supernet.forward = original
    return dict(
        method=method,
        ctx=ctx,
        plan=plan,
        spent=spent,
        phases=phases,
        forwards=forwards[0],
        inherited=inherited,
        before_restart=before_restart,
        restarted=restarted,
        root_spent=root_spent,
        before_leaves=before_leaves,
    )


def test_plan_follows_the_budget_rule(run):
    plan = run["plan"]
    assert plan["gm_batches"] == 1 and plan["edges_scored_per_split"] == [6, 5]
    assert plan["gm_passes_planned"] == 80 <= PARAMS["gm_budget_fraction"] * TOTAL
    assert plan["warmup_passes_per_supernet"] == math.floor(40 * 20 / 260) == 3
    assert plan["leaf_passes_per_leaf"] == math.floor(40 * 50 / 260) == 7
    assert sum(run["spent"]) == TOTAL


def test_passes_charged_equal_forward_passes(run):
    assert run["forwards"] == sum(run["spent"])
    gm_steps = [s for s, p in zip(run["spent"], run["phases"]) if p == "split"]
    assert sum(gm_steps) == run["plan"]["gm_passes_planned"]  # 5 passes (one per op) per GM batch
    assert set(gm_steps) == {5}


def test_splits_are_recorded_with_groups_and_scores(run):
    method = run["method"]
    log = method.decisions()["splits"]
    assert [s["level"] for s in log] == [0, 1, 1]
    for s in log:
        assert sorted(len(g) for g in s["groups"]) == [2, 3]
        assert s["cut"] == max(v["cut"] for v in s["scores"].values())
        assert s["edge"] in s["scores"] and len(s["scores"][s["edge"]]["distances"]) == 5
    assert len(log[0]["scores"]) == 6 and all(len(s["scores"]) == 5 for s in log[1:])
    assert log[0]["edge"] not in log[1]["scores"]  # children only score unsplit edges


def test_every_architecture_belongs_to_exactly_one_leaf(run):
    method, space = run["method"], run["ctx"].space
    leaves = method.frontier()
    assert len(leaves) == 4 and method.phase == "leaves"
    for arch in space.enumerate():
        assert sum(space.contains(arch, leaf.mask) for leaf in leaves) == 1
    assert sum(space.size(leaf.mask) for leaf in leaves) == 15625


def test_children_inherit_weights_and_optimizer_at_intermediate_splits(run):
    children = run["inherited"]
    assert len(children) == 2
    (a, opt_a, t_a), (b, opt_b, t_b) = children
    assert t_a == t_b == run["plan"]["warmup_passes_per_supernet"]
    assert len(opt_a["state"]) > 0 and opt_a["state"].keys() == opt_b["state"].keys()
    for k in opt_a["state"]:
        assert torch.equal(opt_a["state"][k]["momentum_buffer"], opt_b["state"][k]["momentum_buffer"])


def test_restart_reinitialises_the_leaves(run):
    method = run["method"]
    assert [(n, s, t) for n, s, t in run["restarted"]] == [(n.name, 0, 0) for n in method.nodes]
    before = run["before_restart"]
    for leaf in method.nodes:
        parent = before[leaf.name.rsplit(".", 1)[0]]
        now = leaf.trainer.supernet.state_dict()
        conv = [k for k in parent if k.endswith("weight") and parent[k].dim() == 4]
        assert all(not torch.equal(parent[k], now[k]) for k in conv)
    first = [n.trainer.supernet.state_dict() for n in method.nodes[:2]]
    assert not torch.equal(first[0]["stem.0.weight"], first[1]["stem.0.weight"])  # each leaf its own init


def test_scoring_uses_the_leaf_that_holds_the_arch(run):
    method, space = run["method"], run["ctx"].space
    for arch in space.sample_distinct(np.random.default_rng(0), 20):
        node = method.node_of(arch)
        assert space.contains(arch, node.mask)
        assert method.scoring_model(arch).module is node.trainer.supernet


# --- budget plan corners, options, resume ----------------------------------------------------------------------
def test_m_is_capped_by_the_budget_fraction():
    method, _ = make(total_passes=100_000, gm_budget_fraction=0.06)
    assert method.plan["gm_batches"] == min(100, math.floor(6000 / 80)) == 75
    method, _ = make(total_passes=10_000_000, gm_budget_fraction=0.06)
    assert method.plan["gm_batches"] == 100
    method, _ = make(total_passes=16, gm_budget_fraction=0.06)  # the smoke budget: M=1, one edge per split
    assert method.plan["gm_batches"] == 1 and method.plan["edges_scored_per_split"] == [1, 1]
    assert method.plan["gm_passes_planned"] == 15


def test_gradient_average_runs_and_both_orders_are_recorded():
    for average in ("distance", "gradient"):
        method, ctx = make(total_passes=36, gm_budget_fraction=0.9, splits=1, gm_average=average)
        passes = 0
        while not method.split_log:
            passes += method.step()
        d = method.decisions()
        assert d["gm_average"] == average
        assert len(d["splits"][0]["scores"]) == 6


def test_only_conv_subspace_splits_two_ops():
    method, ctx = make(space="nb201:only-conv", total_passes=30, gm_budget_fraction=0.5)
    while method.phase != "leaves":
        method.step()
    assert len(method.frontier()) == 4
    assert all(len(g) == 1 for s in method.split_log for g in s["groups"])


def test_resume_is_bit_identical():
    """Resume from the first warm-up, from the middle of a gradient-matching accumulation (M=2,
    gradient averaging keeps summed gradients) and from the children's warm-up."""
    total, cuts = 200, (2, 6, 17)  # steps: 0-2 warm-up, 3-14 GM (6 edges x 2 batches), 15-20 children warm-up
    params = dict(gm_budget_fraction=0.8, gm_average="gradient")
    a, ctx_a = make(total_passes=total, **params)
    assert a.plan["gm_batches"] == 2 and a.plan["warmup_passes_per_supernet"] == 3
    spent, saved = [], {}
    while sum(spent) < total:
        if len(spent) in cuts:
            saved[len(spent)] = copy.deepcopy(
                {"m": a.state_dict(), "rng": ctx_a.rng.bit_generator.state, "i": ctx_a.next_batch.i}
            )
        spent.append(a.step())
    assert saved[6]["m"]["gm"]["acc"]["count"] == 1  # mid-accumulation
    assert saved[17]["m"]["level"] == 1 and saved[2]["m"]["level"] == 0
    for cut, state in saved.items():
        b, ctx_b = make(total_passes=total, **params)
        b.load_state_dict(state["m"])
        ctx_b.rng.bit_generator.state, ctx_b.next_batch.i = state["rng"], state["i"]
        assert [b.step() for _ in spent[cut:]] == spent[cut:]
        assert a.split_log == b.split_log
        assert [n.name for n in a.frontier()] == [n.name for n in b.frontier()]
        for na, nb in zip(a.frontier(), b.frontier()):
            sa, sb = na.trainer.state_dict(), nb.trainer.state_dict()
            assert all(torch.equal(sa["supernet"][k], sb["supernet"][k]) for k in sa["supernet"])
            assert sa["t"] == sb["t"]


def test_bad_options_are_refused():
    with pytest.raises(BenchError, match="gm_average"):
        make(gm_average="both")
    with pytest.raises(BenchError, match="cannot split"):
        make(splits=7)


# --- matching batches: the paper's M by default, charged in full; connected base paths ---------------------------
def test_default_matching_uses_the_papers_100_batches_whatever_the_budget():
    method, _ = make(total_passes=20_000, gm_budget_fraction=None)
    plan = method.plan
    assert plan["gm_batches"] == plan["gm_batches_requested"] == 100 and plan["edges_scored_per_split"] == [6, 5]
    assert plan["gm_passes_planned"] == 100 * 80 and plan["gm_passes_per_batch"] == 80
    assert plan["warmup_passes_per_supernet"] == math.floor(12_000 * 20 / 260)


def test_a_budget_that_cannot_pay_for_matching_is_refused_and_gm_batches_lowers_it():
    with pytest.raises(BenchError, match=r"100 gradient-matching batches .* 8000 passes .* 3179; lower methods.gmnas"):
        make(total_passes=3179, gm_budget_fraction=None)
    method, _ = make(total_passes=3179, gm_budget_fraction=None, gm_batches=10)
    assert method.plan["gm_batches"] == 10 and method.plan["gm_passes_planned"] == 800
    assert method.decisions()["plan"]["gm_batches"] == 10  # the manifest records M


def test_base_paths_are_connected():
    from supernet_bench.spaces.nb201.space import is_connected

    method, ctx = make()
    paths = [method._base_path(ctx.space.allowed) for _ in range(300)]
    assert all(is_connected(p) for p in paths)
    rng = np.random.default_rng(0)
    raw = [ctx.space.sample(rng, ctx.space.allowed) for _ in range(300)]
    assert not all(is_connected(p) for p in raw)  # the check has something to reject


def test_restart_ablation_is_a_shipped_suite():
    from supernet_bench.config import resolve_config
    from supernet_bench.suite import load_suite

    suite = load_suite("proxy-gmnas-no-restart")
    assert suite.methods == ("gmnas",) and suite.profile == "proxy"
    config = resolve_config("gmnas", profile=suite.profile, overrides=list(suite.overrides))
    assert create_method("gmnas", config.method_params()).restart is False


def test_lineage_passes_add_up_to_the_run(run):
    """Leaves' own passes + everything before them = the budget; each leaf's lineage counts the root and its
    parent once; restarted leaves' weights carry only their own training."""
    method, spent = run["method"], run["spent"]
    leaves = method.lineages()
    assert [x.name for x in leaves] == [n.name for n in method.frontier()] and len(leaves) == 4
    assert sum(x.own_passes for x in leaves) + run["before_leaves"] == sum(spent) == TOTAL
    root = run["root_spent"]
    assert sum(x.lineage_passes - x.own_passes for x in leaves) == 4 * root + 2 * (run["before_leaves"] - root)
    assert all(x.weight_passes == x.own_passes >= run["plan"]["leaf_passes_per_leaf"] for x in leaves)  # + remainder


def test_without_restart_leaf_weights_carry_the_warm_ups():
    method, ctx = make(restart=False)
    spent = 0
    while spent < TOTAL:
        spent += method.step()
    plan = method.plan
    gm_on_a_path = plan["gm_batches"] * (6 * 5 + 5 * 5)  # the root scores 6 edges, a child 5, 5 ops each
    for x in method.lineages():
        assert x.weight_passes == x.lineage_passes - gm_on_a_path
        assert x.weight_passes == 2 * plan["warmup_passes_per_supernet"] + x.own_passes
