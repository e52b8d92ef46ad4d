"""The NAS-Bench-201 cell space: 6 edges x 5 ops, official arch strings, liveness, index, #params.

Edge k is `to<-from` in the AutoDL order 1<-0, 2<-0, 2<-1, 3<-0, 3<-1, 3<-2 and ops are indexed
none, skip_connect, nor_conv_1x1, nor_conv_3x3, avg_pool_3x3 (spec methods.md section 0). An arch is
the tuple of the 6 op indices; its official string lists, node by node (1, 2, 3, separated by `+`),
the incoming edges `|op~src|` in source order.

Subsets narrow `allowed` without renumbering ops: `no-zero` (no `none`, 4^6 = 4096), `only-conv`
(nor_conv_1x1 / nor_conv_3x3 only, 2^6 = 64) and `conv3-pool` (nor_conv_3x3 / avg_pool_3x3, 2^6 = 64; the
demo benchmark's space, harness/demo_benchmark.py).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np
from supernet_bench.core.errors import BenchError, DataError, UnknownNameError
from supernet_bench.spaces import register_space
from supernet_bench.spaces.base import Arch, OpMask, SearchSpace, Slot, build_checked, shorten

OPS: tuple[str, ...] = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
EDGES: tuple[tuple[int, int], ...] = ((1, 0), (2, 0), (2, 1), (3, 0), (3, 1), (3, 2))  # (to, from)
NUM_NODES = 4
NONE, SKIP, CONV1, CONV3, POOL = range(5)

SUBSETS: dict[str, tuple[int, ...]] = {
    "full": (NONE, SKIP, CONV1, CONV3, POOL),
    "no-zero": (SKIP, CONV1, CONV3, POOL),
    "only-conv": (CONV1, CONV3),
    "conv3-pool": (CONV3, POOL),  # 64 archs from all-pool to all-conv: the demo benchmark's space
}
NAMED_SUBSETS: dict[str, str] = {"kt-subset-327": "nas-bench-201/kt-subset-327.csv"}

# Known ground-truth columns of the NB201 table (data README): <dataset>_<split>_hp<epochs>.
GT_COLUMNS: tuple[str, ...] = tuple(
    f"{ds}_{hp}"
    for hp in ("hp200", "hp12")
    for ds in (
        "cifar10-valid_x-valid",
        "cifar10_ori-test",
        "cifar100_x-valid",
        "cifar100_x-test",
        "ImageNet16-120_x-valid",
        "ImageNet16-120_x-test",
    )
)

_TOKEN = re.compile(r"([A-Za-z0-9_]+)~(-?\d+)")
_EDGE_INDEX = {edge: k for k, edge in enumerate(EDGES)}


def encode_arch(arch: Sequence[int]) -> str:
    """Official NB201 string of an op-index tuple (no membership check beyond op range)."""
    groups = []
    for to in range(1, NUM_NODES):
        groups.append("|" + "|".join(f"{OPS[arch[_EDGE_INDEX[(to, i)]]]}~{i}" for i in range(to)) + "|")
    return "+".join(groups)


@lru_cache(maxsize=1)
def _all_archs() -> np.ndarray:
    """(15625, 6) int array of every arch in index order (edge 0 most significant)."""
    idx = np.arange(len(OPS) ** len(EDGES))
    powers = len(OPS) ** np.arange(len(EDGES) - 1, -1, -1)
    return (idx[:, None] // powers[None, :]) % len(OPS)


@lru_cache(maxsize=1)
def _string_table() -> dict[str, Arch]:
    return {encode_arch(a): a for a in (tuple(int(x) for x in row) for row in _all_archs())}


def parse_arch_string(text: object) -> Arch:
    """Parse an official string into an op-index tuple; BenchError names the first problem found."""
    if not isinstance(text, str):
        raise BenchError(f"NB201 arch must be a string, got {type(text).__name__} {shorten(text)}")
    s = text.strip()
    hit = _string_table().get(s)
    if hit is not None:
        return hit
    groups = s.split("+")
    if len(groups) != NUM_NODES - 1:
        raise BenchError(
            f"malformed NB201 arch {shorten(text)}: wrong number of nodes, expected {NUM_NODES - 1} "
            f"'+'-separated node groups (nodes 1..3), got {len(groups)}"
        )
    ops: dict[tuple[int, int], int] = {}
    for to, group in enumerate(groups, start=1):
        if len(group) < 2 or not (group.startswith("|") and group.endswith("|")):
            raise BenchError(
                f"malformed NB201 arch {shorten(text)}: syntax error in node {to} group {group!r} "
                f"(expected '|op~i|...|')"
            )
        tokens = group[1:-1].split("|")
        if "" in tokens:
            raise BenchError(
                f"malformed NB201 arch {shorten(text)}: syntax error in node {to} group {group!r} "
                "(empty edge token)"
            )
        if len(tokens) != to:
            raise BenchError(
                f"malformed NB201 arch {shorten(text)}: wrong number of edges into node {to}: "
                f"expected {to}, got {len(tokens)}"
            )
        for pos, token in enumerate(tokens):
            m = _TOKEN.fullmatch(token)
            if m is None:
                raise BenchError(
                    f"malformed NB201 arch {shorten(text)}: syntax error in edge token {token!r} of node {to} "
                    f"(expected 'op~i')"
                )
            name, src = m.group(1), int(m.group(2))
            if src != pos:
                why = (
                    f"out of range 0..{to - 1}" if not 0 <= src < to else f"expected ~{pos} at this position"
                )
                raise BenchError(
                    f"malformed NB201 arch {shorten(text)}: bad source index ~{src} on edge {pos} "
                    f"into node {to} ({why}; sources are listed 0..{to - 1} in order)"
                )
            if name not in OPS:
                close = difflib.get_close_matches(name, OPS, n=1, cutoff=0.5)
                hint = f" Did you mean {close[0]!r}?" if close else ""
                raise BenchError(
                    f"malformed NB201 arch {shorten(text)}: unknown op {name!r} on edge {to}<-{src}.{hint} "
                    f"Known ops: {', '.join(OPS)}"
                )
            ops[(to, src)] = OPS.index(name)
    return tuple(ops[e] for e in EDGES)


def live_edges(arch: Sequence[int]) -> tuple[bool, ...]:
    """Per edge: op != none, its source is reachable from node 0 and its target reaches node 3."""
    fwd = [True] + [False] * (NUM_NODES - 1)
    for (to, frm), op in zip(EDGES, arch, strict=True):  # EDGES is topologically ordered by target
        if op != NONE and fwd[frm]:
            fwd[to] = True
    bwd = [False] * (NUM_NODES - 1) + [True]
    for (to, frm), op in reversed(list(zip(EDGES, arch, strict=True))):  # reversed order = decreasing target
        if op != NONE and bwd[to]:
            bwd[frm] = True
    return tuple(bool(op != NONE and fwd[frm] and bwd[to]) for (to, frm), op in zip(EDGES, arch, strict=True))


def is_connected(arch: Sequence[int]) -> bool:
    """True iff node 3 is reachable from node 0 through non-none edges (GM-NAS check_connect)."""
    return any(live_edges(arch))


def nb201_param_count(
    n_conv1x1: int | np.ndarray,
    n_conv3x3: int | np.ndarray,
    C: int = 16,
    N: int = 5,
    num_classes: int = 10,
) -> int | np.ndarray:
    """#parameters of the stand-alone NB201 network (AutoDL TinyNetwork + InferCell).

    stem Conv3x3(3->C, no bias)+BN; 3 stages of N cells at C, 2C, 4C channels; between stages a
    ResNet basic block (ReLUConvBN 3x3 stride 2, ReLUConvBN 3x3, shortcut AvgPool2d + Conv1x1 no bias);
    final BN + ReLU, global pool, Linear(4C, num_classes). Every BN is affine (2 params per channel).
    A cell's nor_conv_kxk is ReLU-Conv(kxk, no bias)-BN: c*c*k*k + 2c; none/skip/avg_pool have no
    parameters (C_in == C_out in a cell). Every non-none op of the genotype counts, dead or not.
    """
    chans = [C, 2 * C, 4 * C]
    fixed = 3 * 9 * C + 2 * C  # stem
    for cin, cout in zip(chans[:-1], chans[1:], strict=True):  # reduction blocks
        fixed += 9 * cin * cout + 2 * cout + 9 * cout * cout + 2 * cout + cin * cout
    fixed += 2 * chans[-1] + chans[-1] * num_classes + num_classes  # lastact BN + classifier
    per_conv1 = N * sum(c * c + 2 * c for c in chans)
    per_conv3 = N * sum(9 * c * c + 2 * c for c in chans)
    return fixed + per_conv1 * n_conv1x1 + per_conv3 * n_conv3x3


@register_space("nb201")
class NB201Space(SearchSpace):
    """NAS-Bench-201 topology space (`nb201`, `nb201:no-zero`, `nb201:only-conv`)."""

    name = "nb201"
    subsets = tuple(SUBSETS)
    slots = tuple(Slot(f"{to}<-{frm}", OPS) for to, frm in EDGES)
    ops = OPS
    edges = EDGES

    def __init__(self, subset: str = "full"):
        if subset not in SUBSETS:
            close = difflib.get_close_matches(subset, SUBSETS, n=1, cutoff=0.5)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise UnknownNameError(f"Unknown nb201 subset {subset!r}.{hint} Available: {', '.join(SUBSETS)}")
        self.subset = subset
        self._allowed: OpMask = tuple(frozenset(SUBSETS[subset]) for _ in EDGES)

    def __repr__(self) -> str:
        return f"NB201Space(subset={self.subset!r})"

    @property
    def allowed(self) -> OpMask:
        return self._allowed

    # --- encodings ---------------------------------------------------------------------------------
    def encode(self, arch: Arch) -> str:
        return encode_arch(self.check(arch))

    def decode(self, text: str) -> Arch:
        arch = parse_arch_string(text)
        if not self.contains(arch):
            bad = [
                f"{s.name}={OPS[op]}"
                for s, op, m in zip(self.slots, arch, self.allowed, strict=True)
                if op not in m
            ]
            allowed = ", ".join(OPS[i] for i in SUBSETS[self.subset])
            raise BenchError(
                f"arch {shorten(text)} is not in space {self.label} ({'; '.join(bad)}; allowed ops: {allowed})"
            )
        return arch

    # --- structure ---------------------------------------------------------------------------------
    @staticmethod
    def live_edges(arch: Arch) -> tuple[bool, ...]:
        return live_edges(arch)

    @staticmethod
    def is_connected(arch: Arch) -> bool:
        return is_connected(arch)

    # --- index (DYNAS enumeration: base-5 digits, edge 0 most significant) --------------------------
    def index_of(self, arch: Arch) -> int:
        """Index of the arch in the full 15,625 enumeration (also for subset spaces)."""
        idx = 0
        for op in self.check(arch):
            idx = idx * len(OPS) + op
        return idx

    def arch_at(self, index: int) -> Arch:
        """Inverse of `index_of`; raises if the index is out of range or the arch is not in this space."""
        total = len(OPS) ** len(EDGES)
        if not isinstance(index, (int, np.integer)) or not 0 <= int(index) < total:
            raise BenchError(f"NB201 arch index must be an integer in 0..{total - 1}, got {shorten(index)}")
        return self.check(tuple(int(x) for x in _all_archs()[int(index)]))

    # --- complexity -------------------------------------------------------------------------------
    def complexity(self, arch: Arch) -> float:
        arch = self.check(arch)
        return float(nb201_param_count(arch.count(CONV1), arch.count(CONV3)))

    def complexities(self, archs: Iterable[Arch] | np.ndarray) -> np.ndarray:
        """Vectorised `complexity` over many archs (a list of tuples or an (n, 6) int array)."""
        a = np.asarray(archs if isinstance(archs, np.ndarray) else list(archs), dtype=np.int64)
        if a.size == 0:
            return np.zeros(0, dtype=np.float64)
        if a.ndim != 2 or a.shape[1] != len(EDGES) or a.min() < 0 or a.max() >= len(OPS):
            raise BenchError(f"expected an (n, {len(EDGES)}) array of op indices in 0..{len(OPS) - 1}")
        counts = nb201_param_count((a == CONV1).sum(axis=1), (a == CONV3).sum(axis=1))
        return np.asarray(counts, dtype=np.float64)

    # --- supernet and ground truth ------------------------------------------------------------------
    def build_supernet(self, num_classes: int, weights_factory=None, **size):
        from supernet_bench.spaces.nb201.supernet import NB201Supernet

        return build_checked(self.label, NB201Supernet, num_classes, weights_factory, size)

    def ground_truth(self, column: str, data_dir, source: str | Path | None = None):
        from supernet_bench.spaces.nb201.ground_truth import load_nb201_ground_truth

        return load_nb201_ground_truth(column, Path(data_dir), source=source, space=self)

    def gt_columns(self) -> Sequence[str]:
        return GT_COLUMNS

    # --- named architecture lists -----------------------------------------------------------------
    @staticmethod
    def named_subsets() -> tuple[str, ...]:
        return tuple(NAMED_SUBSETS)

    def load_named_subset(self, name: str, data_dir) -> list[Arch]:
        """A published list of archs (e.g. `kt-subset-327`), restricted to this (subset) space."""
        if name not in NAMED_SUBSETS:
            close = difflib.get_close_matches(name, NAMED_SUBSETS, n=1, cutoff=0.5)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise UnknownNameError(
                f"Unknown nb201 named subset {name!r}.{hint} Available: {', '.join(NAMED_SUBSETS)}"
            )
        import pandas as pd

        path = Path(data_dir) / NAMED_SUBSETS[name]
        if not path.is_file():
            raise DataError(f"named subset {name!r}: file not found: {path}")
        try:
            df = pd.read_csv(path, dtype=str, keep_default_na=False)
        except (OSError, ValueError) as e:
            raise DataError(f"named subset {name!r}: cannot read {path}: {e}") from None
        if "arch" not in df.columns:
            raise DataError(
                f"named subset {name!r}: {path} has no 'arch' column (columns: {list(df.columns)})"
            )
        archs: list[Arch] = []
        for row, text in enumerate(df["arch"]):
            try:
                archs.append(parse_arch_string(text))
            except BenchError as e:
                raise DataError(f"named subset {name!r}: {path} row {row} (line {row + 2}): {e}") from None
        return [a for a in archs if self.contains(a)]
