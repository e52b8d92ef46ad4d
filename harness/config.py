"""Run configuration: defaults, then a profile (shipped TOML data), then CLI overrides.

The resolved, frozen RunConfig is what a run does and what its manifest records; rerunning from the
manifest's config reproduces the run.
"""

from __future__ import annotations

import copy
import dataclasses
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from supernet_bench.core.errors import BenchError, UnknownNameError
from supernet_bench.core.registry import Registry

_SECTIONS = ("run", "data", "supernet", "eval", "methods", "policies")


@dataclass(frozen=True)
class RunConfig:
    """Everything that determines a run. Sections mirror the profile TOML tables."""

    method: str
    space: str = "nb201"
    seed: int = 0
    profile: str = "smoke"
    run: dict[str, Any] = field(default_factory=dict)  # budget_epochs, batch_size, checkpoints, threads
    data: dict[str, Any] = field(default_factory=dict)  # dataset, split, split_seed, resolution, limits, augment
    supernet: dict[str, Any] = field(default_factory=dict)  # size and BN options passed to the space
    eval: dict[str, Any] = field(default_factory=dict)  # gt, extra_gt, sample, bn_mode, recal_*, batch_size
    methods: dict[str, dict[str, Any]] = field(default_factory=dict)  # per-method hyperparameter tables
    policies: dict[str, dict[str, Any]] = field(default_factory=dict)  # per-policy tables (calr, ms)

    @property
    def dataset(self) -> str:
        return self.data["dataset"]

    @property
    def gt(self) -> str:
        return self.eval["gt"]

    @property
    def gt_columns(self) -> list[str]:
        return [self.eval["gt"], *[c for c in self.eval.get("extra_gt", []) if c != self.eval["gt"]]]

    def method_params(self) -> dict[str, dict[str, Any]]:
        return {**self.methods, **self.policies}

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> RunConfig:
        unknown = set(d) - {f.name for f in dataclasses.fields(cls)}
        if unknown:
            raise BenchError(f"unknown config keys: {', '.join(sorted(unknown))}")
        return cls(**d)


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
    unknown = set(tables) - set(_SECTIONS) - {"description"}
    if unknown:
        raise BenchError(f"profile {path} has unknown tables: {', '.join(sorted(unknown))}")
    return name, tables


def parse_override(text: str) -> tuple[list[str], Any]:
    """`section.key=value` with a TOML value (`run.budget_epochs=5`, `eval.sample="all"`)."""
    key, sep, raw = text.partition("=")
    if not sep or "." not in key:
        raise BenchError(f"override {text!r} must look like section.key=value")
    path = key.strip().split(".")
    if path[0] not in _SECTIONS:
        raise BenchError(f"override {text!r}: unknown section {path[0]!r} (one of {', '.join(_SECTIONS)})")
    try:
        value = tomllib.loads(f"v = {raw.strip()}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw.strip()  # bare strings are allowed: eval.bn_mode=ema
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
    for text in overrides:
        path, value = parse_override(text)
        node = tables.setdefault(path[0], {})
        for part in path[1:-1]:
            node = node.setdefault(part, {})
        node[path[-1]] = value
    if shortcuts.get("dataset"):
        tables.setdefault("data", {})["dataset"] = shortcuts["dataset"]
    if shortcuts.get("gt"):
        tables.setdefault("eval", {})["gt"] = shortcuts["gt"]
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise BenchError(f"seed must be a non-negative integer, got {seed!r}")
    config = RunConfig(
        method=method,
        space=space,
        seed=seed,
        profile=name,
        **{s: tables.get(s, {}) for s in _SECTIONS},
    )
    validate(config)
    return config


_REQUIRED = {
    "run": {"budget_epochs": (int, float), "batch_size": int, "checkpoints": list},
    "data": {"dataset": str, "split": str, "resolution": int},
    "eval": {"gt": str, "sample": str, "bn_mode": str, "batch_size": int},
}


def validate(config: RunConfig) -> None:
    """Types and ranges of the protocol keys; one clear error for the first problem."""
    for section, keys in _REQUIRED.items():
        table = getattr(config, section)
        for key, typ in keys.items():
            if key not in table:
                raise BenchError(f"config is missing {section}.{key}")
            if not isinstance(table[key], typ) or isinstance(table[key], bool):
                raise BenchError(f"{section}.{key} has the wrong type: {table[key]!r}")
    run = config.run
    if run["budget_epochs"] <= 0:
        raise BenchError(f"run.budget_epochs must be > 0, got {run['budget_epochs']}")
    if run["batch_size"] <= 0:
        raise BenchError(f"run.batch_size must be > 0, got {run['batch_size']}")
    cps = run["checkpoints"]
    if not cps or any(not isinstance(c, (int, float)) or not 0 <= c <= 1 for c in cps) or sorted(cps) != cps:
        raise BenchError(f"run.checkpoints must be increasing fractions in [0, 1], got {cps}")
    if cps[-1] != 1:
        raise BenchError("run.checkpoints must end at 1.0 (the full budget)")
    from supernet_bench.evaluation import BN_MODES, SCORES  # local: evaluation imports torch

    if config.eval["bn_mode"] not in BN_MODES:
        raise UnknownNameError(f"Unknown BN mode {config.eval['bn_mode']!r}. Available: {', '.join(BN_MODES)}")
    if config.eval.get("score", "accuracy") not in SCORES:
        raise UnknownNameError(f"Unknown score {config.eval['score']!r}. Available: {', '.join(SCORES)}")
