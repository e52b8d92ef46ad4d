"""Metrics against hand-computed values (with ties), brute-force references and the bundle contract."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from supernet_bench import metrics as m
from supernet_bench.core.errors import UnknownNameError

# pred [1,2,2,3] vs target [1,3,2,2], pairs (i<j):
#   (0,1) C  (0,2) C  (0,3) C  (1,2) tied in pred  (1,3) D  (2,3) tied in target
#   n_c=3, n_d=1, n0=6, n1=1, n2=1 -> tau_b = (3-1)/sqrt((6-1)*(6-1)) = 2/5 = 0.4  (tau_a would be 2/6)
TAU_PRED = [1.0, 2.0, 2.0, 3.0]
TAU_TARGET = [1.0, 3.0, 2.0, 2.0]


def test_kendall_tau_is_tau_b_with_ties():
    assert m.kendall_tau(pred=TAU_PRED, target=TAU_TARGET) == pytest.approx(0.4)


def test_spearman_uses_average_ranks():
    # ranks pred [1,2.5,2.5,4], target [1,4,2.5,2.5]; deviations [-1.5,0,0,1.5] and [-1.5,1.5,0,0]
    # -> cov 2.25, each sum of squares 4.5 -> rho = 2.25/4.5 = 0.5
    assert m.spearman(pred=TAU_PRED, target=TAU_TARGET) == pytest.approx(0.5)


def test_pearson_is_linear_not_rank_based():
    # deviations [-1.5,-.5,.5,1.5] and [-3,-2,-1,6]: sum of products 14, sums of squares 5 and 50
    # -> r = 14/sqrt(250); the ranks agree perfectly, so Spearman is 1
    pred, target = [1.0, 2.0, 3.0, 4.0], [1.0, 2.0, 3.0, 10.0]
    assert m.pearson(pred=pred, target=target) == pytest.approx(14 / math.sqrt(250))
    assert m.spearman(pred=pred, target=target) == pytest.approx(1.0)


def test_constant_sample_gives_nan_correlation():
    assert math.isnan(m.kendall_tau(pred=[1.0, 1.0, 1.0], target=[1.0, 2.0, 3.0]))
    assert math.isnan(m.spearman(pred=[1.0, 2.0, 3.0], target=[5.0, 5.0, 5.0]))


def test_perfect_ranking():
    y = np.arange(20.0)
    assert m.kendall_tau(pred=y, target=y) == pytest.approx(1.0)
    assert m.spearman(pred=y, target=y) == pytest.approx(1.0)
    assert m.p_at_top(pred=y, target=y, ratio=0.1) == 1.0
    assert m.p_at_bottom(pred=y, target=y, ratio=0.1) == 1.0
    # K=2: the top-2 predicted have true ranks 1 and 2 of 20
    assert m.br_at(pred=y, target=y, ratio=0.1) == pytest.approx(1 / 20)
    assert m.wr_at(pred=y, target=y, ratio=0.1) == pytest.approx(2 / 20)
    assert m.improvement(pred=y, target=y, n=1) == pytest.approx(1.0)


def test_reversed_ranking():
    y = np.arange(20.0)
    assert m.kendall_tau(pred=-y, target=y) == pytest.approx(-1.0)
    assert m.spearman(pred=-y, target=y) == pytest.approx(-1.0)
    assert m.p_at_top(pred=-y, target=y, ratio=0.1) == 0.0
    assert m.p_at_bottom(pred=-y, target=y, ratio=0.1) == 0.0
    # the top-2 predicted are the true ranks 20 and 19
    assert m.br_at(pred=-y, target=y, ratio=0.1) == pytest.approx(19 / 20)
    assert m.wr_at(pred=-y, target=y, ratio=0.1) == pytest.approx(20 / 20)


def test_p_at_top_breaks_ties_stably_by_index():
    # N=10, ratio 0.2 -> K=2. pred ties 9 at indices 1,2,3 -> stable top-2 = {1,2} (not {2,3} or {1,3}).
    # target: 8 at 1, then 7 tied at 2 and 3 -> stable top-2 = {1,2}. Overlap 2/2 = 1.0;
    # breaking either tie towards the later index would give 1/2.
    pred = [0, 9, 9, 9, 1, 2, 3, 4, 5, 6]
    target = [0, 8, 7, 7, 1, 2, 3, 4, 5, 6]
    assert m.p_at_top(pred=pred, target=target, ratio=0.2) == 1.0
    # moving the tied target value one index later swaps the stable winner to index 3 -> 1/2
    assert m.p_at_top(pred=pred, target=[0, 8, 6.5, 7, 1, 2, 3, 4, 5, 6], ratio=0.2) == 0.5


def test_p_at_bottom_takes_the_tail_of_the_same_stable_order():
    # N=5, ratio 0.2 -> K=1. pred best-first stable order: 4,3,2,0,1 -> worst = index 1 (the later tied 0).
    # target worst = index 1 -> overlap 1. A stable *ascending* sort would call index 0 worst -> 0.
    assert m.p_at_bottom(pred=[0, 0, 5, 6, 7], target=[1, 0, 5, 6, 7], ratio=0.2) == 1.0
    assert m.p_at_bottom(pred=[0, 0, 5, 6, 7], target=[0, 1, 5, 6, 7], ratio=0.2) == 0.0


def test_k_is_floor_of_n_times_ratio():
    # N=10: ratio 0.29 -> K=2 (10*0.29 is 2.9; floor, and 100*0.29 = 28.999... must not lose one)
    pred = [9, 8, 0, 0, 0, 0, 0, 0, 0, 7]  # top-3 predicted: 0, 1, 9
    target = [9, 8, 7, 0, 0, 0, 0, 0, 0, 0]  # top-3 true: 0, 1, 2
    assert m.p_at_top(pred=pred, target=target, ratio=0.29) == 1.0  # K=2: {0,1} vs {0,1}
    assert m.p_at_top(pred=pred, target=target, ratio=0.3) == pytest.approx(2 / 3)  # K=3
    y = np.arange(100.0)
    # 100*0.29 = 28.999... in binary; K must be 29: top-29 predicted 71..99, true top-29 70 and 72..99
    assert m.p_at_top(pred=y, target=np.r_[y[:71], -1.0, y[72:]], ratio=0.29) == pytest.approx(28 / 29)


def test_too_small_k_gives_nan():
    y = np.arange(10.0)
    for name in ("p_at_top", "p_at_bottom", "br_at", "wr_at", "kt_pred_top", "kt_gt_top", "spearman_gt_top"):
        assert math.isnan(m.score(name, pred=y, target=y, ratio=0.05)), name  # K=0
    for name in ("kt_pred_top", "kt_gt_top", "spearman_gt_top", "spearman_pred_top"):
        assert math.isnan(m.score(name, pred=y, target=y, ratio=0.1)), name  # K=1: no pair
    assert m.p_at_top(pred=y, target=y, ratio=0.1) == 1.0  # K=1 is fine for an overlap


def test_br_wr_use_stable_true_ranks():
    # N=10, ratio 0.3 -> K=3; top-3 predicted = indices 3, 5, 7.
    # target positions (1 = best, the tie 8/8 at indices 2,3 broken by index): index 3 -> 4, 5 -> 6, 7 -> 8
    # -> BR = 4/10, WR = 8/10 (average ranks would give 3.5/10 for index 3)
    pred = [0, 0, 0, 9, 0, 8, 0, 7, 0, 0]
    target = [10, 9, 8, 8, 6, 5, 4, 3, 2, 1]
    assert m.br_at(pred=pred, target=target, ratio=0.3) == pytest.approx(0.4)
    assert m.wr_at(pred=pred, target=target, ratio=0.3) == pytest.approx(0.8)


# Top-set correlations. Indices 0..3 are TAU_PRED/TAU_TARGET reversed (tau_b still 0.4); index 4 is predicted
# worst but truly best.
TOP_PRED = [3.0, 2.0, 2.0, 1.0, 0.0]
TOP_TARGET = [2.0, 2.0, 3.0, 1.0, 100.0]


def test_kt_pred_top_uses_the_predicted_top_k():
    # ratio 0.8 -> K=4 -> indices 0..3 -> 0.4
    assert m.kt_pred_top(pred=TOP_PRED, target=TOP_TARGET, ratio=0.8) == pytest.approx(0.4)


def test_kt_gt_top_uses_the_true_top_n():
    # best 4 by target: indices 4,2,0,1 with pred [0,2,3,2], target [100,3,2,2]
    #   (4,2) D  (4,0) D  (4,1) D  (2,0) D  (2,1) tied in pred  (0,1) tied in target
    #   n_c=0, n_d=4, n0=6, n1=n2=1 -> tau_b = -4/5
    assert m.kt_gt_top(pred=TOP_PRED, target=TOP_TARGET, n=4) == pytest.approx(-0.8)
    assert m.kt_gt_top(pred=TOP_PRED, target=TOP_TARGET, ratio=0.8) == pytest.approx(-0.8)
    assert math.isnan(m.kt_gt_top(pred=TOP_PRED, target=TOP_TARGET, n=6))  # N < n: NaN, not "all 5"


def test_spearman_top_gt_and_pred_readings_differ():
    # predicted top-4 is the 0.5 Spearman example above (reversed)
    assert m.spearman_pred_top(pred=TOP_PRED, target=TOP_TARGET, ratio=0.8) == pytest.approx(0.5)
    # true top-4: pred [0,2,3,2] ranks [1,2.5,4,2.5]; target [100,3,2,2] ranks [4,3,1.5,1.5]
    # deviations [-1.5,0,1.5,0] and [1.5,.5,-1,-1]: cov -3.75, sums of squares 4.5 and 4.5 -> -3.75/4.5
    assert m.spearman_gt_top(pred=TOP_PRED, target=TOP_TARGET, ratio=0.8) == pytest.approx(-3.75 / 4.5)


def test_kt_gt_top50_is_nan_below_50_and_uses_the_best_50():
    rng = np.random.default_rng(1)
    target = rng.permutation(60).astype(float)
    pred = target.copy()
    pred[target < 50] = -target[target < 50]  # reversed inside the worst 50, exact in the best 10
    assert math.isnan(m.kt_gt_top(pred=pred[:49], target=target[:49], n=50))
    # best 50 = target 10..59: the 40 values < 50 are reversed among themselves but all predicted below the
    # 10 values >= 50 (exact): n_d = C(40,2) = 780 of C(50,2) = 1225, no ties -> tau = (1225-2*780)/1225
    assert m.kt_gt_top(pred=pred, target=target, n=50) == pytest.approx((1225 - 2 * 780) / 1225)


def test_selection_metrics():
    # stable best-first by pred: 1 (0.9), 2 (0.9, tie -> after 1), 0, 4, 3
    pred = [0.5, 0.9, 0.9, 0.1, 0.3]
    target = [70.0, 90.0, 80.0, 60.0, 100.0]  # mu_all = 80, y_max = 100
    assert m.top1_gt(pred=pred, target=target) == 90.0
    assert m.mean_gt_top(pred=pred, target=target, n=2) == pytest.approx(85.0)  # (90+80)/2
    assert m.improvement(pred=pred, target=target, n=1) == pytest.approx(0.5)  # (90-80)/(100-80)
    assert m.improvement(pred=pred, target=target, n=2) == pytest.approx(0.25)  # (85-80)/20
    assert m.improvement(pred=pred, target=target, n=5) == pytest.approx(0.0)
    assert math.isnan(m.mean_gt_top(pred=pred, target=target, n=6))
    assert math.isnan(m.improvement(pred=pred, target=[5.0] * 5, n=1))


def test_complexity_bias_by_hand():
    pred = [4.0, 3.0, 2.0, 2.0]
    target = [1.0, 2.0, 4.0, 2.0]
    complexity = [10.0, 20.0, 30.0, 10.0]
    # (0,1) mis; lower-predicted 1 has 20 > 10          -> biased
    # (0,2) mis; lower-predicted 2 has 30 > 10          -> biased
    # (0,3) mis; lower-predicted 3 has 10, not > 10     -> not biased (tie in complexity)
    # (1,2) mis; lower-predicted 2 has 30 > 20          -> biased
    # (1,3) tied in target -> not mis-ordered; (2,3) tied in pred -> not mis-ordered
    # CB = 3 biased / 4 mis-ordered
    assert m.complexity_bias(pred=pred, target=target, complexity=complexity) == pytest.approx(0.75)


def test_complexity_bias_extremes_and_undefined():
    c = np.arange(1.0, 9.0)
    # every pair mis-ordered; the supernet ranks the larger net lower every time -> 1; the opposite -> 0
    assert m.complexity_bias(pred=-c, target=c, complexity=c) == 1.0
    assert m.complexity_bias(pred=c, target=-c, complexity=c) == 0.0
    assert math.isnan(m.complexity_bias(pred=c, target=c, complexity=c))  # nothing mis-ordered


def _complexity_bias_brute(pred, target, complexity) -> tuple[int, int]:
    biased = mis = 0
    for i, j in itertools.combinations(range(len(pred)), 2):
        if (pred[i] - pred[j]) * (target[i] - target[j]) < 0:
            mis += 1
            low, high = (i, j) if pred[i] < pred[j] else (j, i)
            biased += complexity[low] > complexity[high]
    return biased, mis


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_complexity_bias_matches_brute_force_with_ties(seed):
    rng = np.random.default_rng(seed)
    n = 90
    pred = rng.integers(0, 12, n).astype(float)  # many ties in each variable
    target = rng.integers(0, 15, n).astype(float)
    complexity = rng.integers(0, 6, n).astype(float)
    biased, mis = _complexity_bias_brute(pred, target, complexity)
    assert mis > 0
    for chunk in (1, 7, 512):  # row blocks that split tie groups and one block holding everything
        assert m._complexity_bias_counts(pred, target, complexity, chunk=chunk) == (biased, mis)
    assert m.complexity_bias(pred=pred, target=target, complexity=complexity) == pytest.approx(biased / mis)


def test_complexity_convergence_by_hand():
    # R = pred/target = [0.5, 0.6, 0.9, 0.4]; complexity [1,2,3,3]
    #   (0,1) C  (0,2) C  (0,3) D  (1,2) C  (1,3) D  (2,3) tied in complexity
    #   n_c=3, n_d=2, n0=6, n1=1, n2=0 -> tau_b = 1/sqrt(5*6); target/pred would flip the sign
    pred, target, complexity = [0.5, 0.6, 0.9, 0.8], [1.0, 1.0, 1.0, 2.0], [1.0, 2.0, 3.0, 3.0]
    got = m.complexity_convergence(pred=pred, target=target, complexity=complexity)
    assert got == pytest.approx(1 / math.sqrt(30))
    assert math.isnan(m.complexity_convergence(pred=pred, target=[1.0, 0.0, 1.0, 2.0], complexity=complexity))


# Rank difference: complexity [2,1,2,3,5,4], stable ascending -> 1,0,2,3,5,4 -> 3 groups {1,0} {2,3} {5,4}
# (the tie at complexity 2 is split across the first boundary by index).
# target [60,50,70,80,90,90] -> rank_true [5,6,4,3,1.5,1.5]; pred [.9,.8,.8,.5,.4,.6] -> rank_est
# [1,2.5,2.5,5,6,4]; RD = [4,3.5,1.5,-2,-4.5,-2.5] -> group means [3.75, -0.25, -3.5]
RD_PRED = [0.9, 0.8, 0.8, 0.5, 0.4, 0.6]
RD_TARGET = [60.0, 50.0, 70.0, 80.0, 90.0, 90.0]
RD_COMPLEXITY = [2.0, 1.0, 2.0, 3.0, 5.0, 4.0]


def test_rank_difference_by_group_by_hand():
    got = m.rank_difference_by_group(pred=RD_PRED, target=RD_TARGET, complexity=RD_COMPLEXITY, groups=3)
    np.testing.assert_allclose(got, [3.75, -0.25, -3.5])
    for g, want in enumerate([3.75, -0.25, -3.5]):
        got_g = m.rd_group(pred=RD_PRED, target=RD_TARGET, complexity=RD_COMPLEXITY, group=g, groups=3)
        assert got_g == pytest.approx(want)


def test_rank_difference_empty_groups_and_bad_group():
    got = m.rank_difference_by_group(pred=[1.0, 2.0], target=[2.0, 1.0], complexity=[1.0, 2.0], groups=3)
    # pred [1,2] -> rank_est [2,1]; target [2,1] -> rank_true [1,2]; RD = [-1,1]; 2 items, 3 groups
    np.testing.assert_array_equal(got[:2], [-1.0, 1.0])
    assert math.isnan(got[2])
    with pytest.raises(ValueError, match="group"):
        m.rd_group(pred=RD_PRED, target=RD_TARGET, complexity=RD_COMPLEXITY, group=5)


@pytest.mark.parametrize(
    ("pred", "target", "complexity", "match"),
    [
        ([1.0, 2.0, 3.0], [1.0, 2.0], None, "same length"),
        ([1.0, float("nan"), 3.0], [1.0, 2.0, 3.0], None, "pred has 1 non-finite"),
        ([1.0, 2.0, 3.0], [1.0, 2.0, float("inf")], None, "target has 1 non-finite"),
        ([[1.0, 2.0]], [[1.0, 2.0]], None, "1-D"),
        ([1.0], [1.0], None, "at least 2"),
        ([1.0, 2.0, 3.0], [1.0, 2.0, 3.0], [1.0, 2.0], "complexity must have the same length"),
        ([1.0, 2.0, 3.0], [1.0, 2.0, 3.0], [1.0, np.nan, 2.0], "complexity has 1 non-finite"),
    ],
)
def test_invalid_inputs_raise(pred, target, complexity, match):
    with pytest.raises(ValueError, match=match):
        m.kendall_tau(pred=pred, target=target, complexity=complexity)
    with pytest.raises(ValueError, match=match):
        m.compute_bundle(pred=pred, target=target, complexity=complexity)


def test_invalid_params_raise():
    y = np.arange(10.0)
    with pytest.raises(ValueError, match="ratio"):
        m.p_at_top(pred=y, target=y, ratio=1.5)
    with pytest.raises(ValueError, match="exactly one"):
        m.kt_gt_top(pred=y, target=y, n=5, ratio=0.5)
    with pytest.raises(ValueError, match="positive integer"):
        m.mean_gt_top(pred=y, target=y, n=0)
    with pytest.raises(ValueError, match="needs complexity"):
        m.score("complexity_bias", pred=y, target=y)


def test_registry_holds_every_metric_with_a_direction():
    assert set(m.METRICS.names()) >= {name for _, name, _ in m.BUNDLE} | {"spearman_pred_top"}
    assert m.METRICS.get("kendall_tau").higher_is_better
    assert not m.METRICS.get("br_at").higher_is_better
    assert not m.METRICS.get("complexity_bias").higher_is_better
    assert m.METRICS.get("complexity_bias").needs_complexity
    assert not m.METRICS.get("p_at_top").needs_complexity
    assert m.METRICS.get("pearson").description.startswith("Pearson")
    with pytest.raises(UnknownNameError, match="Did you mean"):
        m.score("kendal_tau", pred=[1.0, 2.0], target=[1.0, 2.0])
    with pytest.raises(ValueError, match="duplicate"):
        m.register_metric("kendall_tau", higher_is_better=True)(m.kendall_tau)


EXPECTED_COLUMNS = [
    "kendall_tau", "spearman", "pearson",
    "p_at_top_5pct", "p_at_top_10pct", "p_at_bottom_5pct", "p_at_bottom_10pct",
    "br_at_5pct", "wr_at_5pct", "br_at_10pct", "wr_at_10pct",
    "kt_pred_top_10pct", "kt_gt_top_10pct", "kt_gt_top50",
    "spearman_gt_top_1pct", "spearman_gt_top_5pct",
    "top1_gt", "mean_gt_top5", "mean_gt_top10", "improvement_top1", "improvement_top10",
    "complexity_bias", "complexity_convergence",
    "rd_group1", "rd_group2", "rd_group3", "rd_group4", "rd_group5",
]  # fmt: skip


def _random_case(n: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    target = rng.uniform(10, 95, n).round(2)  # rounded: ties, as in NB201
    complexity = rng.integers(1, 50, n) / 10
    pred = (0.7 * target + rng.normal(0, 8, n) - 0.5 * complexity).round(1)
    return pred, target, complexity


def test_bundle_columns_and_values():
    assert m.bundle_columns() == EXPECTED_COLUMNS
    pred, target, complexity = _random_case(200)
    full = m.compute_bundle(pred=pred, target=target, complexity=complexity)
    assert list(full) == EXPECTED_COLUMNS
    assert all(math.isfinite(v) for v in full.values()), full
    assert full["kt_gt_top50"] == m.kt_gt_top(pred=pred, target=target, n=50)
    assert full["wr_at_10pct"] == m.wr_at(pred=pred, target=target, ratio=0.1)
    rd = m.rank_difference_by_group(pred=pred, target=target, complexity=complexity)
    np.testing.assert_array_equal([full[f"rd_group{g}"] for g in range(1, 6)], rd)
    assert sum(rd) == pytest.approx(0.0, abs=1e-9)  # equal-size groups: ranks sum the same on both sides

    bare = m.compute_bundle(pred=pred, target=target)
    assert list(bare) == EXPECTED_COLUMNS
    for column in EXPECTED_COLUMNS:
        if m.column_info(column).needs_complexity:
            assert math.isnan(bare[column]), column
        else:
            assert bare[column] == full[column], column


def test_bundle_nan_only_where_k_is_too_small():
    y = np.arange(30.0)
    got = m.compute_bundle(pred=y, target=y)
    assert math.isnan(got["kt_gt_top50"])  # N < 50
    assert math.isnan(got["spearman_gt_top_1pct"])  # K = floor(0.3) = 0
    assert math.isnan(got["spearman_gt_top_5pct"])  # K = floor(1.5) = 1: no pair
    assert got["p_at_top_5pct"] == 1.0  # K = 1 is enough for an overlap
    assert got["kt_pred_top_10pct"] == pytest.approx(1.0)  # K = 3


def test_column_info():
    assert m.column_info("br_at_5pct") is m.METRICS.get("br_at")
    assert not m.column_info("wr_at_10pct").higher_is_better
    assert m.column_info("complexity_bias").ideal == 0.5
    assert m.column_info("complexity_convergence").higher_is_better
    with pytest.raises(UnknownNameError, match="Did you mean"):
        m.column_info("p_at_top_5")


def test_bundle_runs_on_the_full_nb201_size():
    pred, target, complexity = _random_case(15625, seed=3)
    got = m.compute_bundle(pred=pred, target=target, complexity=complexity)
    assert all(math.isfinite(v) for v in got.values()), got
    assert 0.0 <= got["complexity_bias"] <= 1.0
