"""Scoring architectures with a trained supernet: BN handling (docs/protocol.md#bn-modes) and accuracy/loss.

Scoring never changes training state: BN buffers are saved before and restored after, the
recalibration batches are a fixed list, and nothing here draws from the training RNGs.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from contextlib import contextmanager

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from supernet_bench.methods.base import Method
from supernet_bench.spaces.base import Arch
from supernet_bench.spaces.forward_cache import forward_caching

BN_MODES = ("recalibrate", "ema", "batch-stats", "train-mode")
"""recalibrate: reset running stats, cumulative average over the recalibration batches, eval mode (SPOS).
ema: no reset, EMA update (momentum 0.1) over the recalibration batches, eval mode (uninas/Laube).
batch-stats / train-mode: every evaluation batch normalised with its own statistics (DYNAS, aw_nas)."""

SCORES = ("accuracy", "neg_loss")

Batch = tuple[torch.Tensor, torch.Tensor]


def batchnorms(module: nn.Module) -> list[nn.modules.batchnorm._BatchNorm]:
    return [m for m in module.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]


@contextmanager
def preserved_state(module: nn.Module):
    """Restore BN buffers and train/eval flags after scoring."""
    bns = batchnorms(module)
    saved = [(m.training, m.momentum, [b.clone() for b in m.buffers()]) for m in bns]
    was_training = module.training
    try:
        yield bns
    finally:
        for m, (training, momentum, buffers) in zip(bns, saved):
            for b, s in zip(m.buffers(), buffers):
                b.copy_(s)
            m.momentum = momentum
            m.train(training)
        module.train(was_training)


@torch.no_grad()
def _prepare_bn(module: nn.Module, bns, forward, mode: str, recal: Sequence[Batch]) -> None:
    module.eval()  # dropout off
    if mode in ("batch-stats", "train-mode"):
        for m in bns:
            m.train()
            m.momentum = 0.0  # normalise with batch statistics, leave the running buffers alone
        return
    for m in bns:
        if mode == "recalibrate":
            m.reset_running_stats()
            m.momentum = None  # cumulative moving average over the recalibration batches
        m.train()
    for x, _ in recal:
        forward(x)
    for m in bns:
        m.eval()


@torch.no_grad()
def score_architecture(
    forward: Callable[[torch.Tensor], torch.Tensor],
    module: nn.Module,
    eval_batches: Sequence[Batch],
    recal_batches: Sequence[Batch],
    bn_mode: str,
    timing: dict[str, float] | None = None,
) -> tuple[float, float]:
    """(accuracy in percent, mean cross-entropy) of one architecture on the evaluation split.

    Per-batch sums stay on the device and are read back once per architecture (one GPU sync, not one
    per batch); the loss is then summed batch by batch in float64 as before, so CPU scores are unchanged.

    `timing["recal_s"]`, when given, accumulates the seconds spent preparing BN (recalibration), so the
    cost of eval.recal_batches can be measured apart from the evaluation forwards.
    """
    with preserved_state(module) as bns:
        t0 = time.perf_counter()
        _prepare_bn(module, bns, forward, bn_mode, recal_batches)
        if timing is not None:
            timing["recal_s"] = timing.get("recal_s", 0.0) + time.perf_counter() - t0
        losses, corrects, n = [], [], 0
        for x, y in eval_batches:
            logits = forward(x)
            losses.append(F.cross_entropy(logits.float(), y, reduction="sum"))
            corrects.append((logits.argmax(1) == y).sum())
            n += len(y)
    batch_losses = torch.stack(losses).tolist()
    correct = int(torch.stack(corrects).sum().item())
    loss = 0.0
    for value in batch_losses:
        loss += value
    return 100.0 * correct / n, loss / n


def scoring_order(archs: Sequence[Arch]) -> list[int]:
    """Indices of `archs` in lexicographic order: architectures that share their first choices are scored
    one after another, so the forward cache's entries for those choices are reused before eviction.
    Each score is independent of the order (tests/harness/test_evaluation.py)."""
    return sorted(range(len(archs)), key=lambda i: tuple(archs[i]))


def score_architectures(
    method: Method,
    archs: Sequence[Arch],
    eval_batches: Sequence[Batch],
    recal_batches: Sequence[Batch],
    bn_mode: str,
    progress: Callable[[int], None] | None = None,
    cache: bool = True,
    timing: dict[str, float] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Accuracy and loss arrays (N,) for `archs`, each scored by the method's scoring model.

    `cache`: reuse computations archs share (spaces/forward_cache.py); same scores either way."""
    acc = np.empty(len(archs))
    loss = np.empty(len(archs))
    with forward_caching() as fc:
        for i in scoring_order(archs):
            sm = method.scoring_model(archs[i])
            if cache:
                fc.add(sm.module)
            acc[i], loss[i] = score_architecture(
                sm.forward, sm.module, eval_batches, recal_batches, bn_mode, timing
            )
            fc.end_arch()
            if progress is not None:
                progress(1)
    return acc, loss
