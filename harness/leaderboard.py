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

import numpy as np
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
        pa.field("rank_group", pa.float64()),  # methods that cannot be told apart share one (``rank_groups``)
        METRICS_SCHEMA.field("primary_gt"),  # gt_column is the runs' primary GT (cross-task ranks use these)
        METRICS_SCHEMA.field("method"),  # registry name, or the reference's label
        pa.field("n_seeds", pa.int64()),  # complete runs averaged (0 for a reference)
        METRICS_SCHEMA.field("checkpoint"),  # the final checkpoint of the group
        METRICS_SCHEMA.field("budget_fraction"),
        METRICS_SCHEMA.field("epoch_equiv"),  # mean over seeds
        METRICS_SCHEMA.field("n_archs"),  # architectures scored (P@top-K's resolution, KT's null std)
    ]
    + [pa.field(s, pa.float64()) for s in BOARD_STATS]  # seed statistics (harness/aggregate.py)
    + [
        pa.field("note", pa.string()),  # where a reference's value comes from
        pa.field("free", pa.bool_()),  # a reference that needs no training (params, FLOPs, zero-cost, untrained)
        pa.field("below_free", pa.bool_()),  # a method whose KT interval lies below the best free reference
    ]
)

ALPHA = 0.05  # rank groups: a method leaves the leader's group when a one-sided Welch t-test says it is worse


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


def stored_reference_rows(runs: RunSet) -> pd.DataFrame:
    """Summary rows (harness.aggregate.summarize columns) of the stored reference runs, with ``free`` and
    ``note`` (harness/references.py); empty when none are stored under the results root."""
    if runs.references.empty:
        return pd.DataFrame()
    from supernet_bench.aggregate import summarize
    from supernet_bench.references import reference_info

    rows = final_rows(summarize(runs.references))
    info = reference_info(runs.reference_manifests)
    rows["free"] = [bool(info["free"].get(m, False)) for m in rows["method"]]
    rows["note"] = [str(info["note"].get(m, "")) for m in rows["method"]]
    return rows


def all_reference_rows(runs: RunSet, data_dir: str | Path | None) -> tuple[pd.DataFrame, list[str]]:
    """Stored reference runs plus the ones read from the GT tables (``reference_rows``), and notes."""
    table_rows, notes = reference_rows(runs, data_dir)
    stored = stored_reference_rows(runs)
    if stored.empty:
        notes.append(
            "no free reference estimators are stored under this results root (parameter count, FLOPs, zero-cost "
            f"proxies, untrained supernet): compute them with `supernet-bench references {runs.root}`"
        )
    frames = [f for f in (stored, table_rows) if not f.empty]
    return (pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()), notes


def rank_groups(final: pd.DataFrame, *, alpha: float = ALPHA) -> pd.Series:
    """Rank group per method row of one leaderboard group: the leader and every method a one-sided Welch
    t-test (from mean, std, n over seeds) cannot call worse than it at ``alpha`` share group 1; the best of
    the rest leads group 2, and so on. Without two seeds on both sides nothing can be told apart.

    final: summary rows of one group at its final checkpoint (``kendall_tau_mean/_std`` and ``n_seeds``).
    """
    order = final.sort_values(f"{KT}_mean", ascending=not higher_is_better(KT), na_position="last").index
    group = pd.Series(math.nan, index=final.index)
    remaining = list(order)
    g = 0
    while remaining:
        g += 1
        lead = final.loc[remaining[0]]
        members = [remaining[0]]
        for i in remaining[1:]:
            if not _worse(final.loc[i], lead, alpha):
                members.append(i)
        group[members] = g
        remaining = [i for i in remaining if i not in members]
    return group


def _worse(row: pd.Series, lead: pd.Series, alpha: float) -> bool:
    m1, s1, n1 = lead[f"{KT}_mean"], lead[f"{KT}_std"], lead["n_seeds"]
    m2, s2, n2 = row[f"{KT}_mean"], row[f"{KT}_std"], row["n_seeds"]
    if not math.isfinite(m2):
        return True  # an undefined KT ranks last
    if not (math.isfinite(s1) and math.isfinite(s2)) or min(n1, n2) < 2:
        return False
    if s1 == 0 and s2 == 0:
        return m2 != m1
    alternative = "greater" if higher_is_better(KT) else "less"
    p = stats.ttest_ind_from_stats(m1, s1, n1, m2, s2, n2, equal_var=False, alternative=alternative).pvalue
    return bool(p < alpha)


def best_free(board: pd.DataFrame) -> pd.Series | None:
    """The free reference row with the best mean KT in one board group, or None."""
    refs = board[(board["kind"] == REFERENCE) & board["free"].fillna(False).astype(bool)]
    refs = refs[np.isfinite(refs[f"{KT}_mean"].to_numpy(dtype=float))]
    if refs.empty:
        return None
    best = refs[f"{KT}_mean"].idxmax() if higher_is_better(KT) else refs[f"{KT}_mean"].idxmin()
    return refs.loc[best]


def leaderboard(summary: pd.DataFrame, references: pd.DataFrame | None = None) -> pd.DataFrame:
    """Final-checkpoint methods ranked by mean Kendall tau per group, references appended per group.

    summary: ``harness.aggregate.summarize`` output. references: rows of ``reference_rows`` (bundle columns)
    and/or ``stored_reference_rows`` (summary columns: seed statistics, ``free``), or None.
    Rows follow LEADERBOARD_SCHEMA; within a group, methods first (by rank group, then mean KT), then
    references (best first).
    A method is ``below_free`` when its interval's upper end (its mean, with one seed) lies below the best
    free reference's mean KT.
    """
    final = final_rows(summary).copy()
    ascending = not higher_is_better(KT)
    final["rank"] = final.groupby(GROUP_KEYS, dropna=False)[f"{KT}_mean"].rank(method="min", ascending=ascending)
    final["rank_group"] = math.nan
    for _, idx in final.groupby(GROUP_KEYS, dropna=False).groups.items():
        final.loc[idx, "rank_group"] = rank_groups(final.loc[idx])
    final["kind"] = METHOD
    final["note"] = ""
    final["free"] = False
    parts = [final]
    if references is not None and not references.empty:
        position = [c for c in ("checkpoint", "budget_fraction", "epoch_equiv", "primary_gt", "n_archs") if c in final]
        pos = final.groupby(GROUP_KEYS, dropna=False)[position].first()
        ref = references.drop(columns=[c for c in position if c in references.columns]).copy()
        ref = ref.join(pos, on=GROUP_KEYS, how="inner")
        for stat in BOARD_STATS:
            column = stat[: -len("_mean")] if stat.endswith("_mean") else None
            if column and column in ref.columns:  # rows with the bare bundle column (GT-table references)
                ref[stat] = ref[stat].fillna(ref[column]) if stat in ref.columns else ref[column]
        ref["kind"], ref["rank"], ref["rank_group"] = REFERENCE, math.nan, math.nan
        ref["n_seeds"] = ref["n_seeds"].fillna(0) if "n_seeds" in ref.columns else 0
        ref["free"] = ref["free"].fillna(False).astype(bool) if "free" in ref.columns else False
        parts.append(ref)
    board = pd.concat(parts, ignore_index=True)
    for name in LEADERBOARD_SCHEMA.names:
        if name not in board.columns:
            board[name] = math.nan if pa.types.is_floating(LEADERBOARD_SCHEMA.field(name).type) else None
    board["note"] = board["note"].fillna("")
    board["free"] = board["free"].fillna(False).astype(bool)
    board["below_free"] = False
    for _, idx in board.groupby(GROUP_KEYS, dropna=False).groups.items():
        best = best_free(board.loc[idx])
        if best is None:
            continue
        g = board.loc[idx]
        upper = g[f"{KT}_ci_high"].where(np.isfinite(g[f"{KT}_ci_high"].to_numpy(dtype=float)), g[f"{KT}_mean"])
        below = upper < best[f"{KT}_mean"] if higher_is_better(KT) else upper > best[f"{KT}_mean"]
        board.loc[idx, "below_free"] = (g["kind"] == METHOD) & below
    board["n_seeds"] = board["n_seeds"].fillna(0).astype(int)
    board["n_archs"] = board["n_archs"].fillna(0).astype(int)
    board["_ref"] = board["kind"] == REFERENCE
    board["_order"] = -board[f"{KT}_mean"] if higher_is_better(KT) else board[f"{KT}_mean"]
    order = [*GROUP_KEYS, "_ref", "rank_group", "rank", "_order", "method"]  # rank groups read top-down
    board = board.sort_values(order, na_position="last", kind="stable")
    return board[LEADERBOARD_SCHEMA.names].reset_index(drop=True)


def improvement_matrix(per_seed: pd.DataFrame) -> pd.DataFrame:
    """Pairwise probability of improvement P(X > Y) of the final KT over seeds (ties count 1/2), as rliable
    defines it for one task: row method X vs column method Y, the fraction of seed pairs where X ranks better.

    per_seed: one group's final-checkpoint metrics rows (one per run): ``method`` and ``kendall_tau``.
    """
    values = {m: g[KT].dropna().to_numpy(dtype=float) for m, g in per_seed.groupby("method", sort=False)}
    order = sorted(values, key=lambda m: -np.mean(values[m]) if values[m].size else math.inf)
    sign = 1.0 if higher_is_better(KT) else -1.0
    out = pd.DataFrame(math.nan, index=order, columns=order)
    for a in order:
        for b in order:
            x, y = sign * values[a], sign * values[b]
            if a == b or not x.size or not y.size:
                continue
            diff = x[:, None] - y[None, :]
            out.loc[a, b] = float(np.mean((diff > 0) + 0.5 * (diff == 0)))
    return out


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
