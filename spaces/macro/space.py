"""The NAS-Bench-Macro space: 8 sequential layers x 3 ops, official 8-character strings, #params.

An arch is the tuple of the 8 op indices, layer1 first; its official string is those digits
(`'0'` identity, `'1'` MobileNetV2 block k3 expansion 3, `'2'` MobileNetV2 block k5 expansion 6),
e.g. `"12000221"`. Network (repo xiusu/NAS-Bench-Macro `train/model.py`; paper CondWeights App. A
Table 3): stem conv3x3 3->32 + BN + ReLU; stages of 2, 3, 3 searchable layers whose first layer has
stride 2 and doubles the channels (32->64->128->256), where `identity` becomes conv1x1 + BN;
head conv1x1 ->1280 + BN + ReLU, global average pooling, linear.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np
from supernet_bench.core.errors import BenchError, UnknownNameError
from supernet_bench.spaces import register_space
from supernet_bench.spaces.base import Arch, OpMask, SearchSpace, Slot, build_checked, shorten

OPS: tuple[str, ...] = ("identity", "mb_k3_e3", "mb_k5_e6")
IDENTITY, MB_K3_E3, MB_K5_E6 = range(3)
KERNEL: tuple[int, ...] = (0, 3, 5)  # per op (identity: none)
EXPANSION: tuple[int, ...] = (0, 3, 6)
STAGES: tuple[int, ...] = (2, 3, 3)  # searchable layers per stage; the first of each has stride 2
NUM_LAYERS = sum(STAGES)
STEM_CHANNELS = 32
HEAD_CHANNELS = 1280
SUBSETS: tuple[str, ...] = ("full",)
GT_COLUMNS: tuple[str, ...] = ("mean_acc", "test_acc_0", "test_acc_1", "test_acc_2")
SUPERNET_KEYS: tuple[str, ...] = ("width_mult", "bn_affine", "track_running_stats", "dropout")


def scaled(channels: int, width_mult: float) -> int:
    """Channels scaled by the width multiplier (round half up, at least 1)."""
    return max(1, int(np.floor(channels * width_mult + 0.5)))


def layer_plan(width_mult: float = 1.0) -> tuple[tuple[int, int, int], ...]:
    """(c_in, c_out, stride) of the 8 searchable layers; width 1: 32->64, 64, ->128, 128, 128, ->256, ..."""
    plan = []
    base = STEM_CHANNELS
    for n in STAGES:
        for i in range(n):
            if i == 0:
                plan.append((scaled(base, width_mult), scaled(2 * base, width_mult), 2))
                base *= 2
            else:
                plan.append((scaled(base, width_mult), scaled(base, width_mult), 1))
    return tuple(plan)


def op_param_count(op: int, c_in: int, c_out: int, stride: int) -> int:
    """#params of one candidate op (every BN affine: 2 per channel; no conv biases).

    identity: 0, or conv1x1(c_in->c_out) + BN when stride 2 / channels change.
    MobileNetV2 block, hidden h = c_in*t: 1x1 (c_in*h) + BN, depthwise kxk (h*k*k) + BN,
    1x1 (h*c_out) + BN.
    """
    if op == IDENTITY:
        return 0 if (stride == 1 and c_in == c_out) else c_in * c_out + 2 * c_out
    h = c_in * EXPANSION[op]
    k = KERNEL[op]
    return c_in * h + 2 * h + h * k * k + 2 * h + h * c_out + 2 * c_out


def fixed_param_count(num_classes: int = 10, width_mult: float = 1.0) -> int:
    """Stem (conv3x3 + BN) + head (conv1x1 + BN) + classifier (weights + bias)."""
    stem = scaled(STEM_CHANNELS, width_mult)
    last = layer_plan(width_mult)[-1][1]
    head = scaled(HEAD_CHANNELS, width_mult)
    return 27 * stem + 2 * stem + last * head + 2 * head + head * num_classes + num_classes


@lru_cache(maxsize=8)
def _op_table(width_mult: float = 1.0) -> np.ndarray:
    """(8, 3) #params of each op at each layer."""
    return np.array(
        [[op_param_count(op, *layer) for op in range(len(OPS))] for layer in layer_plan(width_mult)],
        dtype=np.int64,
    )


def macro_param_count(arch: Sequence[int], num_classes: int = 10, width_mult: float = 1.0) -> int:
    """#params of the stand-alone NAS-Bench-Macro network (equals the benchmark's `params`)."""
    table = _op_table(width_mult)
    return fixed_param_count(num_classes, width_mult) + int(sum(table[i, op] for i, op in enumerate(arch)))


def encode_arch(arch: Sequence[int]) -> str:
    return "".join(str(int(op)) for op in arch)


def parse_arch_string(text: object) -> Arch:
    """Parse an official 8-character string; BenchError names the problem."""
    if not isinstance(text, str):
        raise BenchError(f"NAS-Bench-Macro arch must be a string, got {type(text).__name__} {shorten(text)}")
    s = text.strip()
    if len(s) != NUM_LAYERS:
        raise BenchError(
            f"malformed NAS-Bench-Macro arch {shorten(text)}: expected {NUM_LAYERS} characters "
            f"(one of 0/1/2 per layer), got {len(s)}"
        )
    for pos, ch in enumerate(s):
        if ch not in "012":
            raise BenchError(
                f"malformed NAS-Bench-Macro arch {shorten(text)}: bad character {ch!r} for layer{pos + 1} "
                f"(expected 0 identity, 1 mb_k3_e3, 2 mb_k5_e6)"
            )
    return tuple(int(ch) for ch in s)


@register_space("macro")
class MacroSpace(SearchSpace):
    """NAS-Bench-Macro (3^8 = 6561 sequential MobileNetV2-style networks on CIFAR-10)."""

    name = "macro"
    sequential = True  # MS clusters on the first layer (docs/methods.md#ms)
    slots = tuple(Slot(f"layer{i + 1}", OPS) for i in range(NUM_LAYERS))
    ops = OPS

    def __init__(self, subset: str = "full"):
        if subset not in SUBSETS:
            raise UnknownNameError(f"Unknown macro subset {subset!r}. Available: {', '.join(SUBSETS)}")
        self.subset = subset
        self._allowed: OpMask = tuple(frozenset(range(len(OPS))) for _ in range(NUM_LAYERS))

    def __repr__(self) -> str:
        return f"MacroSpace(subset={self.subset!r})"

    def stage_slices(self) -> tuple[range, ...]:
        """Slot ranges of the stages, in order; the first slot of each is the stride-2, channel-changing layer.

        Sequential spaces describe their stages this way (docs/methods.md#interval-splitting):
        within a stage every slot after the first has the same input/output shape.
        """
        out, start = [], 0
        for n in STAGES:
            out.append(range(start, start + n))
            start += n
        return tuple(out)

    @property
    def allowed(self) -> OpMask:
        return self._allowed

    # --- encodings ---------------------------------------------------------------------------------
    def encode(self, arch: Arch) -> str:
        return encode_arch(self.check(arch))

    def decode(self, text: str) -> Arch:
        return parse_arch_string(text)

    # --- complexity -------------------------------------------------------------------------------
    def complexity(self, arch: Arch) -> float:
        return float(macro_param_count(self.check(arch)))

    def complexities(self, archs: Iterable[Arch] | np.ndarray) -> np.ndarray:
        """Vectorised `complexity` over many archs (a list of tuples or an (n, 8) int array)."""
        a = np.asarray(archs if isinstance(archs, np.ndarray) else list(archs), dtype=np.int64)
        if a.size == 0:
            return np.zeros(0, dtype=np.float64)
        if a.ndim != 2 or a.shape[1] != NUM_LAYERS or a.min() < 0 or a.max() >= len(OPS):
            raise BenchError(f"expected an (n, {NUM_LAYERS}) array of op indices in 0..{len(OPS) - 1}")
        table = _op_table()
        per_layer = table[np.arange(NUM_LAYERS)[None, :], a]
        return (fixed_param_count() + per_layer.sum(axis=1)).astype(np.float64)

    # --- supernet and ground truth ------------------------------------------------------------------
    def build_supernet(self, num_classes: int, weights_factory=None, **size):
        from supernet_bench.spaces.macro.supernet import MacroSupernet

        return build_checked(self.label, MacroSupernet, num_classes, weights_factory, size)

    def ground_truth(self, column: str, data_dir, source: str | Path | None = None):
        from supernet_bench.spaces.macro.ground_truth import load_macro_ground_truth

        return load_macro_ground_truth(column, data_dir, source=source)

    def gt_columns(self) -> Sequence[str]:
        return GT_COLUMNS
