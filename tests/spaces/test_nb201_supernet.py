"""The NB201 supernet: shapes, skipped none/dead edges, shared genotype, weight keying hook."""

from __future__ import annotations

import torch
from supernet_bench.spaces import get_space
from supernet_bench.spaces.nb201.supernet import NB201Supernet, live_edge_list


def tiny(**kw):
    torch.manual_seed(0)
    return NB201Supernet(num_classes=10, C=4, N=2, **kw)


def count_calls(net: NB201Supernet, arch, x):
    calls = []
    original = net.weights.forward

    def spy(layer, slot, op, inp, a):
        calls.append((layer, slot, op))
        return original(layer, slot, op, inp, a)

    net.weights.forward = spy
    net(x, arch)
    return calls


def test_forward_shapes_and_backward():
    net = tiny()
    x = torch.randn(3, 3, 8, 8)
    out = net(x, (3, 2, 1, 4, 3, 2))
    assert out.shape == (3, 10)
    out.sum().backward()
    assert net.stem[0].weight.grad is not None


def test_none_and_dead_edges_are_not_computed():
    net = tiny()
    x = torch.randn(2, 3, 8, 8)
    # conv on 1<-0 but node 1 never reaches node 3; only 3<-0 is live
    arch = (3, 0, 0, 2, 0, 0)
    calls = count_calls(net, arch, x)
    assert {(slot, op) for _, slot, op in calls} == {(3, 2)}
    assert len(calls) == net.num_layers  # one live edge in each of the 6 cells
    assert live_edge_list((3, 0, 0, 0, 0, 0)) == ()


def test_disconnected_cell_outputs_zero_features():
    net = tiny().eval()
    x = torch.randn(2, 3, 8, 8)
    assert len(count_calls(net, (0, 0, 0, 0, 0, 0), x)) == 0
    # with no live edge the cells output zeros, so the input does not matter
    a = net(x, (0,) * 6)
    b = net(torch.randn(2, 3, 8, 8), (0,) * 6)
    assert torch.allclose(a, b)


def test_one_parameter_set_per_layer_slot_op():
    net = tiny()
    convs = [k for k, m in net.weights.ops.items() if any(p.numel() for p in m.parameters())]
    # 6 cells x 6 edges x 2 conv ops
    assert len(convs) == 6 * 6 * 2
    cell_bns = [m for m in net.weights.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert len(cell_bns) == 72 and not any(m.affine for m in cell_bns)  # AutoDL: affine-free in-cell BN


def test_build_supernet_through_space():
    net = get_space("nb201").build_supernet(10, C=4, N=1)
    assert isinstance(net, NB201Supernet) and net.num_layers == 3


def test_training_changes_only_sampled_ops():
    net = tiny()
    arch = (0, 0, 0, 3, 0, 0)  # only 3<-0 conv3x3 is on the path
    before = {k: [p.clone() for p in m.parameters()] for k, m in net.weights.ops.items()}
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    net(torch.randn(4, 3, 8, 8), arch).sum().backward()
    opt.step()
    for k, m in net.weights.ops.items():
        changed = any(not torch.equal(a, b) for a, b in zip(before[k], m.parameters()))
        assert changed == k.endswith("_3_3"), k  # key layer_slot_op: slot 3, op 3


def test_shared_node_relu_computes_the_per_op_relu_network():
    """The cell applies relu(node) once for all conv edges leaving the node; putting the ReLU back into
    every conv op (the AutoDL ReLU-Conv-BN) must give the same outputs and the same gradients."""
    from supernet_bench.spaces.nb201 import supernet as S

    shared, per_op = tiny(), tiny()
    for m in per_op.modules():
        if isinstance(m, S.PreActivatedConvBN):
            m[0] = torch.nn.ReLU()
    x = torch.randn(4, 3, 8, 8)
    for arch in [(3, 2, 1, 3, 4, 3), (2, 3, 3, 2, 2, 3), (3, 3, 0, 3, 1, 2)]:
        for net in (shared, per_op):
            net.zero_grad()
        out = shared(x, arch)
        out.square().sum().backward()
        original = S.PRE_ACTIVATED
        try:
            S.PRE_ACTIVATED = frozenset()  # no shared ReLU: every op applies its own
            ref = per_op(x, arch)
            ref.square().sum().backward()
        finally:
            S.PRE_ACTIVATED = original
        assert torch.equal(out, ref)
        for (name, p), q in zip(shared.named_parameters(), per_op.parameters(), strict=True):
            if p.grad is None or q.grad is None:
                assert p.grad is None and q.grad is None, name
                continue
            assert torch.allclose(p.grad, q.grad, rtol=1e-5, atol=1e-6), name


def test_no_grad_forward_accumulates_in_place_with_the_same_values(monkeypatch):
    """Without autograd, node sums and the reduction block's residual add in place; the logits must be
    bit-identical to the autograd forward for every kind of edge mix (skip edges alias their input, which
    must never be written), and neither the input nor the stem output may change. BN folding, the other
    no-grad difference, is off here: it agrees only to rounding (tests/spaces/test_folding.py)."""
    monkeypatch.setattr("supernet_bench.spaces.nb201.supernet.can_fold", lambda bn: False)
    net = tiny().eval()
    space = get_space("nb201")
    rng = __import__("numpy").random.default_rng(0)
    archs = [space.sample(rng) for _ in range(200)] + [(1, 1, 1, 1, 1, 1), (1, 3, 1, 1, 4, 1), (0, 1, 0, 1, 0, 1)]
    x = torch.randn(4, 3, 8, 8)
    x_before = x.clone()
    for arch in archs:
        with torch.no_grad():
            fast = net(x, arch)
        reference = net(x, arch).detach()
        assert torch.equal(fast, reference), arch
    assert torch.equal(x, x_before)


def test_in_place_accumulation_skips_shared_tensors():
    """A skip edge's output is its input node: summing into it in place would change that node. Spy on
    the sum: node 2 = skip(node 0) + conv(node 1) must leave node 0 (the cell input) untouched."""
    net = tiny().eval()
    seen = []
    original = net.cell

    def cell(layer, x, arch, batch=None):
        before = x.clone()
        out = original(layer, x, arch, batch)
        seen.append(torch.equal(x, before))
        return out

    net.cell = cell
    with torch.no_grad():
        net(torch.randn(2, 3, 8, 8), (1, 1, 3, 1, 2, 1))
    assert seen and all(seen)
