"""NDS ResNet (`nds-resnet`) and ResNeXt-A (`nds-resnexta`): sequential spaces of per-stage choices.

An arch is a tuple of op indices, key-major: the three stage depths, the three stage widths and, for
ResNeXt-A, the three bottleneck multipliers and the three group counts (ResNet: 6 slots, 108^3
networks; ResNeXt-A: 12 slots, 225^3). Slot `depth2` holds the index of stage 2's depth among the
design's depth options, and so on; slot op names are the values themselves (`"24"`, `"0.25"`).
Canonical string: the NDS `net` keys with one value per stage, e.g. `ds=1,2,4;ws=16,32,64` or
`ds=1,2,4;ws=16,32,64;bot_muls=0.25,0.5,1;num_gs=1,2,4` (spaces/nds/design.py). `check` also takes an
NDS `net` dict.

The benchmark trained a finite random sample of each space (spaces/nds/ground_truth.py), so evaluation
samples (`random:N`, `all`) are drawn from the architectures that have ground truth
(`benchmarked_archs`, harness/archsample.py), while supernets train on the whole space.

Weight keying of the supernet (spaces/nds/supernet.py): one shared, channel-sliced block module per
block POSITION (stage s, block b: weight slot s * max_depth + b, op 0); depths, widths, bottleneck
multipliers and groups select parts of those modules instead of owning modules. Hence:
- `stage_slices()` gives the runs of block positions (weight slots), not arch slots: CLOSE's interval
  splitting shares GLOW blocks across block positions 1.. of a stage, block 0 (stride/width change)
  stays unshared, as aw_nas GermCloseStage does (its sharing-extent diagnostic counts every position as
  used by every architecture: an upper bound here, where the depth decides which positions run);
- conditional weights (copies per predecessor op) do not apply: the space declares `shared_block_weights`
  (spaces/capabilities.SharedBlockWeights), which cond-weights refuses;
- GM-NAS measures gradients of every block weight (`shared_params_for` on the supernet).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from functools import lru_cache
from pathlib import Path
from typing import ClassVar

import numpy as np
from supernet_bench.core.errors import UnknownNameError
from supernet_bench.spaces import register_space
from supernet_bench.spaces.base import Arch, OpMask, SearchSpace, Slot, build_checked
from supernet_bench.spaces.nds.design import (
    NUM_STAGES,
    RESNET,
    RESNEXT_A,
    Design,
    StageConfig,
    arch_to_config,
    config_from_net,
    config_to_arch,
    config_to_net,
    encode_config,
    fmt,
    param_count,
    parse_config,
)

SLOT_KINDS = {"ds": "depth", "ws": "width", "bot_muls": "bot_mul", "num_gs": "groups"}
GT_COLUMNS: dict[str, tuple[str, ...]] = {
    RESNET.name: ("test_acc", "final_test_acc", "test_acc_3seed"),
    RESNEXT_A.name: ("test_acc", "final_test_acc"),
}


def make_slots(design: Design) -> tuple[Slot, ...]:
    return tuple(
        Slot(f"{SLOT_KINDS[key]}{s + 1}", tuple(fmt(v) for v in opts))
        for key, opts in zip(design.keys, design.options)
        for s in range(NUM_STAGES)
    )


@lru_cache(maxsize=65536)
def _params(design: Design, arch: Arch) -> int:
    return param_count(design, arch_to_config(design, arch))


class NDSSpace(SearchSpace):
    """Common code of the NDS spaces; subclasses set `design`, `name`, `slots` and their subsets."""

    design: ClassVar[Design]
    sequential = True  # MS clusters on the first slot (stage-1 depth); CLOSE splits intervals of positions
    shared_block_weights = True  # slots choose sizes of channel-sliced blocks, not ops with their own weights
    subset_masks: ClassVar[dict[str, dict[str, tuple[float, ...]]]] = {"full": {}}

    def __init__(self, subset: str = "full"):
        if subset not in self.subsets:
            raise UnknownNameError(f"Unknown {self.name} subset {subset!r}. Available: {', '.join(self.subsets)}")
        self.subset = subset
        fixed = self.subset_masks.get(subset, {})
        allowed = []
        for key, opts in zip(self.design.keys, self.design.options):
            ok = frozenset(i for i, v in enumerate(opts) if key not in fixed or v in fixed[key])
            allowed.extend([ok] * NUM_STAGES)
        self._allowed: OpMask = tuple(allowed)
        self._population: frozenset[str] | None = None  # archs with ground truth in every column read so far

    def __repr__(self) -> str:
        return f"{type(self).__name__}(subset={self.subset!r})"

    @property
    def allowed(self) -> OpMask:
        return self._allowed

    # --- encodings -----------------------------------------------------------------------------------------
    def check(self, arch) -> Arch:
        if isinstance(arch, Mapping):
            return self.from_net(arch)
        return super().check(arch)

    def config(self, arch) -> StageConfig:
        return arch_to_config(self.design, self.check(arch))

    def encode(self, arch) -> str:
        return encode_config(self.design, self.config(arch))

    def decode(self, text: str) -> Arch:
        return self.check(config_to_arch(self.design, parse_config(self.design, text)))

    def to_net(self, arch) -> dict:
        """The NDS `net` dict of an architecture (stem entry first in every list)."""
        return config_to_net(self.design, self.config(arch))

    def from_net(self, net: Mapping) -> Arch:
        return super().check(config_to_arch(self.design, config_from_net(self.design, net)))

    # --- complexity ----------------------------------------------------------------------------------------
    def complexity(self, arch) -> float:
        """#params of the stand-alone CIFAR-10 network (stem, 3 stages, head), as NDS records' `params`."""
        return float(_params(self.design, self.check(arch)))

    def complexities(self, archs: Iterable[Arch]) -> np.ndarray:
        return np.array([self.complexity(a) for a in archs], dtype=np.float64)

    def extreme_archs(self, mask: OpMask | None = None) -> tuple[Arch, Arch]:
        """(smallest, largest) arch inside the mask by #params.

        #params grows with every depth, width and bottleneck multiplier and shrinks with the group
        count, each with the others fixed, so the extremes are corners of the mask.
        """
        mask = self.allowed if mask is None else mask
        small, large = [], []
        for i, ops in enumerate(mask):
            decreasing = self.slots[i].name.startswith("groups")
            lo, hi = min(ops), max(ops)
            small.append(hi if decreasing else lo)
            large.append(lo if decreasing else hi)
        return tuple(small), tuple(large)

    def complexity_bounds(self) -> tuple[float, float]:
        """Exact (C_min, C_max) over the space (CaLR), without sampling."""
        small, large = self.extreme_archs()
        return self.complexity(small), self.complexity(large)

    # --- supernet ------------------------------------------------------------------------------------------
    def stage_slices(self) -> tuple[range, ...]:
        """Runs of the supernet's weight slots (block positions) per stage: block 0 first (see module doc)."""
        d = self.design.max_depth
        return tuple(range(s * d, (s + 1) * d) for s in range(NUM_STAGES))

    def build_supernet(self, num_classes: int, weights_factory=None, **size):
        from supernet_bench.spaces.nds.supernet import supernet_class

        return build_checked(self.label, supernet_class(self.design), num_classes, weights_factory, size)

    # --- ground truth --------------------------------------------------------------------------------------
    def gt_columns(self) -> Sequence[str]:
        return GT_COLUMNS[self.design.name]

    def ground_truth(self, column: str, data_dir, source: str | Path | None = None):
        from supernet_bench.spaces.nds.ground_truth import load_nds_ground_truth

        gt = load_nds_ground_truth(self, column, data_dir, source=source)
        archs = frozenset(gt.values)
        self._population = archs if self._population is None else self._population & archs
        return gt

    def benchmarked_archs(self, data_dir) -> list[Arch]:
        """The architectures with ground truth, sorted: those of every column this space object has read
        (the protocol reads the ground truth first), else those of the data folder's main NDS file.
        Archs outside the subset's mask are left out."""
        if self._population is None:
            from supernet_bench.spaces.nds.ground_truth import benchmarked

            strings = benchmarked(self, data_dir)
        else:
            strings = self._population
        archs = [self.decode_unchecked(s) for s in strings]
        return sorted(a for a in archs if self.contains(a))

    def decode_unchecked(self, text: str) -> Arch:
        """Op indices of a canonical string, ignoring the subset mask."""
        return config_to_arch(self.design, parse_config(self.design, text))


@register_space("nds-resnet")
class NDSResNet(NDSSpace):
    """NDS ResNet: 3 stages x depth (9) x width (12) of residual basic blocks on CIFAR-10."""

    name = "nds-resnet"
    design = RESNET
    subsets = ("full",)
    slots = make_slots(RESNET)


@register_space("nds-resnexta")
class NDSResNeXtA(NDSSpace):
    """NDS ResNeXt-A: 3 stages x depth (5) x width (5) x bottleneck multiplier (3) x groups (3).

    Subset `no-groups`: every stage uses 1 group (aw_nas `group_search: false`, 75^3 networks)."""

    name = "nds-resnexta"
    design = RESNEXT_A
    subsets = ("full", "no-groups")
    subset_masks = {"full": {}, "no-groups": {"num_gs": (1,)}}
    slots = make_slots(RESNEXT_A)
