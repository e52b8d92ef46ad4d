"""CLOSE (methods/close/: method.py, gate.py, glow.py): tiny supernets, fake training context."""

from __future__ import annotations

import copy
import itertools

import numpy as np
import pytest
import torch
from supernet_bench.core.errors import BenchError
from supernet_bench.methods import create_method
from supernet_bench.methods.base import TrainContext
from supernet_bench.methods.close.gate import Gate, cell_dag
from supernet_bench.methods.close.glow import GlowWeights
from supernet_bench.methods.close.method import PlateauLR, step_at
from supernet_bench.spaces.nb201 import NB201Space
from supernet_bench.spaces.nb201.space import CONV1, CONV3, NONE, POOL, SKIP

TINY_GATE = dict(gate_op_dim=8, gate_node_dim=8, gate_hid_dim=8, gate_gcn_dims=[8, 8], gate_mlp_dims=[16, 16])


class FakeBatches:
    """Deterministic random 8x8 batches; its counter is the stream state."""

    def __init__(self, batch_size: int = 4, size: int = 8):
        self.batch_size, self.size, self.i = batch_size, size, 0

    def __call__(self):
        g = torch.Generator().manual_seed(1000 + self.i)
        self.i += 1
        x = torch.randn(self.batch_size, 3, self.size, self.size, generator=g)
        return x, torch.randint(0, 10, (self.batch_size,), generator=g)


def make_ctx(total_passes: int = 20, train_size: int = 8, batch_size: int = 4, seed: int = 0) -> TrainContext:
    torch.manual_seed(seed)
    return TrainContext(
        space=NB201Space(),
        num_classes=10,
        supernet_kwargs=dict(C=4, N=1),
        next_batch=FakeBatches(batch_size),
        total_passes=total_passes,
        batch_size=batch_size,
        train_size=train_size,
        seed=seed,
        rng=np.random.default_rng(seed),
    )


def make_close(ctx: TrainContext | None = None, **params):
    method = create_method("close", {"close": {**TINY_GATE, **params}})
    method.setup(ctx or make_ctx())
    return method


def params_equal(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


ARCHS = [
    (CONV3, CONV1, NONE, SKIP, POOL, CONV3),
    (CONV3, CONV3, CONV3, CONV3, CONV3, CONV3),
    (SKIP, CONV1, CONV3, NONE, CONV1, POOL),
    (CONV1, NONE, NONE, CONV3, NONE, NONE),
]


def scores(method, archs, x):
    out = []
    with torch.no_grad():
        for a in archs:
            sm = method.scoring_model(a)
            sm.module.eval()
            out.append(sm.forward(x))
    return out


# -- GLOW weights and WIT ---------------------------------------------------------------------------------
def glow_supernet(num_blocks=3, seed=0):
    from functools import partial

    torch.manual_seed(seed)
    return NB201Space().build_supernet(10, weights_factory=partial(GlowWeights, num_blocks=num_blocks), C=4, N=1)


def perturb_bn(net):
    """Give BN buffers non-trivial values so that a WIT copy must include them."""
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, torch.nn.BatchNorm2d) and m.running_mean is not None:
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 1.5)


def test_pure_copy_wit_leaves_outputs_unchanged_for_any_assignment():
    net = glow_supernet()
    perturb_bn(net)
    net.eval()
    x = torch.randn(2, 3, 8, 8)
    w = net.weights
    before = {}
    for a in ARCHS:
        w.set_assignment((0,) * 6)
        before[a] = net(x, a)
    w.add_block("copy")
    assert w.num_active == 2
    rng = np.random.default_rng(0)
    for a in ARCHS:
        for blocks in [(1,) * 6, (0,) * 6, tuple(int(b) for b in rng.integers(0, 2, 6))]:
            w.set_assignment(blocks)
            assert torch.equal(net(x, a), before[a])


def test_additive_wit_differs_from_copy():
    net = glow_supernet()
    net.eval()
    x = torch.randn(2, 3, 8, 8)
    a = ARCHS[1]
    net.weights.set_assignment((0,) * 6)
    old = net(x, a)
    net.weights.add_block("additive")
    conv = "3"  # nor_conv_3x3 module of block 1 = init_1 + block 0
    w0 = net.weights.blocks[0][0][conv][1].weight
    w1 = net.weights.blocks[0][1][conv][1].weight
    assert not torch.equal(w0, w1)
    net.weights.set_assignment((1,) * 6)
    assert not torch.allclose(net(x, a), old)


def test_method_additive_option_differs_from_copy():
    outs = {}
    for wit in ("copy", "additive"):
        m = make_close(block_fractions=[0.0, 0.5], wit=wit)
        for _ in range(10):
            m.step()
        assert m.weights.num_active == 1
        m.add_block()  # what step 11 does first; identical runs up to here
        outs[wit] = m.net.state_dict()
    key = "supernet.weights.blocks.0.1.3.1.weight"  # layer 0, block 1, nor_conv_3x3's conv
    old = "supernet.weights.blocks.0.0.3.1.weight"
    assert torch.equal(outs["copy"][key], outs["copy"][old])
    assert torch.equal(outs["copy"][old], outs["additive"][old])
    assert not torch.equal(outs["additive"][key], outs["additive"][old])
    # the gate's last layer: row 1 = row 0 (copy) or row 1 + row 0 (additive)
    w = f"gate.mlp.{len(m.net.gate.mlp) - 1}.weight"
    assert torch.equal(outs["copy"][w][1], outs["copy"][w][0])
    assert not torch.equal(outs["additive"][w][1], outs["additive"][w][0])


def test_method_add_block_keeps_scores():
    """Right after a scheduled block addition (copy WIT + copied gate unit) every score is unchanged."""
    m = make_close(block_fractions=[0.0, 0.5], restart_fractions=[])
    x = torch.randn(3, 3, 8, 8)
    for _ in range(10):
        m.step()
    assert m.weights.num_active == 1
    before = scores(m, ARCHS, x)
    m.add_block()
    after = scores(m, ARCHS, x)
    for b, a in zip(before, after):
        assert torch.equal(b, a)


# -- GATE ---------------------------------------------------------------------------------------------------
def permute_nodes(arch, perm):
    """The arch with cell nodes renamed by `perm` (node n -> perm[n]); None if an edge would point backwards."""
    edges = NB201Space.edges  # (to, from)
    index = {e: k for k, e in enumerate(edges)}
    out = [NONE] * len(edges)
    mapping = [None] * len(edges)
    for k, (to, frm) in enumerate(edges):
        nto, nfrm = perm[to], perm[frm]
        if arch[k] != NONE and nfrm >= nto:
            return None, None
        if nfrm < nto:
            out[index[(nto, nfrm)]] = arch[k]
            mapping[k] = index[(nto, nfrm)]
    return tuple(out), mapping


def test_gate_gives_isomorphic_cells_the_same_assignment():
    space = NB201Space()
    dag = cell_dag(space)
    assert dag.num_nodes == 4 and dag.edges[2] == (1, 2) and dag.none_op == NONE
    torch.manual_seed(0)
    gate = Gate(dag, 4, 8, 8, 8, [16, 16, 16], [32, 32]).eval()
    with torch.no_grad():  # give the input embedding a scale that makes logits vary
        gate.embedder.input_node_emb.weight.mul_(3)
    swap = (0, 2, 1, 3)
    pairs = []
    for a in itertools.product(range(5), repeat=6):
        b, mapping = permute_nodes(a, swap)
        if b is not None and b != a and all(a[k] != NONE for k in (0, 1, 4, 5)):
            pairs.append((a, b, mapping))
    assert ((CONV3, CONV1, NONE, SKIP, POOL, CONV3), (CONV1, CONV3, NONE, SKIP, CONV3, POOL)) in {
        (a, b) for a, b, _ in pairs
    }
    rng = np.random.default_rng(0)
    distinct = 0
    for i in rng.choice(len(pairs), 40, replace=False):
        a, b, mapping = pairs[i]
        with torch.no_grad():
            la, lb = gate.logits(a, 4), gate.logits(b, 4)
        for k in range(6):
            if a[k] != NONE:
                assert torch.allclose(la[k], lb[mapping[k]], atol=1e-6, rtol=1e-5)
                assert la[k].argmax() == lb[mapping[k]].argmax()
        distinct += not torch.allclose(la[0], la[1])
    assert distinct > 0  # the check is not vacuous: edges of one cell do get different logits


def test_gate_logits_truncated_and_st_passes_gradient():
    m = make_close(block_fractions=[0.0, 0.1, 0.2])
    for _ in range(5):
        m.step()
    assert m.weights.num_active == 3
    assert m.net.gate.logits(ARCHS[0], 3).shape == (6, 3)
    net = m.net
    net.train()
    net.zero_grad(set_to_none=True)
    x, y = FakeBatches()()
    loss = torch.nn.functional.cross_entropy(net(x, ARCHS[1]), y)
    loss.backward()
    st = net.weights.st_weights
    assert st is not None and torch.equal(st.detach().sum(-1), torch.ones(6))
    last = net.gate.last_layer.weight.grad
    assert last is not None and last[:3].abs().sum() > 0
    assert torch.all(last[3:] == 0)  # logits of inactive blocks are truncated
    assert net.gate.embedder.op_emb.weight.grad.abs().sum() > 0


def test_training_forward_equals_hard_block_forward():
    """The ST mixture has exact one-hot values: same output as running only the chosen blocks."""
    m = make_close(block_fractions=[0.0, 0.1], dropout=0.0, gate_mlp_dropout=0.0)
    for _ in range(4):
        m.step()
    net = m.net
    net.train()
    x = torch.randn(4, 3, 8, 8)
    torch.manual_seed(5)
    out = net(x, ARCHS[0])
    blocks = net.weights.assignment
    net.weights.set_assignment(blocks)  # drop the ST weights
    assert torch.allclose(net.supernet(x, ARCHS[0]), out, atol=1e-6)


# -- curriculum, SRT, LR ------------------------------------------------------------------------------------
def test_blocks_added_and_lr_restarted_exactly_at_scheduled_steps():
    m = make_close(make_ctx(total_passes=20), lr_schedule="cosine")
    assert m.block_steps == [0, 4, 8, 12] and m.restart_steps == [8]
    blocks, lrs, opts = [], [], []
    for _ in range(20):
        assert m.step() == 1  # one pass per step
        blocks.append(m.weights.num_active)
        lrs.append(m.trainer.optimizers[0].param_groups[0]["lr"])
        opts.append(id(m.trainer.optimizers[0]))
    assert blocks == [1] * 4 + [2] * 4 + [3] * 4 + [4] * 8
    assert m.trainer.restarts == [8]
    assert lrs[0] == pytest.approx(0.05) and lrs[8] == pytest.approx(0.05)
    assert lrs[7] < lrs[6] < lrs[1] and lrs[19] < lrs[9]
    assert len(set(opts[:8])) == 1 and len(set(opts[8:])) == 1 and opts[7] != opts[8]
    d = m.decisions()["close"]
    assert d["blocks_added_at"] == [4, 8, 12] and d["restarted_at"] == [8]
    diag = m.diagnostics()
    assert diag["num_blocks"] == 4 and diag["sharing_extent"] == pytest.approx(6 * 4 * 5**5 / 4)


def test_restart_drops_momentum_and_resets_plateau_lr():
    m = make_close(make_ctx(total_passes=40, train_size=4), restart_fractions=[0.5], patience_fraction=0.0)
    for _ in range(20):
        m.step()
    assert len(m.trainer.optimizers[0].state) > 0
    m.trainer.current_lr = 0.001  # as if the plateau had decayed it
    m.step()
    assert m.trainer.restarts == [20]
    assert m.trainer.current_lr == pytest.approx(0.05)
    assert m.trainer.optimizers[0].param_groups[0]["lr"] == pytest.approx(0.05)


def test_plateau_scheduler_halves_after_patience():
    p = PlateauLR(factor=0.5, patience=2)
    lr = 1.0
    for loss in [3.0, 2.0, 2.5, 2.5]:
        lr = p.step(loss, lr)
    assert lr == 1.0
    assert p.step(2.5, lr) == 0.5  # third bad epoch > patience 2
    assert p.bad_epochs == 0


def test_plateau_patience_scales_with_budget():
    m = make_close(make_ctx(total_passes=2000, train_size=8, batch_size=4))  # 1000 epochs of 2 steps
    assert m.steps_per_epoch == 2 and m.patience_epochs == 30
    assert step_at(0.2, 2000) == 400


def test_freeze_gate_last_layer_between_restarts_option():
    m = make_close(freeze_gate_last_layer_between_restarts=True)  # blocks at 0,4,8,12; restart at 8
    last = m.net.gate.last_layer
    frozen = []
    for _ in range(16):
        before = last.weight.detach().clone()
        m.step()
        if frozen and frozen[-1] and m.gate_frozen:  # no WIT at this step: SGD must leave it alone
            assert torch.equal(before, last.weight)
        frozen.append(m.gate_frozen)
    assert frozen == [False] * 4 + [True] * 4 + [False] * 4 + [True] * 4


def test_eval_assignment_is_deterministic_and_does_not_touch_training_rng():
    for mode in ("argmax", "sampled"):
        m = make_close(block_fractions=[0.0, 0.1, 0.2], eval_assignment=mode)
        for _ in range(5):
            m.step()
        torch_state, np_state = torch.get_rng_state(), copy.deepcopy(m.ctx.rng.bit_generator.state)
        first = [m.scoring_assignment(a) for a in ARCHS]
        again = [m.scoring_assignment(a) for a in ARCHS]
        assert first == again
        assert torch.equal(torch_state, torch.get_rng_state())
        assert np_state == m.ctx.rng.bit_generator.state
        assert m.decisions()["close"]["scoring_assignment"] == mode


def test_sample_connected_option():
    m = make_close(sample_connected=True)
    for _ in range(4):
        m.step()
        assert NB201Space.is_connected(m.trainer.last_archs[0])


def test_bad_params_rejected():
    with pytest.raises(BenchError):
        make_close(block_fractions=[0.2, 0.4])
    with pytest.raises(BenchError):
        make_close(wit="random")
    with pytest.raises(BenchError):
        create_method("close", {"close": {"block_fractions": "0,0.2"}})


# -- resume --------------------------------------------------------------------------------------------------
def test_resume_is_bit_identical():
    def run(total_steps, split):
        ctx = make_ctx(total_passes=total_steps)
        m = make_close(ctx, freeze_gate_last_layer_between_restarts=True)
        for _ in range(split):
            m.step()
        state = copy.deepcopy(m.state_dict())
        rng = (torch.get_rng_state(), copy.deepcopy(ctx.rng.bit_generator.state), ctx.next_batch.i)
        return m, state, rng

    # 12 steps: blocks at 0, 3, 5, 8, restart at 5; stop after 6 (past the restart, before the last block)
    full, _, _ = run(12, 0)
    for _ in range(12):
        full.step()
    _, state, (trng, nrng, i) = run(12, 6)
    fresh = make_close(make_ctx(total_passes=12), freeze_gate_last_layer_between_restarts=True)
    fresh.load_state_dict(state)
    torch.set_rng_state(trng)
    fresh.ctx.rng.bit_generator.state = nrng
    fresh.ctx.next_batch.i = i
    for _ in range(6):
        fresh.step()
    assert fresh.weights.num_active == full.weights.num_active == 4
    assert params_equal(fresh.net, full.net)
    assert fresh.trainer.current_lr == full.trainer.current_lr
    assert fresh.decisions() == full.decisions()
