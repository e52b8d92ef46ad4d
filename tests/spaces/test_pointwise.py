"""spaces/pointwise.py: a strided 1x1 conv as subsample + stride-1 conv is nn.Conv2d's function, and the
spaces use it for every strided 1x1 conv."""

from __future__ import annotations

import pytest
import torch
import torch.nn as nn
from supernet_bench.spaces import get_space
from supernet_bench.spaces.darts.supernet import DartsSupernet
from supernet_bench.spaces.nds.supernet import SlicedConv2d
from supernet_bench.spaces.pointwise import PointwiseConv2d


@pytest.mark.parametrize("c_in", [1, 2, 3, 4, 5, 6, 8, 16])
@pytest.mark.parametrize("stride", [1, 2])
@pytest.mark.parametrize("size", [8, 7])
def test_same_function_values_and_gradients_as_conv2d(c_in, stride, size):
    """Float64 (no oneDNN): the output, input and weight gradients of nn.Conv2d, odd sizes included."""
    torch.manual_seed(0)
    ours = PointwiseConv2d(c_in, 8, stride).double()
    theirs = nn.Conv2d(c_in, 8, 1, stride=stride, bias=False).double()
    theirs.load_state_dict(ours.state_dict())  # same keys, same parameters
    x = torch.randn(4, c_in, size, size, dtype=torch.float64, requires_grad=True)
    y_ours, y_theirs = ours(x), theirs(x)
    torch.testing.assert_close(y_ours, y_theirs, rtol=1e-12, atol=1e-12)
    g = torch.randn_like(y_theirs)
    ours_grads = torch.autograd.grad(y_ours, (x, ours.weight), g)
    theirs_grads = torch.autograd.grad(y_theirs, (x, theirs.weight), g)
    for a, b in zip(ours_grads, theirs_grads):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("c_in", [2, 3, 4, 5, 6, 8, 16])
def test_float32_channels_last_gradients_on_this_cpu(c_in):
    """The case oneDNN's AVX2 strided 1x1 backward got wrong (weight gradients, c_in 2-6, see the module):
    float32 channels-last gradients over 20 steps agree with float64."""
    torch.manual_seed(0)
    conv = PointwiseConv2d(c_in, 8, stride=2).to(memory_format=torch.channels_last)
    reference = PointwiseConv2d(c_in, 8, stride=2).double()
    reference.load_state_dict(conv.state_dict())
    isa = torch.backends.cpu.get_cpu_capability()
    for _ in range(20):
        x = torch.randn(4, c_in, 8, 8).contiguous(memory_format=torch.channels_last).requires_grad_()
        y = conv(x)
        g = torch.randn_like(y)
        gx, gw = torch.autograd.grad(y, (x, conv.weight), g)
        x64 = x.detach().double().requires_grad_()
        rx, rw = torch.autograd.grad(reference(x64), (x64, reference.weight), g.double())
        torch.testing.assert_close(gw.double(), rw, rtol=1e-4, atol=1e-4, msg=lambda m: f"{isa} weight grad: {m}")
        torch.testing.assert_close(gx.double(), rx, rtol=1e-4, atol=1e-4, msg=lambda m: f"{isa} input grad: {m}")


def strided_pointwise_convs(net: nn.Module) -> list[str]:
    """Names of plain nn.Conv2d modules with a 1x1 kernel and a stride: oneDNN's strided 1x1 path."""
    return [
        name
        for name, m in net.named_modules()
        if type(m) is nn.Conv2d and m.kernel_size == (1, 1) and m.stride != (1, 1)
    ]


@pytest.mark.parametrize(
    "build",
    [
        lambda: get_space("macro").build_supernet(10, width_mult=0.125),
        lambda: DartsSupernet(num_classes=10, C=4, layers=5),
        lambda: get_space("nds-resnet").build_supernet(10, width_mult=0.125),
        lambda: get_space("nds-resnexta").build_supernet(10, width_mult=0.125),
        lambda: get_space("nb201").build_supernet(10, C=8, N=1),
    ],
    ids=["macro", "darts", "nds-resnet", "nds-resnexta", "nb201"],
)
def test_no_space_uses_a_plain_strided_1x1_conv(build):
    assert strided_pointwise_convs(build()) == []


def test_sliced_strided_1x1_is_the_strided_conv_of_its_slice():
    """NDS's sliced projection subsamples itself (SlicedConv2d.forward): the strided conv of the weight slice."""
    torch.manual_seed(0)
    conv = SlicedConv2d(8, 16, 1, stride=2).double()
    x = torch.randn(2, 5, 7, 7, dtype=torch.float64, requires_grad=True)
    ours = conv(x, 12)
    theirs = torch.nn.functional.conv2d(x, conv.weight[:12, :5], stride=2)
    torch.testing.assert_close(ours, theirs, rtol=1e-12, atol=1e-12)
    g = torch.randn_like(theirs)
    for a, b in zip(torch.autograd.grad(ours, (x, conv.weight), g), torch.autograd.grad(theirs, (x, conv.weight), g)):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)
