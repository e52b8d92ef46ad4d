"""Is a profile informative? Ranking signal per method: gain over initialization and seed-to-seed agreement.

A leaderboard only means something if the supernets it compares rank better than they did untrained and
rank alike when trained again under another seed. For each group (space, dataset, GT column, profile) and
method this module reports, from the runs alone:

- Kendall tau at the first checkpoint (budget 0: the untrained supernet) and at the last, mean ± std over
  seeds, and the per-seed gain (last - first), with how many seeds gained;
- the seed-to-seed Kendall tau of the final supernet scores (every pair of seeds, same architectures):
  how reproducible the supernet's own ranking is, whatever the ground truth;
- the spread (std over architectures) of the final scores, in the score's unit (accuracy points for
  `score = "accuracy"`): a spread of a few evaluation images means the ranking rests on small differences;
- Kendall tau's standard deviation for the sample size under no association, sqrt(2(2n+5) / (9n(n-1))),
  the scale against which a gain or a difference between methods is small or large.
"""

from __future__ import annotations

import itertools
import math
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats
from supernet_bench.aggregate import GROUP_KEYS, KT, RUN_PATH, groups, select_group

PREDICTION_KEYS = ["space", "dataset", "profile", "method"]  # predictions do not depend on the GT column


def kendall_null_std(n: int) -> float:
    """Standard deviation of Kendall tau between n independent rankings (no ties), the usual normal
    approximation of its null distribution."""
    if n < 2:
        return math.nan
    return math.sqrt(2 * (2 * n + 5) / (9 * n * (n - 1)))


def seed_to_seed_tau(predictions: pd.DataFrame) -> float:
    """Mean Kendall tau between the scores of every pair of runs (rows keyed by `arch`, one run per
    `run_path`), over the architectures both scored; NaN with fewer than two runs."""
    runs = [g.set_index("arch")["score"] for _, g in predictions.groupby(RUN_PATH, sort=True)]
    taus = []
    for a, b in itertools.combinations(runs, 2):
        common = a.index.intersection(b.index)
        if len(common) >= 2:
            taus.append(stats.kendalltau(a.loc[common], b.loc[common]).statistic)
    return float(np.mean(taus)) if taus else math.nan


def _prediction_stats(predictions: pd.DataFrame) -> dict[tuple, tuple[float, float]]:
    """(seed-to-seed tau, mean score spread over architectures) per PREDICTION_KEYS: the same for every GT
    column of a group, so computed once."""
    out = {}
    for key, p in predictions.groupby(PREDICTION_KEYS, sort=False):
        spread = [float(r["score"].std(ddof=1)) for _, r in p.groupby(RUN_PATH)]
        out[key] = (seed_to_seed_tau(p), float(np.mean(spread)))
    return out


def signal_rows(metrics: pd.DataFrame, predictions: pd.DataFrame) -> pd.DataFrame:
    """One row per group and method with the numbers above (floats and per-seed arrays; harness/report.py formats them).

    metrics: per-run metric rows (``load_runs(...).metrics``); predictions: final-checkpoint prediction
    rows with ``run_path`` (``RunSet.final_predictions()``).
    """
    per_predictions = _prediction_stats(predictions) if not predictions.empty else {}
    rows: list[dict[str, Any]] = []
    for group in groups(metrics):
        g = select_group(metrics, group)
        first, last = g["checkpoint"].min(), g["checkpoint"].max()
        starts_untrained = bool((g.loc[g["checkpoint"] == first, "budget_fraction"] == 0).all())
        key = dict(zip(GROUP_KEYS, group, strict=True))
        for method, m in g.groupby("method", sort=True):
            per_run = m.pivot_table(index=RUN_PATH, columns="checkpoint", values=KT, aggfunc="first")
            init = per_run[first].to_numpy(dtype=float) if starts_untrained else np.full(len(per_run), np.nan)
            final = per_run[last].to_numpy(dtype=float) if last in per_run else np.full(len(per_run), np.nan)
            gain = final - init
            pred_key = tuple(method if k == "method" else key[k] for k in PREDICTION_KEYS)
            tau, spread = per_predictions.get(pred_key, (math.nan, math.nan))
            n_archs = int(m["n_archs"].max())
            rows.append(
                {
                    **key,
                    "method": method,
                    "seeds": len(per_run),
                    "kt_init": init,
                    "kt_final": final,
                    "gain": gain,
                    "seeds_gained": int(np.sum(gain > 0)),
                    "seed_to_seed_tau": tau,
                    "score_spread": spread,
                    "n_archs": n_archs,
                    "kt_null_std": kendall_null_std(n_archs),
                }
            )
    return pd.DataFrame(rows)


CLEAR_GAIN_NULL_STDS = 2.0  # a gain counts when every seed gains and the mean gain is this many null stds


def verdict(rows: pd.DataFrame) -> str:
    """Is the group's profile informative? From its ``signal_rows`` (one group): "informative" when at least
    half the methods gain clearly over their untrained supernet (every seed gains, mean gain at least
    CLEAR_GAIN_NULL_STDS null stds of Kendall tau), "weakly informative" when some do, else "not informative";
    with the count behind it. Undefined (no untrained checkpoint) says so."""
    if rows.empty:
        return "no runs"
    clear = 0
    defined = 0
    for _, r in rows.iterrows():
        gain = np.asarray(r["gain"], dtype=float)
        if gain.size == 0 or not np.isfinite(gain).all():
            continue
        defined += 1
        if (gain > 0).all() and gain.mean() >= CLEAR_GAIN_NULL_STDS * r["kt_null_std"]:
            clear += 1
    if defined == 0:
        return "undefined (the runs have no untrained 0% checkpoint to compare with)"
    word = "informative" if 2 * clear >= defined else ("weakly informative" if clear else "not informative")
    return (
        f"{word}: {clear} of {defined} methods beat their untrained supernet on every seed by at least "
        f"{CLEAR_GAIN_NULL_STDS:g} null stds of Kendall tau (mean gain)"
    )
