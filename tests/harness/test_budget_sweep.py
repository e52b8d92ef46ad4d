"""Budget sweeps: one separate run per budget (suite ``budgets``), the KT-vs-budget figure and crossovers."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from supernet_bench import aggregate as A
from supernet_bench import budget_sweep as B
from supernet_bench.core.errors import BenchError
from supernet_bench.references import compute_references
from supernet_bench.report import build_report
from supernet_bench.suite import load_suite, plan, run_suite

from tests.helpers import TINY_OVERRIDES


def write_suite(path: Path, **fields) -> Path:
    data = {"profile": "smoke", "seeds": [0, 1], "methods": ["spos"], **fields}
    path.write_text("\n".join(f"{k} = {json.dumps(v)}" for k, v in data.items()) + "\n")
    return path


def test_shipped_budget_sweep_plans_separate_full_schedules():
    suite = load_suite("budget-sweep")
    assert suite.budgets == (10.0, 20.0, 40.0, 80.0, 160.0) and suite.seeds == (0, 1, 2)
    assert {"spos", "fairnas", "fewshot", "gmnas", "close-s"} <= set(suite.methods)
    tasks = plan(suite, "/tmp/sweep")
    assert len(tasks) == len(suite.methods) * 5 * 3
    first = [t for t in tasks if t.label.startswith("proxy/nb201/cifar10/spos/budget10/")]
    assert len(first) == 3 and all(t.config.run["budget_epochs"] == 10.0 for t in first)
    assert all(tuple(t.config.run["checkpoints"]) == (0.0, 1.0) for t in tasks)  # each budget is a whole schedule


@pytest.mark.parametrize("bad", [[0, 10], [10, 10], "10", [True]])
def test_bad_budgets_are_one_clear_error(tmp_path: Path, bad):
    with pytest.raises(BenchError, match="'budgets'"):
        load_suite(write_suite(tmp_path / "s.toml", budgets=bad))


def test_crossover_is_the_first_budget_above_the_level():
    rows = pd.DataFrame({"budget_epochs": [40.0, 10.0, 20.0], "kendall_tau_mean": [0.5, 0.1, 0.35]})
    assert B.crossover(rows, 0.3) == 20.0
    assert B.crossover(rows, 0.6) is None
    lines = B.crossover_lines(rows.assign(method="spos"), 0.6, "params")
    assert lines == ["spos: does not pass params (0.600) within the sweep (up to 40 epoch-equivalents)"]


@pytest.mark.data
def test_tiny_sweep_report_has_the_budget_figure(tmp_path: Path, data_dir: Path):
    overrides = [*TINY_OVERRIDES, "run.checkpoints=[0.0, 1.0]"]
    suite = load_suite(write_suite(tmp_path / "s.toml", budgets=[0.5, 1.0], overrides=overrides))
    root = tmp_path / "runs"
    outcomes = run_suite(plan(suite, root), data_dir=str(data_dir), workers=1)
    assert all(o.status == "ran" for o in outcomes) and len(outcomes) == 4
    runs = A.load_runs(root)
    assert B.is_sweep(runs)
    sweep = B.sweep_table(runs)
    primary = sweep[sweep["gt_column"] == suite.gt] if suite.gt else sweep
    assert sorted(primary["budget_epochs"].unique()) == [0.5, 1.0] and (primary["n_seeds"] == 2).all()
    compute_references(runs, data_dir, seeds=(0,), batch_size=8, only=("params",))
    report = build_report(root, tmp_path / "report", data_dir=data_dir)
    assert any(p.name.startswith("budget_sweep_") for p, _ in report.figures)
    assert (report.board[report.board["kind"] == "method"]["epoch_equiv"] > 0.9).all()  # the largest budget
    md = (tmp_path / "report" / "leaderboard.md").read_text()
    assert "spos: passes the best free reference, #params" in md or "spos: does not pass the best free" in md
