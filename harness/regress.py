"""Regression tracking of Kendall tau against a committed baseline parquet (results/baselines/).

A baseline row holds, per cell (method, space, dataset, gt_column, profile, checkpoint) and tracked metric,
the mean over seeds, its std and 95% bootstrap CI, and n_seeds (BASELINE_SCHEMA, declared here once).
A fresh results root regresses when a cell's mean falls below the baseline CI low by more than the
tolerance (above the CI high, for a lower-is-better metric); with a single baseline seed the CI is
undefined and the baseline mean stands in for it. A NaN fresh mean (the supernet ranks nothing) regresses.
Each tracked metric has its own tolerance, in its own units: Kendall tau's (``tolerance``) and mean supernet
accuracy's in percentage points (``score_tolerance``), since 0.1 is a wide KT margin but a hair of accuracy.
Both are stored in the baseline's metadata and used unless ``--tolerance`` / ``--score-tolerance`` is given;
a baseline written before the split has one tolerance, which then applies to both, as it did.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
from supernet_bench.aggregate import (
    CELL_KEYS,
    GROUP_KEYS,
    KT,
    MEAN_SCORE,
    PROTOCOL_SECTIONS,
    RUN_PATH,
    RunSet,
    higher_is_better,
    load_runs,
    summarize,
)
from supernet_bench.core.atomic import atomic_write_table
from supernet_bench.core.errors import BenchError
from supernet_bench.schema import METRICS_SCHEMA
from supernet_bench.store import read_table

DEFAULT_TOLERANCE = 0.05  # Kendall tau
DEFAULT_SCORE_TOLERANCE = 1.0  # mean supernet accuracy, percentage points (seed std 0.1-1.4 under proxy)
# Kendall tau is what the check is for; mean supernet accuracy rides along because at small scales
# (smoke) KT is noise and only the supernet's own accuracy shows that training broke (e.g. LR 0).
TRACKED = (KT, MEAN_SCORE)
BASELINE_INTERVAL = "bootstrap"  # harness.aggregate.seed_stats: the band a fresh mean must stay within

BASELINE_SCHEMA = pa.schema(
    [METRICS_SCHEMA.field(k) for k in CELL_KEYS]
    + [
        METRICS_SCHEMA.field("budget_fraction"),  # the checkpoint's scheduled budget fraction (checked on compare)
        pa.field("metric", pa.string()),  # tracked column, e.g. "kendall_tau" (direction: harness.metrics)
        pa.field("n_seeds", pa.int64()),  # complete runs the statistics are over
        pa.field("mean", pa.float64()),  # mean over seeds
        pa.field("std", pa.float64()),  # std over seeds (ddof 1; NaN for one seed)
        pa.field("ci_low", pa.float64()),  # 95% percentile-bootstrap CI of the mean (NaN for one seed)
        pa.field("ci_high", pa.float64()),
    ]
)
_META = "supernet_bench."  # prefix of the baseline's schema-metadata keys
_METHOD_KEYS = ["method", *GROUP_KEYS]  # one method's results in one leaderboard group


@dataclass
class Baseline:
    rows: pd.DataFrame  # BASELINE_SCHEMA columns
    tolerance: float | None = None  # the KT tolerance recorded when the baseline was written
    score_tolerance: float | None = None  # the mean-score one (None: written before the split)
    meta: dict[str, str] = field(default_factory=dict)


def baseline_rows(summary: pd.DataFrame, metrics: tuple[str, ...] = TRACKED) -> pd.DataFrame:
    """BASELINE_SCHEMA rows from a ``harness.aggregate.summarize`` frame."""
    parts = []
    for metric in metrics:
        part = summary[[*CELL_KEYS, "budget_fraction", "n_seeds"]].copy()
        part["metric"] = metric
        for stat in ("mean", "std", "ci_low", "ci_high"):
            part[stat] = summary.get(f"{metric}_{stat}", math.nan)
        parts.append(part)
    rows = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=BASELINE_SCHEMA.names)
    return rows[BASELINE_SCHEMA.names]


def write_baseline(
    root: str | Path,
    path: str | Path,
    tolerance: float = DEFAULT_TOLERANCE,
    score_tolerance: float = DEFAULT_SCORE_TOLERANCE,
) -> pd.DataFrame:
    """Summarize the complete runs under ``root`` and write them as a baseline parquet; returns its rows."""
    _check_tolerances(tolerance, score_tolerance)
    runs = load_runs(root)
    if runs.problems:
        raise BenchError(
            f"not writing a baseline from {root}: {len(runs.problems)} run(s) left out: {runs.problems[0]}"
        )
    # the baseline's band is the percentile bootstrap (about the seeds' min..max), not the boards' t-interval:
    # a regression is a mean outside the seeds' spread, and a t-band over 3 seeds would hide most of them
    summary = summarize(runs.metrics, columns=TRACKED, ci_columns=TRACKED, interval=BASELINE_INTERVAL)
    rows = baseline_rows(summary)
    refs = _reference_summary(runs)
    if not refs.empty:  # reference estimators ride along, so a baseline says what the methods had to beat
        rows = pd.concat([rows, baseline_rows(refs, (KT,))], ignore_index=True)
    recorded = [m.get("versions", {}) for m in runs.manifests.values()]
    shas = sorted({v.get("git_sha", "unknown") for v in recorded})
    cpus = sorted({v.get("cpu_capability", "unknown") for v in recorded})
    meta = {
        "tolerance": repr(float(tolerance)),
        "score_tolerance": repr(float(score_tolerance)),
        "source": str(root),
        "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "git_sha": ",".join(shas),
        "cpu_capability": ",".join(cpus),
        "protocol": json.dumps(protocols(runs), sort_keys=True),
        "references": ",".join(sorted(refs["method"].unique())) if not refs.empty else "",
    }
    table = pa.Table.from_pandas(rows, schema=BASELINE_SCHEMA, preserve_index=False)
    table = table.replace_schema_metadata({f"{_META}{k}".encode(): v.encode() for k, v in meta.items()})
    atomic_write_table(table, path)
    return rows


def protocols(runs: RunSet) -> dict[str, dict[str, Any]]:
    """Per group (``space/dataset/profile``) the protocol tables its runs were made under (the first run's;
    ``config_notes`` already flags a group that mixes several); ``run.threads`` aside."""
    out: dict[str, dict[str, Any]] = {}
    keys = runs.metrics[[RUN_PATH, "space", "dataset", "profile"]].drop_duplicates(RUN_PATH)
    for run_path, space, dataset, profile in keys.itertuples(index=False, name=None):
        config = runs.manifests.get(run_path, {}).get("config", {})
        tables = {s: dict(config.get(s, {})) for s in PROTOCOL_SECTIONS}
        tables["run"].pop("threads", None)
        out.setdefault(f"{space}/{dataset}/{profile}", json.loads(json.dumps(tables, default=str)))
    return out


def protocol_differences(baseline: dict[str, dict[str, Any]], fresh: dict[str, dict[str, Any]]) -> list[str]:
    """One line per group present in both whose protocol tables differ, naming the differing keys."""
    lines = []
    for group in sorted(set(baseline) & set(fresh)):
        b, f = baseline[group], fresh[group]
        keys = sorted(
            f"{section}.{k}"
            for section in set(b) | set(f)
            for k in set(b.get(section, {})) | set(f.get(section, {}))
            if b.get(section, {}).get(k) != f.get(section, {}).get(k)
        )
        if keys:
            lines.append(
                f"PROTOCOL {group}: the runs and the baseline were made under different protocols "
                f"({', '.join(keys[:6])}{' ...' if len(keys) > 6 else ''}); not the same experiment"
            )
    return lines


def _reference_summary(runs) -> pd.DataFrame:
    """Summary rows of the stored reference estimators (harness/references.py); empty when there are none."""
    if runs.references.empty:
        return pd.DataFrame()
    return summarize(runs.references, columns=(KT,), ci_columns=(KT,), interval=BASELINE_INTERVAL)


def read_baseline(path: str | Path) -> Baseline:
    path = Path(path)
    if path.is_dir():
        raise BenchError(f"baseline {path} is a folder, not a parquet file")
    if not path.is_file():
        raise BenchError(f"baseline {path} does not exist (create one with regress --write-baseline)")
    table = read_table(path, BASELINE_SCHEMA)  # one clear error for unreadable files / missing columns
    meta = {
        k.decode()[len(_META) :]: v.decode()
        for k, v in (table.schema.metadata or {}).items()
        if k.decode().startswith(_META)
    }
    tolerance = float(meta["tolerance"]) if "tolerance" in meta else None
    score_tolerance = float(meta["score_tolerance"]) if "score_tolerance" in meta else None
    return Baseline(table.to_pandas()[BASELINE_SCHEMA.names], tolerance, score_tolerance, meta)


def _check_tolerances(*tolerances: float) -> None:
    for tol in tolerances:
        if not tol >= 0:  # also rejects NaN
            raise BenchError(f"tolerance must be >= 0, got {tol}")


# ----------------------------------------------------------------------------------------------------------
# comparison


@dataclass
class RegressResult:
    tolerance: float  # Kendall tau
    score_tolerance: float  # mean supernet accuracy (points)
    checked: int = 0  # baseline cells compared
    regressions: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)  # baseline cells without fresh results
    mismatched: list[str] = field(default_factory=list)  # same cell, different budget schedule
    new: list[str] = field(default_factory=list)  # fresh cells without a baseline (informational)
    skipped: list[str] = field(default_factory=list)  # baseline cells with no value to compare against
    problems: list[str] = field(default_factory=list)  # runs left out (malformed, failed, duplicate)
    protocol: list[str] = field(default_factory=list)  # groups made under another protocol than the baseline

    def failed(self, allow_missing: bool = False) -> bool:
        return bool(
            self.regressions
            or self.mismatched
            or self.problems
            or self.protocol
            or self.checked == 0
            or (self.missing and not allow_missing)
        )

    def problem_count(self, allow_missing: bool = False) -> int:
        n = len(self.regressions) + len(self.mismatched) + len(self.problems) + len(self.protocol)
        n += 0 if allow_missing else len(self.missing)
        return n + (1 if self.checked == 0 else 0)

    def tolerance_for(self, metric: str) -> float:
        return self.score_tolerance if metric == MEAN_SCORE else self.tolerance

    def describe_tolerances(self) -> str:
        return f"tolerance {self.tolerance:g} KT, {self.score_tolerance:g} accuracy points"

    def lines(self) -> list[str]:
        nothing = ["NOTHING CHECKED: no baseline cell matched a complete run here"] if self.checked == 0 else []
        problems = [f"LEFT OUT {p}" for p in self.problems]
        return [
            *self.protocol,
            *problems,
            *self.regressions,
            *self.mismatched,
            *self.missing,
            *self.new,
            *self.skipped,
            *nothing,
        ]


def _cell_name(row) -> str:
    return (
        f"{row['method']} on {row['space']}/{row['dataset']} ({row['gt_column']}, profile {row['profile']}) "
        f"checkpoint {int(row['checkpoint'])}"
    )


def compare(
    baseline: pd.DataFrame, summary: pd.DataFrame, tolerance: float, score_tolerance: float | None = None
) -> RegressResult:
    """Compare a fresh summary (``summarize`` frame) with baseline rows; one message line per finding.

    ``score_tolerance`` (mean supernet accuracy) defaults to ``tolerance``, the pre-split rule."""
    score_tolerance = tolerance if score_tolerance is None else score_tolerance
    _check_tolerances(tolerance, score_tolerance)
    result = RegressResult(tolerance=tolerance, score_tolerance=score_tolerance)
    fresh = summary.set_index(CELL_KEYS)
    missing_cells: dict[tuple, list[int]] = {}
    for _, b in baseline.iterrows():
        key = tuple(b[k] for k in CELL_KEYS)
        metric = b["metric"]
        if key not in fresh.index:
            missing_cells.setdefault(tuple(b[k] for k in _METHOD_KEYS), []).append(int(b["checkpoint"]))
            continue
        f = fresh.loc[key]
        if not math.isclose(float(f["budget_fraction"]), float(b["budget_fraction"]), abs_tol=1e-9):
            result.mismatched.append(
                f"MISMATCH {_cell_name(b)}: budget fraction {f['budget_fraction']:.3f} here, "
                f"{b['budget_fraction']:.3f} in the baseline (a different profile or overrides?)"
            )
            continue
        if math.isnan(b["mean"]):
            result.skipped.append(f"SKIPPED {_cell_name(b)}: the baseline has no {metric} value")
            continue
        result.checked += 1
        observed = float(f.get(f"{metric}_mean", math.nan))
        higher = higher_is_better(metric)
        tol = result.tolerance_for(metric)
        edge_name, edge = ("CI low", b["ci_low"]) if higher else ("CI high", b["ci_high"])
        if math.isnan(edge):
            edge_name, edge = "mean (1 seed)", b["mean"]
        limit = edge - tol if higher else edge + tol
        ok = observed >= limit if higher else observed <= limit  # False for NaN
        if not ok:
            sign = "-" if higher else "+"
            result.regressions.append(
                f"REGRESSION {_cell_name(b)}: {metric} {observed:.4f} (n={int(f['n_seeds'])}) vs baseline "
                f"{edge_name} {edge:.4f} {sign} tolerance {tol:g} = {limit:.4f} "
                f"(baseline mean {b['mean']:.4f}, n={int(b['n_seeds'])})"
            )
    for key, checkpoints in missing_cells.items():
        method, space, dataset, gt_column, profile = key
        result.missing.append(
            f"MISSING {method} on {space}/{dataset} ({gt_column}, profile {profile}) checkpoint(s) "
            f"{', '.join(map(str, sorted(set(checkpoints))))}: in the baseline, no complete run here"
        )
    known = set(baseline[_METHOD_KEYS].itertuples(index=False, name=None))
    for key in sorted(set(summary[_METHOD_KEYS].itertuples(index=False, name=None)) - known):
        method, space, dataset, gt_column, profile = key
        result.new.append(f"NEW {method} on {space}/{dataset} ({gt_column}, profile {profile}): no baseline yet")
    return result


def regress(
    root: str | Path,
    baseline_path: str | Path,
    tolerance: float | None = None,
    score_tolerance: float | None = None,
) -> RegressResult:
    """Check the complete runs under ``root`` against a baseline file; tolerances default to the baseline's."""
    baseline = read_baseline(baseline_path)
    tol = tolerance if tolerance is not None else baseline.tolerance
    tol = DEFAULT_TOLERANCE if tol is None else tol
    score_tol = score_tolerance if score_tolerance is not None else baseline.score_tolerance
    metrics = tuple(sorted(baseline.rows["metric"].unique())) or TRACKED
    runs = load_runs(root)
    summary = summarize(runs.metrics, columns=metrics, ci_columns=())
    rows = baseline.rows
    ref_labels = {x for x in baseline.meta.get("references", "").split(",") if x}
    refs = _reference_summary(runs)
    if refs.empty:  # a results root without stored references: they are not checked, not missing
        rows = rows[~rows["method"].isin(ref_labels)]
    else:
        summary = pd.concat([summary, refs], ignore_index=True)
    result = compare(rows, summary, tol, score_tol)
    result.problems = list(runs.problems)
    if "protocol" in baseline.meta:
        try:
            recorded = json.loads(baseline.meta["protocol"])
        except json.JSONDecodeError:
            raise BenchError(f"baseline {baseline_path}: its recorded protocol is not valid JSON") from None
        result.protocol = protocol_differences(recorded, protocols(runs))
    else:
        result.skipped.append("SKIPPED protocol check: the baseline records no protocol (written by an older version)")
    return result
