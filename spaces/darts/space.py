"""The DARTS cell space (NAS-Bench-301): normal + reduce cell, 14 edges each, 8 ops, 2 inputs per node.

Cell layout (DARTS, repo quark0/darts `cnn/model_search.py`): input nodes 0 (output of cell k-2) and 1 (cell k-1),
intermediate nodes 2..5; node j has one candidate edge from each earlier node, so the edges in order are
2<-0, 2<-1, 3<-0, 3<-1, 3<-2, 4<-0 .. 4<-3, 5<-0 .. 5<-4 (edge k of a cell; the same numbering as the
NB301 ConfigSpace keys `edge_normal_k` / `edge_reduce_k`). Slots 0-13 are the normal cell's edges, slots 14-27
the reduce cell's edges (slot 14 + k is reduce edge k).

Ops (index 0 = none): none, max_pool_3x3, avg_pool_3x3, skip_connect, sep_conv_3x3, sep_conv_5x5,
dil_conv_3x3, dil_conv_5x5. An architecture is the tuple of the 28 op indices in which every intermediate
node has exactly two non-`none` incoming edges (a DARTS genotype); the cell output concatenates nodes 2..5.

Encodings:
- canonical string: the DARTS `Genotype(normal=[(op, input) x 8], normal_concat=[2, 3, 4, 5], reduce=[...],
  reduce_concat=[2, 3, 4, 5])`; pairs are listed node by node, within a node by increasing input. Parsing
  also accepts any pair order within a node and `range(2, 6)` for the concat lists (what DARTS prints).
- NB301 ConfigSpace dict (`arch_to_config` / `config_to_arch`): `NetworkSelectorDatasetInfo:darts:edge_<cell>_<k>`
  = op name for the 2 active edges of each node, `...:inputs_node_<cell>_<j>` = `"a_b"` (a < b) for nodes 3..5.
"""

from __future__ import annotations

import ast
import difflib
import itertools
from collections.abc import Iterable, Mapping, Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np
from supernet_bench.core.errors import BenchError, UnknownNameError
from supernet_bench.spaces import register_space
from supernet_bench.spaces.base import Arch, OpMask, SearchSpace, Slot, build_checked, shorten

OPS: tuple[str, ...] = (
    "none",
    "max_pool_3x3",
    "avg_pool_3x3",
    "skip_connect",
    "sep_conv_3x3",
    "sep_conv_5x5",
    "dil_conv_3x3",
    "dil_conv_5x5",
)
NONE = 0
NODES = (2, 3, 4, 5)  # intermediate nodes
CONCAT = (2, 3, 4, 5)
CELLS = ("normal", "reduce")
CELL_EDGES: tuple[tuple[int, int], ...] = tuple((to, frm) for to in NODES for frm in range(to))  # (to, from)
EDGES_PER_CELL = len(CELL_EDGES)  # 14
NUM_SLOTS = 2 * EDGES_PER_CELL  # 28
_EDGE_INDEX = {edge: k for k, edge in enumerate(CELL_EDGES)}
_NODE_EDGES: dict[int, tuple[int, ...]] = {to: tuple(_EDGE_INDEX[(to, f)] for f in range(to)) for to in NODES}

CONFIG_PREFIX = "NetworkSelectorDatasetInfo:darts:"
GT_COLUMNS: tuple[str, ...] = ("nb301-mean",)


def slot_of(cell: str, edge: int) -> int:
    return (0 if cell == "normal" else EDGES_PER_CELL) + edge


def _err(text, why: str) -> BenchError:
    return BenchError(f"malformed DARTS genotype {shorten(text)}: {why}")


# --- validity -----------------------------------------------------------------------------------------
def valid_arch(arch: Sequence[int]) -> bool:
    """28 op indices in range, and every intermediate node of both cells has exactly 2 non-none inputs."""
    if len(arch) != NUM_SLOTS or any(not 0 <= op < len(OPS) for op in arch):
        return False
    for base in (0, EDGES_PER_CELL):
        for to in NODES:
            if sum(arch[base + k] != NONE for k in _NODE_EDGES[to]) != 2:
                return False
    return True


def _node_choices(mask: OpMask, base: int, to: int) -> list[tuple[tuple[int, int], int]]:
    """Per input pair (a, b) of node `to`: how many op assignments the mask allows for that pair."""
    edges = _NODE_EDGES[to]
    out = []
    for a, b in itertools.combinations(range(to), 2):
        ways = 1
        for frm, k in enumerate(edges):
            allowed = mask[base + k]
            ways *= sum(1 for op in allowed if op != NONE) if frm in (a, b) else int(NONE in allowed)
        out.append(((a, b), ways))
    return out


# --- genotype strings -----------------------------------------------------------------------------------
def to_genotype(arch: Sequence[int]) -> dict[str, list[tuple[str, int]]]:
    """{"normal": [(op, input) x 8], "reduce": [...]}, node by node, inputs increasing."""
    out = {}
    for cell, base in zip(CELLS, (0, EDGES_PER_CELL)):
        pairs = []
        for to in NODES:
            for frm, k in enumerate(_NODE_EDGES[to]):
                if arch[base + k] != NONE:
                    pairs.append((OPS[arch[base + k]], frm))
        out[cell] = pairs
    return out


def encode_genotype(arch: Sequence[int]) -> str:
    g = to_genotype(arch)
    concat = list(CONCAT)
    return (
        f"Genotype(normal={g['normal']!r}, normal_concat={concat!r}, reduce={g['reduce']!r}, reduce_concat={concat!r})"
    )


def _literal(node: ast.AST, text, field: str):
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "range":
        try:
            return list(range(*[ast.literal_eval(a) for a in node.args]))
        except (ValueError, TypeError):
            raise _err(text, f"bad range(...) in {field}") from None
    try:
        return ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError):
        raise _err(text, f"{field} is not a literal list") from None


def _cell_from_pairs(pairs, text, cell: str) -> list[int]:
    if not isinstance(pairs, (list, tuple)) or len(pairs) != 2 * len(NODES):
        n = len(pairs) if isinstance(pairs, (list, tuple)) else "no"
        raise _err(text, f"{cell} must list {2 * len(NODES)} (op, input) pairs, 2 per node, got {n}")
    ops = [NONE] * EDGES_PER_CELL
    for i, pair in enumerate(pairs):
        to = NODES[i // 2]
        if not (isinstance(pair, (list, tuple)) and len(pair) == 2):
            raise _err(text, f"{cell} entry {i} must be an (op, input) pair, got {shorten(pair)}")
        name, frm = pair
        if not isinstance(name, str) or name not in OPS[1:]:
            close = difflib.get_close_matches(str(name), OPS[1:], n=1, cutoff=0.5)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise _err(text, f"unknown op {name!r} in {cell} entry {i}.{hint} Known ops: {', '.join(OPS[1:])}")
        if isinstance(frm, bool) or not isinstance(frm, int) or not 0 <= frm < to:
            raise _err(text, f"{cell} entry {i} (node {to}) has input {frm!r}; expected an int in 0..{to - 1}")
        k = _EDGE_INDEX[(to, frm)]
        if ops[k] != NONE:
            raise _err(text, f"{cell} node {to} uses input {frm} twice (entries {i - 1}, {i})")
        ops[k] = OPS.index(name)
    return ops


def parse_genotype(text: object) -> Arch:
    """Parse a DARTS `Genotype(...)` string into the 28 op indices; BenchError names the first problem."""
    if not isinstance(text, str):
        raise BenchError(f"DARTS arch must be a Genotype string, got {type(text).__name__} {shorten(text)}")
    try:
        tree = ast.parse(text.strip(), mode="eval").body
    except SyntaxError as e:
        raise _err(text, f"syntax error ({e.msg})") from None
    if not (isinstance(tree, ast.Call) and getattr(tree.func, "id", getattr(tree.func, "attr", None)) == "Genotype"):
        raise _err(text, "expected Genotype(normal=..., normal_concat=..., reduce=..., reduce_concat=...)")
    names = ("normal", "normal_concat", "reduce", "reduce_concat")
    if len(tree.args) > len(names):
        raise _err(text, f"too many positional fields ({len(tree.args)})")
    fields = dict(zip(names, tree.args))
    for kw in tree.keywords:
        if kw.arg not in names:
            raise _err(text, f"unknown field {kw.arg!r} (fields: {', '.join(names)})")
        if kw.arg in fields:
            raise _err(text, f"field {kw.arg!r} given twice")
        fields[kw.arg] = kw.value
    missing = [n for n in names if n not in fields]
    if missing:
        raise _err(text, f"missing field(s) {', '.join(missing)}")
    values = {n: _literal(fields[n], text, n) for n in names}
    arch: list[int] = []
    for cell in CELLS:
        concat = values[f"{cell}_concat"]
        if not isinstance(concat, (list, tuple)) or list(concat) != list(CONCAT):
            raise _err(text, f"{cell}_concat must be [2, 3, 4, 5], got {shorten(concat)}")
        arch.extend(_cell_from_pairs(values[cell], text, cell))
    return tuple(arch)


# --- NB301 ConfigSpace dicts ----------------------------------------------------------------------------
def arch_to_config(arch: Sequence[int]) -> dict[str, str]:
    """The NB301 ConfigSpace dict (architecture hyperparameters only) of a valid arch."""
    config: dict[str, str] = {}
    for cell, base in zip(CELLS, (0, EDGES_PER_CELL)):
        for to in NODES:
            inputs = []
            for frm, k in enumerate(_NODE_EDGES[to]):
                if arch[base + k] != NONE:
                    config[f"{CONFIG_PREFIX}edge_{cell}_{k}"] = OPS[arch[base + k]]
                    inputs.append(frm)
            if to != NODES[0]:
                config[f"{CONFIG_PREFIX}inputs_node_{cell}_{to}"] = f"{inputs[0]}_{inputs[1]}"
    return config


def config_to_arch(config: Mapping[str, object]) -> Arch:
    """Inverse of `arch_to_config`. Keys outside `NetworkSelectorDatasetInfo:darts:edge_*/inputs_node_*`
    (training hyperparameters) are ignored; inactive or inconsistent edges raise BenchError."""
    if not isinstance(config, Mapping):
        raise BenchError(f"NB301 config must be a dict, got {type(config).__name__}")
    arch = [NONE] * NUM_SLOTS
    for cell, base in zip(CELLS, (0, EDGES_PER_CELL)):
        for to in NODES:
            if to == NODES[0]:
                inputs = (0, 1)
            else:
                key = f"{CONFIG_PREFIX}inputs_node_{cell}_{to}"
                value = config.get(key)
                try:
                    a, b = (int(p) for p in str(value).split("_"))
                except ValueError:
                    raise BenchError(f"NB301 config: {key} must be 'a_b' with a < b < {to}, got {value!r}") from None
                if not 0 <= a < b < to:
                    raise BenchError(f"NB301 config: {key} must be 'a_b' with a < b < {to}, got {value!r}")
                inputs = (a, b)
            for frm, k in enumerate(_NODE_EDGES[to]):
                key = f"{CONFIG_PREFIX}edge_{cell}_{k}"
                op = config.get(key)
                if frm in inputs:
                    if op not in OPS[1:]:
                        raise BenchError(
                            f"NB301 config: active edge {key} (node {to} <- {frm}) must be one of "
                            f"{', '.join(OPS[1:])}, got {op!r}"
                        )
                    arch[base + k] = OPS.index(op)
                elif op is not None:
                    raise BenchError(f"NB301 config: edge {key} is set to {op!r} but node {to}'s inputs are {inputs}")
    return tuple(arch)


# --- complexity -------------------------------------------------------------------------------------------
def darts_param_count(arch: Sequence[int], C: int = 36, layers: int = 20, num_classes: int = 10) -> int:
    """#parameters of the DARTS CIFAR evaluation network (quark0/darts `cnn/model.py` NetworkCIFAR), analytic.

    Auxiliary head excluded (as DARTS' `count_parameters_in_MB`). Stem Conv3x3(3 -> 3C, no bias) + BN; cells with
    C doubling at layers//3 and 2*layers//3 (reduction cells); per cell preprocess0 = FactorizedReduce if the
    previous cell reduced else ReLUConvBN 1x1, preprocess1 = ReLUConvBN 1x1; ops with affine BN; classifier
    Linear(4C_last, classes). Every BN has 2 params per channel. Pools have no params (no BN in the eval net);
    skip_connect is Identity, or FactorizedReduce(C, C) when stride 2 (reduce cell, input node).
    """

    def relu_conv_bn(cin, cout):
        return cin * cout + 2 * cout

    def factorized_reduce(cin, cout):
        return 2 * cin * (cout // 2) + 2 * cout

    def op_params(name: str, c: int, stride: int) -> int:
        if name in ("max_pool_3x3", "avg_pool_3x3"):
            return 0
        if name == "skip_connect":
            return 0 if stride == 1 else factorized_reduce(c, c)
        k = int(name[-1])
        one = c * k * k + c * c + 2 * c  # depthwise kxk + pointwise 1x1 + BN
        return 2 * one if name.startswith("sep_conv") else one

    geno = to_genotype(arch)
    total = 3 * 9 * 3 * C + 2 * 3 * C  # stem
    c_pp, c_p, c_cur = 3 * C, 3 * C, C
    reduction_prev = False
    for i in range(layers):
        reduction = i in (layers // 3, 2 * layers // 3)
        if reduction:
            c_cur *= 2
        total += factorized_reduce(c_pp, c_cur) if reduction_prev else relu_conv_bn(c_pp, c_cur)
        total += relu_conv_bn(c_p, c_cur)
        for name, frm in geno["reduce" if reduction else "normal"]:
            total += op_params(name, c_cur, 2 if reduction and frm < 2 else 1)
        reduction_prev = reduction
        c_pp, c_p = c_p, len(CONCAT) * c_cur
    return total + c_p * num_classes + num_classes


# --- the space -------------------------------------------------------------------------------------------
@register_space("darts")
class DartsSpace(SearchSpace):
    """The DARTS / NAS-Bench-301 cell space (`darts`): 28 slots, 2 non-none inputs per intermediate node."""

    name = "darts"
    subsets = ("full",)
    product_space = False  # FairNAS paths can leave the space (the supernet still computes them)
    slots = tuple(Slot(f"{cell}:{to}<-{frm}", OPS) for cell in CELLS for to, frm in CELL_EDGES)
    ops = OPS
    edges = CELL_EDGES  # of one cell; slots are the normal cell's edges, then the reduce cell's
    cell_groups = CELLS
    num_input_nodes = 2  # outputs of cells k-2 and k-1

    def __init__(self, subset: str = "full"):
        if subset != "full":
            raise UnknownNameError(f"Unknown darts subset {subset!r}. Available: full")
        self.subset = subset
        self._allowed: OpMask = tuple(frozenset(range(len(OPS))) for _ in range(NUM_SLOTS))

    def __repr__(self) -> str:
        return "DartsSpace()"

    @property
    def allowed(self) -> OpMask:
        return self._allowed

    # --- membership, size, sampling ------------------------------------------------------------------
    def contains(self, arch: Arch, mask: OpMask | None = None) -> bool:
        return super().contains(arch, mask) and valid_arch(arch)

    def size(self, mask: OpMask | None = None) -> int:
        """Exact number of valid archs inside the mask (full space: (180 * 7^8)^2 ~ 1.08e18)."""
        mask = self.allowed if mask is None else mask
        total = 1
        for base in (0, EDGES_PER_CELL):
            for to in NODES:
                total *= sum(w for _, w in _node_choices(mask, base, to))
        return total

    def enumerate(self, mask: OpMask | None = None):
        raise BenchError(
            f"the DARTS space has {self.size(mask):.3e} architectures and cannot be enumerated; "
            'use a random sample (e.g. eval.sample = "random:N")'
        )

    def sample(self, rng: np.random.Generator, mask: OpMask | None = None) -> Arch:
        """Uniform over the valid archs inside the mask: per node, an input pair drawn in proportion to the
        number of op assignments it allows (all pairs equally likely in the full space), then a uniform
        non-none op for each of the two edges."""
        mask = self.allowed if mask is None else mask
        arch = [NONE] * NUM_SLOTS
        for base in (0, EDGES_PER_CELL):
            for to in NODES:
                choices = _node_choices(mask, base, to)
                weights = np.array([w for _, w in choices], dtype=np.float64)
                if weights.sum() <= 0:
                    raise BenchError(f"the op mask allows no valid input pair for node {to} (slots {base}..)")
                a, b = choices[int(rng.choice(len(choices), p=weights / weights.sum()))][0]
                for frm, k in enumerate(_NODE_EDGES[to]):
                    if frm in (a, b):
                        arch[base + k] = int(rng.choice(sorted(op for op in mask[base + k] if op != NONE)))
                    else:
                        arch[base + k] = NONE
        return tuple(arch)

    # --- encodings ---------------------------------------------------------------------------------------
    def check(self, arch) -> Arch:
        if isinstance(arch, Mapping):
            return self.from_config(arch)
        try:
            return super().check(arch)
        except BenchError as e:
            if isinstance(arch, str) or "is not in space" not in str(e):
                raise
            raise BenchError(
                f"architecture {shorten(tuple(arch))} is not in space darts: every intermediate node of both "
                "cells needs exactly 2 non-none incoming edges"
            ) from None

    def encode(self, arch: Arch) -> str:
        return encode_genotype(self.check(arch))

    def decode(self, text: str) -> Arch:
        return parse_genotype(text)

    def to_config(self, arch: Arch) -> dict[str, str]:
        return arch_to_config(self.check(arch))

    def from_config(self, config: Mapping[str, object]) -> Arch:
        return config_to_arch(config)

    # --- complexity ----------------------------------------------------------------------------------------
    def complexity(self, arch: Arch) -> float:
        """#params of the DARTS evaluation network (C=36, 20 layers, CIFAR-10, no auxiliary head), analytic."""
        return float(_param_count_cached(self.check(arch)))

    def complexities(self, archs: Iterable[Arch]) -> np.ndarray:
        return np.array([self.complexity(a) for a in archs], dtype=np.float64)

    def complexity_bounds(self) -> tuple[float, float]:
        """Exact (C_min, C_max) for CaLR: an op's #params does not depend on which inputs a node takes, so the
        extremes are every active edge max_pool_3x3 (no parameters) and every active edge sep_conv_5x5 (the most)."""

        def uniform(op: int) -> Arch:
            arch = [NONE] * NUM_SLOTS
            for base in (0, EDGES_PER_CELL):
                for to in NODES:
                    for frm in (0, 1):
                        arch[base + _EDGE_INDEX[(to, frm)]] = op
            return tuple(arch)

        return self.complexity(uniform(OPS.index("max_pool_3x3"))), self.complexity(uniform(OPS.index("sep_conv_5x5")))

    # --- supernet and ground truth -------------------------------------------------------------------------
    def build_supernet(self, num_classes: int, weights_factory=None, **size):
        from supernet_bench.spaces.darts.supernet import DartsSupernet

        return build_checked(self.label, DartsSupernet, num_classes, weights_factory, size)

    def ground_truth(self, column: str, data_dir, source: str | Path | None = None):
        from supernet_bench.spaces.darts.ground_truth import load_nb301_ground_truth

        return load_nb301_ground_truth(column, data_dir, source=source, space=self)

    def gt_columns(self) -> Sequence[str]:
        return GT_COLUMNS


@lru_cache(maxsize=4096)
def _param_count_cached(arch: Arch) -> int:
    return darts_param_count(arch)
