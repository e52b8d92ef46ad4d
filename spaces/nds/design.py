"""The NDS ResNet and ResNeXt-A design spaces as data: ranges, configs, NDS `net` dicts, #params.

Facts (read from public code, not copied): Radosavovic et al., "On Network Design Spaces for Visual
Recognition" (ICCV 2019) trained CIFAR-10 networks of pycls' AnyNet family: a stem (conv3x3 3->16 + BN +
ReLU, pycls `res_stem_cifar`), three stages with strides 1, 2, 2, and a head (global average pooling +
linear). A stage is `d` residual blocks of output width `w`; its first block carries the stride and, when
the shape changes, a projection shortcut (conv1x1 + BN).

- `res_basic_block` (ResNet): relu(shortcut + BN(conv3x3(relu(BN(conv3x3(x, stride)))))).
- `res_bottleneck_block` (ResNeXt): w_b = round(w * bot_mul); 1x1 (w_in->w_b) + BN + ReLU, 3x3 grouped
  (`num_groups` groups, stride) + BN + ReLU, 1x1 (w_b->w) + BN; added to the shortcut, then ReLU.

Ranges per stage (walkerning/aw_nas `examples/research/surgery/nds/plugin/germ_nds.py`, the CLOSE
paper's own NDS supernet; its tests give the space sizes 108^3 = 1,259,712 and 225^3 = 11,390,625):
ResNet depth {1,2,3,4,6,8,12,16,24} x width {16,24,32,40,48,64,80,96,128,160,192,256};
ResNeXt-A depth {1,2,4,8,16} x width {16,32,64,128,256} x bot_mul {0.25,0.5,1} x groups {1,2,4}.

An NDS record's `net` dict lists per-stage values with the stem first (aw_nas reads `ds[i + 1]`;
microsoft/nni's NDS example: `ds [1, 16, 1, 4]`, `ws [16, 64, 128, 16]`, `ss [1, 1, 2, 2]`,
`bot_muls [0.0, 0.25, 0.25, 0.25]`, `num_gs [1, 2, 1, 2]`): `block_type`, `ds`, `ws`, `ss` and, for
bottleneck blocks, `bot_muls` and `num_gs` (number of groups). Index 0 (depth 1, width 16, stride 1,
bot_mul 0) is read as the stem, so the counted network is stem + three stages, as in aw_nas.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from supernet_bench.core.errors import BenchError
from supernet_bench.spaces.base import shorten

BASIC, BOTTLENECK = "res_basic_block", "res_bottleneck_block"
NUM_STAGES = 3
STEM_WIDTH = 16
STRIDES: tuple[int, ...] = (1, 2, 2)
NUM_CLASSES = 10  # NDS trained on CIFAR-10


@dataclass(frozen=True)
class Design:
    """One NDS design space: its name, record file(s), block type and per-stage ranges."""

    name: str  # NDS name: "ResNet", "ResNeXt-A"
    file: str  # the official JSON of the sampled, trained networks
    block_type: str
    depths: tuple[int, ...]
    widths: tuple[int, ...]
    bot_muls: tuple[float, ...] = ()  # empty: not searched (basic blocks)
    groups: tuple[int, ...] = ()
    seed_files: tuple[str, ...] = ()  # re-runs of one sample with different seeds (ResNet only)

    @property
    def bottleneck(self) -> bool:
        return self.block_type == BOTTLENECK

    @property
    def keys(self) -> tuple[str, ...]:
        """Canonical-string keys (NDS `net` names), in slot order."""
        return ("ds", "ws", "bot_muls", "num_gs") if self.bottleneck else ("ds", "ws")

    @property
    def options(self) -> tuple[tuple, ...]:
        """Per key, the values a stage may take."""
        return (self.depths, self.widths, self.bot_muls, self.groups) if self.bottleneck else (self.depths, self.widths)

    @property
    def max_depth(self) -> int:
        return max(self.depths)


RESNET = Design(
    name="ResNet",
    file="ResNet.json",
    block_type=BASIC,
    depths=(1, 2, 3, 4, 6, 8, 12, 16, 24),
    widths=(16, 24, 32, 40, 48, 64, 80, 96, 128, 160, 192, 256),
    seed_files=("ResNet_rng1.json", "ResNet_rng2.json", "ResNet_rng3.json"),
)
RESNEXT_A = Design(
    name="ResNeXt-A",
    file="ResNeXt-A.json",
    block_type=BOTTLENECK,
    depths=(1, 2, 4, 8, 16),
    widths=(16, 32, 64, 128, 256),
    bot_muls=(0.25, 0.5, 1.0),
    groups=(1, 2, 4),
)


@dataclass(frozen=True)
class StageConfig:
    """Per-stage values of one network; `bot_muls`/`groups` are empty for basic blocks."""

    depths: tuple[int, ...]
    widths: tuple[int, ...]
    bot_muls: tuple[float, ...] = ()
    groups: tuple[int, ...] = ()


# --- values <-> op indices ------------------------------------------------------------------------------
def fmt(value: float) -> str:
    """A stage value as written in canonical strings: ints plain, bottleneck multipliers shortest (0.25, 1)."""
    return f"{value:g}"


def index_of(options: Sequence, value: object, what: str) -> int:
    """Position of `value` among `options` (floats compared with a tolerance); BenchError names the options."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise BenchError(f"{what} must be a number, got {shorten(value)}")
    for i, opt in enumerate(options):
        if math.isclose(float(value), float(opt), rel_tol=0, abs_tol=1e-9):
            return i
    raise BenchError(f"{what} {fmt(value)} is not in the design space (one of {', '.join(fmt(o) for o in options)})")


def config_to_arch(design: Design, cfg: StageConfig) -> tuple[int, ...]:
    """Op indices, key-major (all depths, all widths, [all bot_muls, all groups]), as the space's slots."""
    values = (cfg.depths, cfg.widths, cfg.bot_muls, cfg.groups)[: len(design.keys)]
    arch = []
    for key, opts, vals in zip(design.keys, design.options, values):
        if len(vals) != NUM_STAGES:
            raise BenchError(f"{design.name} {key} must give {NUM_STAGES} stages, got {len(vals)}")
        arch.extend(index_of(opts, v, f"NDS {design.name} {key}") for v in vals)
    return tuple(arch)


def arch_to_config(design: Design, arch: Sequence[int]) -> StageConfig:
    groups = [tuple(opts[arch[k * NUM_STAGES + s]] for s in range(NUM_STAGES)) for k, opts in enumerate(design.options)]
    return StageConfig(*groups)


# --- canonical strings ---------------------------------------------------------------------------------
def encode_config(design: Design, cfg: StageConfig) -> str:
    """`ds=1,2,4;ws=16,32,64` (ResNet) / `...;bot_muls=0.25,0.5,1;num_gs=1,2,4` (ResNeXt-A)."""
    values = (cfg.depths, cfg.widths, cfg.bot_muls, cfg.groups)
    return ";".join(f"{key}={','.join(fmt(v) for v in vals)}" for key, vals in zip(design.keys, values))


def parse_config(design: Design, text: object) -> StageConfig:
    """Parse a canonical string (keys in any order, spaces ignored); BenchError names the first problem."""
    if not isinstance(text, str):
        raise BenchError(f"NDS {design.name} arch must be a string, got {type(text).__name__} {shorten(text)}")
    fields: dict[str, tuple[float, ...]] = {}
    for part in text.replace(" ", "").strip().split(";"):
        key, sep, raw = part.partition("=")
        where = f"malformed NDS {design.name} arch {shorten(text)}"
        if not sep:
            raise BenchError(f"{where}: expected key=v1,v2,v3 parts separated by ';' ({';'.join(design.keys)})")
        if key not in design.keys:
            raise BenchError(f"{where}: unknown key {key!r} (keys: {', '.join(design.keys)})")
        if key in fields:
            raise BenchError(f"{where}: key {key!r} given twice")
        try:
            vals = tuple(float(v) for v in raw.split(","))
        except ValueError:
            raise BenchError(f"{where}: {key} values must be numbers, got {raw!r}") from None
        if len(vals) != NUM_STAGES:
            raise BenchError(f"{where}: {key} needs {NUM_STAGES} values (one per stage), got {len(vals)}")
        fields[key] = vals
    missing = [k for k in design.keys if k not in fields]
    if missing:
        raise BenchError(f"malformed NDS {design.name} arch {shorten(text)}: missing {', '.join(missing)}")
    opts = dict(zip(design.keys, design.options))
    values = [tuple(opts[k][index_of(opts[k], v, f"NDS {design.name} {k}")] for v in fields[k]) for k in design.keys]
    return StageConfig(*values)


# --- NDS `net` dicts --------------------------------------------------------------------------------------
def _stage_list(net: Mapping, key: str, stem_value: float) -> tuple:
    """The three stage values of `net[key]`: 4 entries (stem first, checked) or 3 (stages only)."""
    vals = net.get(key)
    if not isinstance(vals, (list, tuple)) or len(vals) not in (NUM_STAGES, NUM_STAGES + 1):
        raise BenchError(f"net[{key!r}] must list {NUM_STAGES + 1} values (stem, 3 stages), got {shorten(vals)}")
    if len(vals) == NUM_STAGES + 1:
        stem, vals = vals[0], vals[1:]
        if isinstance(stem, bool) or not isinstance(stem, (int, float)) or not math.isclose(stem, stem_value):
            raise BenchError(f"net[{key!r}][0] is the stem's entry and must be {fmt(stem_value)}, got {shorten(stem)}")
    return tuple(vals)


def config_from_net(design: Design, net: object) -> StageConfig:
    """The stage config of an NDS record's `net` dict; BenchError names the offending key."""
    if not isinstance(net, Mapping):
        raise BenchError(f"net must be a dict, got {type(net).__name__}")
    block = net.get("block_type", design.block_type)
    if block != design.block_type:
        raise BenchError(f"net is a {block!r} network; NDS {design.name} holds {design.block_type!r} networks")
    if net.get("se_r"):
        raise BenchError(f"net uses squeeze-excitation (se_r={net['se_r']!r}), which NDS {design.name} does not")
    stem_w = net.get("stem_w", STEM_WIDTH)
    if stem_w != STEM_WIDTH:
        raise BenchError(f"net has stem width {stem_w!r}; NDS {design.name} uses {STEM_WIDTH}")
    strides = _stage_list(net, "ss", 1)
    if tuple(strides) != STRIDES:
        raise BenchError(f"net strides {list(strides)} differ from the design space's {list(STRIDES)}")
    values = [_stage_list(net, "ds", 1), _stage_list(net, "ws", STEM_WIDTH)]
    if design.bottleneck:
        values += [_stage_list(net, "bot_muls", 0.0), _stage_list(net, "num_gs", 1)]
    else:
        for key in ("bot_muls", "num_gs"):
            if net.get(key):  # pycls' basic block takes no bottleneck multiplier or groups
                raise BenchError(f"net[{key!r}] is set, but {BASIC} networks have no {key}")
    cfg = StageConfig(*values)
    return arch_to_config(design, config_to_arch(design, cfg))  # range-checked, canonical value types


def config_to_net(design: Design, cfg: StageConfig) -> dict:
    """The NDS `net` dict of a config (stem first in every list; basic blocks carry no bot_muls/num_gs)."""
    net = {
        "block_type": design.block_type,
        "ds": [1, *cfg.depths],
        "ws": [STEM_WIDTH, *cfg.widths],
        "ss": [1, *STRIDES],
    }
    if design.bottleneck:
        net["bot_muls"] = [0.0, *(float(b) for b in cfg.bot_muls)]
        net["num_gs"] = [1, *cfg.groups]
    return net


# --- #params ----------------------------------------------------------------------------------------------
def bottleneck_width(width: int, bot_mul: float) -> int:
    """pycls: w_b = int(round(w * bot_mul))."""
    return int(round(width * bot_mul))


def block_params(
    block_type: str, w_in: int, w_out: int, stride: int, w_b: int = 0, groups: int = 1, affine: bool = True
) -> int:
    """#params of one residual block (no conv biases; BN: 2 per channel when affine)."""
    bn = 2 if affine else 0
    proj = w_in * w_out + bn * w_out if (w_in != w_out or stride != 1) else 0
    if block_type == BASIC:
        return proj + 9 * w_in * w_out + 9 * w_out * w_out + 2 * bn * w_out
    return proj + w_in * w_b + 9 * w_b * (w_b // groups) + w_b * w_out + bn * (2 * w_b + w_out)


def anynet_params(
    block_type: str,
    stem_w: int,
    depths: Sequence[int],
    widths: Sequence[int],
    w_bs: Sequence[int] = (),
    groups: Sequence[int] = (),
    num_classes: int = NUM_CLASSES,
    affine: bool = True,
) -> int:
    """#params of stem + stages + head (pycls AnyNet complexity, counted in closed form per stage)."""
    total = 27 * stem_w + 2 * stem_w  # the stem BN is always affine
    w_in = stem_w
    for s, (d, w) in enumerate(zip(depths, widths)):
        w_b, g = (w_bs[s], groups[s]) if block_type == BOTTLENECK else (0, 1)
        total += block_params(block_type, w_in, w, STRIDES[s], w_b, g, affine)
        total += (d - 1) * block_params(block_type, w, w, 1, w_b, g, affine)
        w_in = w
    return total + w_in * num_classes + num_classes


def param_count(design: Design, cfg: StageConfig, num_classes: int = NUM_CLASSES) -> int:
    """#params of the stand-alone NDS network of `cfg` (compare with a record's `params`)."""
    w_bs = [bottleneck_width(w, b) for w, b in zip(cfg.widths, cfg.bot_muls)]
    return anynet_params(design.block_type, STEM_WIDTH, cfg.depths, cfg.widths, w_bs, cfg.groups, num_classes)
