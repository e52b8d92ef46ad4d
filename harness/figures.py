"""Figures drawn from the tables harness.aggregate / harness.leaderboard return; nothing is recomputed here.

Every function takes frames (one leaderboard group) and returns a ``matplotlib.figure.Figure`` built
without pyplot, so no GUI backend is ever touched; ``save`` writes it with the Agg canvas.
"""

from __future__ import annotations

import math
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter
from supernet_bench.aggregate import KT
from supernet_bench.leaderboard import METHOD, REFERENCE, RankSummary

RD_COLUMNS = tuple(f"rd_group{g}" for g in range(1, 6))


MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*", "<", ">", "h", "p")
_TAB20_ORDER = [*range(0, 20, 2), *range(1, 20, 2)]  # the ten strong hues first, then their light partners


def _registry_order() -> list[str]:
    try:
        from supernet_bench.methods import method_names

        return method_names()
    except Exception:  # noqa: BLE001 - a figure must not fail because a method module does not import
        return []


def method_style(method: str) -> tuple[tuple[float, float, float], str]:
    """(colour, marker) of a method, the same in every figure of every report: the method registry's order
    indexes tab20 (strong hues first) and a marker cycle, so 16+ methods get distinct pairs. A name outside
    the registry gets a stable pair from its hash."""
    from matplotlib import colormaps

    names = _registry_order()
    i = names.index(method) if method in names else len(names) + sum(map(ord, method))
    cmap = colormaps["tab20"]
    return tuple(cmap(_TAB20_ORDER[i % 20])[:3]), MARKERS[i % len(MARKERS)]


def colors(methods: list[str]) -> dict[str, tuple[float, float, float]]:
    """The fixed colour per method (``method_style``)."""
    return {m: method_style(m)[0] for m in set(methods)}


REF_STYLES = ("--", ":", "-.", (0, (5, 1)), (0, (1, 1)), (0, (3, 1, 1, 1)))


def family(method: str) -> str:
    """The small-multiple panel a method's curve goes into: its base method for SPOS / FairNAS / Few-Shot
    and their CaLR / MS variants, "other" for the rest."""
    base = method.split("+", 1)[0]
    return base if base in ("spos", "fairnas", "fewshot") else "other"


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


def curves_figure(summary: pd.DataFrame, title: str = "", references: pd.DataFrame | None = None) -> Figure:
    """Within-run checkpoint curves: KT vs epoch-equivalents, small multiples by method family (SPOS,
    FairNAS, Few-Shot variants, the rest), each method's mean with its 95% t-band over seeds, reference
    estimators as grey horizontal lines. Checkpoints of one cosine schedule, not shorter runs.

    summary: ``summarize`` rows of one group (every checkpoint); references: leaderboard reference rows.
    """
    fams = sorted(summary["method"].map(family).unique(), key=lambda f: (f == "other", f))
    ncols = min(2, max(len(fams), 1))
    nrows = max(1, math.ceil(len(fams) / ncols))
    fig = _figure(6.0 * ncols, 3.6 * nrows)
    axes = np.atleast_1d(fig.subplots(nrows, ncols, squeeze=False, sharey=True)).ravel()
    refs = references if references is not None else pd.DataFrame()
    for ax, fam in zip(axes, fams, strict=False):
        for method, g in summary[summary["method"].map(family) == fam].groupby("method", sort=True):
            g = g.sort_values("epoch_equiv")
            y = g[f"{KT}_mean"].to_numpy(dtype=float)
            if np.isnan(y).all():
                continue
            color, marker = method_style(method)
            x = g["epoch_equiv"].to_numpy(dtype=float)
            ax.plot(x, y, marker=marker, ms=4, color=color, label=f"{method} (n={int(g['n_seeds'].max())})")
            lo, hi = g[f"{KT}_ci_low"].to_numpy(dtype=float), g[f"{KT}_ci_high"].to_numpy(dtype=float)
            if np.isfinite(lo).any():
                ax.fill_between(x, lo, hi, color=color, alpha=0.15, linewidth=0)
        _reference_lines(ax, refs, horizontal=True)
        ax.set_title(f"{fam} family" if fam != "other" else "other methods", fontsize=9)
        ax.set_xlabel("epoch-equivalents (checkpoints within one run)", fontsize=8)
        ax.set_ylabel("Kendall tau", fontsize=8)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=6, loc="best")
    for ax in axes[len(fams) :]:
        ax.set_axis_off()
    fig.suptitle(
        (title + "\n" if title else "") + "within-run checkpoints of one cosine schedule (not shorter runs)",
        fontsize=9,
    )
    return fig


def _reference_lines(ax, refs: pd.DataFrame, horizontal: bool, limit: int = 4) -> None:
    """The best few references (free ones and the ceilings) as grey lines labelled with their KT."""
    if refs is None or refs.empty:
        return
    shown = refs[np.isfinite(refs[f"{KT}_mean"].to_numpy(dtype=float))]
    shown = shown.sort_values(f"{KT}_mean", ascending=False).head(limit)
    for (_, r), style in zip(shown.iterrows(), REF_STYLES, strict=False):
        value = float(r[f"{KT}_mean"])
        label = f"{r['method']} {value:.3f}"
        (ax.axhline if horizontal else ax.axvline)(value, color="0.35", linestyle=style, linewidth=1, label=label)


def final_kt_figure(board: pd.DataFrame, title: str = "") -> Figure:
    """Final mean KT per method with its 95% t-interval over seeds, best on top, labelled with its rank
    group; reference estimators as grey lines (interval shown where they have seeds). Methods whose interval
    lies below the best free reference are hatched.

    board: ``leaderboard`` rows of one group.
    """
    methods = board[board["kind"] == METHOD].iloc[::-1]
    refs = board[board["kind"] == REFERENCE]
    fig = _figure(7.5, 1.2 + 0.34 * max(len(methods), 1))
    ax = fig.subplots()
    mean = methods[f"{KT}_mean"].to_numpy(dtype=float)
    lo = mean - methods[f"{KT}_ci_low"].to_numpy(dtype=float)
    hi = methods[f"{KT}_ci_high"].to_numpy(dtype=float) - mean
    err = np.nan_to_num(np.vstack([lo, hi]), nan=0.0)
    y = np.arange(len(methods))
    below = methods["below_free"].fillna(False).astype(bool).to_numpy() if "below_free" in methods else None
    bars = ax.barh(y, np.nan_to_num(mean), xerr=err, color=[method_style(m)[0] for m in methods["method"]],
                   capsize=3, alpha=0.9)
    if below is not None:
        for bar, b in zip(bars, below, strict=True):
            if b:
                bar.set_hatch("///")
                bar.set_edgecolor("0.25")
                bar.set_alpha(0.6)
    groups = methods["rank_group"].to_numpy(dtype=float) if "rank_group" in methods else np.full(len(y), np.nan)
    ax.set_yticks(y, [f"{m}  [g{int(g)}]" if math.isfinite(g) else m for m, g in zip(methods["method"], groups,
                                                                                     strict=True)])
    _reference_lines(ax, refs, horizontal=False, limit=5)
    if len(refs):
        ax.legend(fontsize=7, loc="lower right", title="references", title_fontsize=7)
    ax.axvline(0, color="0.6", linewidth=0.8)
    ax.set_xlabel("Kendall tau at the final checkpoint (mean, 95% t-interval over seeds)\n"
                  "[g] = rank group; hatched: interval below the best free reference", fontsize=8)
    ax.grid(axis="x", alpha=0.3)
    if title:
        ax.set_title(title, fontsize=9)
    return fig


def budget_figure(sweep: pd.DataFrame, refs: pd.DataFrame, title: str = "", notes: list[str] | None = None) -> Figure:
    """Final KT against the training budget (log x), one line per method with its 95% t-band over seeds,
    reference estimators as grey lines; each point is a separate run with its own full schedule. The right
    panel puts the same points at the epoch-equivalents behind each lineage's weights (one-shot phase + own
    training, own only after GM-NAS's restart; the total for a method that never splits), where split methods
    are compared fairly.

    sweep: ``harness.budget_sweep.sweep_table`` rows of one group; refs: its leaderboard reference rows.
    """
    text = "\n".join(textwrap.fill(n, 200, subsequent_indent="    ") for n in notes or [])  # none cut off
    fig = _figure(12, 4.8 + 0.16 * (text.count("\n") + 1 if text else 0))
    axes = fig.subplots(1, 2, sharey=True)
    for ax, column, label in (
        (axes[0], "budget_epochs", "training budget, epoch-equivalents (separate runs, each a full schedule)"),
        (axes[1], "lineage_epochs", "epoch-equivalents behind each lineage's weights (sub-supernet / leaf)"),
    ):
        for method, g in sweep.groupby("method", sort=True):
            g = g.sort_values("budget_epochs")
            color, marker = method_style(method)
            x = g[column].to_numpy(dtype=float)
            ax.plot(x, g[f"{KT}_mean"], marker=marker, color=color, label=f"{method} (n={int(g['n_seeds'].min())})")
            lo, hi = g[f"{KT}_ci_low"].to_numpy(dtype=float), g[f"{KT}_ci_high"].to_numpy(dtype=float)
            if np.isfinite(lo).any():  # Kendall tau lives in [-1, 1]; a 2-seed t-band can reach far beyond
                ax.fill_between(x, np.clip(lo, -1, 1), np.clip(hi, -1, 1), color=color, alpha=0.12, linewidth=0)
        _reference_lines(ax, refs, horizontal=True)
        ax.set_xscale("log", base=2)
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        ax.set_xlabel(label, fontsize=8)
        ax.grid(alpha=0.3)
    budgets = sorted(sweep["budget_epochs"].unique())
    axes[0].set_xticks(budgets, [f"{b:g}" for b in budgets])
    axes[0].set_ylabel("final Kendall tau (mean, 95% t-band over seeds)", fontsize=8)
    axes[0].legend(fontsize=7, loc="best")
    fig.suptitle((title + "\n" if title else "") + text, fontsize=7, x=0.01, ha="left")
    return fig


def improvement_figure(matrix: pd.DataFrame, title: str = "") -> Figure:
    """Heat map of P(row method's final KT > column method's) over seed pairs (``improvement_matrix``)."""
    n = max(len(matrix), 1)
    fig = _figure(1.6 + 0.42 * n, 1.2 + 0.38 * n)
    ax = fig.subplots()
    values = matrix.to_numpy(dtype=float)
    im = ax.imshow(values, cmap="RdBu", vmin=0, vmax=1)
    ax.set_xticks(range(len(matrix.columns)), matrix.columns, rotation=70, fontsize=7, ha="right")
    ax.set_yticks(range(len(matrix.index)), matrix.index, fontsize=7)
    for i in range(values.shape[0]):
        for j in range(values.shape[1]):
            if math.isfinite(values[i, j]):
                ax.text(j, i, f"{values[i, j]:.2f}".lstrip("0"), ha="center", va="center", fontsize=5.5,
                        color="white" if abs(values[i, j] - 0.5) > 0.35 else "black")
    fig.colorbar(im, ax=ax, shrink=0.7, label="P(row > column)")
    ax.set_title((title + "\n" if title else "") + "probability of improvement of final KT over seed pairs",
                 fontsize=8)
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
