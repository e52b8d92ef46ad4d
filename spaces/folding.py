"""Convolution followed by an inference-mode BatchNorm, computed as one convolution with folded weights.

While scoring, a BN with running statistics is an affine map per channel, so `bn(conv(x))` equals a conv with
weight `W * s` and bias `beta - mean * s` (s = gamma / sqrt(var + eps)). That skips a full pass over the
activation per conv op (BN took 18 % of a profiled scoring pass on the 2-core VM; folding cut the pass's wall
time by 7 %), and the folding itself costs a few hundred multiply-adds. It is used only where nothing can
tell the difference: no autograd, BN in eval mode with running statistics. Values agree with the unfolded
pair to float rounding (about 1e-7 relative), and the same architecture folds the same way every time, so
scores stay deterministic.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F


def can_fold(bn: nn.BatchNorm2d) -> bool:
    """BN normalises with fixed statistics (eval mode, running stats kept) and no gradient is wanted."""
    return not bn.training and bn.running_mean is not None and not torch.is_grad_enabled()


def folded_conv_bn(x: torch.Tensor, conv: nn.Conv2d, bn: nn.BatchNorm2d) -> torch.Tensor:
    """bn(conv(x)) for a BN that `can_fold`, as a single convolution."""
    scale = (bn.running_var + bn.eps).rsqrt()
    shift = -bn.running_mean * scale
    if bn.affine:
        scale = scale * bn.weight
        shift = shift * bn.weight + bn.bias
    if conv.bias is not None:
        shift = shift + conv.bias * scale
    weight = conv.weight * scale.view(-1, 1, 1, 1)
    return F.conv2d(x, weight, shift, conv.stride, conv.padding, conv.dilation, conv.groups)
