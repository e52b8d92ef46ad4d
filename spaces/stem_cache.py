"""Reuse a supernet's stem output across the architectures scored at one checkpoint.

The stem (everything before the first searchable op) computes the same function for every architecture:
its weights are shared, and the BN procedures of scoring (harness/evaluation.py) give its BN the same
statistics for every architecture (recalibration resets and recomputes them on the same fixed batches;
EMA starts from the same restored buffers; batch-stats modes normalise each batch by itself). So within one
scoring pass over an architecture sample, the stem output of a given batch, in a given BN mode, is computed
once and looked up afterwards. On the NB201 proxy the stem is ~8% of a forward pass.

A cache is keyed by the identity of the input tensor (the evaluation and recalibration batches are the
same tensor objects for every architecture; the cache holds a reference, so an id cannot be reused) and
by whether the stem's BN is in training mode. It is active only inside `stem_caching(...)`, which
`score_architectures` enters; training never sees it, and leaving the context drops every entry.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
import torch.nn as nn


class StemCache:
    """Per-supernet store: (id(x), stem BN training flag) -> (x, stem(x))."""

    def __init__(self) -> None:
        self.active = False
        self.entries: dict[tuple[int, bool], tuple[torch.Tensor, torch.Tensor]] = {}
        self.hits = 0

    def __call__(self, stem: nn.Module, x: torch.Tensor) -> torch.Tensor:
        if not self.active or torch.is_grad_enabled():
            return stem(x)
        key = (id(x), _bn_training(stem))
        hit = self.entries.get(key)
        if hit is not None and hit[0] is x:
            self.hits += 1
            return hit[1]
        out = stem(x)
        self.entries[key] = (x, out)
        return out

    def clear(self) -> None:
        self.entries.clear()
        self.hits = 0


def _bn_training(module: nn.Module) -> bool:
    return any(m.training for m in module.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm))


class StemCaching:
    """Activates the stem caches of the modules it is given (`add`), and drops them all on `close`."""

    def __init__(self) -> None:
        self.caches: dict[int, StemCache] = {}

    def add(self, module: nn.Module) -> None:
        for m in module.modules():
            cache = getattr(m, "stem_cache", None)
            if isinstance(cache, StemCache) and id(cache) not in self.caches:
                cache.clear()
                cache.active = True
                self.caches[id(cache)] = cache

    @property
    def hits(self) -> int:
        return sum(c.hits for c in self.caches.values())

    def close(self) -> None:
        for cache in self.caches.values():
            cache.active = False
            cache.clear()
        self.caches.clear()


@contextmanager
def stem_caching() -> Iterator[StemCaching]:
    """`with stem_caching() as sc: sc.add(module) ...`: caches live only inside the block."""
    sc = StemCaching()
    try:
        yield sc
    finally:
        sc.close()
