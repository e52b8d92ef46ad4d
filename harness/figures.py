"""Figures drawn from the tables harness.aggregate / harness.leaderboard return; nothing is recomputed here.

Every function takes frames (one leaderboard group) and returns a ``matplotlib.figure.Figure`` built
without pyplot, so no GUI backend is ever touched; ``save`` writes it with the Agg canvas.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from supernet_bench.aggregate import KT
from supernet_bench.leaderboard import METHOD, REFERENCE, RankSummary

CURVE_PANELS = ((KT, "Kendall tau"), ("p_at_top_5pct", "P@top-5%"))
RD_COLUMNS = tuple(f"rd_group{g}" for g in range(1, 6))


def colors(methods: list[str]) -> dict[str, tuple[float, float, float]]:
    """A stable colour per method (seaborn's colour-blind palette, in sorted-name order)."""
    import seaborn as sns  # imported here: only figures need it

    names = sorted(set(methods))
    palette = sns.color_palette("colorblind", max(len(names), 1))
    return {m: palette[i % len(palette)] for i, m in enumerate(names)}


def _figure(width: float, height: float) -> Figure:
    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def save(fig: Figure, path: str | Path, dpi: int = 110) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi)
    return path


def _empty_note(ax, text: str) -> None:
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, color="0.4")


def curves_figure(summary: pd.DataFrame, title: str = "") -> Figure:
    """KT and P@top-5% vs epoch-equivalents, a line per method with its 95% bootstrap band over seeds.

    summary: ``summarize`` rows of one group (every checkpoint).
    """
    fig = _figure(11, 4)
    axes = fig.subplots(1, len(CURVE_PANELS))
    palette = colors(summary["method"].tolist())
    for ax, (column, label) in zip(axes, CURVE_PANELS, strict=True):
        drawn = False
        for method, g in summary.groupby("method", sort=True):
            g = g.sort_values("epoch_equiv")
            y = g[f"{column}_mean"].to_numpy(dtype=float)
            if np.isnan(y).all():
                continue
            drawn = True
            x = g["epoch_equiv"].to_numpy(dtype=float)
            ax.plot(x, y, marker="o", ms=4, color=palette[method], label=f"{method} (n={int(g['n_seeds'].max())})")
            lo, hi = g[f"{column}_ci_low"].to_numpy(dtype=float), g[f"{column}_ci_high"].to_numpy(dtype=float)
            if np.isfinite(lo).any():
                ax.fill_between(x, lo, hi, color=palette[method], alpha=0.18, linewidth=0)
        if not drawn:
            _empty_note(ax, f"{label} is undefined for this sample size")
        ax.set_xlabel("epoch-equivalents of training")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
        if drawn:
            ax.legend(fontsize=7, loc="best")
    if title:
        fig.suptitle(title, fontsize=10)
    return fig


def final_kt_figure(board: pd.DataFrame, title: str = "") -> Figure:
    """Final mean KT per method with its 95% CI, best on top; reference estimators as dashed lines.

    board: ``leaderboard`` rows of one group.
    """
    methods = board[board["kind"] == METHOD].iloc[::-1]
    refs = board[board["kind"] == REFERENCE]
    fig = _figure(7, 0.9 + 0.38 * max(len(methods), 1))
    ax = fig.subplots()
    palette = colors(methods["method"].tolist())
    mean = methods[f"{KT}_mean"].to_numpy(dtype=float)
    lo = mean - methods[f"{KT}_ci_low"].to_numpy(dtype=float)
    hi = methods[f"{KT}_ci_high"].to_numpy(dtype=float) - mean
    err = np.nan_to_num(np.vstack([lo, hi]), nan=0.0)
    y = np.arange(len(methods))
    ax.barh(y, np.nan_to_num(mean), xerr=err, color=[palette[m] for m in methods["method"]], capsize=3)
    ax.set_yticks(y, methods["method"].tolist())
    for (_, r), style in zip(refs.iterrows(), ("--", ":", "-."), strict=False):
        if math.isfinite(r[f"{KT}_mean"]):
            ax.axvline(r[f"{KT}_mean"], color="0.3", linestyle=style, label=f"{r['method']} {r[f'{KT}_mean']:.3f}")
    if len(refs):
        ax.legend(fontsize=7, loc="lower right")
    ax.axvline(0, color="0.6", linewidth=0.8)
    ax.set_xlabel("Kendall tau at the final checkpoint (mean, 95% CI over seeds)")
    ax.grid(axis="x", alpha=0.3)
    if title:
        ax.set_title(title, fontsize=10)
    return fig


def rd_groups_figure(final: pd.DataFrame, title: str = "") -> Figure:
    """Mean ranking difference per complexity group (rd_group1..5), grouped bars per method, std bars.

    final: ``summarize`` rows of one group at its final checkpoint. RD < 0: the supernet ranks that group
    below its ground truth (under-estimates it).
    """
    fig = _figure(9, 4)
    ax = fig.subplots()
    palette = colors(final["method"].tolist())
    n = max(len(final), 1)
    width = 0.8 / n
    x = np.arange(len(RD_COLUMNS))
    for i, (_, r) in enumerate(final.iterrows()):
        mean = np.array([r.get(f"{c}_mean", math.nan) for c in RD_COLUMNS], dtype=float)
        std = np.nan_to_num(np.array([r.get(f"{c}_std", math.nan) for c in RD_COLUMNS], dtype=float))
        ax.bar(x - 0.4 + width * (i + 0.5), np.nan_to_num(mean), width, yerr=std, capsize=2,
               color=palette[r["method"]], label=r["method"])
    ax.axhline(0, color="0.3", linewidth=0.8)
    ax.set_xticks(x, [f"group {g}" for g in range(1, len(RD_COLUMNS) + 1)])
    ax.set_xlabel("complexity group (1 = fewest parameters)")
    ax.set_ylabel("mean rank difference (GT rank - supernet rank)")
    ax.grid(axis="y", alpha=0.3)
    if len(final):
        ax.legend(fontsize=7)
    if title:
        ax.set_title(title, fontsize=10)
    return fig


def score_vs_gt_figure(predictions: pd.DataFrame, kt: dict[str, float], title: str = "") -> Figure:
    """Supernet score vs ground truth per method at the final checkpoint, one colour per seed.

    predictions: ``RunSet.final_predictions`` rows of one group; kt: method -> mean KT (from the summary).
    """
    methods = sorted(predictions["method"].unique())
    ncols = min(4, max(len(methods), 1))
    nrows = max(1, math.ceil(len(methods) / ncols))
    fig = _figure(3.2 * ncols, 3.0 * nrows)
    axes = np.atleast_1d(fig.subplots(nrows, ncols, squeeze=False)).ravel()
    for ax, method in zip(axes, methods, strict=False):
        g = predictions[predictions["method"] == method]
        for seed, s in g.groupby("seed", sort=True):
            ax.scatter(s["gt"], s["score"], s=10, alpha=0.7, label=f"seed {seed}")
        value = kt.get(method, math.nan)
        ax.set_title(f"{method}\nmean KT {value:.3f}" if math.isfinite(value) else method, fontsize=9)
        ax.set_xlabel("ground truth (%)", fontsize=8)
        ax.set_ylabel("supernet score", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=6)
    for ax in axes[len(methods) :]:
        ax.set_axis_off()
    if title:
        fig.suptitle(title, fontsize=10)
    return fig


def critical_difference_figure(ranks: RankSummary) -> Figure | None:
    """autorank's critical-difference diagram, when a Friedman + Nemenyi analysis was run; else None."""
    result = ranks.result
    if result is None or getattr(result, "posthoc", None) != "nemenyi":
        return None
    from autorank import plot_stats

    fig = _figure(8, 0.6 + 0.3 * len(ranks.mean_rank))
    fig.set_layout_engine("none")
    margin = min(0.3, 0.012 * max(len(str(m)) for m in ranks.mean_rank.index))  # room for the method labels
    ax = fig.add_axes((margin, 0.02, 1 - 2 * margin, 0.96))
    plot_stats(result, allow_insignificant=True, ax=ax)
    return fig
