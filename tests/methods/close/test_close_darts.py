"""CLOSE / CLOSE-S on the DARTS cell space: GLOW blocks per cell and shape class, the two-group GATE."""

from __future__ import annotations

import dataclasses
import itertools
from functools import partial

import numpy as np
import torch
from supernet_bench.methods import create_method
from supernet_bench.methods.close.gate import Gate, GatesEmbedder, cell_dag
from supernet_bench.methods.close.glow import GlowWeights
from supernet_bench.methods.close.method import edges_in_archs
from supernet_bench.spaces.darts.space import CELL_EDGES, EDGES_PER_CELL, NONE, OPS, DartsSpace

from tests.methods.close.test_close import TINY_GATE, make_ctx, perturb_bn

SPACE = DartsSpace()
SIZE = dict(C=4, layers=3)  # cells: normal, reduce, reduce (reduction at layers // 3 and 2 * layers // 3)


def darts_ctx(**kw):
    return dataclasses.replace(make_ctx(**kw), space=SPACE, supernet_kwargs=dict(SIZE))


def glow_darts(num_blocks=2, seed=0):
    torch.manual_seed(seed)
    return SPACE.build_supernet(10, weights_factory=partial(GlowWeights, num_blocks=num_blocks), **SIZE)


def sample(n, seed=0):
    rng = np.random.default_rng(seed)
    return [SPACE.sample(rng) for _ in range(n)]


def test_reduce_cells_have_a_stride_two_and_a_stride_one_class():
    net = glow_darts()
    w = net.weights
    assert net.reduction == [False, True, True]
    assert w.num_classes == [1, 2, 2]
    for layer, reduce in enumerate(net.reduction):
        base = EDGES_PER_CELL if reduce else 0
        for slot in range(2 * EDGES_PER_CELL):
            if not base <= slot < base + EDGES_PER_CELL:
                assert w.slot_class[layer][slot] is None  # the other cell type's edges
                continue
            _, frm = CELL_EDGES[slot - base]
            assert w.slot_class[layer][slot] == (0 if not reduce or frm < 2 else 1)
    # a stride-2 block halves the resolution, the stride-1 block of the same reduce cell keeps it
    x = torch.randn(1, 8, 8, 8)
    conv = OPS.index("sep_conv_3x3")
    assert w.module(1, 0, conv, cls=0)(x).shape[-1] == 4 and w.module(1, 0, conv, cls=1)(x).shape[-1] == 8


def test_copy_wit_keeps_the_function_for_any_assignment_in_both_cell_types():
    net = glow_darts()
    perturb_bn(net)
    net.eval()
    x = torch.randn(2, 3, 8, 8)
    archs = sample(3)
    w = net.weights
    w.set_assignment((0,) * 28)
    before = [net(x, a) for a in archs]
    w.add_block("copy")
    rng = np.random.default_rng(1)
    for a, ref in zip(archs, before, strict=True):
        for blocks in [(1,) * 28, tuple(int(b) for b in rng.integers(0, 2, 28))]:
            w.set_assignment(blocks)
            assert torch.allclose(net(x, a), ref, atol=0, rtol=0)


def test_dag_has_two_groups_with_two_input_nodes():
    dag = cell_dag(SPACE)
    assert (dag.num_groups, dag.num_nodes, dag.num_input_nodes, len(dag.edges)) == (2, 6, 2, 14)
    assert dag.num_slots == 28 and dag.none_op == NONE


def test_gate_rows_of_a_cell_depend_only_on_that_cell():
    gate = Gate(cell_dag(SPACE), 3, 8, 8, 8, [8, 8], [16], 0.0).eval()
    a, b = sample(2, seed=3)
    mixed = a[:EDGES_PER_CELL] + b[EDGES_PER_CELL:]  # a's normal cell, b's reduce cell
    la, lb, lm = (gate.logits(arch, 3) for arch in (a, b, mixed))
    assert la.shape == (28, 3)
    assert torch.equal(lm[:EDGES_PER_CELL], la[:EDGES_PER_CELL])
    assert torch.equal(lm[EDGES_PER_CELL:], lb[EDGES_PER_CELL:])
    assert not torch.equal(la[EDGES_PER_CELL:], lb[EDGES_PER_CELL:])


def test_residual_reaches_exactly_the_two_input_nodes_of_each_group():
    torch.manual_seed(0)
    emb = GatesEmbedder(cell_dag(SPACE), 4, 4, 4, [4])
    y = emb((NONE,) * 28)  # no live edge: only the residual of input nodes survives one flow layer
    nonzero = (y.abs().sum(dim=1) > 0).tolist()
    assert nonzero == [True, True, False, False, False, False] * 2


def test_close_trains_and_adds_blocks_on_darts():
    m = create_method("close", {"close": {**TINY_GATE, "block_fractions": [0.0, 0.5]}})
    m.setup(darts_ctx(total_passes=4))
    assert m.net.gate.logits(sample(1)[0], 1).shape == (28, 1)
    while m.trainer.t < 4:
        m.step()
    assert m.weights.num_active == 2 and m.block_events == [2]
    blocks = m.scoring_assignment(sample(1)[0])
    assert len(blocks) == 28 and set(blocks) <= {0, 1}


def test_close_s_switch_gives_each_edge_of_a_cell_its_own_block_and_keeps_scores():
    m = create_method("close-s", {"close-s": {"switch_fraction": 0.5, "dropout": 0.0}})
    m.setup(darts_ctx(total_passes=4))
    assert m.num_edges == 14 and m.weights.num_blocks == 14
    while m.trainer.t < 2:
        m.step()
    archs = sample(2, seed=5)
    x = torch.randn(2, 3, 8, 8)

    def score():
        m.supernet.eval()
        with torch.no_grad():
            return [m.scoring_model(a).forward(x) for a in archs]

    before = score()
    m.switch()
    after = score()
    assert m.weights.assignment == tuple(s % 14 for s in range(28))
    assert all(torch.equal(p, q) for p, q in zip(before, after, strict=True))


def test_sharing_extent_counts_only_valid_darts_architectures():
    """Brute force over the 180 valid one-op cells (each node picks 2 inputs): 180^2 genotypes."""
    skip = OPS.index("skip_connect")
    mask = tuple(frozenset({NONE, skip}) for _ in range(28))
    node_pairs = [itertools.combinations(range(to), 2) for to in (2, 3, 4, 5)]
    cells = []
    for pairs in itertools.product(*node_pairs):
        live = {(to, frm) for to, pair in zip((2, 3, 4, 5), pairs, strict=True) for frm in pair}
        cells.append(np.array([skip if e in live else NONE for e in CELL_EDGES]))
    per_cell = sum(c != NONE for c in cells)  # archs (of one cell) containing each edge
    assert len(cells) == 180 and SPACE.size(mask) == 180**2
    expected = 2 * int(per_cell.sum()) * len(cells)  # the other cell is free: x 180
    assert edges_in_archs(SPACE, NONE, mask) == expected == 180**2 * 16  # 8 live edges per cell
