"""Ranking metrics: how well supernet scores order architectures compared with ground truth.

Definitions: docs/protocol.md#metrics. Every metric is a pure numpy/scipy function with the
keyword-only signature ``fn(*, pred, target, complexity=None, **params) -> float``:

- ``pred``: supernet scores, shape (N,), higher = better (negate a loss before passing it);
- ``target``: ground truth, shape (N,), higher = better;
- ``complexity``: #params per architecture, shape (N,); only metrics registered with
  ``needs_complexity=True`` read it.

Conventions shared by all metrics:

- Inputs are validated in one place (1-D, same length, finite, N >= 2); a violation raises ValueError.
- "Top" orders use a *stable* descending sort (``np.argsort(-x, kind="stable")``): ties are broken by
  original index, the earlier architecture first. The reference code (aw_nas) uses the unstable
  ``np.argsort``, whose tie order is arbitrary (docs/protocol.md#metrics, P@topK).
- K = floor(N * ratio). A metric that is undefined for the given N (K < 1, or K < 2 for a correlation, a
  constant sample in a correlation) returns NaN instead of silently dropping or padding items.

``BUNDLE`` fixes the column names every run writes; ``compute_bundle`` evaluates it.
"""

from __future__ import annotations

import functools
import inspect
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy import stats
from supernet_bench.core.registry import Registry

__all__ = [
    "BUNDLE",
    "METRICS",
    "Metric",
    "bundle_columns",
    "column_info",
    "compute_bundle",
    "rank_difference_by_group",
    "register_metric",
    "score",
]

NAN = float("nan")


@dataclass(frozen=True)
class Metric:
    """A registered metric and the direction a leaderboard should sort it by.

    ``ideal`` is set where the best value is a fair point rather than an extreme (CB 0.5, rho_CC 0, RD 0);
    compare ``abs(value - ideal)`` there, ``higher_is_better`` only names the side that is usually closer.
    """

    name: str
    fn: Callable[..., float]
    higher_is_better: bool
    needs_complexity: bool
    description: str
    ideal: float | None = None


METRICS: Registry[Metric] = Registry("metric")


# ----------------------------------------------------------------------------------------------------------
# validation and shared helpers


def _as_vector(name: str, x: object) -> np.ndarray:
    arr = np.asarray(x, dtype=np.float64)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {arr.shape}")
    bad = int(np.count_nonzero(~np.isfinite(arr)))
    if bad:
        raise ValueError(f"{name} has {bad} non-finite value(s) (NaN or inf)")
    return arr


def _validate(
    pred: object, target: object, complexity: object | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    p = _as_vector("pred", pred)
    t = _as_vector("target", target)
    if p.shape != t.shape:
        raise ValueError(f"pred and target must have the same length, got {p.size} and {t.size}")
    if p.size < 2:
        raise ValueError(f"need at least 2 architectures, got {p.size}")
    c = None
    if complexity is not None:
        c = _as_vector("complexity", complexity)
        if c.shape != p.shape:
            raise ValueError(f"complexity must have the same length as pred ({p.size}), got {c.size}")
    return p, t, c


def _k_from_ratio(n: int, ratio: float) -> int:
    """K = floor(N * ratio); the 1e-9 absorbs binary round-off such as 100 * 0.29 = 28.999..."""
    if not 0.0 < ratio <= 1.0:
        raise ValueError(f"ratio must be in (0, 1], got {ratio}")
    return int(math.floor(n * ratio + 1e-9))


def _check_count(n: int) -> int:
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"n must be a positive integer, got {n!r}")
    return int(n)


def _order_desc(x: np.ndarray) -> np.ndarray:
    """Indices best first; ties keep original index order (stable), so results are reproducible."""
    return np.argsort(-x, kind="stable")


def _positions(x: np.ndarray) -> np.ndarray:
    """Rank 1 = best, ties broken by the stable order (no shared ranks)."""
    pos = np.empty(x.size, dtype=np.int64)
    pos[_order_desc(x)] = np.arange(1, x.size + 1)
    return pos


def _correlation(kind: str, x: np.ndarray, y: np.ndarray) -> float:
    """Tau-b / Spearman / Pearson; NaN when fewer than 2 items or a constant sample (undefined)."""
    if x.size < 2 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return NAN
    if kind == "kendall":
        return float(stats.kendalltau(x, y, variant="b").statistic)
    if kind == "spearman":
        return float(stats.spearmanr(x, y).statistic)
    return float(stats.pearsonr(x, y).statistic)


def register_metric(
    name: str,
    *,
    higher_is_better: bool,
    needs_complexity: bool = False,
    description: str = "",
    ideal: float | None = None,
) -> Callable[[Callable[..., float]], Callable[..., float]]:
    """Register ``fn`` as metric ``name``; the registered (and returned) callable validates its inputs.

    ``description`` defaults to the first line of the function's docstring.
    """

    def decorate(fn: Callable[..., float]) -> Callable[..., float]:
        @functools.wraps(fn)
        def checked(*, pred: object, target: object, complexity: object | None = None, **params) -> float:
            p, t, c = _validate(pred, target, complexity)
            if needs_complexity and c is None:
                raise ValueError(f"metric {name!r} needs complexity (#params per architecture)")
            return float(fn(pred=p, target=t, complexity=c, **params))

        text = description or (inspect.getdoc(fn) or "").split("\n", 1)[0]
        METRICS.register(name, Metric(name, checked, higher_is_better, needs_complexity, text, ideal))
        return checked

    return decorate


# ----------------------------------------------------------------------------------------------------------
# global correlations (docs/protocol.md#metrics "Kendall tau", "Spearman rho"; Pearson as EPEE "linear")


@register_metric("kendall_tau", higher_is_better=True)
def kendall_tau(*, pred: np.ndarray, target: np.ndarray, complexity: np.ndarray | None = None) -> float:
    """Kendall tau-b (tie-corrected, scipy default as in all reference code) of pred vs target."""
    return _correlation("kendall", pred, target)


@register_metric("spearman", higher_is_better=True)
def spearman(*, pred: np.ndarray, target: np.ndarray, complexity: np.ndarray | None = None) -> float:
    """Spearman rho with average ranks for ties (scipy.stats.spearmanr)."""
    return _correlation("spearman", pred, target)


@register_metric("pearson", higher_is_better=True)
def pearson(*, pred: np.ndarray, target: np.ndarray, complexity: np.ndarray | None = None) -> float:
    """Pearson linear correlation of the raw values (EPEE "linear")."""
    return _correlation("pearson", pred, target)


# ----------------------------------------------------------------------------------------------------------
# top-K overlap and rank extremes (docs/protocol.md#metrics "P@topK", "BR@K / WR@K")


@register_metric("p_at_top", higher_is_better=True)
def p_at_top(
    *, pred: np.ndarray, target: np.ndarray, complexity: np.ndarray | None = None, ratio: float
) -> float:
    """|top-K by pred ∩ top-K by target| / K, K = floor(N*ratio), stable tie-break (CLOSE/EPEE).

    NaN when K < 1.
    """
    k = _k_from_ratio(pred.size, ratio)
    if k < 1:
        return NAN
    return np.intersect1d(_order_desc(pred)[:k], _order_desc(target)[:k]).size / k


@register_metric("p_at_bottom", higher_is_better=True)
def p_at_bottom(
    *, pred: np.ndarray, target: np.ndarray, complexity: np.ndarray | None = None, ratio: float
) -> float:
    """|worst-K by pred ∩ worst-K by target| / K; NaN when K < 1.

    The worst K are the last K of the same stable best-first order P@top uses, so among tied scores the
    later index counts as worse and P@top/P@bottom come from one consistent total ranking.
    """
    k = _k_from_ratio(pred.size, ratio)
    if k < 1:
        return NAN
    return np.intersect1d(_order_desc(pred)[-k:], _order_desc(target)[-k:]).size / k


def _true_ranks_of_predicted_top(pred: np.ndarray, target: np.ndarray, ratio: float) -> np.ndarray | None:
    k = _k_from_ratio(pred.size, ratio)
    if k < 1:
        return None
    return _positions(target)[_order_desc(pred)[:k]]


@register_metric("br_at", higher_is_better=False)
def br_at(
    *, pred: np.ndarray, target: np.ndarray, complexity: np.ndarray | None = None, ratio: float
) -> float:
    """Best true rank (1 = best, stable ties) among the top-K predicted, divided by N (aw_nas).

    NaN when K < 1.
    """
    ranks = _true_ranks_of_predicted_top(pred, target, ratio)
    return NAN if ranks is None else ranks.min() / pred.size


@register_metric("wr_at", higher_is_better=False)
def wr_at(
    *, pred: np.ndarray, target: np.ndarray, complexity: np.ndarray | None = None, ratio: float
) -> float:
    """Worst true rank (1 = best, stable ties) among the top-K predicted, divided by N (aw_nas).

    NaN when K < 1.
    """
    ranks = _true_ranks_of_predicted_top(pred, target, ratio)
    return NAN if ranks is None else ranks.max() / pred.size


# ----------------------------------------------------------------------------------------------------------
# correlations restricted to a top set (docs/protocol.md#metrics "KT within the top set", "Spearman among top-k%")


def _top_subset_correlation(kind: str, pred: np.ndarray, target: np.ndarray, by: np.ndarray, k: int) -> float:
    if k < 2 or k > pred.size:
        return NAN
    idx = _order_desc(by)[:k]
    return _correlation(kind, pred[idx], target[idx])


@register_metric("kt_pred_top", higher_is_better=True)
def kt_pred_top(
    *, pred: np.ndarray, target: np.ndarray, complexity: np.ndarray | None = None, ratio: float
) -> float:
    """Kendall tau-b among the K = floor(N*ratio) architectures the supernet ranks highest (EPEE p_at_tb_k).

    NaN when K < 2.
    """
    return _top_subset_correlation("kendall", pred, target, pred, _k_from_ratio(pred.size, ratio))


@register_metric("kt_gt_top", higher_is_better=True)
def kt_gt_top(
    *,
    pred: np.ndarray,
    target: np.ndarray,
    complexity: np.ndarray | None = None,
    n: int | None = None,
    ratio: float | None = None,
) -> float:
    """Kendall tau-b among the best architectures by ground truth (Laube "KT 50").

    Give exactly one of ``n`` (keep the best n; NaN when N < n, never a silently smaller set) or ``ratio``
    (K = floor(N*ratio)). NaN when fewer than 2 are kept.
    """
    if (n is None) == (ratio is None):
        raise ValueError("kt_gt_top needs exactly one of n or ratio")
    k = _check_count(n) if n is not None else _k_from_ratio(pred.size, ratio)
    return _top_subset_correlation("kendall", pred, target, target, k)


@register_metric("spearman_gt_top", higher_is_better=True)
def spearman_gt_top(
    *, pred: np.ndarray, target: np.ndarray, complexity: np.ndarray | None = None, ratio: float
) -> float:
    """Spearman among the top floor(N*ratio) architectures by ground truth (GM-NAS Table 7, default reading).

    NaN when K < 2.
    """
    return _top_subset_correlation("spearman", pred, target, target, _k_from_ratio(pred.size, ratio))


@register_metric("spearman_pred_top", higher_is_better=True)
def spearman_pred_top(
    *, pred: np.ndarray, target: np.ndarray, complexity: np.ndarray | None = None, ratio: float
) -> float:
    """Spearman among the top floor(N*ratio) architectures by prediction (GM-NAS Table 7, other reading).

    NaN when K < 2.
    """
    return _top_subset_correlation("spearman", pred, target, pred, _k_from_ratio(pred.size, ratio))


# ----------------------------------------------------------------------------------------------------------
# selection quality (docs/protocol.md#metrics "Top-1 accuracy", "Mean GT accuracy of the top-N selected")


@register_metric("top1_gt", higher_is_better=True)
def top1_gt(*, pred: np.ndarray, target: np.ndarray, complexity: np.ndarray | None = None) -> float:
    """Ground truth of the best-predicted architecture; tied predictions: the first index (DYNAS/GM top-1).

    NaN when every prediction ties: there is no best-predicted architecture, and the first index would
    report the sample order's first ground truth as if a supernet (a diverged one, say) had picked it."""
    if pred.size and np.all(pred == pred[0]):
        return NAN
    return target[_order_desc(pred)[0]]


def _mean_gt_top(pred: np.ndarray, target: np.ndarray, n: int) -> float:
    n = _check_count(n)
    return NAN if n > pred.size else float(target[_order_desc(pred)[:n]].mean())


@register_metric("mean_gt_top", higher_is_better=True)
def mean_gt_top(
    *, pred: np.ndarray, target: np.ndarray, complexity: np.ndarray | None = None, n: int
) -> float:
    """mu_n: mean ground truth of the n best-predicted architectures (Laube); NaN when n > N."""
    return _mean_gt_top(pred, target, n)


@register_metric("improvement", higher_is_better=True)
def improvement(
    *, pred: np.ndarray, target: np.ndarray, complexity: np.ndarray | None = None, n: int
) -> float:
    """Normalized improvement (mu_n - mu_all) / (y_max - mu_all), CondWeights §3.4.

    0 = random selection in expectation, 1 = picks the best architecture. NaN when n > N or when all
    targets are equal (the scale is then 0).
    """
    mu_n = _mean_gt_top(pred, target, n)
    mu_all = float(target.mean())
    scale = float(target.max()) - mu_all
    return NAN if math.isnan(mu_n) or scale <= 0 else (mu_n - mu_all) / scale


# ----------------------------------------------------------------------------------------------------------
# complexity fairness (docs/protocol.md#metrics "Complexity Bias", "rho_CC", "Ranking difference per complexity group")


def _dense_ranks(x: np.ndarray) -> np.ndarray:
    return np.unique(x, return_inverse=True)[1].astype(np.int32)


def _complexity_bias_counts(
    pred: np.ndarray, target: np.ndarray, complexity: np.ndarray, chunk: int = 512
) -> tuple[int, int]:
    """(pairs mis-ordered with the lower-predicted one strictly more complex, pairs mis-ordered).

    Sorting by pred ascending puts, for each row i, every j with pred_j > pred_i to its right, so only the
    upper triangle is scanned, one block of rows at a time on int32 dense ranks (about 1.2e8 pair tests
    for N = 15625, well under a second).
    """
    order = np.argsort(pred, kind="stable")
    p, y, c = (_dense_ranks(x[order]) for x in (pred, target, complexity))
    n = p.size
    mis_total = biased = 0
    for a in range(0, n, chunk):
        b = min(a + chunk, n)
        lo = int(np.searchsorted(p, p[a], side="right"))  # first column that can outrank row a
        if lo >= n:
            break
        mis = (p[a:b, None] < p[None, lo:]) & (y[a:b, None] > y[None, lo:])
        mis_total += int(np.count_nonzero(mis))
        biased += int(np.count_nonzero(mis & (c[a:b, None] > c[None, lo:])))
    return biased, mis_total


@register_metric("complexity_bias", higher_is_better=False, needs_complexity=True, ideal=0.5)
def complexity_bias(*, pred: np.ndarray, target: np.ndarray, complexity: np.ndarray | None = None) -> float:
    """CB (CaLR+MS Eq. 9): among mis-ordered pairs, the share where the lower-predicted is larger.

    A pair is mis-ordered when pred and target order it strictly oppositely (pairs tied in pred or in
    target are not); it counts as biased when the architecture the supernet ranks lower has strictly more
    parameters. 0.5 = mis-rankings unrelated to complexity, > 0.5 = large nets under-ranked. NaN when no
    pair is mis-ordered.
    """
    biased, mis = _complexity_bias_counts(pred, target, complexity)
    return NAN if mis == 0 else biased / mis


@register_metric("complexity_convergence", higher_is_better=True, needs_complexity=True, ideal=0.0)
def complexity_convergence(
    *, pred: np.ndarray, target: np.ndarray, complexity: np.ndarray | None = None
) -> float:
    """rho_CC (CaLR+MS Eq. 10): Kendall tau-b between complexity and R = pred / target.

    pred must be supernet accuracy for R to be a convergence ratio. Negative = large nets under-trained;
    the fair value is 0, reached from below in practice, hence higher_is_better. NaN when a target is 0.
    """
    if np.any(target == 0):
        return NAN
    return _correlation("kendall", complexity, pred / target)


def rank_difference_by_group(
    *, pred: object, target: object, complexity: object, groups: int = 5
) -> np.ndarray:
    """Mean ranking difference per complexity group (CLOSE App. A.1); shape (groups,).

    RD = rank_true - rank_est with rank 1 = best and average ranks for ties, so RD < 0 means the supernet
    under-estimates the architecture. Groups are equal-count, from smallest to largest complexity: a stable
    ascending sort by complexity split with ``np.array_split`` (architectures tied in complexity across a
    boundary are split by index). An empty group (groups > N) gets NaN.
    """
    p, t, c = _validate(pred, target, complexity)
    if c is None:
        raise ValueError("rank_difference_by_group needs complexity (#params per architecture)")
    if isinstance(groups, bool) or not isinstance(groups, (int, np.integer)) or groups < 1:
        raise ValueError(f"groups must be a positive integer, got {groups!r}")
    rd = stats.rankdata(-t, method="average") - stats.rankdata(-p, method="average")
    parts = np.array_split(np.argsort(c, kind="stable"), int(groups))
    return np.array([rd[idx].mean() if idx.size else NAN for idx in parts])


@register_metric("rd_group", higher_is_better=True, needs_complexity=True, ideal=0.0)
def rd_group(
    *,
    pred: np.ndarray,
    target: np.ndarray,
    complexity: np.ndarray | None = None,
    group: int,
    groups: int = 5,
) -> float:
    """Mean RD of complexity group ``group`` (0-based, smallest first) of ``groups`` equal-count groups.

    Fair value 0; large groups usually sit below 0 (under-estimated), so higher is better there.
    """
    if not 0 <= group < groups:
        raise ValueError(f"group must be in [0, {groups}), got {group}")
    return rank_difference_by_group(pred=pred, target=target, complexity=complexity, groups=groups)[group]


# ----------------------------------------------------------------------------------------------------------
# the bundle every run writes (one place for the column names)

BUNDLE: tuple[tuple[str, str, dict], ...] = (
    ("kendall_tau", "kendall_tau", {}),
    ("spearman", "spearman", {}),
    ("pearson", "pearson", {}),
    ("p_at_top_5pct", "p_at_top", {"ratio": 0.05}),
    ("p_at_top_10pct", "p_at_top", {"ratio": 0.10}),
    ("p_at_bottom_5pct", "p_at_bottom", {"ratio": 0.05}),
    ("p_at_bottom_10pct", "p_at_bottom", {"ratio": 0.10}),
    ("br_at_5pct", "br_at", {"ratio": 0.05}),
    ("wr_at_5pct", "wr_at", {"ratio": 0.05}),
    ("br_at_10pct", "br_at", {"ratio": 0.10}),
    ("wr_at_10pct", "wr_at", {"ratio": 0.10}),
    ("kt_pred_top_10pct", "kt_pred_top", {"ratio": 0.10}),
    ("kt_gt_top_10pct", "kt_gt_top", {"ratio": 0.10}),
    ("kt_gt_top50", "kt_gt_top", {"n": 50}),  # NaN when N < 50
    ("spearman_gt_top_1pct", "spearman_gt_top", {"ratio": 0.01}),
    ("spearman_gt_top_5pct", "spearman_gt_top", {"ratio": 0.05}),
    ("top1_gt", "top1_gt", {}),
    ("mean_gt_top5", "mean_gt_top", {"n": 5}),
    ("mean_gt_top10", "mean_gt_top", {"n": 10}),
    ("improvement_top1", "improvement", {"n": 1}),
    ("improvement_top10", "improvement", {"n": 10}),
    ("complexity_bias", "complexity_bias", {}),
    ("complexity_convergence", "complexity_convergence", {}),
    *((f"rd_group{g + 1}", "rd_group", {"group": g}) for g in range(5)),
)


def _column_registry() -> Registry[tuple[str, dict]]:
    """Column -> (metric, params); a duplicate column or unknown metric in BUNDLE fails at import."""
    columns: Registry[tuple[str, dict]] = Registry("bundle column")
    for column, name, params in BUNDLE:
        METRICS.get(name)
        columns.register(column, (name, params))
    return columns


_COLUMNS = _column_registry()


def bundle_columns() -> list[str]:
    """Bundle column names in BUNDLE order (the parquet schema of every run)."""
    return [column for column, _, _ in BUNDLE]


def column_info(column: str) -> Metric:
    """The metric behind a bundle column, e.g. for its direction; unknown names get a "did you mean"."""
    return METRICS.get(_COLUMNS.get(column)[0])


def score(name: str, *, pred: object, target: object, complexity: object | None = None, **params) -> float:
    """Evaluate the registered metric ``name`` with its params."""
    return METRICS.get(name).fn(pred=pred, target=target, complexity=complexity, **params)


def compute_bundle(*, pred: object, target: object, complexity: object | None = None) -> dict[str, float]:
    """All BUNDLE columns; complexity metrics are NaN when complexity is None, so the schema never varies."""
    p, t, c = _validate(pred, target, complexity)
    out: dict[str, float] = {}
    for column, name, params in BUNDLE:
        metric = METRICS.get(name)
        if metric.needs_complexity and c is None:
            out[column] = NAN
        else:
            out[column] = metric.fn(pred=p, target=t, complexity=c, **params)
    return out
