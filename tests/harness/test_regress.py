"""harness/regress.py: baselines, the regression rule, and the committed smoke baseline."""

from __future__ import annotations

import math
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from supernet_bench import regress as R
from supernet_bench.aggregate import load_runs, summarize
from supernet_bench.cli import main
from supernet_bench.core.errors import BenchError

from tests.harness.test_aggregate import write_run

REPO = Path(__file__).resolve().parents[2]
SMOKE_BASELINE = REPO / "results" / "baselines" / "smoke-nb201-cifar10.parquet"

# final KT per seed; mean, and the CI low of 2 seeds is the lower seed (bootstrap means of 2 values)
SPOS = (0.25, 0.5)  # mean 0.375, CI [0.25, 0.5]
FAIRNAS = (0.5, 0.75)  # mean 0.625, CI [0.5, 0.75]


def make_root(root: Path, spos=SPOS, fairnas=FAIRNAS, **kw) -> Path:
    for method, finals in (("spos", spos), ("fairnas", fairnas)):
        for seed, final in enumerate(finals):
            write_run(root, method=method, seed=seed, kt=(final / 2, final), **kw)
    return root


@pytest.fixture
def baseline(tmp_path: Path) -> Path:
    path = tmp_path / "baseline.parquet"
    R.write_baseline(make_root(tmp_path / "base"), path, tolerance=0.05)
    return path


def test_baseline_rows_and_schema(baseline: Path):
    table = pq.read_table(baseline)
    assert table.schema.equals(R.BASELINE_SCHEMA, check_metadata=False)
    b = R.read_baseline(baseline)
    assert b.tolerance == 0.05 and b.score_tolerance == R.DEFAULT_SCORE_TOLERANCE
    assert b.meta["git_sha"] == "synthetic" and b.meta["cpu_capability"] == "AVX2"
    assert set(b.rows.metric) == {"kendall_tau", "mean_score"}
    rows = b.rows[b.rows.metric == "kendall_tau"].set_index(["method", "checkpoint"])
    assert len(rows) == 4
    final = rows.loc[("spos", 1)]
    assert final["mean"] == 0.375 and final.n_seeds == 2
    assert (final.ci_low, final.ci_high) == (0.25, 0.5)


def test_regress_passes_on_equal_data(baseline: Path, tmp_path: Path):
    result = R.regress(make_root(tmp_path / "fresh"), baseline)
    assert not result.failed() and result.checked == 8  # 4 cells x (kendall_tau, mean_score) and result.lines() == []


def test_regress_fails_when_one_methods_kt_drops(baseline: Path, tmp_path: Path):
    # fairnas falls to mean 0.375 at the end: below its CI low 0.5 - 0.05; spos unchanged
    result = R.regress(make_root(tmp_path / "fresh", fairnas=(0.25, 0.5)), baseline)
    assert result.failed()
    assert len(result.regressions) == 2  # both checkpoints: 0.1875 < 0.25 - 0.05, 0.375 < 0.5 - 0.05
    final = [r for r in result.regressions if "checkpoint 1" in r][0]
    assert final.startswith("REGRESSION fairnas on nb201/cifar10")
    assert "kendall_tau 0.3750" in final and "CI low 0.5000 - tolerance 0.05 = 0.4500" in final
    assert not any("spos" in r for r in result.regressions)


def test_drop_within_tolerance_passes(baseline: Path, tmp_path: Path):
    # fairnas mean 0.46875 at the end (CI low 0.5 - 0.05 = 0.45), 0.234375 at checkpoint 0 (limit 0.2)
    result = R.regress(make_root(tmp_path / "fresh", fairnas=(0.4375, 0.5)), baseline)
    assert not result.failed(), result.lines()
    assert R.regress(tmp_path / "fresh", baseline, tolerance=0.0).failed()  # --tolerance overrides


def test_mean_score_has_its_own_tolerance_in_accuracy_points(baseline: Path, tmp_path: Path):
    """A 0.5-point accuracy dip is seed noise (within the 1.0-point score tolerance) though it is ten times the
    0.05 KT tolerance, which used to apply to both; a 1.5-point one regresses, on mean_score only."""
    ok = R.regress(make_root(tmp_path / "dip", values={"mean_score": 49.5}), baseline)
    assert not ok.failed() and ok.checked == 8, ok.lines()
    assert R.regress(tmp_path / "dip", baseline, score_tolerance=0.4).failed()  # --score-tolerance overrides
    worse = R.regress(make_root(tmp_path / "worse", values={"mean_score": 48.5}), baseline).regressions
    assert len(worse) == 4 and all("mean_score 48.5000" in r for r in worse)
    assert "CI low 50.0000 - tolerance 1 = 49.0000" in worse[0]


def test_a_baseline_from_before_the_split_applies_its_one_tolerance_to_both(baseline: Path, tmp_path: Path):
    table = pq.read_table(baseline)
    meta = {k: v for k, v in table.schema.metadata.items() if k != b"supernet_bench.score_tolerance"}
    pq.write_table(table.replace_schema_metadata(meta), old := tmp_path / "old.parquet")
    assert R.read_baseline(old).score_tolerance is None
    result = R.regress(make_root(tmp_path / "dip", values={"mean_score": 49.9}), old)
    assert result.score_tolerance == 0.05 and len(result.regressions) == 4  # 49.9 < 50 - 0.05


def test_untrained_supernet_regresses(baseline: Path, tmp_path: Path):
    """Synthetic stand-in for `--set methods.spos.lr=0.0`: an untrained supernet ranks no better than chance
    (KT about 0) or scores every architecture alike (KT NaN); both must fail against a trained baseline."""
    fresh = make_root(tmp_path / "lr0", spos=(0.0, 0.02))
    result = R.regress(fresh, baseline)
    assert result.failed() and all(r.startswith("REGRESSION spos") for r in result.regressions)
    nan = make_root(tmp_path / "nan", spos=(math.nan, math.nan))
    assert any("kendall_tau nan" in r for r in R.regress(nan, baseline).regressions)


def test_missing_and_new_methods_are_reported(baseline: Path, tmp_path: Path):
    fresh = tmp_path / "fresh"
    for seed, final in enumerate(SPOS):
        write_run(fresh, method="spos", seed=seed, kt=(final / 2, final))
    write_run(fresh, method="close", seed=0)
    result = R.regress(fresh, baseline)
    assert result.regressions == []
    assert len(result.missing) == 1 and result.missing[0].startswith("MISSING fairnas on nb201/cifar10")
    assert "checkpoint(s) 0, 1" in result.missing[0]
    assert len(result.new) == 1 and result.new[0].startswith("NEW close")
    assert result.failed() and not result.failed(allow_missing=True)


def test_a_different_budget_schedule_is_a_mismatch(baseline: Path, tmp_path: Path):
    result = R.regress(make_root(tmp_path / "fresh", fractions=(0.25, 1.0)), baseline)
    assert result.failed() and len(result.mismatched) == 4 and "budget fraction 0.250" in result.mismatched[0]


def test_single_seed_baseline_uses_its_mean(tmp_path: Path):
    write_run(tmp_path / "base", kt=(0.25, 0.5))  # one seed: no CI, the mean 0.5 stands in (limit 0.4)
    R.write_baseline(tmp_path / "base", tmp_path / "b.parquet", tolerance=0.1)
    write_run(tmp_path / "ok", kt=(0.25, 0.4375))
    assert not R.regress(tmp_path / "ok", tmp_path / "b.parquet").failed()
    write_run(tmp_path / "worse", kt=(0.25, 0.375))
    (line,) = R.regress(tmp_path / "worse", tmp_path / "b.parquet").regressions
    assert "checkpoint 1" in line and "mean (1 seed) 0.5000 - tolerance 0.1 = 0.4000" in line


def test_bad_inputs(tmp_path: Path, baseline: Path):
    with pytest.raises(BenchError, match="does not exist"):
        R.read_baseline(tmp_path / "absent.parquet")
    with pytest.raises(BenchError, match="tolerance"):
        R.compare(R.read_baseline(baseline).rows, summarize(load_runs(tmp_path / "base").metrics), -0.1)
    with pytest.raises(BenchError, match="tolerance must be >= 0, got -1"):
        R.compare(R.read_baseline(baseline).rows, summarize(load_runs(tmp_path / "base").metrics), 0.1, -1.0)
    with pytest.raises(BenchError, match="tolerance must be >= 0"):
        R.write_baseline(tmp_path / "base", tmp_path / "never.parquet", score_tolerance=-1.0)
    assert not (tmp_path / "never.parquet").exists()


def test_cli_regress_exit_codes(tmp_path: Path, capsys):
    base, path = make_root(tmp_path / "base"), tmp_path / "b.parquet"
    assert main(["regress", "--write-baseline", str(path), "--tolerance", "0.05", str(base)]) == 0
    assert "wrote" in capsys.readouterr().out
    assert main(["regress", "--against", str(path), str(base)]) == 0
    assert "ok: 8 cell(s) checked" in capsys.readouterr().out
    assert main(["regress", "--write-baseline", str(path), "--score-tolerance", "0.25", str(base)]) == 0
    assert R.read_baseline(path).score_tolerance == 0.25 and R.read_baseline(path).tolerance == R.DEFAULT_TOLERANCE
    capsys.readouterr()
    worse = make_root(tmp_path / "worse", fairnas=(0.25, 0.5))
    assert main(["regress", "--against", str(path), str(worse)]) == 1
    captured = capsys.readouterr()
    assert captured.out.count("REGRESSION fairnas") == 2 and "2 problem(s)" in captured.err
    assert main(["regress", str(base)]) == 2  # neither --against nor --write-baseline


def test_committed_smoke_baseline_is_well_formed():
    b = R.read_baseline(SMOKE_BASELINE)
    assert pq.read_schema(SMOKE_BASELINE).equals(R.BASELINE_SCHEMA, check_metadata=False)
    assert set(b.rows.method) == {"spos", "fairnas"} and set(b.rows.profile) == {"smoke"}
    assert (b.rows.n_seeds == 2).all() and b.rows["mean"].notna().all()
    assert b.tolerance is not None and 0 < b.tolerance < 1
    assert b.score_tolerance == 0.5  # LR 0 scores 9.80 %, below every cell's CI low (10.4-13.9) - 0.5


# (results root, baseline, profile, GT columns): the committed boards behind reports/proxy and reports/macro-proxy
COMMITTED_BOARDS = {
    "proxy": ("suite-proxy-2", "proxy-nb201-cifar10.parquet", "proxy", 3),
    "macro-proxy": ("suite-macro-proxy-2", "macro-proxy-macro-cifar10.parquet", "macro-proxy", 1),
}


@pytest.mark.parametrize("board", sorted(COMMITTED_BOARDS))
def test_committed_board_is_what_its_baseline_summarizes(board):
    """A committed board's runs (with their reference estimators) against its baseline: every method x 3 seeds
    plus the references, each metric with its own tolerance, and at zero tolerance the runs sit at or above every
    cell's CI low, which fails if either file is regenerated without the other."""
    root, baseline, profile, gt_columns = COMMITTED_BOARDS[board]
    path = REPO / "results" / "baselines" / baseline
    b = R.read_baseline(path)
    assert (b.tolerance, b.score_tolerance) == (0.1, 1.0)
    refs = set(b.meta["references"].split(","))
    assert {"FLOPs", "#params", "synflow", "jacob_cov", "naswot"} <= refs
    methods = b.rows[~b.rows.method.isin(refs)]
    assert methods.method.nunique() == 16 and (methods.n_seeds == 3).all() and set(b.rows.profile) == {profile}
    result = R.regress(REPO / "results" / "runs" / root, path, tolerance=0.0, score_tolerance=0.0)
    assert not result.failed() and not result.new, result.lines()
    # methods x GT columns x checkpoints x (kendall_tau, mean_score), and each reference's KT per GT column
    assert result.checked == 16 * gt_columns * 5 * 2 + len(refs) * gt_columns
