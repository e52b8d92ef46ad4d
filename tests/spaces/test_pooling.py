"""BoxAverage must be nn.AvgPool2d's function, values and gradients, only faster (spaces/pooling.py)."""

from __future__ import annotations

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from supernet_bench.spaces.pooling import BoxAverage

CASES = [  # kernel, stride, padding, count_include_pad: NB201's op and shortcut, DARTS's reduction op
    (3, 1, 1, False),
    (2, 2, 0, True),
    (3, 2, 1, False),
    (3, 1, 1, True),
]


@pytest.mark.parametrize("kernel,stride,padding,include", CASES)
@pytest.mark.parametrize("shape", [(4, 16, 32, 32), (3, 5, 7, 9)])
@pytest.mark.parametrize("channels_last", [True, False])
def test_values_match_avg_pool2d(kernel, stride, padding, include, shape, channels_last):
    """avg_pool2d's values to float64 rounding, in the input's memory format."""
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    x = torch.randn(shape, dtype=torch.float64).contiguous(memory_format=fmt)
    theirs = nn.AvgPool2d(kernel, stride, padding, count_include_pad=include)(x)
    with torch.no_grad():
        ours = BoxAverage(kernel, stride, padding, count_include_pad=include)(x)
    assert ours.shape == theirs.shape
    torch.testing.assert_close(ours, theirs, rtol=1e-12, atol=1e-12)
    assert ours.is_contiguous(memory_format=fmt), "the output keeps the input's memory format"


@pytest.mark.parametrize("kernel,stride,padding,include", CASES)
@pytest.mark.parametrize("channels_last", [True, False])
def test_gradients_match_avg_pool2d(kernel, stride, padding, include, channels_last):
    """Training differentiates through the box conv: input gradients are avg_pool2d's to float64 rounding."""
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    x = torch.randn(4, 16, 12, 12, dtype=torch.float64).contiguous(memory_format=fmt).requires_grad_()
    ours = BoxAverage(kernel, stride, padding, count_include_pad=include)(x)
    theirs = nn.AvgPool2d(kernel, stride, padding, count_include_pad=include)(x)
    torch.testing.assert_close(ours, theirs, rtol=1e-12, atol=1e-12)
    grad = torch.randn_like(theirs)
    ours_grad, theirs_grad = (torch.autograd.grad(out, x, grad)[0] for out in (ours, theirs))
    torch.testing.assert_close(ours_grad, theirs_grad, rtol=1e-12, atol=1e-12)


def box_sum(x: torch.Tensor, kernel: int, stride: int, padding: int) -> torch.Tensor:
    """Window sums as a grouped convolution, written out here so that no pooling kernel is involved."""
    box = torch.ones(x.shape[1], 1, kernel, kernel, dtype=x.dtype)
    return F.conv2d(x, box, stride=stride, padding=padding, groups=x.shape[1])


POOLS = {  # float32 implementations: this project's training path, and the session-4 board's
    "box-conv": lambda k, s, p, inc: BoxAverage(k, s, p, count_include_pad=inc),
    "avg_pool2d": lambda k, s, p, inc: nn.AvgPool2d(k, s, p, count_include_pad=inc),
}


@pytest.mark.parametrize("pool", sorted(POOLS))
@pytest.mark.parametrize("kernel,stride,padding,include", CASES[:2])
@pytest.mark.parametrize("shape", [(128, 16, 16, 16), (128, 32, 8, 8), (128, 64, 4, 4)])
def test_float32_pooling_on_this_cpu_is_exact(pool, kernel, stride, padding, include, shape):
    """Float32 channels-last kernels are vectorized per CPU ISA. Check values and input gradients at the
    proxy's shapes against a float64 box convolution: training runs the box conv since session 7, the
    session-4 leaderboard ran avg_pool2d, and oneDNN has been wrong on one ISA before (spaces/pointwise.py).
    A kernel that is wrong on this CPU fails here, naming the ISA."""
    gen = torch.Generator().manual_seed(0)
    x64 = torch.randn(shape, dtype=torch.float64, generator=gen).contiguous(memory_format=torch.channels_last)
    x32 = x64.float().requires_grad_()
    x64.requires_grad_()
    ours = POOLS[pool](kernel, stride, padding, include)(x32)
    covered = kernel**2 if include else box_sum(torch.ones_like(x64[:1, :1]), kernel, stride, padding)
    exact = box_sum(x64, kernel, stride, padding) / covered
    grad = torch.randn(exact.shape, dtype=torch.float64, generator=gen).contiguous(memory_format=torch.channels_last)
    (ours_grad,) = torch.autograd.grad(ours, x32, grad.float())
    (exact_grad,) = torch.autograd.grad(exact, x64, grad)
    isa = torch.backends.cpu.get_cpu_capability()
    torch.testing.assert_close(ours.double(), exact, rtol=0, atol=1e-5, msg=lambda m: f"{pool} {isa} forward: {m}")
    torch.testing.assert_close(
        ours_grad.double(), exact_grad, rtol=0, atol=1e-5, msg=lambda m: f"{pool} {isa} backward: {m}"
    )


def test_border_windows_average_only_real_pixels():
    """count_include_pad=False: a corner of an all-ones image averages 4 real pixels, not 4 of 9."""
    with torch.no_grad():
        out = BoxAverage(3, 1, 1, count_include_pad=False)(torch.ones(1, 2, 4, 4))
        corner = BoxAverage(3, 1, 1, count_include_pad=True)(torch.ones(1, 1, 4, 4))[0, 0, 0, 0]
    assert torch.equal(out, torch.ones(1, 2, 4, 4))
    assert corner.item() == pytest.approx(4 / 9)


def test_scoring_path_leaves_input_alone_and_adds_no_state():
    pool = BoxAverage(3, 1, 1, count_include_pad=False)
    x = torch.randn(2, 3, 6, 6)
    before = x.clone()
    with torch.no_grad():
        pool(x)
    assert torch.equal(x, before)
    assert pool.state_dict() == {} and list(pool.parameters()) == []
