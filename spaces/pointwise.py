"""Strided 1x1 convolutions as subsample-then-convolve: the same function, without oneDNN's strided 1x1
backward.

On the 2-core AVX2 VM (torch 2.13 CPU, oneDNN's `jit_1x1:avx2` backward-weights primitive), a 1x1 stride-2
channels-last convolution with 2-6 input channels returned wrong weight gradients in most steps and could
corrupt the heap ("double free or corruption", which aborted the CLOSE-on-Macro tests); stride-1 1x1
convolutions were right for every channel count tried (1-32). A 1x1 kernel without padding reads only the
pixels at multiples of the stride, so subsampling first and convolving with stride 1 is the identical
function. Used for every strided 1x1 convolution of the spaces (Macro's identity shortcut, DARTS's
FactorizedReduce, NDS's projection), whatever the channel count, so no space depends on that kernel.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F


def subsample(x: torch.Tensor, stride: tuple[int, int]) -> torch.Tensor:
    """The pixels a 1x1, unpadded, strided convolution reads."""
    return x if stride == (1, 1) else x[:, :, :: stride[0], :: stride[1]]


class PointwiseConv2d(nn.Conv2d):
    """nn.Conv2d with a 1x1 kernel (same parameters and state-dict keys) whose stride is a subsample."""

    def __init__(self, c_in: int, c_out: int, stride: int = 1, bias: bool = False):
        super().__init__(c_in, c_out, 1, stride=stride, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(subsample(x, self.stride), self.weight, self.bias)
