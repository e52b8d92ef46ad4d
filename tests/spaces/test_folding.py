"""Folding an eval-mode BN into its conv must not change what a scoring pass computes (spaces/folding.py)."""

from __future__ import annotations

import pytest
import torch
import torch.nn as nn
from supernet_bench.spaces.folding import can_fold, folded_conv_bn
from supernet_bench.spaces.nb201.supernet import NB201Supernet, ReLUConvBN


def _trained_stats(block: nn.Module, channels: int) -> None:
    """Non-trivial running statistics and affine parameters, as after training and recalibration."""
    block.train()
    with torch.no_grad():
        for _ in range(3):
            block(torch.randn(8, channels, 6, 6, dtype=torch.float64) * 3 + 1)
        for p in block.parameters():
            p.add_(torch.randn_like(p) * 0.1)
    block.eval()


@pytest.mark.parametrize("affine", [True, False])
@pytest.mark.parametrize("stride", [1, 2])
def test_folded_equals_conv_then_bn(affine, stride):
    torch.manual_seed(0)
    block = ReLUConvBN(4, 6, 3, stride, 1, affine=affine).double()
    _trained_stats(block, 4)
    x = torch.randn(5, 4, 9, 9, dtype=torch.float64)
    with torch.no_grad():
        assert can_fold(block[2])
        unfolded = block[2](block[1](block[0](x)))
        torch.testing.assert_close(block(x), unfolded, rtol=1e-12, atol=1e-12)
        torch.testing.assert_close(folded_conv_bn(x, block[1], block[2]), block[2](block[1](x)))


def test_folding_only_where_nothing_can_tell():
    bn = nn.BatchNorm2d(3)
    assert not can_fold(bn), "training mode normalises with batch statistics"
    bn.eval()
    assert not can_fold(bn), "autograd is on: gradients must reach the BN's own parameters"
    with torch.no_grad():
        assert can_fold(bn)
        assert not can_fold(nn.BatchNorm2d(3, track_running_stats=False).eval()), "no running statistics"


def test_supernet_scoring_unchanged_by_folding(monkeypatch):
    """A whole NB201 supernet in eval mode gives the logits of its unfolded twin (float64, every op on)."""
    torch.manual_seed(0)
    net = NB201Supernet(10, C=4, N=1).double()
    _trained_stats_net(net)
    x = torch.randn(6, 3, 8, 8, dtype=torch.float64)
    arch = (3, 2, 3, 4, 2, 3)
    with torch.no_grad():
        folded = net(x, arch)
        monkeypatch.setattr("supernet_bench.spaces.nb201.supernet.can_fold", lambda bn: False)
        plain = net(x, arch)
    torch.testing.assert_close(folded, plain, rtol=1e-10, atol=1e-10)
    assert not torch.equal(folded, torch.zeros_like(folded))


def _trained_stats_net(net: NB201Supernet) -> None:
    net.train()
    with torch.no_grad():
        for _ in range(3):
            net(torch.randn(8, 3, 8, 8, dtype=torch.float64) * 2, (3, 2, 3, 4, 2, 3))
    net.eval()
