"""Scoring: BN modes behave as specified (docs/protocol.md#bn-modes) and never change training state."""

from __future__ import annotations

import pytest
import torch
from supernet_bench.evaluation import BN_MODES, batchnorms, score_architecture
from supernet_bench.spaces.nb201.supernet import NB201Supernet

ARCH = (3, 2, 1, 3, 4, 3)


@pytest.fixture
def setup():
    torch.manual_seed(0)
    net = NB201Supernet(num_classes=10, C=4, N=1)
    g = torch.Generator().manual_seed(0)
    evals = [
        (torch.randn(16, 3, 8, 8, generator=g) * 2 + 1, torch.randint(0, 10, (16,), generator=g)) for _ in range(2)
    ]
    recal = [
        (torch.randn(16, 3, 8, 8, generator=g) * 2 + 1, torch.randint(0, 10, (16,), generator=g)) for _ in range(2)
    ]
    return net, evals, recal


def state(net):
    return {k: v.clone() for k, v in net.state_dict().items()}


@pytest.mark.parametrize("mode", BN_MODES)
def test_scoring_restores_every_buffer_and_flag(setup, mode):
    net, evals, recal = setup
    net.train()
    before = state(net)
    acc, loss = score_architecture(lambda x: net(x, ARCH), net, evals, recal, mode)
    assert 0 <= acc <= 100 and loss > 0
    after = state(net)
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert net.training and all(m.training for m in batchnorms(net))


def test_modes_differ_as_specified(setup):
    net, evals, recal = setup
    f = lambda x: net(x, ARCH)  # noqa: E731
    recal_score = score_architecture(f, net, evals, recal, "recalibrate")
    ema = score_architecture(f, net, evals, recal, "ema")
    batch = score_architecture(f, net, evals, recal, "batch-stats")
    assert score_architecture(f, net, evals, recal, "train-mode") == batch
    # fresh BN buffers are (0, 1): an EMA over 2 batches stays close to them, recalibration does not
    assert recal_score[1] != pytest.approx(ema[1])
    assert recal_score[1] != pytest.approx(batch[1])


def test_recalibration_equals_eval_with_recalibration_statistics(setup):
    net, evals, recal = setup
    f = lambda x: net(x, ARCH)  # noqa: E731
    got = score_architecture(f, net, evals, recal, "recalibrate")
    # by hand: cumulative average of batch statistics, then eval mode
    with torch.no_grad():
        for m in batchnorms(net):
            m.reset_running_stats()
            m.momentum = None
        net.train()
        for x, _ in recal:
            f(x)
        net.eval()
        correct = sum((f(x).argmax(1) == y).sum().item() for x, y in evals)
    assert got[0] == pytest.approx(100.0 * correct / 32)


def test_recalibrate_ignores_previous_running_stats(setup):
    net, evals, recal = setup
    f = lambda x: net(x, ARCH)  # noqa: E731
    first = score_architecture(f, net, evals, recal, "recalibrate")
    for m in batchnorms(net):
        if m.running_mean is not None:
            m.running_mean.fill_(5.0)
    assert score_architecture(f, net, evals, recal, "recalibrate") == first
    assert score_architecture(f, net, evals, recal, "ema") != first


SCORED = [ARCH, (2, 3, 3, 2, 2, 3), (3, 0, 4, 1, 3, 2), ARCH, (3, 2, 3, 3, 1, 4), (2, 3, 2, 2, 2, 2)]


def fixed_method(net):
    from supernet_bench.methods.base import ScoringModel

    class Fixed:  # the smallest Method: one supernet scores every arch
        def scoring_model(self, arch):
            return ScoringModel(net, lambda x: net(x, arch))

    return Fixed()


def score_counting_hits(method, archs, evals, recal, mode):
    from supernet_bench.evaluation import score_architectures
    from supernet_bench.spaces.forward_cache import ForwardCaching

    hits, real_close = [], ForwardCaching.close

    def close(self):
        hits.append(self.hits)
        real_close(self)

    ForwardCaching.close = close
    try:
        acc, loss = score_architectures(method, archs, evals, recal, mode)
    finally:
        ForwardCaching.close = real_close
    return acc, loss, hits[0]


@pytest.mark.parametrize("mode", BN_MODES)
def test_forward_cache_gives_bit_identical_scores_and_is_dropped_after_scoring(setup, mode):
    """score_architectures reuses the stem and first-cell op outputs archs share (spaces/forward_cache.py):
    the same numbers as scoring every arch from scratch, in every BN mode; no cache survives the call."""
    net, evals, recal = setup
    plain = [score_architecture(lambda x, a=a: net(x, a), net, evals, recal, mode) for a in SCORED]
    acc, loss, hits = score_counting_hits(fixed_method(net), SCORED, evals, recal, mode)
    assert acc.tolist() == [p[0] for p in plain] and loss.tolist() == [p[1] for p in plain]
    passes = len(evals) + (len(recal) if mode in ("recalibrate", "ema") else 0)
    assert hits >= passes * (len(SCORED) - 1)  # at least the stem hits for every arch after the first
    assert not net.forward_cache.active and not net.forward_cache.entries
    net.train()
    net(evals[0][0], ARCH).sum().backward()  # training never touches the cache
    assert not net.forward_cache.entries


def test_forward_cache_evicts_whole_keys_between_archs_and_stays_exact(setup):
    """With room for only a few outputs, eviction happens between archs, never inside one, so a BN whose
    recalibration pass was skipped is never run with reset statistics."""
    net, evals, recal = setup
    plain = [score_architecture(lambda x, a=a: net(x, a), net, evals, recal, "recalibrate") for a in SCORED]
    one = evals[0][0][:, :4].nelement() * 4  # bytes of one C=4 output of one batch
    net.forward_cache.max_bytes = 14 * one  # 3.5 keys of 4 batches (2 recalibration + 2 evaluation)
    acc, _, hits = score_counting_hits(fixed_method(net), SCORED, evals, recal, "recalibrate")
    assert acc.tolist() == [p[0] for p in plain]
    assert hits > 0


def test_forward_cache_keys_follow_glow_blocks():
    """CLOSE: the same op on the same edge in another GLOW block is another computation."""
    from functools import partial

    from supernet_bench.methods.close.glow import GlowWeights

    torch.manual_seed(0)
    net = NB201Supernet(num_classes=10, C=4, N=1, weights_factory=partial(GlowWeights, num_blocks=2))
    w = net.weights
    w.num_active = 2
    arch = (3, 2, 1, 2, 4, 1)  # op 3 on edge 0 only
    w.set_assignment((0,) * 6)
    k0 = w.computation_key(0, 0, 3, arch)
    w.set_assignment((1,) * 6)
    assert k0 is not None and w.computation_key(0, 0, 3, arch) not in (None, k0)
    # ARCH has op 3 on edges 0, 3 and 5: one block serving several edges is never cached ...
    assert w.computation_key(0, 0, 3, ARCH) is None
    # ... unless the edges use different blocks
    w.set_assignment((0, 0, 0, 1, 0, 0))
    assert w.computation_key(0, 0, 3, ARCH) is None  # edge 5 still shares block 0 with edge 0
    w.set_assignment((0, 0, 0, 1, 0, 1))
    assert w.computation_key(0, 0, 3, ARCH) is not None


def test_archs_are_scored_grouped_by_their_first_choices_and_returned_in_input_order(setup):
    """score_architectures visits archs in lexicographic order (so the forward cache's first-cell entries
    are reused before eviction) but returns each score at its arch's input position, equal to scoring it
    alone."""
    from supernet_bench.evaluation import score_architectures

    net, evals, recal = setup
    visited = []
    method = fixed_method(net)
    real = method.scoring_model
    method.scoring_model = lambda arch: (visited.append(tuple(arch)), real(arch))[1]
    acc, loss = score_architectures(method, SCORED, evals, recal, "recalibrate")
    assert visited == sorted(SCORED)
    alone = [score_architecture(lambda x, a=a: net(x, a), net, evals, recal, "recalibrate") for a in SCORED]
    assert acc.tolist() == [a for a, _ in alone] and loss.tolist() == [l for _, l in alone]


@pytest.mark.parametrize("num_active", [1, 2])
@pytest.mark.parametrize("mode", ["recalibrate", "ema"])
def test_forward_cache_is_exact_when_a_glow_block_serves_several_edges(setup, num_active, mode):
    """CLOSE: one GLOW block serves every edge assigned to it, so within an architecture its BN statistics
    pool all of those edges' inputs; an output cached where the block served one edge must not be reused
    where it serves two. Scores with the cache must equal scoring each arch alone (found as a 2-3 point
    accuracy error on some CLOSE archs in a proxy run)."""
    from functools import partial

    from supernet_bench.methods.base import ScoringModel
    from supernet_bench.methods.close.glow import GlowWeights

    _, evals, recal = setup
    torch.manual_seed(0)
    net = NB201Supernet(num_classes=10, C=4, N=1, weights_factory=partial(GlowWeights, num_blocks=2))
    net.weights.num_active = num_active
    archs = [(0, 1, 2, 2, 0, 4), (2, 3, 1, 3, 3, 4), (2, 2, 3, 4, 0, 0), (3, 3, 3, 3, 3, 3), (2, 1, 2, 2, 2, 3),
             (3, 2, 2, 3, 1, 2), (2, 0, 4, 2, 1, 2)]

    def blocks(arch):
        return tuple((slot + sum(arch)) % num_active for slot in range(6))

    def forward(arch):
        def f(x):
            net.weights.set_assignment(blocks(arch))
            return net(x, arch)

        return f

    class Close:
        def scoring_model(self, arch):
            return ScoringModel(net, forward(arch))

    alone = [score_architecture(forward(a), net, evals, recal, mode) for a in archs]
    acc, loss, hits = score_counting_hits(Close(), archs, evals, recal, mode)
    assert hits > 0
    assert acc.tolist() == [a for a, _ in alone] and loss.tolist() == [l for _, l in alone]


def test_recalibration_time_is_measured_apart_and_does_not_change_scores(setup):
    """timing["recal_s"] holds the BN-preparation seconds only: each recalibration forward here sleeps 20 ms,
    the evaluation forwards do not."""
    import time

    net, evals, recal = setup

    def forward(x):
        if any(m.training for m in batchnorms(net)):  # BN in train mode: a recalibration forward
            time.sleep(0.02)
        return net(x, ARCH)

    plain = score_architecture(lambda x: net(x, ARCH), net, evals, recal, "recalibrate")
    timing: dict[str, float] = {}
    timed = score_architecture(forward, net, evals, recal, "recalibrate", timing)
    assert timed == plain
    assert 0.04 <= timing["recal_s"] < 1.0  # two recalibration batches
    score_architecture(forward, net, evals, recal * 3, "recalibrate", timing)
    assert timing["recal_s"] >= 0.04 + 0.12  # accumulates: six more batches
