"""Many run directories -> tables: seed statistics, bootstrap CIs and KT-vs-budget curves.

Three layers, as in rliable: pure functions on arrays (``normalized_auc``, ``bootstrap_ci``,
``seed_stats``), table builders on pandas frames (``load_runs``, ``add_derived``, ``summarize``,
``final_rows``), and nothing that draws (``harness/figures.py`` draws what these return).

Frames and their rows:

- ``RunSet.metrics``: every row of every complete run's ``metrics.parquet`` (METRICS_SCHEMA columns),
  plus ``run_path`` (the run directory relative to the results root), ``wall_s`` and ``kt_auc``.
- ``summarize(...)``: one row per cell ``CELL_KEYS`` = (space, dataset, gt_column, profile, checkpoint,
  method) with ``n_seeds`` and, per summarized column ``c``: ``c_mean``, ``c_std`` (ddof 1), ``c_n``
  (finite values) and, for ``CI_COLUMNS``, ``c_ci_low`` / ``c_ci_high`` (95% Student-t interval of the mean
  over seeds, NaN for fewer than 2 seeds; ``t_interval``).

Why t and not a bootstrap: with 3 seeds a percentile bootstrap of the mean spans about the seeds' min..max
and covers the true mean ~76% of the time; the t-interval has its nominal coverage for normal seed noise
(tests/harness/test_intervals.py simulates it).
"""

from __future__ import annotations

import hashlib
import inspect
import json
import math
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import integrate, stats
from supernet_bench.config import with_defaults
from supernet_bench.core.errors import BenchError
from supernet_bench.metrics import column_info
from supernet_bench.reproducibility import REPRODUCING_KEYS
from supernet_bench.schema import LINEAGES_SCHEMA, METRICS_SCHEMA, PREDICTIONS_SCHEMA
from supernet_bench.store import RunStore

__all__ = [
    "CELL_KEYS",
    "CI_COLUMNS",
    "GROUP_KEYS",
    "KT",
    "KT_AUC",
    "RUN_PATH",
    "SUMMARY_COLUMNS",
    "WALL",
    "RunSet",
    "add_derived",
    "bootstrap_ci",
    "cumulative_normalized_auc",
    "final_rows",
    "higher_is_better",
    "load_runs",
    "normalized_auc",
    "seed_stats",
    "summarize",
    "t_interval",
]

# --- column names: schema columns are checked against METRICS_SCHEMA, derived ones are declared here ------
KT = "kendall_tau"
GROUP_KEYS = ["space", "dataset", "gt_column", "profile"]  # one leaderboard per group
CELL_KEYS = [*GROUP_KEYS, "checkpoint", "method"]  # one summary row per cell
_RUN_COLUMNS = ["seed", "budget_fraction", "epoch_equiv", "passes", "train_wall_s", "eval_wall_s", "primary_gt"]
for _name in [*CELL_KEYS, *_RUN_COLUMNS, "peak_rss_mb", KT]:
    if _name not in METRICS_SCHEMA.names:  # a renamed schema column must fail here, not in a report
        raise ImportError(f"harness.aggregate expects column {_name!r} in METRICS_SCHEMA")

REFERENCE_KIND = "reference"  # manifest "kind" of a reference-estimator run (harness/references.py)
RUN_PATH = "run_path"  # derived: run directory relative to the results root (unique per run)
WALL = "wall_s"  # derived: cumulative train + scoring wall seconds at the checkpoint
KT_AUC = "kt_auc"  # derived: normalized area under the KT-vs-budget curve up to the checkpoint

MEAN_SCORE = "mean_score"  # mean supernet accuracy over the sample: catches a supernet that did not train
_DERIVED_HIGHER_IS_BETTER = {KT_AUC: True, WALL: False, "peak_rss_mb": False, MEAN_SCORE: True}

CI_COLUMNS = (KT, "spearman", "p_at_top_5pct", "top1_gt", KT_AUC)  # get t-intervals over seeds
SUMMARY_COLUMNS = (
    *CI_COLUMNS,
    WALL,
    "peak_rss_mb",
    "kt_gt_top50",
    "spearman_gt_top_1pct",
    "spearman_gt_top_5pct",
    "complexity_bias",
    "complexity_convergence",
    *(f"rd_group{g}" for g in range(1, 6)),
)


def higher_is_better(column: str) -> bool:
    """Direction of a summarized column: bundle columns from harness.metrics, derived ones declared here."""
    if column in _DERIVED_HIGHER_IS_BETTER:
        return _DERIVED_HIGHER_IS_BETTER[column]
    return column_info(column).higher_is_better


# ----------------------------------------------------------------------------------------------------------
# pure functions on arrays


def normalized_auc(x: Iterable[float], y: Iterable[float]) -> float:
    """Trapezoid area under y(x) divided by the span of x: the curve's mean level over the budget.

    x: budget fractions, shape (K,), strictly increasing; y: metric values, shape (K,). A single point
    (K = 1) gives y[0]; any NaN in y gives NaN (a curve with a hole has no area).
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if x.shape != y.shape or x.ndim != 1 or x.size == 0:
        raise ValueError(f"x and y must be 1-D of the same non-zero length, got {x.shape} and {y.shape}")
    if np.any(np.diff(x) <= 0):
        raise ValueError(f"x must be strictly increasing, got {x.tolist()}")
    if np.isnan(y).any():
        return math.nan
    if x.size == 1:
        return float(y[0])
    return float(integrate.trapezoid(y, x) / (x[-1] - x[0]))


def cumulative_normalized_auc(x: Iterable[float], y: Iterable[float]) -> np.ndarray:
    """``normalized_auc(x[:k+1], y[:k+1])`` for every k; shape (K,)."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    return np.array([normalized_auc(x[: k + 1], y[: k + 1]) for k in range(x.size)])


# scipy >= 1.15 names the generator `rng`; older releases call it `random_state`
_BOOTSTRAP_RNG = "rng" if "rng" in inspect.signature(stats.bootstrap).parameters else "random_state"


def seed_values(values: Iterable[float]) -> np.ndarray:
    """One value per seed as a 1-D float array; a NaN seed is refused (drop it first), never averaged."""
    x = np.asarray(values, dtype=np.float64)
    if x.ndim != 1:
        raise ValueError(f"values must be 1-D, got shape {x.shape}")
    if not np.isfinite(x).all():
        raise ValueError("values must be finite; drop NaN seeds first")
    return x


def degenerate_interval(x: np.ndarray) -> tuple[float, float] | None:
    """(NaN, NaN) for fewer than 2 seeds, a zero-width interval when all seeds agree, else None."""
    if x.size < 2:
        return math.nan, math.nan
    if np.ptp(x) == 0:
        return float(x[0]), float(x[0])
    return None


def bootstrap_ci(
    values: Iterable[float],
    *,
    confidence: float = 0.95,
    n_resamples: int = 2000,
    random_state: int = 0,
) -> tuple[float, float]:
    """Percentile bootstrap CI of the mean over seeds (scipy.stats.bootstrap). Not used for the boards: with
    3 seeds it covers ~76%, see ``t_interval``.

    values: shape (n_seeds,), finite. Fewer than 2 values give (NaN, NaN); identical values give a
    zero-width interval at that value. ``random_state`` fixes the resampling, so reports are reproducible.
    """
    x = seed_values(values)
    if (degenerate := degenerate_interval(x)) is not None:
        return degenerate
    res = stats.bootstrap(
        (x,),
        np.mean,
        n_resamples=n_resamples,
        confidence_level=confidence,
        method="percentile",
        vectorized=True,
        **{_BOOTSTRAP_RNG: np.random.default_rng(random_state)},
    )
    return float(res.confidence_interval.low), float(res.confidence_interval.high)


CONFIDENCE = 0.95
CI_LABEL = "95% t-interval over seeds"  # what the reports call ci_low..ci_high


def t_interval(values: Iterable[float], *, confidence: float = CONFIDENCE) -> tuple[float, float]:
    """Student-t interval of the mean over seeds: mean -+ t_{(1+c)/2, n-1} * std / sqrt(n).

    values: shape (n_seeds,), finite. Fewer than 2 values give (NaN, NaN); identical values a zero-width
    interval at that value. With 3 seeds t = 4.30, so the interval is wide: that is what 3 seeds know.
    """
    x = seed_values(values)
    if (degenerate := degenerate_interval(x)) is not None:
        return degenerate
    mean = float(x.mean())
    half = float(stats.t.ppf((1 + confidence) / 2, x.size - 1) * x.std(ddof=1) / math.sqrt(x.size))
    return mean - half, mean + half


def seed_stats(
    values: Iterable[float], *, ci: bool = True, random_state: int = 0, interval: str = "t"
) -> dict[str, float]:
    """n (finite values), mean, std (ddof 1; NaN below 2) and, if ``ci``, ci_low / ci_high of the mean:
    ``interval`` "t" (``t_interval``, the boards') or "bootstrap" (``bootstrap_ci`` with ``random_state``:
    about the seeds' min..max, what harness/regress.py's baselines compare against).

    values: shape (n_seeds,); NaN seeds (an undefined metric) are left out of every statistic.
    """
    x = np.asarray(values, dtype=np.float64)
    x = x[np.isfinite(x)]
    out = {
        "n": float(x.size),
        "mean": float(x.mean()) if x.size else math.nan,
        "std": float(x.std(ddof=1)) if x.size >= 2 else math.nan,
    }
    if ci:
        if interval == "bootstrap":
            out["ci_low"], out["ci_high"] = bootstrap_ci(x, random_state=random_state)
        else:
            out["ci_low"], out["ci_high"] = t_interval(x)
    return out


# ----------------------------------------------------------------------------------------------------------
# loading run directories


@dataclass
class RunSet:
    """The complete runs under a results root."""

    root: Path
    metrics: pd.DataFrame  # METRICS_SCHEMA columns + run_path, wall_s, kt_auc
    manifests: dict[str, dict[str, Any]] = field(default_factory=dict)  # run_path -> manifest.json
    incomplete: list[str] = field(default_factory=list)  # run paths whose manifest is not complete
    notes: list[str] = field(default_factory=list)  # pooled configs, and every problem below
    problems: list[str] = field(default_factory=list)  # runs left out: malformed, failed (diverged), duplicates
    references: pd.DataFrame = field(default_factory=pd.DataFrame)  # reference-estimator runs, same columns
    reference_manifests: dict[str, dict[str, Any]] = field(default_factory=dict)

    def final_predictions(self) -> pd.DataFrame:
        """predictions.parquet rows of every run at its last checkpoint (PREDICTIONS_SCHEMA + run_path)."""
        return self._final_rows(RunStore.read_predictions, PREDICTIONS_SCHEMA)

    def final_lineages(self) -> pd.DataFrame:
        """lineages.parquet rows of every run at its last checkpoint (LINEAGES_SCHEMA + run_path); runs
        written before lineages.parquet existed contribute nothing."""
        return self._final_rows(RunStore.read_lineages, LINEAGES_SCHEMA, present=RunStore.has_lineages)

    def _final_rows(self, read, schema, present=lambda store: True) -> pd.DataFrame:
        frames = []
        for run_path in self.manifests:
            store = RunStore(self.root / run_path)
            if not present(store):
                continue
            table = read(store).to_pandas()
            if table.empty:
                continue
            table = table[table["checkpoint"] == table["checkpoint"].max()].copy()
            table[RUN_PATH] = run_path
            frames.append(table)
        if not frames:
            return pd.DataFrame(columns=[*schema.names, RUN_PATH])
        return pd.concat(frames, ignore_index=True)


def find_run_dirs(root: str | Path) -> list[Path]:
    """Every folder under ``root`` (itself included) that holds a manifest.json, sorted."""
    root = Path(root)
    return sorted(p.parent for p in root.rglob("manifest.json"))


def run_identity(manifest: dict[str, Any], keys: tuple = ()) -> str:
    """One run's identity: its resolved config (method, space, dataset, profile, seed and every table)
    and the run's ``keys`` as its metrics name them.

    Two folders with one identity are the same experiment reached twice (or a copied folder), never two
    seeds. Computed from the manifest's ``config``, so manifests of every version have one.
    """
    config = manifest.get("config", {})
    return hashlib.sha256(json.dumps([config, list(keys)], sort_keys=True, default=str).encode()).hexdigest()


def _predictions_digest(predictions: pd.DataFrame) -> str:
    """What a run predicted (arch, checkpoint, score): two seeds never agree on every score."""
    cols = predictions[["checkpoint", "arch", "score"]].sort_values(["checkpoint", "arch"], kind="stable")
    return hashlib.sha256(cols.to_csv(index=False).encode()).hexdigest()


def _read_run(store: RunStore) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The metrics and predictions of one complete run, checked enough to aggregate (BenchError if not)."""
    metrics = store.read_metrics().to_pandas()
    predictions = store.read_predictions().to_pandas()
    if metrics.empty:
        raise BenchError(f"{store.root / 'metrics.parquet'} has no rows")
    for column in ("checkpoint", "budget_fraction"):
        if metrics[column].isna().any():
            raise BenchError(f"{store.root / 'metrics.parquet'}: column {column} has missing values")
    for _, rows in metrics.groupby("gt_column", sort=False):
        fractions = rows.sort_values("checkpoint")["budget_fraction"].to_numpy(dtype=np.float64)
        if np.any(np.diff(fractions) <= 0):
            raise BenchError(
                f"{store.root}: checkpoint budget fractions {fractions.tolist()} are not strictly increasing"
            )
    return metrics, predictions


def load_runs(root: str | Path | Sequence[str | Path]) -> RunSet:
    """Read every complete run under ``root``; incomplete ones are listed, not read.

    Several roots pool their boards (a cross-task rank over NB201, Macro, ...): the RunSet's root is then their
    common folder and run paths are relative to it, so runs of different roots never share a path.

    A run that cannot be aggregated is left out and named in ``problems`` (and ``notes``), never fatal
    for the root: a malformed one (unreadable manifest or parquet, broken checkpoints), a failed one
    (diverged), and a duplicate (same identity as, or identical predictions to, an earlier seed of the same
    method), which would otherwise count as another seed and narrow the interval.
    Reference-estimator runs (manifest ``kind`` "reference", harness/references.py) go to
    ``RunSet.references``, never among the methods.
    """
    roots = [Path(r) for r in ([root] if isinstance(root, str | Path) else root)]
    if not roots:
        raise BenchError("no results root given")
    for r in roots:
        if not r.is_dir():
            raise BenchError(f"results root {r} is not a folder")
    if len(roots) > 1:  # pooled: run paths relative to the roots' common folder
        roots = [r.resolve() for r in roots]
        if len(set(roots)) != len(roots):
            raise BenchError(f"a results root is given twice: {', '.join(map(str, roots))}")
    root = roots[0] if len(roots) == 1 else Path(os.path.commonpath(roots))
    run_dirs = sorted({d for r in roots for d in find_run_dirs(r)})  # a set: nested roots list a run once
    frames, manifests, incomplete, problems = [], {}, [], []
    identities: dict[str, str] = {}
    digests: dict[tuple, str] = {}
    ref_frames, ref_manifests = [], {}
    for run_dir in run_dirs:
        rel = run_dir.relative_to(root).as_posix() or "."
        store = RunStore(run_dir)
        try:
            manifest = store.manifest()
            if not isinstance(manifest, dict):
                raise BenchError(f"{run_dir / 'manifest.json'} is not a JSON object")
            status = manifest.get("status")
            if status == "failed":
                problems.append(f"{rel} failed: {manifest.get('failure') or 'no reason recorded'} (not ranked)")
                continue
            if status != "complete":
                incomplete.append(rel)
                continue
            table, predictions = _read_run(store)
        except BenchError as e:
            problems.append(f"{rel} skipped, malformed: {e}")
            continue
        first = table.iloc[0]
        cell = tuple(str(first[k]) for k in ("method", "space", "dataset", "profile"))
        identity = run_identity(manifest, (*cell, int(first["seed"])))
        digest = (cell, _predictions_digest(predictions))
        if identity in identities or digest in digests:
            same = identities.get(identity) or digests[digest]
            why = "the same config and seed" if identity in identities else "identical predictions"
            problems.append(f"{rel} skipped: a duplicate of {same} ({why}), not another seed")
            continue
        identities[identity] = rel
        digests[digest] = rel
        table[RUN_PATH] = rel
        if manifest.get("kind") == REFERENCE_KIND:
            ref_frames.append(table)
            ref_manifests[rel] = manifest
            continue
        frames.append(table)
        manifests[rel] = manifest
    if not frames:
        hint = f" ({len(incomplete)} incomplete)" if incomplete else ""
        hint += f" ({len(problems)} left out: {problems[0]})" if problems else ""
        raise BenchError(f"no complete runs under {root}{hint}")
    metrics = add_derived(pd.concat(frames, ignore_index=True))
    notes = [*config_notes(metrics, manifests), *problems]
    references = add_derived(pd.concat(ref_frames, ignore_index=True)) if ref_frames else pd.DataFrame()
    return RunSet(
        root=root,
        metrics=metrics,
        manifests=manifests,
        incomplete=incomplete,
        notes=notes,
        problems=problems,
        references=references,
        reference_manifests=ref_manifests,
    )


PROTOCOL_SECTIONS = ("run", "data", "supernet", "eval")  # config tables every method of a group must share


def protocol_notes(
    metrics: pd.DataFrame, manifests: dict[str, dict[str, Any]], varying: tuple[str, ...] = ()
) -> list[str]:
    """The protocol-table part of ``config_notes``; ``varying`` names ``run`` keys a results root varies on
    purpose (a budget sweep: ``budget_epochs``, and ``checkpoints`` of the runs it adopted), left out."""
    protocol: dict[tuple, set[str]] = {}
    keys = metrics[[RUN_PATH, "space", "dataset", "profile"]].drop_duplicates(RUN_PATH)
    for run_path, space, dataset, profile in keys.itertuples(index=False, name=None):
        config = with_defaults(manifests.get(run_path, {}).get("config", {}))
        tables = {s: dict(config.get(s, {})) for s in PROTOCOL_SECTIONS}
        for key in ("threads", "device", *varying):  # device: versions' device_type, checked in config_notes
            tables["run"].pop(key, None)
        protocol.setdefault((space, dataset, profile), set()).add(json.dumps(tables, sort_keys=True, default=str))
    return [
        f"{space}/{dataset}/profile {profile}: runs made under {len(v)} different protocol configs "
        "(run/data/supernet/eval tables) are pooled; compare them in separate results roots"
        for (space, dataset, profile), v in sorted(protocol.items())
        if len(v) > 1
    ]


def config_notes(metrics: pd.DataFrame, manifests: dict[str, dict[str, Any]]) -> list[str]:
    """Warn where runs pooled into one group (or one method's seeds) were made under different configs.

    A group's runs must share the protocol tables (run, data, supernet, eval; ``run.threads`` aside), and
    one method's seeds its hyperparameters; otherwise their statistics mix two experiments.
    """
    method_params: dict[tuple, set[str]] = {}
    recorded: dict[tuple, dict[str, set[str]]] = {}  # per group: each reproducing key's recorded values
    keys = metrics[[RUN_PATH, "space", "dataset", "profile", "method"]].drop_duplicates(RUN_PATH)
    for run_path, space, dataset, profile, method in keys.itertuples(index=False, name=None):
        manifest = manifests.get(run_path, {})
        params = {k: manifest.get("method", {}).get(k) for k in ("params", "policies")}
        method_params.setdefault((space, dataset, profile, method), set()).add(
            json.dumps(params, sort_keys=True, default=str)
        )
        group = recorded.setdefault((space, dataset, profile), {k: set() for k in REPRODUCING_KEYS})
        for key in REPRODUCING_KEYS:
            missing = "cpu" if key == "device_type" else "unknown"  # manifests before device_type: CPU runs
            group[key].add(str(manifest.get("versions", {}).get(key, missing)))
    notes = protocol_notes(metrics, manifests)  # keys declared since a run was made count as defaults
    notes += [
        f"{method} on {space}/{dataset}/profile {profile}: seeds ran with {len(v)} different hyperparameter sets"
        for (space, dataset, profile, method), v in sorted(method_params.items())
        if len(v) > 1
    ]
    for (space, dataset, profile), group in sorted(recorded.items()):
        mixed = [f"{k}: {', '.join(sorted(v))}" for k, v in group.items() if len(v) > 1]
        if mixed:
            notes.append(
                f"{space}/{dataset}/profile {profile}: runs made under different code or CPU kinds are pooled "
                f"({'; '.join(mixed)}); their float rounding differs like a seed (reports/proxy-profile.md)"
            )
    return notes


def add_derived(metrics: pd.DataFrame) -> pd.DataFrame:
    """Add ``wall_s`` and ``kt_auc`` (cumulative normalized AUC per run and GT column); returns a copy.

    metrics: metrics.parquet rows of one or more runs, with ``run_path`` naming the run.
    """
    out = metrics.sort_values([RUN_PATH, "gt_column", "checkpoint"], kind="stable").reset_index(drop=True)
    out[WALL] = out["train_wall_s"] + out["eval_wall_s"]
    auc = np.full(len(out), math.nan)
    for _, idx in out.groupby([RUN_PATH, "gt_column"], sort=False).indices.items():
        auc[idx] = cumulative_normalized_auc(out["budget_fraction"].to_numpy()[idx], out[KT].to_numpy()[idx])
    out[KT_AUC] = auc
    return out


# ----------------------------------------------------------------------------------------------------------
# summary tables


def summarize(
    metrics: pd.DataFrame,
    *,
    columns: Iterable[str] = SUMMARY_COLUMNS,
    ci_columns: Iterable[str] = CI_COLUMNS,
    random_state: int = 0,
    interval: str = "t",
) -> pd.DataFrame:
    """One row per cell (CELL_KEYS): n_seeds, budget/epoch position and seed statistics of ``columns``.

    metrics: rows from ``load_runs(...).metrics`` (or any frame with CELL_KEYS, run_path and the columns).
    Sorted by group, checkpoint, then best mean Kendall tau first.
    """
    columns = [c for c in columns if c in metrics.columns]
    ci_set = set(ci_columns)
    rows = []
    for key, cell in metrics.groupby(CELL_KEYS, sort=True, dropna=False):
        row: dict[str, Any] = dict(zip(CELL_KEYS, key, strict=True))
        row["n_seeds"] = int(cell[RUN_PATH].nunique())
        row["budget_fraction"] = float(cell["budget_fraction"].iloc[0])
        row["epoch_equiv"] = float(cell["epoch_equiv"].mean())
        row["passes"] = float(cell["passes"].mean())
        row["primary_gt"] = bool(cell["primary_gt"].all())
        row["n_archs"] = int(cell["n_archs"].max()) if "n_archs" in cell.columns else 0
        for c in columns:
            st = seed_stats(
                cell[c].to_numpy(dtype=np.float64), ci=c in ci_set, random_state=random_state, interval=interval
            )
            for stat, value in st.items():
                row[f"{c}_{stat}"] = value
        rows.append(row)
    summary = pd.DataFrame(rows)
    if summary.empty:
        return summary
    kt = summary[f"{KT}_mean"] if f"{KT}_mean" in summary.columns else pd.Series(0.0, index=summary.index)
    summary["_order"] = -kt if higher_is_better(KT) else kt
    summary = summary.sort_values([*GROUP_KEYS, "checkpoint", "_order", "method"], na_position="last")
    return summary.drop(columns="_order").reset_index(drop=True)


def final_rows(frame: pd.DataFrame) -> pd.DataFrame:
    """Rows at the last checkpoint of each group (GROUP_KEYS) of a summary or metrics frame."""
    last = frame.groupby(GROUP_KEYS, dropna=False)["checkpoint"].transform("max")
    return frame[frame["checkpoint"] == last].reset_index(drop=True)


def groups(frame: pd.DataFrame) -> list[tuple[Any, ...]]:
    """The distinct GROUP_KEYS tuples of a frame, sorted."""
    return sorted(frame[GROUP_KEYS].drop_duplicates().itertuples(index=False, name=None))


def group_slug(group: tuple[Any, ...]) -> str:
    """A file-name-safe label of a group: ``nb201_cifar10_cifar10-valid_x-valid_hp200_smoke``."""
    text = "_".join(str(g) for g in group)
    return "".join(ch if ch.isalnum() or ch in "-_." else "-" for ch in text)


def select_group(frame: pd.DataFrame, group: tuple[Any, ...]) -> pd.DataFrame:
    mask = np.ones(len(frame), dtype=bool)
    for k, v in zip(GROUP_KEYS, group, strict=True):
        mask &= (frame[k] == v).to_numpy()
    return frame[mask]
