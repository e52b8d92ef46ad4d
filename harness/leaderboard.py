"""Leaderboards: per (space, dataset, gt_column, profile), methods at the final checkpoint ranked by mean
Kendall tau over seeds, with reference estimators beside them and a cross-task rank analysis.

- ``leaderboard(summary, references)`` -> LEADERBOARD_SCHEMA rows (``kind`` "method" or "reference").
- ``reference_rows(runs, data_dir)``: what a non-supernet estimator reaches on the same architecture sample
  (`references()`, one per space name, from the space catalogs: NB201 hp12 training, the Macro seed-to-seed
  ceiling).
- ``rank_summary(board)``: mean rank per method across tasks and, with at least 5 tasks, a Friedman test
  with Nemenyi critical difference (autorank; Demšar 2006).
"""

from __future__ import annotations

import contextlib
import io
import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
from scipy import stats
from supernet_bench.aggregate import (
    GROUP_KEYS,
    KT,
    KT_AUC,
    WALL,
    RunSet,
    final_rows,
    group_slug,
    higher_is_better,
)
from supernet_bench.core.atomic import atomic_write_table
from supernet_bench.core.catalog import ReferenceLine, ReferenceRequest
from supernet_bench.metrics import compute_bundle
from supernet_bench.schema import METRICS_SCHEMA
from supernet_bench.spaces import space_catalogs

METHOD, REFERENCE = "method", "reference"  # values of the `kind` column

# the summary statistics a leaderboard row carries (summary columns of harness.aggregate.summarize)
BOARD_STATS = (
    f"{KT}_mean",
    f"{KT}_std",
    f"{KT}_ci_low",
    f"{KT}_ci_high",
    f"{KT_AUC}_mean",
    "spearman_mean",
    "p_at_top_5pct_mean",
    "top1_gt_mean",
    f"{WALL}_mean",
    "peak_rss_mb_mean",
)

LEADERBOARD_SCHEMA = pa.schema(
    [METRICS_SCHEMA.field(k) for k in GROUP_KEYS]
    + [
        pa.field("kind", pa.string()),  # "method" (ranked) or "reference" (an estimator shown beside them)
        pa.field("rank", pa.float64()),  # 1 = best mean KT in the group; ties share the lower rank; NaN for refs
        METRICS_SCHEMA.field("primary_gt"),  # gt_column is the runs' primary GT (cross-task ranks use these)
        METRICS_SCHEMA.field("method"),  # registry name, or the reference's label
        pa.field("n_seeds", pa.int64()),  # complete runs averaged (0 for a reference)
        METRICS_SCHEMA.field("checkpoint"),  # the final checkpoint of the group
        METRICS_SCHEMA.field("budget_fraction"),
        METRICS_SCHEMA.field("epoch_equiv"),  # mean over seeds
    ]
    + [pa.field(s, pa.float64()) for s in BOARD_STATS]  # seed statistics (harness/aggregate.py)
    + [pa.field("note", pa.string())]  # where a reference's value comes from
)


# ----------------------------------------------------------------------------------------------------------
# reference estimators


def _rows(estimate: Callable[[ReferenceRequest], list[ReferenceLine]]) -> Callable[..., list[dict[str, Any]]]:
    """A space catalog's reference lines as leaderboard rows: predictions scored like a method's, or a known tau."""

    def rows(req: ReferenceRequest) -> list[dict[str, Any]]:
        out = []
        for line in estimate(req):
            if line.pred is not None:
                bundle = compute_bundle(pred=line.pred, target=line.target, complexity=line.complexity)
            else:
                bundle = {KT: float(line.kendall_tau)}
            out.append({"method": line.method, **bundle, "note": line.note})
        return out

    return rows


def references() -> dict[str, Callable[[ReferenceRequest], list[dict[str, Any]]]]:
    """Space name -> its reference rows, from every space catalog registered now (spaces/<name>/catalog.py)."""
    return {name: _rows(estimate) for cat in space_catalogs() for name, estimate in cat.references.items()}


def reference_rows(runs: RunSet, data_dir: str | Path | None) -> tuple[pd.DataFrame, list[str]]:
    """Reference rows for every group of ``runs`` whose space has a registered estimator.

    Returns (rows with GROUP_KEYS, method, bundle columns and note; notes on what was skipped and why).
    The architecture sample is the final-checkpoint predictions.parquet sample of the group's runs.
    """
    from supernet_bench.core.errors import BenchError
    from supernet_bench.data import resolve_data_dir

    notes: list[str] = []
    try:
        data = resolve_data_dir(data_dir)
    except BenchError as e:
        return pd.DataFrame(), [f"reference lines skipped: {e}"]
    preds = runs.final_predictions()
    rows: list[dict[str, Any]] = []
    estimators = references()
    metric_groups = runs.metrics[GROUP_KEYS].drop_duplicates().itertuples(index=False, name=None)
    for space, dataset, gt_column, profile in sorted(metric_groups):
        name = space.partition(":")[0]
        if name not in estimators:
            continue
        sel = preds[(preds["space"] == space) & (preds["dataset"] == dataset) & (preds["profile"] == profile)]
        samples = {tuple(g["arch"]) for _, g in sel.groupby("run_path", sort=True)}
        if len(samples) > 1:
            notes.append(
                f"{space}/{dataset}/profile {profile}: runs scored different architecture samples; "
                "the reference uses the first"
            )
        archs = tuple(sorted(samples)[0]) if samples else ()
        req = ReferenceRequest(space, dataset, gt_column, profile, archs, data)
        try:
            found = estimators[name](req)
        except BenchError as e:
            notes.append(f"{space}/{dataset}/{gt_column}: reference skipped: {e}")
            continue
        for r in found:
            rows.append({"space": space, "dataset": dataset, "gt_column": gt_column, "profile": profile, **r})
    return pd.DataFrame(rows), list(dict.fromkeys(notes))


# ----------------------------------------------------------------------------------------------------------
# the leaderboard


def leaderboard(summary: pd.DataFrame, references: pd.DataFrame | None = None) -> pd.DataFrame:
    """Final-checkpoint methods ranked by mean Kendall tau per group, references appended per group.

    summary: ``harness.aggregate.summarize`` output. references: ``reference_rows`` output (or None).
    Rows follow LEADERBOARD_SCHEMA; within a group, ranked methods first (best first), then references.
    """
    final = final_rows(summary).copy()
    ascending = not higher_is_better(KT)
    final["rank"] = final.groupby(GROUP_KEYS, dropna=False)[f"{KT}_mean"].rank(method="min", ascending=ascending)
    final["kind"] = METHOD
    final["note"] = ""
    parts = [final]
    if references is not None and not references.empty:
        position = ["checkpoint", "budget_fraction", "epoch_equiv", "primary_gt"]
        pos = final.groupby(GROUP_KEYS, dropna=False)[position].first()
        ref = references.copy()
        ref = ref.join(pos, on=GROUP_KEYS, how="inner")
        for stat in BOARD_STATS:
            column = stat[: -len("_mean")] if stat.endswith("_mean") else None
            if column and column in ref.columns:
                ref[stat] = ref[column]
        ref["kind"], ref["rank"], ref["n_seeds"] = REFERENCE, math.nan, 0
        parts.append(ref)
    board = pd.concat(parts, ignore_index=True)
    for name in LEADERBOARD_SCHEMA.names:
        if name not in board.columns:
            board[name] = math.nan if pa.types.is_floating(LEADERBOARD_SCHEMA.field(name).type) else None
    board["note"] = board["note"].fillna("")
    board["_ref"] = board["kind"] == REFERENCE
    board = board.sort_values([*GROUP_KEYS, "_ref", "rank", "method"], na_position="last", kind="stable")
    return board[LEADERBOARD_SCHEMA.names].reset_index(drop=True)


def write_leaderboard(board: pd.DataFrame, path: str | Path) -> None:
    """leaderboard.parquet with LEADERBOARD_SCHEMA, written atomically."""
    atomic_write_table(pa.Table.from_pandas(board, schema=LEADERBOARD_SCHEMA, preserve_index=False), path)


# ----------------------------------------------------------------------------------------------------------
# cross-task ranks


@dataclass
class RankSummary:
    """Mean rank of each method over tasks (one task = one leaderboard group) and the CD analysis."""

    tasks: list[str]  # group slugs used as blocks
    matrix: pd.DataFrame  # tasks x methods, mean KT
    mean_rank: pd.Series  # method -> mean rank (1 = best), sorted best first
    test: str = ""  # "friedman", "wilcoxon"... as chosen by autorank; "" when not run
    pvalue: float = math.nan
    critical_difference: float = math.nan  # Nemenyi CD in rank units (NaN when not applicable)
    result: Any = None  # the autorank RankResult, for the CD diagram
    notes: list[str] = field(default_factory=list)


MIN_TASKS = 5  # autorank needs at least five blocks for its tests


def rank_summary(board: pd.DataFrame, *, alpha: float = 0.05) -> RankSummary:
    """Rank methods by mean KT within each task, average the ranks, and test them when there are enough tasks.

    board: ``leaderboard`` output; reference rows are ignored, and so are groups of a secondary GT column
    (the same runs scored against another column are not an independent task). Only methods present in
    every task are compared (a missing cell cannot be ranked fairly). The test is autorank's
    nonparametric path: Friedman + Nemenyi for 3+ methods, Wilcoxon signed-rank for 2.
    """
    methods = board[(board["kind"] == METHOD) & board["primary_gt"].astype(bool)]
    matrix = methods.pivot_table(index=GROUP_KEYS, columns="method", values=f"{KT}_mean", aggfunc="first")
    notes = []
    incomplete = [m for m in matrix.columns if matrix[m].isna().any()]
    if incomplete:
        notes.append(f"left out (missing or NaN in some task): {', '.join(incomplete)}")
        matrix = matrix.drop(columns=incomplete)
    matrix.index = [group_slug(k if isinstance(k, tuple) else (k,)) for k in matrix.index]
    if matrix.shape[1] == 0 or matrix.shape[0] == 0:
        return RankSummary([], matrix, pd.Series(dtype=float), notes=notes + ["no method to rank"])
    sign = -1.0 if higher_is_better(KT) else 1.0
    ranks = stats.rankdata(sign * matrix.to_numpy(), axis=1, method="average")
    mean_rank = pd.Series(ranks.mean(axis=0), index=matrix.columns).sort_values(kind="stable")
    out = RankSummary(list(matrix.index), matrix, mean_rank, notes=notes)
    if matrix.shape[1] < 2:
        out.notes.append("a rank test needs at least 2 methods")
        return out
    if matrix.shape[0] < MIN_TASKS:
        out.notes.append(
            f"critical-difference test skipped: {matrix.shape[0]} task(s), autorank needs at least {MIN_TASKS}"
        )
        return out
    from autorank import autorank  # imported here: it pulls in statsmodels

    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        result = autorank(
            matrix,
            alpha=alpha,
            verbose=False,
            order="descending" if higher_is_better(KT) else "ascending",
            force_mode="nonparametric",
        )
    out.test = str(result.omnibus)
    out.pvalue = float(result.pvalue)
    out.critical_difference = float(result.cd) if result.cd is not None else math.nan
    out.result = result
    return out
