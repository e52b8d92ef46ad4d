"""Reuse computations that several scored architectures share: the stem, and the first cell's edges.

Scoring an architecture sample at one checkpoint repeats work. The stem computes the same function for
every architecture, and an op on an edge out of the first cell's input node computes the same function
for every architecture that picks that op there: its weights are the same module, and the BN procedures
of scoring (harness/evaluation.py) give its BN the same statistics, because they depend only on the
module's inputs over the same fixed batches (recalibration resets and recomputes them; EMA starts from the
same restored buffers; batch-stats modes normalise each batch by itself). That holds only while the module
serves this one edge of the architecture: a GLOW block (CLOSE) used by two edges pools both edges' inputs
into its statistics, so its key is None there (spaces/weights.py `computation_key`). The same holds one node further
for ops out of node 1, whose input depends only on the op of edge 1<-0. So the output of such a
computation, for a given batch and BN mode, is computed once and looked up afterwards. Results are
bit-identical to scoring every architecture from scratch (tests/harness/test_evaluation.py).

Keys: the identity of the batch tensor (the evaluation and recalibration batches are the same tensor
objects for every architecture; an entry holds a reference, so an id is never reused), whether BN is in
training mode (recalibration pass) or not, and a computation key (`("stem",)`, or the weights' key of the
op's module plus the key of its input, spaces/weights.py `computation_key`).

BN side effects: a cache hit during recalibration skips the module, so its running statistics are not
recomputed, and the evaluation pass must then hit as well. Entries are therefore added during an
architecture's pass and evicted only between architectures (`end_arch`), whole computation keys at a
time, least recently used first, down to `max_bytes`: within one architecture a key is either present
for every batch (computed by an earlier architecture's full pass) or computed for every batch.

Active only inside `forward_caching()`, which `score_architectures` enters; never with gradients on, so
training never sees it; leaving the context drops every entry.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager

import torch
import torch.nn as nn

MAX_BYTES = 1 << 30
"""Cap on cached tensors per supernet (1 GiB): the NB201 proxy (16x16, C=16, 1,273 scoring images) needs
~21 MB per cached op output, ~33 outputs to cover the first cell's node-0 and node-1 edges."""


class ForwardCache:
    """Per-supernet store: computation key -> {(id(batch), BN training): (batch, output)}."""

    def __init__(self, max_bytes: int = MAX_BYTES) -> None:
        self.active = False
        self.max_bytes = max_bytes
        self.entries: OrderedDict[Hashable, dict[tuple[int, bool], tuple[torch.Tensor, torch.Tensor]]] = OrderedDict()
        self.hits = 0
        self.bn_training = False  # the BN mode of the current forward, read from the stem (`stem`)

    def enabled(self) -> bool:
        return self.active and not torch.is_grad_enabled()

    def __call__(self, key: Hashable | None, batch: torch.Tensor, compute: Callable[[], torch.Tensor]) -> torch.Tensor:
        """`compute()`, or its stored result for (key, batch, BN mode); `key=None` never caches."""
        if key is None or not self.enabled():
            return compute()
        slot = (id(batch), self.bn_training)
        per_batch = self.entries.get(key)
        if per_batch is not None:
            hit = per_batch.get(slot)
            if hit is not None and hit[0] is batch:
                self.entries.move_to_end(key)
                self.hits += 1
                return hit[1]
        out = compute()
        self.entries.setdefault(key, {})[slot] = (batch, out)
        self.entries.move_to_end(key)
        return out

    def stem(self, stem: nn.Module, x: torch.Tensor) -> torch.Tensor:
        """`stem(x)` through the cache; also records the BN mode the later lookups of this forward use."""
        if self.enabled():
            self.bn_training = bn_training(stem)
        return self(("stem",), x, lambda: stem(x))

    def nbytes(self) -> int:
        return sum(out.nelement() * out.element_size() for d in self.entries.values() for _, out in d.values())

    def end_arch(self) -> None:
        """Between architectures: evict least recently used keys (all their batches) down to max_bytes."""
        while self.entries and self.nbytes() > self.max_bytes:
            self.entries.popitem(last=False)

    def clear(self) -> None:
        self.entries.clear()
        self.hits = 0


def bn_training(module: nn.Module) -> bool:
    """Whether `module`'s first BatchNorm is in training mode (scoring sets every BN alike)."""
    for m in module.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            return m.training
    return module.training


class ForwardCaching:
    """Activates the forward caches of the modules it is given (`add`); `end_arch` between architectures."""

    def __init__(self) -> None:
        self.caches: dict[int, ForwardCache] = {}

    def add(self, module: nn.Module) -> None:
        for m in module.modules():
            cache = getattr(m, "forward_cache", None)
            if isinstance(cache, ForwardCache) and id(cache) not in self.caches:
                cache.clear()
                cache.active = True
                self.caches[id(cache)] = cache

    def end_arch(self) -> None:
        for cache in self.caches.values():
            cache.end_arch()

    @property
    def hits(self) -> int:
        return sum(c.hits for c in self.caches.values())

    def close(self) -> None:
        for cache in self.caches.values():
            cache.active = False
            cache.clear()
        self.caches.clear()


@contextmanager
def forward_caching() -> Iterator[ForwardCaching]:
    """`with forward_caching() as fc: fc.add(module) ...`: caches live only inside the block."""
    fc = ForwardCaching()
    try:
        yield fc
    finally:
        fc.close()
