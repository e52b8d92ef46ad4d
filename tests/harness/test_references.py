"""Reference estimators stored as reference runs, on the board beside the methods (harness/references.py)."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import pandas as pd
import pytest
from supernet_bench import aggregate as A
from supernet_bench import leaderboard as L
from supernet_bench import protocol
from supernet_bench.cli import main, strict_json
from supernet_bench.config import resolve_config
from supernet_bench.references import ESTIMATORS, REFERENCES_DIR, compute_references
from supernet_bench.regress import regress, write_baseline
from supernet_bench.report import build_report

from tests.helpers import TINY_OVERRIDES

ONLY = ("params", "flops", "synflow", "naswot", "untrained-acc", "untrained-loss")


@pytest.fixture(scope="module")
def tiny_root(tmp_path_factory, data_dir) -> Path:
    """Two tiny SPOS seeds on the real data, with the references computed over 2 init seeds."""
    root = tmp_path_factory.mktemp("refs")
    for seed in (0, 1):
        overrides = [*TINY_OVERRIDES, "run.checkpoints=[0.0, 1.0]"]  # 0%: the untrained supernet
        config = resolve_config("spos", profile="smoke", seed=seed, overrides=overrides)
        protocol.run(config, root / f"spos-s{seed}", data_dir=data_dir, progress=False)
    compute_references(A.load_runs(root), data_dir, seeds=(0, 1), batch_size=8, only=ONLY)
    return root


@pytest.mark.data
def test_references_are_stored_as_runs_and_kept_apart(tiny_root: Path):
    runs = A.load_runs(tiny_root)
    assert set(runs.metrics["method"]) == {"spos"}  # never ranked among the methods
    labels = {ESTIMATORS[k].name for k in ONLY}
    assert set(runs.references["method"]) == labels
    assert all(p.startswith(REFERENCES_DIR + "/") for p in runs.reference_manifests)
    per_label = runs.references.groupby("method")["seed"].nunique().to_dict()
    assert per_label["synflow"] == 2 and per_label["#params"] == 1 and per_label["untrained supernet (acc)"] == 2
    # the untrained supernet's accuracy KT is the 0% checkpoint row of the SPOS runs themselves
    spos0 = runs.metrics[(runs.metrics["checkpoint"] == 0) & runs.metrics["primary_gt"]].set_index("seed")
    ref = runs.references[(runs.references["method"] == "untrained supernet (acc)") & runs.references["primary_gt"]]
    for _, r in ref.iterrows():
        assert r["kendall_tau"] == pytest.approx(spos0.loc[r["seed"], "kendall_tau"])


@pytest.mark.data
def test_board_shows_references_and_marks_methods_below_the_best_free(tiny_root: Path, data_dir: Path):
    runs = A.load_runs(tiny_root)
    refs, _ = L.all_reference_rows(runs, data_dir)
    board = L.leaderboard(A.summarize(runs.metrics), refs)
    primary = board[board["primary_gt"]]
    free = primary[(primary["kind"] == L.REFERENCE) & primary["free"]]
    assert {"#params", "FLOPs", "synflow"} <= set(free["method"])
    assert "hp12 training" in set(primary.loc[~primary["free"], "method"])  # not free: it trains
    assert free.loc[free["method"] == "synflow", "n_seeds"].item() == 2
    best = L.best_free(primary)
    spos = primary[primary["kind"] == L.METHOD].iloc[0]
    assert spos["below_free"] == (spos["kendall_tau_ci_high"] < best["kendall_tau_mean"])


@pytest.mark.data
def test_report_and_baseline_carry_the_references(tiny_root: Path, tmp_path: Path, data_dir: Path):
    report = build_report(tiny_root, tmp_path / "report", data_dir=data_dir)
    md = (tmp_path / "report" / "leaderboard.md").read_text()
    assert "*synflow*" in md and "A proxy scale: not comparable with paper numbers" in md
    assert "Kendall tau null std for 8 architectures" in md and "Signal:" in md
    assert any(p.name.startswith("final_kt_") for p, _ in report.figures)
    rows = write_baseline(tiny_root, tmp_path / "baseline.parquet")
    assert "synflow" in set(rows["method"])
    assert not regress(tiny_root, tmp_path / "baseline.parquet").failed()  # references checked like methods
    bare = tmp_path / "bare"
    shutil.copytree(tiny_root, bare, ignore=shutil.ignore_patterns(REFERENCES_DIR))
    assert not regress(bare, tmp_path / "baseline.parquet").failed()  # a root without references: not missing


@pytest.mark.data
def test_references_cli_and_unknown_estimator(tiny_root: Path, tmp_path: Path, capsys):
    assert main(["references", str(tiny_root), "--only", "synflo"]) == 2
    assert "unknown reference estimator(s): synflo" in capsys.readouterr().err


def test_strict_json_writes_null_for_undefined_metrics():
    text = strict_json({"kendall_tau": 0.5, "kt_gt_top50": math.nan, "nested": [math.inf, 1]})
    parsed = json.loads(text, parse_constant=lambda c: pytest.fail(f"bare {c} in JSON"))
    assert parsed == {"kendall_tau": 0.5, "kt_gt_top50": None, "nested": [None, 1]}


@pytest.mark.data
def test_score_json_is_strict(tmp_path: Path, data_dir: Path, capsys):
    gt = pd.read_csv(data_dir / "nas-bench-201" / "nb201.csv").head(10)  # < 50 archs: KT-top-50 undefined
    table = tmp_path / "t.csv"
    gt.rename(columns={"cifar10-valid_x-valid_hp12": "score"})[["arch", "score"]].to_csv(table, index=False)
    args = ["score", str(table), "--gt", "cifar10-valid_x-valid_hp200", "--json", "--data-dir", str(data_dir)]
    assert main(args) == 0
    out = capsys.readouterr().out
    parsed = json.loads(out, parse_constant=lambda c: pytest.fail(f"bare {c} in JSON"))
    assert parsed["kt_gt_top50"] is None
