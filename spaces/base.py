"""The search-space interface every space implements (architecture types live in core.arch)."""

from __future__ import annotations

import difflib
import inspect
import itertools
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, ClassVar

import numpy as np
from supernet_bench.core.arch import Arch, OpMask, Slot, shorten
from supernet_bench.core.errors import BenchError

if TYPE_CHECKING:
    import torch.nn as nn
    from supernet_bench.core.ground_truth import GroundTruth


class SearchSpace(ABC):
    """A search space: encodings, enumeration, sampling, complexity, supernet and ground truth."""

    name: ClassVar[str]
    subsets: ClassVar[tuple[str, ...]] = ("full",)  # usable as `name:subset` wherever a space is named
    slots: tuple[Slot, ...]
    subset: str = "full"
    # every combination of allowed slot ops is an architecture (False for DARTS: two inputs per node), so
    # FairNAS's per-slot permutations stay inside the space
    product_space: ClassVar[bool] = True

    # --- the mask this space (or subset) allows --------------------------------------------------
    @property
    @abstractmethod
    def allowed(self) -> OpMask:
        """Allowed op indices per slot for this space/subset."""

    @property
    def full_mask(self) -> OpMask:
        return self.allowed

    # --- encodings ---------------------------------------------------------------------------------
    @abstractmethod
    def encode(self, arch: Arch) -> str:
        """Canonical (official) string of an architecture."""

    @abstractmethod
    def decode(self, text: str) -> Arch:
        """Parse a canonical string; raise BenchError naming the problem if malformed or not in space."""

    def contains(self, arch: Arch, mask: OpMask | None = None) -> bool:
        mask = self.allowed if mask is None else mask
        return len(arch) == len(mask) and all(op in m for op, m in zip(arch, mask))

    def check(self, arch) -> Arch:
        """An official string or a sequence of op indices, validated: the tuple of ints, or one BenchError."""
        if isinstance(arch, str):
            return self.decode(arch)
        n = len(self.slots)
        try:
            values = tuple(arch)
            ints = tuple(int(v) for v in values)
        except (TypeError, ValueError):
            ints, values = (), (None,)
        if len(ints) != n or any(i != v for i, v in zip(ints, values)):
            raise BenchError(f"{self.name} arch must be a sequence of {n} op indices, got {shorten(arch)}")
        if not self.contains(ints):
            raise BenchError(f"architecture {ints!r} is not in space {self.label}")
        return ints

    @property
    def label(self) -> str:
        return self.name if self.subset == "full" else f"{self.name}:{self.subset}"

    # --- enumeration and sampling ----------------------------------------------------------------
    def size(self, mask: OpMask | None = None) -> int:
        mask = self.allowed if mask is None else mask
        return int(np.prod([len(m) for m in mask], dtype=np.int64))

    def enumerate(self, mask: OpMask | None = None) -> Iterator[Arch]:
        """All architectures in lexicographic op-index order."""
        mask = self.allowed if mask is None else mask
        return itertools.product(*[sorted(m) for m in mask])

    def sample(self, rng: np.random.Generator, mask: OpMask | None = None) -> Arch:
        """One architecture, each slot uniform over its allowed ops."""
        mask = self.allowed if mask is None else mask
        return tuple(int(rng.choice(sorted(m))) for m in mask)

    def sample_distinct(self, rng: np.random.Generator, n: int, mask: OpMask | None = None) -> list[Arch]:
        """n distinct architectures drawn uniformly without replacement (all of them if n >= size)."""
        total = self.size(mask)
        if n >= total:
            return list(self.enumerate(mask))
        seen: dict[Arch, None] = {}
        while len(seen) < n:
            seen.setdefault(self.sample(rng, mask))
        return list(seen)

    # --- properties of architectures ---------------------------------------------------------------
    @abstractmethod
    def complexity(self, arch: Arch) -> float:
        """#parameters of the stand-alone network the benchmark trained for this architecture."""

    # --- supernet and ground truth ----------------------------------------------------------------
    @abstractmethod
    def build_supernet(self, num_classes: int, weights_factory=None, **size) -> nn.Module:
        """The weight-sharing supernet; `forward(x, arch)` returns logits."""

    @abstractmethod
    def ground_truth(self, column: str, data_dir) -> GroundTruth:
        """Ground-truth values of a named column, read from the official files under data_dir."""

    def gt_columns(self) -> Sequence[str]:
        return ()


def build_checked(space_label: str, supernet_cls: type, num_classes: int, weights_factory, size: dict):
    """Construct a supernet, turning unknown size/BN options (a profile for another space) into one clear error."""
    known = [k for k in inspect.signature(supernet_cls.__init__).parameters if k not in ("self", "num_classes")]
    known = [k for k in known if k != "weights_factory"]
    unknown = sorted(set(size) - set(known))
    if unknown:
        hints = "".join(
            f" ({k}: did you mean {c[0]!r}?)"
            for k in unknown
            if (c := difflib.get_close_matches(k, known, n=1, cutoff=0.6))
        )
        raise BenchError(
            f"unknown supernet option(s) for space {space_label}: {', '.join(unknown)}{hints}. "
            f"Known: {', '.join(known)} (is the profile meant for another space?)"
        )
    return supernet_cls(num_classes=num_classes, weights_factory=weights_factory, **size)
