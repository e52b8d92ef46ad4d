"""KT against the training budget from separate runs (suite ``budget-sweep``), and where it passes the best
free reference.

A budget sweep's runs differ only in ``run.budget_epochs``; each is a complete schedule. Within one run the
checkpoints are points of a single cosine schedule (the 25% point is a supernet at high learning rate), so
only separate runs answer "what budget do I need?".

- ``run_budgets(runs)``: run_path -> the run's budget (epoch-equivalents), from its manifest;
- ``sweep_table(runs)``: one row per (group, method, budget): n_seeds, final KT mean / std / t-interval;
- ``crossover(rows, level)``: the smallest budget whose mean KT passes ``level`` (or None).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from supernet_bench.aggregate import GROUP_KEYS, KT, RUN_PATH, RunSet, seed_stats

BUDGET = "budget_epochs"


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


def sweep_table(runs: RunSet) -> pd.DataFrame:
    """Per group, method and budget: n_seeds and the final KT's mean, std and t-interval over seeds."""
    per_run = runs.metrics.join(pd.Series(run_budgets(runs), name=BUDGET), on=RUN_PATH)
    last = per_run.groupby(RUN_PATH)["checkpoint"].transform("max")
    per_run = per_run[per_run["checkpoint"] == last]
    rows = []
    for key, g in per_run.groupby([*GROUP_KEYS, "method", BUDGET], sort=True):
        st = seed_stats(g[KT].to_numpy(dtype=np.float64))
        rows.append(
            {
                **dict(zip([*GROUP_KEYS, "method", BUDGET], key, strict=True)),
                "n_seeds": int(g[RUN_PATH].nunique()),
                "epoch_equiv": float(g["epoch_equiv"].mean()),
                **{f"{KT}_{k}": v for k, v in st.items() if k != "n"},
            }
        )
    return pd.DataFrame(rows)


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

