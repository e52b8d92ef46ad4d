"""Run configuration: declared tables (defaults live here and nowhere else), then a profile (shipped TOML
data), then CLI overrides.

The resolved, frozen RunConfig is what a run does and what its manifest records; rerunning from the
manifest's config reproduces the run, and `run_id` names it: a hash of the resolved config and seed.
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
import re
import tomllib
from dataclasses import dataclass, field
from functools import cached_property
from importlib import resources
from pathlib import Path
from typing import Any

from supernet_bench.core.errors import BenchError, UnknownNameError
from supernet_bench.core.registry import Registry
from supernet_bench.typed import check_value, coerce, did_you_mean, parse_table, table_defaults, table_dict

_SECTIONS = ("run", "data", "supernet", "eval", "methods", "policies")
SEED_LIMIT = 2**63  # numpy and torch seeds are 64-bit; keep every seed a signed int64 for parquet


class _Table:
    """Item access for callers that still read a table like the dict it was (`config.run["batch_size"]`)."""

    def __getitem__(self, key: str) -> Any:
        try:
            return getattr(self, key)
        except AttributeError:
            raise KeyError(key) from None

    def get(self, key: str, default: Any = None) -> Any:
        return getattr(self, key, default)

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and hasattr(self, key)


@dataclass(frozen=True)
class RunTable(_Table):
    """[run]: the training budget and how the process runs it."""

    budget_epochs: float  # epoch-equivalents; passes = ceil(epochs * train_size / batch_size)
    batch_size: int
    checkpoints: tuple[float, ...]  # budget fractions where every method is scored, increasing, ending at 1
    threads: int = 2  # torch CPU threads
    device: str = "auto"  # auto | cpu | cuda | cuda:N
    deterministic: bool = False  # deterministic kernels where the device offers them
    precision: str = "fp32"  # fp32 | bf16
    channels_last: bool = True  # NHWC memory format for convolutions (what the CPU kernels are fastest with)


@dataclass(frozen=True)
class DataTable(_Table):
    """[data]: the training/scoring data set and its split."""

    dataset: str
    split: str  # "train/test" or "holdout:F"
    resolution: int
    split_seed: int = 0
    train_limit: int = 0  # 0 = everything
    eval_limit: int = 0
    augment: bool = True


@dataclass(frozen=True)
class EvalTable(_Table):
    """[eval]: the architecture sample, its ground truth and how the supernet scores it."""

    gt: str
    sample: str  # random:N | all | subset:NAME | file:PATH
    bn_mode: str  # recalibrate | ema | batch-stats | train-mode
    batch_size: int
    extra_gt: tuple[str, ...] = ()
    gt_source: str | None = None  # a GT file instead of the data folder's (package:<pkg>/<path> or a path)
    sample_seed: int = 0  # the same sample for every method and seed
    recal_batches: int = 4
    recal_batch_size: int = 128
    score: str = "accuracy"  # accuracy | neg_loss


TABLES: dict[str, type] = {"run": RunTable, "data": DataTable, "eval": EvalTable}
"""The declared tables; `supernet` is checked by the space, `methods`/`policies` by the method registry."""

_TOP = ("method", "space", "seed", "profile", *_SECTIONS)
PRECISIONS = ("fp32", "bf16")
RECALIBRATING_BN_MODES = ("recalibrate", "ema")  # the BN modes that run the recalibration batches
_DEVICE = re.compile(r"auto|cpu|cuda(:\d+)?")


@dataclass(frozen=True, kw_only=True)
class RunConfig:
    """Everything that determines a run. Sections mirror the profile TOML tables."""

    method: str
    space: str = "nb201"
    seed: int = 0
    profile: str = "smoke"
    run: RunTable
    data: DataTable
    supernet: dict[str, Any] = field(default_factory=dict)  # size and BN options passed to the space
    eval: EvalTable
    methods: dict[str, dict[str, Any]] = field(default_factory=dict)  # per-method hyperparameter tables
    policies: dict[str, dict[str, Any]] = field(default_factory=dict)  # per-policy tables (calr, ms)

    @property
    def dataset(self) -> str:
        return self.data.dataset

    @property
    def gt(self) -> str:
        return self.eval.gt

    @property
    def gt_columns(self) -> list[str]:
        return [self.eval.gt, *[c for c in self.eval.extra_gt if c != self.eval.gt]]

    def method_params(self) -> dict[str, dict[str, Any]]:
        return {**self.methods, **self.policies}

    def to_dict(self) -> dict[str, Any]:
        """The manifest's `config`: JSON types only, unset optional keys left out."""
        out: dict[str, Any] = {"method": self.method, "space": self.space, "seed": self.seed, "profile": self.profile}
        for name in _SECTIONS:
            value = getattr(self, name)
            out[name] = table_dict(value) if name in TABLES else copy.deepcopy(value)
        return out

    @classmethod
    def from_dict(cls, d: dict[str, Any], where: str = "") -> RunConfig:
        """Parse a recorded config (a manifest's); keys added since it was written get their defaults."""
        if not isinstance(d, dict):
            raise BenchError(f"{where}config must be a table, got {type(d).__name__}")
        for key in d:
            if key not in _TOP:
                raise BenchError(f"{where}unknown config key {key}{did_you_mean(key, list(_TOP))}")
        if "method" not in d:
            raise BenchError(f"{where}config is missing method")
        top = {}
        for key, typ in (("method", str), ("space", str), ("seed", int), ("profile", str)):
            if key in d:
                try:
                    top[key] = coerce(d[key], typ)
                except TypeError:
                    raise BenchError(f"{where}config {key} must be {typ.__name__}, got {d[key]!r}") from None
        tables = {name: parse_table(t, d.get(name, {}), name, where) for name, t in TABLES.items()}
        free = {name: _nested_tables(d.get(name, {}), name, where) for name in ("methods", "policies")}
        supernet = d.get("supernet", {})
        if not isinstance(supernet, dict):
            raise BenchError(f"{where}[supernet] must be a table, got {supernet!r}")
        return cls(**top, **tables, **free, supernet=copy.deepcopy(supernet))

    @cached_property
    def run_id(self) -> str:
        """12 hex digits naming this (config, seed): the same on every machine, different for any other run."""
        identity = self.to_dict()
        ev = identity["eval"]
        if ev.get("gt_source") and not ev["gt_source"].startswith("package:"):
            ev["gt_source"] = _file_identity(ev["gt_source"])
        if ev["sample"].startswith("file:"):
            ev["sample"] = "file:" + _file_identity(ev["sample"][len("file:") :])
        text = json.dumps(identity, sort_keys=True, separators=(",", ":"), default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:12]


def _nested_tables(value: Any, section: str, where: str) -> dict[str, dict[str, Any]]:
    if not isinstance(value, dict) or not all(isinstance(v, dict) for v in value.values()):
        raise BenchError(f"{where}[{section}] must hold one table per name ({section}.NAME.key = value)")
    return copy.deepcopy(value)


def _file_identity(path: str) -> str:
    """A file named in the config is identified by its content (paths differ between machines)."""
    p = Path(path).expanduser()
    if p.is_file():
        return "sha256:" + hashlib.sha256(p.read_bytes()).hexdigest()
    return p.name


# --- recorded configs ------------------------------------------------------------------------------
def with_defaults(recorded: dict[str, Any]) -> dict[str, Any]:
    """A recorded config dict with the declared defaults filled in; tolerant of malformed records."""
    out = copy.deepcopy(recorded) if isinstance(recorded, dict) else {}
    for name, table in TABLES.items():
        given = out.get(name)
        if isinstance(given, dict):
            out[name] = {**table_defaults(table), **given}
    return out


def flat_keys(d: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """`{"run": {"threads": 2}}` -> `{"run.threads": 2}`; empty tables stay one key."""
    out: dict[str, Any] = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict) and v:
            out.update(flat_keys(v, key + "."))
        else:
            out[key] = v
    return out


def config_differences(recorded: dict[str, Any], config: RunConfig) -> dict[str, tuple[Any, Any]]:
    """The flat keys where a recorded config differs from `config`: key -> (stored, requested)."""
    stored = flat_keys(json.loads(json.dumps(with_defaults(recorded), default=str)))
    wanted = flat_keys(json.loads(json.dumps(config.to_dict(), default=str)))
    keys = sorted(set(stored) | set(wanted))
    pairs = {key: (stored.get(key, "unset"), wanted.get(key, "unset")) for key in keys}
    return {key: (a, b) for key, (a, b) in pairs.items() if a != b}


def config_diff(recorded: dict[str, Any], config: RunConfig) -> list[str]:
    """The keys where a recorded config differs from `config`, as `key (stored X, requested Y)`."""
    return [
        f"{key} (stored {_short(a)}, requested {_short(b)})"
        for key, (a, b) in config_differences(recorded, config).items()
    ]


def _short(value: Any) -> str:
    text = json.dumps(value, default=str) if value != "unset" else value
    return text if len(text) <= 40 else text[:37] + "..."


# --- profiles ------------------------------------------------------------------------------------
PROFILES: Registry[Path] = Registry("profile")


def _register_shipped_profiles() -> None:
    if PROFILES.names():
        return
    folder = resources.files("supernet_bench") / "profiles"
    for entry in folder.iterdir():
        if entry.name.endswith(".toml"):
            PROFILES.register(entry.name[: -len(".toml")], Path(str(entry)))


def profile_names() -> list[str]:
    _register_shipped_profiles()
    return PROFILES.names()


def load_profile(name_or_path: str) -> tuple[str, dict[str, Any]]:
    """A shipped profile by name, or a user's copy by path. Returns (name, tables)."""
    _register_shipped_profiles()
    path = Path(name_or_path)
    if name_or_path.endswith(".toml"):
        if not path.is_file():
            raise BenchError(f"profile file {name_or_path} does not exist")
        name = path.stem
    else:
        path = PROFILES.get(name_or_path)
        name = name_or_path
    try:
        tables = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as e:
        raise BenchError(f"profile {path} is not valid TOML: {e}") from None
    for key in tables:
        if key not in (*_SECTIONS, "description"):
            raise BenchError(f"profile {path}: unknown table [{key}]{did_you_mean(key, list(_SECTIONS))}")
    return name, tables


def parse_override(text: str) -> tuple[list[str], Any]:
    """`section.key=value` with a TOML value (`run.budget_epochs=5`, `eval.sample="all"`), key and type checked."""
    key, sep, raw = text.partition("=")
    if not sep or "." not in key:
        raise BenchError(f"override {text!r} must look like section.key=value")
    path = key.strip().split(".")
    if path[0] not in _SECTIONS:
        raise BenchError(f"override {text!r}: unknown section {path[0]!r}{did_you_mean(path[0], list(_SECTIONS))}")
    try:
        value = tomllib.loads(f"v = {raw.strip()}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw.strip()  # bare strings are allowed: eval.bn_mode=ema
    section = path[0]
    if section in TABLES:
        if len(path) != 2:
            raise BenchError(f"override {text!r}: {section} keys are {section}.key=value")
        check_value(TABLES[section], path[1], value, section, where=f"override {text!r}: ")
    elif section in ("methods", "policies") and len(path) != 3:
        raise BenchError(f"override {text!r}: {section} keys are {section}.NAME.key=value")
    return path, value


def resolve_config(
    method: str,
    profile: str = "smoke",
    space: str = "nb201",
    seed: int = 0,
    overrides: list[str] | tuple[str, ...] = (),
    **shortcuts: Any,
) -> RunConfig:
    """Profile tables, then `overrides`, then named shortcuts (dataset=, gt=) from the CLI."""
    name, tables = load_profile(profile)
    tables = copy.deepcopy(tables)
    tables.pop("description", None)
    for text in overrides:
        path, value = parse_override(text)
        node = tables.setdefault(path[0], {})
        for part in path[1:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise BenchError(f"override {text!r}: {'.'.join(path[:-1])} is not a table")
        node[path[-1]] = value
    if shortcuts.get("dataset"):
        tables.setdefault("data", {})["dataset"] = shortcuts["dataset"]
    if shortcuts.get("gt"):
        tables.setdefault("eval", {})["gt"] = shortcuts["gt"]
    check_seed("seed", seed)
    config = RunConfig.from_dict(
        {"method": method, "space": space, "seed": seed, "profile": name, **tables}, where=f"profile {name}: "
    )
    validate(config)
    return config


def check_seed(name: str, seed: Any) -> None:
    if not isinstance(seed, int) or isinstance(seed, bool) or not 0 <= seed < SEED_LIMIT:
        raise BenchError(f"{name} must be an integer in [0, 2**63), got {seed!r}")


def validate(config: RunConfig) -> None:
    """Ranges and combinations of the protocol keys, all checked before anything trains; one line each."""
    run, data, ev = config.run, config.data, config.eval
    check_seed("seed", config.seed)
    if not math.isfinite(run.budget_epochs) or run.budget_epochs <= 0:
        raise BenchError(f"run.budget_epochs must be > 0, got {run.budget_epochs}")
    for key, value in (
        ("run.batch_size", run.batch_size),
        ("run.threads", run.threads),
        ("data.resolution", data.resolution),
        ("eval.batch_size", ev.batch_size),
        ("eval.recal_batch_size", ev.recal_batch_size),
    ):
        if value < 1:
            raise BenchError(f"{key} must be >= 1, got {value}")
    for key, value in (("data.train_limit", data.train_limit), ("data.eval_limit", data.eval_limit)):
        if value < 0:
            raise BenchError(f"{key} must be >= 0 (0 = everything), got {value}")
    check_seed("data.split_seed", data.split_seed)
    check_seed("eval.sample_seed", ev.sample_seed)
    cps = list(run.checkpoints)
    if not cps or any(not 0 <= c <= 1 for c in cps) or any(b <= a for a, b in zip(cps, cps[1:])):
        raise BenchError(f"run.checkpoints must be strictly increasing fractions in [0, 1], got {cps}")
    if cps[-1] != 1:
        raise BenchError(f"run.checkpoints must end at 1.0 (the full budget), got {cps}")
    if not _DEVICE.fullmatch(run.device):
        raise BenchError(f"run.device must be auto, cpu, cuda or cuda:N, got {run.device!r}")
    if run.precision not in PRECISIONS:
        raise BenchError(f"run.precision must be one of {', '.join(PRECISIONS)}, got {run.precision!r}")
    from supernet_bench.evaluation import BN_MODES, SCORES  # local: evaluation imports torch

    if ev.bn_mode not in BN_MODES:
        raise UnknownNameError(f"Unknown BN mode {ev.bn_mode!r}. Available: {', '.join(BN_MODES)}")
    if ev.score not in SCORES:
        raise UnknownNameError(f"Unknown score {ev.score!r}. Available: {', '.join(SCORES)}")
    if ev.bn_mode in RECALIBRATING_BN_MODES and ev.recal_batches < 1:
        raise BenchError(
            f"eval.recal_batches must be >= 1 with eval.bn_mode={ev.bn_mode!r} (it rebuilds BN statistics from "
            f"them), got {ev.recal_batches}"
        )
    if ev.recal_batches < 0:
        raise BenchError(f"eval.recal_batches must be >= 0, got {ev.recal_batches}")
    check_sample_spec(ev.sample)


def check_sample_spec(spec: str) -> None:
    """The form of eval.sample; what it selects is checked against the space when the run starts."""
    kind, sep, arg = spec.partition(":")
    if kind == "random":
        if not arg.isdigit():
            raise BenchError(f"eval.sample {spec!r}: random:N needs an integer N")
        if int(arg) < 2:
            raise BenchError(f"eval.sample {spec!r}: need at least 2 architectures to rank")
    elif kind in ("subset", "file"):
        if not arg:
            raise BenchError(f"eval.sample {spec!r} needs a name after the colon")
    elif spec != "all":
        raise BenchError(f"eval.sample {spec!r} must be random:N, all, subset:NAME or file:PATH")
