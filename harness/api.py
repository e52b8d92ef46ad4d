"""The Python API: run a configuration or a suite, and read results back as pandas DataFrames.

Thin, documented wrappers over what the CLI calls, for notebooks and scripts:

    from supernet_bench import api
    run_dir = api.run("spos", profile="smoke", seed=0, overrides={"run.budget_epochs": 1.0})
    results = api.load_results(run_dir.parent)   # .metrics, .predictions, .manifests (DataFrames)
    board = api.leaderboard(run_dir.parent)

Every function raises `supernet_bench.core.errors.BenchError` with one clear message on bad input.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from supernet_bench.aggregate import RUN_PATH, load_runs, summarize
from supernet_bench.config import RunConfig, resolve_config
from supernet_bench.leaderboard import leaderboard as _leaderboard
from supernet_bench.leaderboard import reference_rows
from supernet_bench.methods import canonical_name
from supernet_bench.protocol import run as _run_protocol
from supernet_bench.store import RunStore
from supernet_bench.suite import load_suite, plan
from supernet_bench.suite import run_suite as _run_suite

Overrides = Mapping[str, Any] | Iterable[str]


def _override_strings(overrides: Overrides) -> list[str]:
    """`{"run.budget_epochs": 1.0}` or `["run.budget_epochs=1.0"]` -> the CLI's `--set` strings."""
    if isinstance(overrides, Mapping):
        return [f"{key}={json.dumps(value)}" for key, value in overrides.items()]  # JSON scalars/lists are TOML
    return [str(o) for o in overrides]


def default_run_dir(config: RunConfig) -> Path:
    """Where `run` writes when no `out` is given (the CLI's default): runs/<profile>_<space>_<data>_<method>_s<seed>."""
    space = config.space.replace(":", "-")
    return Path("runs") / f"{config.profile}_{space}_{config.dataset}_{config.method}_s{config.seed}"


def configure(
    method: str,
    space: str = "nb201",
    profile: str = "smoke",
    seed: int = 0,
    overrides: Overrides = (),
    dataset: str | None = None,
    gt: str | None = None,
) -> RunConfig:
    """The resolved configuration of one run: the profile, then `overrides` (`section.key` -> value)."""
    return resolve_config(
        canonical_name(method),
        profile=profile,
        space=space,
        seed=seed,
        overrides=_override_strings(overrides),
        dataset=dataset,
        gt=gt,
    )


def run(
    method: str,
    space: str = "nb201",
    profile: str = "smoke",
    seed: int = 0,
    overrides: Overrides = (),
    out: str | Path | None = None,
    data_dir: str | Path | None = None,
    *,
    dataset: str | None = None,
    gt: str | None = None,
    resume: bool = False,
    progress: bool = False,
) -> Path:
    """Train and score one (method, space, profile, seed), like `supernet-bench run`; returns the run directory.

    A complete run directory is returned as it is (not rerun); `resume=True` continues an interrupted one.
    `data_dir` defaults to $SUPERNET_BENCH_DATA.
    """
    config = configure(method, space, profile, seed, overrides, dataset, gt)
    out = default_run_dir(config) if out is None else Path(out)
    return _run_protocol(config, out, data_dir=data_dir, resume=resume, progress=progress)


def run_suite(
    suite: str | Path,
    out: str | Path | None = None,
    overrides: Overrides = (),
    data_dir: str | Path | None = None,
    workers: int = 1,
) -> pd.DataFrame:
    """Run a suite (a shipped name such as "smoke" or a TOML path) like `supernet-bench suite`, locally.

    Returns one row per run: run (its label), status (ran, resumed, skipped, failed, busy), seconds,
    kendall_tau (final checkpoint, primary GT) and error. A failed run does not raise; its row says why.
    """
    spec = load_suite(suite)
    tasks = plan(spec, Path(spec.out) if out is None else out, _override_strings(overrides))
    outcomes = _run_suite(tasks, data_dir=data_dir, workers=workers)
    columns = ["run", "status", "seconds", "kendall_tau", "error"]
    rows = [(o.label, o.status, o.seconds, o.kendall_tau, o.error) for o in outcomes]
    return pd.DataFrame(rows, columns=columns)


@dataclass
class Results:
    """The complete runs under a results root, as DataFrames; every frame has a `run_path` column."""

    root: Path
    metrics: pd.DataFrame  # one row per (run, checkpoint, GT column): every metric
    predictions: pd.DataFrame  # one row per (run, checkpoint, architecture): score, accuracy, GT, complexity
    manifests: pd.DataFrame  # one row per run: the manifest flattened (config.run.batch_size, versions.torch, ...)
    incomplete: list[str] = field(default_factory=list)  # run paths not (yet) complete, left out
    notes: list[str] = field(default_factory=list)  # runs pooled although their configs differ


def load_results(root: str | Path) -> Results:
    """Read every complete run under `root` (a run directory or a folder of them)."""
    runs = load_runs(root)
    predictions = []
    for run_path in runs.manifests:
        table = RunStore(runs.root / run_path).read_predictions().to_pandas()
        table[RUN_PATH] = run_path
        predictions.append(table)
    manifests = pd.json_normalize([{RUN_PATH: p, **m} for p, m in runs.manifests.items()])
    return Results(
        root=runs.root,
        metrics=runs.metrics,
        predictions=pd.concat(predictions, ignore_index=True),
        manifests=manifests,
        incomplete=list(runs.incomplete),
        notes=list(runs.notes),
    )


def leaderboard(root: str | Path, data_dir: str | Path | None = None, references: bool = True) -> pd.DataFrame:
    """The leaderboard of the complete runs under `root` (as `supernet-bench leaderboard` prints it).

    With `references`, reference lines (NB201 hp12 training, Macro seed-to-seed) are added where the data
    folder has them.
    """
    runs = load_runs(root)
    refs = reference_rows(runs, data_dir)[0] if references else None
    return _leaderboard(summarize(runs.metrics), refs)


__all__ = ["Results", "configure", "default_run_dir", "leaderboard", "load_results", "run", "run_suite"]
