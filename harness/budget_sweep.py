"""KT against the training budget from separate runs (suite ``budget-sweep``), and where it passes the best
free reference.

A budget sweep's runs differ only in ``run.budget_epochs``; each is a complete schedule. Within one run the
checkpoints are points of a single cosine schedule (the 25% point is a supernet at high learning rate), so
only separate runs answer "what budget do I need?".

- ``run_budgets(runs)``: run_path -> the run's budget (epoch-equivalents), from its manifest;
- ``sweep_table(runs)``: one row per (group, method, budget): n_seeds, final KT mean / std / t-interval;
- ``lineage_matched_lines(sweep, base)``: each split method against ``base`` at the budget its lineages really
  received (``base``'s KT interpolated in log-budget between its swept budgets): whether a split method's
  deficit at equal total budget is a budget effect;
- ``crossover(rows, level)``: the smallest budget whose mean KT passes ``level`` (or None);
- ``infeasible_table(roots)`` / ``infeasible_lines``: the (method, budget) points a method refused (a suite's
  ``infeasible.json`` records, e.g. GM-NAS whose gradient matching costs more than the budget), so a missing
  point on the figure is explained, not silent;
- ``against_base_lines(sweep, base)``: where each method's mean KT is above ``base``'s at the same total budget,
  and how much training is behind each of its lineages' weights (a Few-Shot sub-supernet: one-shot phase + own
  training; a GM-NAS leaf after its restart: its own) there, so a split method can be compared with the base at
  the budget its lineages really got.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from supernet_bench.aggregate import GROUP_KEYS, KT, RUN_PATH, RunSet, seed_stats

BUDGET = "budget_epochs"
SWEEP_VARIES = (BUDGET, "checkpoints")  # run keys a sweep varies on purpose (checkpoints: runs it adopted)


def run_budgets(runs: RunSet) -> dict[str, float]:
    """The scheduled budget (epoch-equivalents, ``run.budget_epochs``) of every method run."""
    return {
        path: float(m.get("config", {}).get("run", {}).get("budget_epochs", math.nan))
        for path, m in runs.manifests.items()
    }


def is_sweep(runs: RunSet) -> bool:
    """True when some group holds runs of one method at several budgets."""
    budgets = pd.Series(run_budgets(runs), name=BUDGET)
    m = runs.metrics[[*GROUP_KEYS, "method", RUN_PATH]].drop_duplicates().join(budgets, on=RUN_PATH)
    return bool((m.groupby([*GROUP_KEYS, "method"])[BUDGET].nunique() > 1).any())


def largest_budget_runs(runs: RunSet) -> pd.DataFrame:
    """Metrics rows of each method's largest-budget runs only: what a single leaderboard of a sweep shows."""
    m = runs.metrics.join(pd.Series(run_budgets(runs), name=BUDGET), on=RUN_PATH)
    top = m.groupby([*GROUP_KEYS, "method"])[BUDGET].transform("max")
    return m[m[BUDGET] == top].drop(columns=BUDGET)


LINEAGE_EPOCHS = "lineage_epochs"
"""Epoch-equivalents behind one lineage's weights (the one-shot phase it inherits + its own training; its own
only after GM-NAS's restart), mean over lineages."""


def lineage_share(runs: RunSet) -> pd.Series:
    """run_path -> mean over the run's lineages of weight_passes / passes at its final checkpoint: the share of
    the budget that trained the weights each lineage ranks with (1.0 for a method that never splits; runs
    without lineages.parquet count as one lineage). Passes of ancestors a restart discarded do not count."""
    lineages = runs.final_lineages()
    if lineages.empty:
        return pd.Series(dtype=np.float64, name="share")
    share = (lineages["weight_passes"] / lineages["passes"]).groupby(lineages[RUN_PATH]).mean()
    return share.rename("share")


def sweep_table(runs: RunSet) -> pd.DataFrame:
    """Per group, method and budget: n_seeds, the final KT's mean, std and t-interval over seeds, and the
    epoch-equivalents each lineage received (``lineage_epochs``)."""
    per_run = runs.metrics.join(pd.Series(run_budgets(runs), name=BUDGET), on=RUN_PATH)
    per_run = per_run.join(lineage_share(runs), on=RUN_PATH)
    last = per_run.groupby(RUN_PATH)["checkpoint"].transform("max")
    per_run = per_run[per_run["checkpoint"] == last]
    rows = []
    for key, g in per_run.groupby([*GROUP_KEYS, "method", BUDGET], sort=True):
        st = seed_stats(g[KT].to_numpy(dtype=np.float64))
        share = g["share"].fillna(1.0).to_numpy(dtype=np.float64)
        rows.append(
            {
                **dict(zip([*GROUP_KEYS, "method", BUDGET], key, strict=True)),
                "n_seeds": int(g[RUN_PATH].nunique()),
                "epoch_equiv": float(g["epoch_equiv"].mean()),
                LINEAGE_EPOCHS: float((g["epoch_equiv"].to_numpy(dtype=np.float64) * share).mean()),
                **{f"{KT}_{k}": v for k, v in st.items() if k != "n"},
            }
        )
    return pd.DataFrame(rows)


def against_base_lines(sweep: pd.DataFrame, base: str = "spos") -> list[str]:
    """One sentence per other method: the budgets where its mean final KT is above ``base``'s at the same total
    budget, and, where it splits, the epoch-equivalents each lineage received at its largest budget."""
    if base not in set(sweep["method"]):
        return []
    ref = sweep[sweep["method"] == base].set_index(BUDGET)[f"{KT}_mean"]
    lines = []
    for method, rows in sweep[sweep["method"] != base].groupby("method", sort=True):
        rows = rows.sort_values(BUDGET)
        common = rows[rows[BUDGET].isin(ref.index)]
        above = [f"{b:g}" for b, kt in zip(common[BUDGET], common[f"{KT}_mean"], strict=True) if kt > ref[b]]
        top = rows.iloc[-1]
        per_lineage = (
            f"; at {top[BUDGET]:g} each lineage got {top[LINEAGE_EPOCHS]:.3g} epoch-equivalents"
            if top[LINEAGE_EPOCHS] < 0.99 * top["epoch_equiv"]
            else ""
        )
        lines.append(
            f"{method} vs {base} at equal total budget: above at "
            + (", ".join(above) if above else "none")
            + f" of {len(common)} budgets{per_lineage}"
        )
    return lines


def base_at(base_rows: pd.DataFrame, budget: float) -> float | None:
    """``base``'s mean final KT at ``budget`` epoch-equivalents, linear in log(budget) between its swept budgets;
    None outside them (no extrapolation)."""
    rows = base_rows.sort_values(BUDGET)
    x, y = np.log(rows[BUDGET].to_numpy(dtype=np.float64)), rows[f"{KT}_mean"].to_numpy(dtype=np.float64)
    if not len(x) or not x[0] - 1e-9 <= math.log(budget) <= x[-1] + 1e-9:
        return None
    return float(np.interp(math.log(budget), x, y))


def lineage_matched_lines(sweep: pd.DataFrame, base: str = "spos") -> list[str]:
    """One sentence per split method (lineages get < 99 % of the run): at each of its budgets, its KT against
    ``base``'s at the epoch-equivalents one lineage received, and the count of budgets where it is above."""
    if base not in set(sweep["method"]):
        return []
    ref = sweep[sweep["method"] == base]
    lines = []
    for method, rows in sweep[sweep["method"] != base].groupby("method", sort=True):
        rows = rows.sort_values(BUDGET)
        if not (rows[LINEAGE_EPOCHS] < 0.99 * rows["epoch_equiv"]).any():
            continue
        pairs, above, compared = [], 0, 0
        for r in rows.itertuples():
            lineage = getattr(r, LINEAGE_EPOCHS)
            kt, at = getattr(r, f"{KT}_mean"), base_at(ref, lineage)
            if at is None:
                pairs.append(f"{r.budget_epochs:g}: {kt:+.2f} vs n/a ({lineage:.3g} per lineage, outside the sweep)")
                continue
            above, compared = above + (kt > at), compared + 1
            pairs.append(f"{r.budget_epochs:g}: {kt:+.2f} vs {at:+.2f} at {lineage:.3g}")
        lines.append(
            f"{method} vs {base} at the budget each lineage received (total budget: {method}'s KT vs {base}'s "
            f"at that lineage budget): {'; '.join(pairs)}; above at {above} of {compared}"
        )
    return lines


def crossover(rows: pd.DataFrame, level: float) -> float | None:
    """The smallest budget at which one method's mean final KT exceeds ``level``; None if none does."""
    rows = rows.sort_values(BUDGET)
    passed = rows[rows[f"{KT}_mean"] > level]
    return float(passed[BUDGET].iloc[0]) if len(passed) else None


def crossover_lines(sweep: pd.DataFrame, level: float, label: str) -> list[str]:
    """One sentence per method: where it passes ``level`` (the best free reference), or that it does not."""
    lines = []
    top = sweep[BUDGET].max()
    for method, rows in sweep.groupby("method", sort=True):
        budget = crossover(rows, level)
        lines.append(
            f"{method}: passes {label} ({level:.3f}) from {budget:g} epoch-equivalents"
            if budget is not None
            else f"{method}: does not pass {label} ({level:.3f}) within the sweep (up to {top:g} epoch-equivalents)"
        )
    return lines


INFEASIBLE_COLUMNS = ["space", "dataset", "profile", "method", BUDGET, "seed", "reason", RUN_PATH]


def infeasible_table(roots: str | Path | Sequence[str | Path]) -> pd.DataFrame:
    """One row per ``infeasible.json`` under ``roots`` (harness/suite.py record_infeasible) whose folder holds
    no run since; an unreadable record is skipped (it explains a gap, it is not a result)."""
    from supernet_bench.suite import INFEASIBLE_RECORD

    rows = []
    for root in [Path(r) for r in ([roots] if isinstance(roots, str | Path) else roots)]:
        for path in sorted(root.rglob(INFEASIBLE_RECORD)):
            if (path.parent / "manifest.json").exists():
                continue
            try:
                record = json.loads(path.read_text())
                config = record["config"]
                rows.append(
                    {
                        "space": config["space"],
                        "dataset": config["data"]["dataset"],
                        "profile": config["profile"],
                        "method": config["method"],
                        BUDGET: float(config["run"]["budget_epochs"]),
                        "seed": int(config["seed"]),
                        "reason": str(record["reason"]),
                        RUN_PATH: path.parent.relative_to(root).as_posix(),
                    }
                )
            except (OSError, ValueError, KeyError, TypeError):
                continue
    return pd.DataFrame(rows, columns=INFEASIBLE_COLUMNS)


def infeasible_lines(table: pd.DataFrame, group: tuple) -> list[str]:
    """One sentence per method with refused budgets in ``group`` (space, dataset, gt column, profile)."""
    space, dataset, _, profile = group
    mine = table[(table["space"] == space) & (table["dataset"] == dataset) & (table["profile"] == profile)]
    lines = []
    for method, rows in mine.groupby("method", sort=True):
        budgets = ", ".join(f"{b:g}" for b in sorted(rows[BUDGET].unique()))
        reason = rows["reason"].iloc[0]
        lines.append(f"{method}: no run at {budgets} epoch-equivalents, the method refuses them: {reason}")
    return lines
