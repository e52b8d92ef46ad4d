"""harness/aggregate.py on hand-computed values and synthetic run directories.

``write_run`` (synthetic run directories in the real store format) is shared with test_report,
test_regress and test_suite.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from supernet_bench import aggregate as A
from supernet_bench.core.errors import BenchError
from supernet_bench.metrics import bundle_columns
from supernet_bench.schema import METRICS_SCHEMA
from supernet_bench.store import RunStore

GT = "cifar10-valid_x-valid_hp200"


def write_run(
    root: Path,
    *,
    method: str = "spos",
    seed: int = 0,
    kt: tuple[float, ...] = (0.1, 0.3),
    fractions: tuple[float, ...] = (0.5, 1.0),
    space: str = "nb201",
    dataset: str = "cifar10",
    profile: str = "smoke",
    gt_columns: tuple[str, ...] = (GT,),
    values: dict[str, float] | None = None,
    archs: list[str] | None = None,
    status: str = "complete",
    config: dict | None = None,
    versions: dict | None = None,
    train_wall: float = 10.0,
    eval_wall: float = 2.0,
    out: Path | None = None,
) -> Path:
    """A run directory like protocol.run writes: manifest, metrics.parquet (a row per checkpoint and GT
    column: KT from ``kt``, other bundle columns from ``values`` or NaN) and predictions.parquet.

    It goes to ``out``, else to the suite layout under ``root``."""
    out = out if out is not None else root / profile / space / dataset / method / f"seed{seed}"
    out.mkdir(parents=True, exist_ok=True)
    archs = archs or [f"arch{i}" for i in range(6)]
    metrics, preds = [], []
    keys = {"run_id": out.name, "method": method, "space": space, "dataset": dataset, "profile": profile, "seed": seed}
    for cp, (frac, tau) in enumerate(zip(fractions, kt, strict=True)):
        for gt in gt_columns:
            row = {name: math.nan for name in bundle_columns()} | {"mean_score": 50.0}
            row.update(values or {})
            row.update(
                {
                    **keys,
                    "checkpoint": cp,
                    "budget_fraction": frac,
                    "passes": int(100 * frac),
                    "epoch_equiv": 10.0 * frac,
                    "train_wall_s": train_wall * (cp + 1),
                    "eval_wall_s": eval_wall * (cp + 1),
                    "gt_column": gt,
                    "primary_gt": gt == gt_columns[0],
                    "n_archs": len(archs),
                    "peak_rss_mb": 100.0 + seed,
                    "diagnostics": "{}",
                    "kendall_tau": tau,
                }
            )
            metrics.append(row)
        for i, a in enumerate(archs):
            preds.append(
                {
                    **keys,
                    "checkpoint": cp,
                    "passes": int(100 * frac),
                    "arch": a,
                    "score": float(i + seed),
                    "accuracy": 10.0 + i,
                    "loss": 2.0,
                    "gt": 80.0 + i,
                    "complexity": 1e5 * (i + 1),
                }
            )
    store = RunStore(out)
    store.write_results(metrics, preds)
    store.write_manifest(
        {
            "run_id": out.name,
            "status": status,
            "config": config if config is not None else {"method": method, "seed": seed, "run": {"budget_epochs": 1}},
            "method": {"name": method, "params": {}, "policies": {}},
            "versions": versions if versions is not None else {"git_sha": "synthetic", "cpu_capability": "AVX2"},
            "timing": {"total_wall_s": (train_wall + eval_wall) * len(fractions)},
        }
    )
    return out


# ----------------------------------------------------------------------------------------------------------
# pure functions


def test_normalized_auc_hand_values():
    # trapezoids 0.5*(0+1)/2 + 0.5*(1+1)/2 = 0.75 over a span of 1
    assert A.normalized_auc([0.0, 0.5, 1.0], [0.0, 1.0, 1.0]) == pytest.approx(0.75)
    # one trapezoid 0.5*(0.2+0.4)/2 = 0.15 over a span of 0.5 -> the mean level 0.3
    assert A.normalized_auc([0.5, 1.0], [0.2, 0.4]) == pytest.approx(0.3)
    assert A.normalized_auc([1.0], [0.7]) == pytest.approx(0.7)
    assert math.isnan(A.normalized_auc([0.5, 1.0], [0.2, math.nan]))
    with pytest.raises(ValueError):
        A.normalized_auc([1.0, 0.5], [0.2, 0.4])


def test_cumulative_auc_ends_at_full_auc():
    x, y = [0.0, 0.25, 1.0], [0.0, 0.4, 0.4]
    # up to 0.25: 0.25*0.2/0.25 = 0.2; full: (0.05 + 0.75*0.4) / 1 = 0.35
    assert A.cumulative_normalized_auc(x, y) == pytest.approx([0.0, 0.2, 0.35])


def test_bootstrap_ci_brackets_the_mean_and_is_reproducible():
    x = np.array([0.1, 0.35, 0.2, 0.5, 0.3])
    lo, hi = A.bootstrap_ci(x, random_state=3)
    assert lo < x.mean() < hi
    assert x.min() <= lo and hi <= x.max()  # a bootstrap mean never leaves the data's range
    assert A.bootstrap_ci(x, random_state=3) == (lo, hi)


def test_bootstrap_ci_small_and_constant_samples():
    assert all(math.isnan(v) for v in A.bootstrap_ci([0.4]))
    assert A.bootstrap_ci([0.4, 0.4, 0.4]) == (0.4, 0.4)
    with pytest.raises(ValueError):
        A.bootstrap_ci([0.1, math.nan])


def test_seed_stats_leaves_out_nan_seeds():
    st = A.seed_stats([0.2, math.nan, 0.6])
    assert st["n"] == 2 and st["mean"] == pytest.approx(0.4)
    assert st["std"] == pytest.approx(math.sqrt(0.08))  # deviations +-0.2, ddof 1
    assert st["ci_low"] <= 0.4 <= st["ci_high"]
    one = A.seed_stats([0.5], ci=False)
    assert one["mean"] == 0.5 and math.isnan(one["std"]) and "ci_low" not in one


def test_higher_is_better_covers_derived_columns():
    assert A.higher_is_better("kendall_tau") and A.higher_is_better(A.KT_AUC)
    assert not A.higher_is_better(A.WALL) and not A.higher_is_better("peak_rss_mb")
    assert not A.higher_is_better("br_at_5pct")


def test_group_keys_are_schema_columns():
    assert set(A.CELL_KEYS) <= set(METRICS_SCHEMA.names)


# ----------------------------------------------------------------------------------------------------------
# tables from run directories


@pytest.fixture
def synthetic_root(tmp_path: Path) -> Path:
    """spos with 3 seeds (final KT 0.2/0.4/0.6), fairnas with 2 seeds (final KT 0.1/0.3)."""
    for seed, kt in enumerate([(0.0, 0.2), (0.2, 0.4), (0.4, 0.6)]):
        write_run(tmp_path, method="spos", seed=seed, kt=kt, values={"top1_gt": 90.0 + seed})
    for seed, kt in enumerate([(0.1, 0.1), (0.1, 0.3)]):
        write_run(tmp_path, method="fairnas", seed=seed, kt=kt, train_wall=20.0)
    return tmp_path


def test_summary_mean_std_auc_wall_by_hand(synthetic_root: Path):
    runs = A.load_runs(synthetic_root)
    assert len(runs.manifests) == 5 and not runs.incomplete and not runs.notes
    summary = A.summarize(runs.metrics)
    final = A.final_rows(summary)
    spos = final[final.method == "spos"].iloc[0]
    assert spos.n_seeds == 3 and spos.checkpoint == 1 and spos.budget_fraction == 1.0
    assert spos.kendall_tau_mean == pytest.approx(0.4)
    assert spos.kendall_tau_std == pytest.approx(0.2)
    assert spos.kendall_tau_ci_low < 0.4 < spos.kendall_tau_ci_high
    # per-run AUC over (0.5, 1.0) = mean of the two KT values: 0.1, 0.3, 0.5 -> 0.3
    assert spos.kt_auc_mean == pytest.approx(0.3)
    assert spos.top1_gt_mean == pytest.approx(91.0)
    # cumulative wall at checkpoint 1: (10 + 2) * 2
    assert spos.wall_s_mean == pytest.approx(24.0)
    assert spos.peak_rss_mb_mean == pytest.approx(101.0)
    fair = final[final.method == "fairnas"].iloc[0]
    assert fair.kendall_tau_mean == pytest.approx(0.2) and fair.kt_auc_mean == pytest.approx(0.15)
    assert fair.wall_s_mean == pytest.approx(44.0)
    # within a checkpoint the best mean KT comes first; the first checkpoint's AUC is its KT
    assert list(final.method) == ["spos", "fairnas"]
    first = summary[(summary.checkpoint == 0) & (summary.method == "spos")].iloc[0]
    assert first.kt_auc_mean == pytest.approx(first.kendall_tau_mean) == pytest.approx(0.2)


def test_undefined_metric_gives_nan_not_zero(synthetic_root: Path):
    summary = A.summarize(A.load_runs(synthetic_root).metrics)
    assert summary.p_at_top_5pct_mean.isna().all()
    assert (summary.p_at_top_5pct_n == 0).all()


def test_one_seed_has_no_ci(tmp_path: Path):
    write_run(tmp_path, kt=(0.1, 0.5))
    final = A.final_rows(A.summarize(A.load_runs(tmp_path).metrics)).iloc[0]
    assert final.kendall_tau_mean == 0.5 and math.isnan(final.kendall_tau_ci_low) and math.isnan(final.kendall_tau_std)


def test_incomplete_runs_are_listed_not_read(tmp_path: Path):
    write_run(tmp_path, seed=0)
    write_run(tmp_path, seed=1, status="running")
    runs = A.load_runs(tmp_path)
    assert list(runs.manifests) == ["smoke/nb201/cifar10/spos/seed0"]
    assert runs.incomplete == ["smoke/nb201/cifar10/spos/seed1"]
    assert set(runs.metrics[A.RUN_PATH]) == {"smoke/nb201/cifar10/spos/seed0"}


def test_empty_root_is_an_error(tmp_path: Path):
    with pytest.raises(BenchError, match="no complete runs"):
        A.load_runs(tmp_path)
    with pytest.raises(BenchError, match="not a folder"):
        A.load_runs(tmp_path / "absent")


def test_pooled_runs_with_different_configs_are_flagged(tmp_path: Path):
    write_run(tmp_path, seed=0, config={"run": {"budget_epochs": 1, "threads": 2}})
    write_run(tmp_path, seed=1, config={"run": {"budget_epochs": 1, "threads": 1}})  # threads do not matter
    assert A.load_runs(tmp_path).notes == []
    write_run(tmp_path, seed=2, config={"run": {"budget_epochs": 5}})
    notes = A.load_runs(tmp_path).notes
    assert len(notes) == 1 and "2 different protocol configs" in notes[0]


def test_pooled_runs_from_other_code_or_cpu_kinds_are_flagged(tmp_path: Path):
    """A board assembled from runs of two commits or two ISAs says so: their rounding differs like a seed."""
    write_run(tmp_path, seed=0)
    write_run(tmp_path, seed=1, method="fairnas")
    assert A.load_runs(tmp_path).notes == []
    write_run(tmp_path, seed=2, versions={"git_sha": "synthetic", "cpu_capability": "AVX512"})
    notes = A.load_runs(tmp_path).notes
    assert len(notes) == 1 and "cpu_capability: AVX2, AVX512" in notes[0] and "git_sha" not in notes[0]


def test_where_a_run_ran_is_a_version_not_a_protocol_key(tmp_path: Path):
    """run.device differs between `--device cpu` and the default: not a protocol difference. A run on a GPU is
    flagged among CPU runs by its versions (manifests from before device_type count as CPU runs)."""
    write_run(tmp_path, seed=0, config={"run": {"budget_epochs": 1}})
    base = {"git_sha": "synthetic", "cpu_capability": "AVX2"}
    cpu, cuda = {**base, "device_type": "cpu"}, {**base, "device_type": "cuda"}
    write_run(tmp_path, seed=1, config={"run": {"budget_epochs": 1, "device": "cpu"}}, versions=cpu)
    assert A.load_runs(tmp_path).notes == []
    write_run(tmp_path, seed=2, config={"run": {"budget_epochs": 1, "device": "cuda"}}, versions=cuda)
    notes = A.load_runs(tmp_path).notes
    assert len(notes) == 1 and "device_type: cpu, cuda" in notes[0]


def test_final_predictions_are_the_last_checkpoint(synthetic_root: Path):
    preds = A.load_runs(synthetic_root).final_predictions()
    assert (preds.checkpoint == 1).all()
    assert len(preds) == 5 * 6 and preds[A.RUN_PATH].nunique() == 5


def test_groups_and_slug(synthetic_root: Path):
    summary = A.summarize(A.load_runs(synthetic_root).metrics)
    assert A.groups(summary) == [("nb201", "cifar10", GT, "smoke")]
    assert A.group_slug(("nb201:no-zero", "cifar10", GT, "my profile")) == (
        "nb201-no-zero_cifar10_cifar10-valid_x-valid_hp200_my-profile"
    )
    assert isinstance(A.select_group(summary, A.groups(summary)[0]), pd.DataFrame)
