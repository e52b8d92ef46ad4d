"""Zero-cost proxies and cost counts: rank an architecture from one minibatch at initialization.

Each proxy takes a supernet (``model(x, arch) -> logits``, weights at initialization), an architecture and
one batch, and returns a float (higher = predicted better). Run on a supernet, a single path is exactly the
stand-alone network of that architecture: parameters off the path get no gradient and are left out.

- ``synflow`` (Tanaka et al. 2020, as scored by Abdelfattah et al., ICLR 2021): batch-norm bypassed,
  parameters replaced by their absolute values, an all-ones input in float64; the sum over conv and linear
  weights of |theta * dR/dtheta| with R the sum of the outputs.
- ``snip`` (Lee et al. 2019) and ``grad_norm`` (Abdelfattah et al. 2021): one cross-entropy backward on the
  batch; sum over conv and linear weights of |theta * dL/dtheta|, and the sum of per-layer gradient norms.
- ``jacob_cov`` (Mellor et al. 2020, v1 of "Neural Architecture Search without Training"): the input
  Jacobians of the summed output, their correlation matrix's eigenvalues v, score -sum(log(v+k) + 1/(v+k)),
  k = 1e-5.
- ``naswot`` (Mellor et al. ICML 2021): the binary ReLU codes of every sample, the kernel
  K = C C^T + (1-C)(1-C)^T over the batch, score log|det K|.
- ``flops``: multiply-accumulates of conv and linear layers for one image of the given shape.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterator

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from supernet_bench.spaces.nb201.supernet import PreActivatedConvBN

Arch = tuple[int, ...]
Proxy = Callable[[nn.Module, Arch, torch.Tensor, torch.Tensor], float]

JACOB_K = 1e-5
FLOOR = -1e30  # an architecture whose output does not depend on its input (a disconnected cell) ranks last


def _weighted_layers(model: nn.Module) -> Iterator[nn.Module]:
    """Conv and linear layers: the layers the proxies' papers sum over."""
    return (m for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear)))


@contextlib.contextmanager
def _train_mode(model: nn.Module):
    """Batch statistics, as the proxies' papers use; BN running statistics and the mode are restored."""
    was = model.training
    saved = {k: v.clone() for k, v in model.state_dict().items() if "running" in k or "num_batches" in k}
    model.train()
    try:
        yield
    finally:
        model.load_state_dict(saved, strict=False)
        model.train(was)
        model.zero_grad(set_to_none=True)


@contextlib.contextmanager
def _without_batchnorm(model: nn.Module):
    """Every batch-norm layer is the identity inside the block (synflow's "bn=False" network)."""
    bns = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    for bn in bns:
        bn.forward = _identity
    try:
        yield
    finally:
        for bn in bns:
            del bn.forward


def _identity(x: torch.Tensor) -> torch.Tensor:
    return x


def synflow(model: nn.Module, arch: Arch, inputs: torch.Tensor, targets: torch.Tensor) -> float:
    """Synaptic flow of the path, data-free (only the input shape is used)."""
    del targets
    with _train_mode(model), _without_batchnorm(model):
        originals = {k: v.clone() for k, v in model.state_dict().items()}
        try:
            model.double()
            with torch.no_grad():
                for p in model.state_dict().values():
                    if p.is_floating_point():
                        p.abs_()
            model.zero_grad(set_to_none=True)
            ones = torch.ones((1, *inputs.shape[1:]), dtype=torch.float64)
            model(ones, arch).sum().backward()
            total = sum(
                float((m.weight.detach() * m.weight.grad).abs().sum())
                for m in _weighted_layers(model)
                if m.weight.grad is not None
            )
        finally:
            model.float()
            model.load_state_dict(originals)
    return total


def snip_and_grad_norm(model: nn.Module, arch: Arch, inputs: torch.Tensor, targets: torch.Tensor) -> dict[str, float]:
    """Both from one cross-entropy backward on the batch."""
    with _train_mode(model):
        model.zero_grad(set_to_none=True)
        F.cross_entropy(model(inputs, arch), targets).backward()
        layers = [m for m in _weighted_layers(model) if m.weight.grad is not None]
        snip = sum(float((m.weight.detach() * m.weight.grad).abs().sum()) for m in layers)
        grad_norm = sum(float(m.weight.grad.norm()) for m in layers)
    return {"snip": snip, "grad_norm": grad_norm}


def _relu_codes(model: nn.Module, codes: list[torch.Tensor]) -> list:
    """Hooks collecting each sample's binary ReLU code: outputs of ReLU modules and the ReLU'd inputs of
    pre-activated convolutions (NB201 computes that ReLU once per node; the paper's network once per edge)."""

    def keep(t: torch.Tensor) -> None:
        codes.append((t.detach() > 0).flatten(1).to(torch.float64))

    handles = []
    for m in model.modules():
        if isinstance(m, (nn.ReLU, nn.ReLU6)):
            handles.append(m.register_forward_hook(lambda _m, _i, out: keep(out)))
        elif isinstance(m, PreActivatedConvBN):
            handles.append(m[1].register_forward_pre_hook(lambda _m, args: keep(args[0])))
    return handles


def jacob_cov_and_naswot(model: nn.Module, arch: Arch, inputs: torch.Tensor, targets: torch.Tensor) -> dict[str, float]:
    """Both from one forward pass (NASWOT's codes) and its input-gradient backward (jacob_cov)."""
    del targets
    codes: list[torch.Tensor] = []
    with _train_mode(model):
        handles = _relu_codes(model, codes)
        try:
            x = inputs.clone().requires_grad_(True)
            out = model(x, arch)
        finally:
            for h in handles:
                h.remove()
        if out.requires_grad:
            out.backward(torch.ones_like(out))
        grad = x.grad if x.grad is not None else torch.zeros_like(x)  # output independent of the input
        jacobian = grad.detach().flatten(1).to(torch.float64).numpy()
    return {"jacob_cov": jacob_cov_score(jacobian), "naswot": naswot_score(codes, inputs.shape[0])}


def jacob_cov_score(jacobian: np.ndarray) -> float:
    """-sum(log(v + k) + 1/(v + k)) over the eigenvalues v of the Jacobians' correlation matrix."""
    with np.errstate(invalid="ignore", divide="ignore"):
        corr = np.corrcoef(jacobian)
    if not np.isfinite(corr).all():
        return FLOOR
    v = np.linalg.eigvalsh(corr)
    return float(-np.sum(np.log(v + JACOB_K) + 1.0 / (v + JACOB_K)))


def naswot_score(codes: list[torch.Tensor], batch: int) -> float:
    """log|det K| of the Hamming-similarity kernel of the binary codes."""
    kernel = torch.zeros(batch, batch, dtype=torch.float64)
    for c in codes:
        kernel += c @ c.T + (1.0 - c) @ (1.0 - c).T
    sign, logdet = torch.linalg.slogdet(kernel)
    return float(logdet) if float(sign) != 0 and math.isfinite(float(logdet)) else FLOOR


PROXIES = ("synflow", "snip", "grad_norm", "jacob_cov", "naswot")


def zero_cost_scores(
    model: nn.Module, arch: Arch, inputs: torch.Tensor, targets: torch.Tensor, proxies=PROXIES
) -> dict[str, float]:
    """The requested proxies for one architecture (the model's weights are left as they were)."""
    wanted = set(proxies)
    unknown = wanted - set(PROXIES)
    if unknown:
        raise ValueError(f"unknown zero-cost proxy: {', '.join(sorted(unknown))}; known: {', '.join(PROXIES)}")
    out: dict[str, float] = {}
    if "synflow" in wanted:
        out["synflow"] = synflow(model, arch, inputs, targets)
    if wanted & {"snip", "grad_norm"}:
        out.update(snip_and_grad_norm(model, arch, inputs, targets))
    if wanted & {"jacob_cov", "naswot"}:
        out.update(jacob_cov_and_naswot(model, arch, inputs, targets))
    return {k: out[k] for k in PROXIES if k in wanted}


def flops(model: nn.Module, arch: Arch, input_shape: tuple[int, ...]) -> float:
    """Multiply-accumulates of the conv and linear layers the path runs, for one input of ``input_shape``."""
    total = 0.0

    def count(m: nn.Module, _inp, out: torch.Tensor) -> None:
        nonlocal total
        if isinstance(m, nn.Conv2d):
            per_out = m.in_channels // m.groups * m.kernel_size[0] * m.kernel_size[1]
            total += float(out[0].numel()) * per_out
        else:
            total += float(m.in_features * m.out_features)

    handles = [m.register_forward_hook(count) for m in _weighted_layers(model)]
    try:
        with _train_mode(model), torch.no_grad():  # train mode: no conv-BN folding, every conv runs as a module
            model(torch.zeros((2, *input_shape)), arch)  # 2 images: BN in train mode needs more than one value
    finally:
        for h in handles:
            h.remove()
    return total  # counted on the first image only
