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
    assert all(tuple(t.config.run["checkpoints"]) == (1.0,) for t in tasks)  # each budget is a whole schedule
    assert tasks[0].reuse == ("results/runs/suite-proxy-2",)  # the board's 80-epoch runs are adopted


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


def test_against_base_compares_at_equal_total_budget_and_names_the_lineage_budget():
    sweep = pd.DataFrame(
        {
            "method": ["spos"] * 3 + ["fewshot"] * 3,
            "budget_epochs": [10.0, 20.0, 40.0] * 2,
            "epoch_equiv": [10.0, 20.0, 40.0] * 2,
            "lineage_epochs": [10.0, 20.0, 40.0, 4.3, 8.6, 17.2],
            "kendall_tau_mean": [0.1, 0.2, 0.3, 0.15, 0.1, 0.25],
        }
    )
    assert B.against_base_lines(sweep, "spos") == [
        "fewshot vs spos at equal total budget: above at 10 of 3 budgets; at 40 each lineage got 17.2 epoch-equivalents"
    ]
    assert B.against_base_lines(sweep, "close-s") == []  # no base in the sweep: nothing to say
    one = sweep.assign(lineage_epochs=sweep["epoch_equiv"], kendall_tau_mean=[0.1, 0.2, 0.3, 0.0, 0.0, 0.0])
    assert B.against_base_lines(one, "spos") == ["fewshot vs spos at equal total budget: above at none of 3 budgets"]


def test_lineage_epochs_scale_the_budget_by_each_runs_lineage_share(tmp_path: Path):
    from supernet_bench.store import RunStore

    from tests.harness.test_aggregate import write_run

    for method, shares in {"spos": None, "fewshot": (0.5, 0.25)}.items():
        for seed in (0, 1):
            for budget in (10.0, 20.0):
                out = tmp_path / "p/nb201/cifar10" / method / f"budget{budget:g}" / f"seed{seed}"
                write_run(tmp_path, method=method, seed=seed, kt=(0.0, 0.1 * seed + budget / 100), out=out,
                          archs=[f"{method}{budget}-{seed}-{i}" for i in range(6)],  # distinct predictions
                          config={"method": method, "seed": seed, "run": {"budget_epochs": budget}})  # fmt: skip
                # two lineages whose weights carry half and a quarter of the run's 100 passes (a restart dropped
                # the rest: lineage_passes, which counts ancestors' passes, is not what their weights trained on)
                if shares is not None:
                    keys = {"run_id": "x", "method": method, "space": "nb201", "dataset": "cifar10",
                            "profile": "smoke", "seed": seed, "checkpoint": 1, "passes": 100}  # fmt: skip
                    RunStore(out).write_lineages([
                        keys | {"lineage": str(i), "own_passes": 1, "lineage_passes": 100,
                                "weight_passes": int(100 * sh), "n_archs": 3, "kendall_tau": 0.0,
                                "global_kendall_tau": 0.0, "best_arch": "a",
                                "best_score": 0.0, "best_gt": 0.0, "selected": i == 0}  # fmt: skip
                        for i, sh in enumerate(shares)
                    ])
    sweep = B.sweep_table(A.load_runs(tmp_path)).set_index(["method", "budget_epochs"])
    assert sweep.loc[("spos", 20.0), "lineage_epochs"] == pytest.approx(sweep.loc[("spos", 20.0), "epoch_equiv"])
    fewshot = sweep.loc[("fewshot", 20.0)]
    assert fewshot["lineage_epochs"] == pytest.approx(0.375 * fewshot["epoch_equiv"])  # mean of 0.5 and 0.25


@pytest.mark.data
def test_tiny_sweep_report_has_the_budget_figure(tmp_path: Path, data_dir: Path):
    overrides = [*TINY_OVERRIDES, "run.checkpoints=[0.0, 1.0]", "run.batch_size=8"]
    suite = load_suite(write_suite(tmp_path / "s.toml", budgets=[0.5, 1.0], overrides=overrides,
                                   methods=["spos", "fewshot"]))  # fmt: skip
    root = tmp_path / "runs"
    outcomes = run_suite(plan(suite, root), data_dir=str(data_dir), workers=1)
    assert all(o.status == "ran" for o in outcomes) and len(outcomes) == 8, [o.error for o in outcomes]
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
    few = primary[primary["method"] == "fewshot"]
    assert (few["lineage_epochs"] < 0.9 * few["epoch_equiv"]).all()  # each sub-supernet got a share
    assert "fewshot vs spos at equal total budget: above at" in md and "each lineage got" in md
    # the budgets differ on purpose: not flagged as pooled protocol configs, which they are without the sweep
    assert len(A.protocol_notes(runs.metrics, runs.manifests)) == 1
    assert A.protocol_notes(runs.metrics, runs.manifests, varying=B.SWEEP_VARIES) == []
    assert "different protocol configs" not in md


@pytest.mark.data
def test_a_refused_budget_is_recorded_as_infeasible_and_named_on_the_sweep(tmp_path: Path, data_dir: Path, capsys):
    """GM-NAS's 10 matching batches (proxy profile) cost 800 passes: at a 1-epoch budget it refuses to run. The
    suite records that (infeasible.json, exit status 0), and the sweep says why the point is missing."""
    from supernet_bench.cli import main
    from supernet_bench.core.errors import BudgetTooSmall
    from supernet_bench.suite import INFEASIBLE_RECORD

    overrides = [*TINY_OVERRIDES, "run.checkpoints=[1.0]"]
    path = write_suite(tmp_path / "s.toml", profile="proxy", methods=["gmnas"], seeds=[0], budgets=[1.0, 2.0],
                       overrides=overrides, gt="cifar10-valid_x-valid_hp200")  # fmt: skip
    root = tmp_path / "runs"
    assert main(["suite", str(path), "--out", str(root), "--data-dir", str(data_dir)]) == 0
    assert "2 run(s) refused their budget" in capsys.readouterr().out
    records = sorted(root.rglob(INFEASIBLE_RECORD))
    assert len(records) == 2 and not list(root.rglob("manifest.json"))
    assert json.loads(records[0].read_text())["status"] == "infeasible"
    table = B.infeasible_table(root)
    assert sorted(table["budget_epochs"]) == [1.0, 2.0] and set(table["method"]) == {"gmnas"}
    lines = B.infeasible_lines(table, ("nb201", "cifar10", "cifar10-valid_x-valid_hp200", "proxy"))
    assert len(lines) == 1 and lines[0].startswith("gmnas: no run at 1, 2 epoch-equivalents, the method refuses")
    assert "gradient-matching batches" in lines[0]
    assert B.infeasible_lines(table, ("nb201", "cifar10", "x", "smoke")) == []  # another board: not its gap
    # a record next to a run made since (e.g. with fewer matching batches) no longer explains a gap
    (records[0].parent / "manifest.json").write_text("{}")
    assert len(B.infeasible_table(root)) == 1
    assert issubclass(BudgetTooSmall, BenchError)  # one clear error when `run` is called directly


def test_lineage_matched_comparison_interpolates_the_base_in_log_budget():
    sweep = pd.DataFrame(
        {
            "method": ["spos"] * 3 + ["fewshot"] * 2 + ["close-s"],
            "budget_epochs": [10.0, 20.0, 40.0, 20.0, 40.0, 40.0],
            "epoch_equiv": [10.0, 20.0, 40.0, 20.0, 40.0, 40.0],
            "lineage_epochs": [10.0, 20.0, 40.0, 8.0, 20.0 * 2**0.5, 40.0],
            "kendall_tau_mean": [0.0, 0.2, 0.4, 0.1, 0.25, 0.5],
        }
    )
    spos = sweep[sweep["method"] == "spos"]
    assert B.base_at(spos, 20.0 * 2**0.5) == pytest.approx(0.3)  # halfway between 20 and 40 in log2
    assert B.base_at(spos, 8.0) is None and B.base_at(spos, 80.0) is None  # no extrapolation
    # close-s never splits: no line; fewshot at 40 got 28.3 per lineage, where spos is 0.30 > 0.25
    assert B.lineage_matched_lines(sweep, "spos") == [
        "fewshot vs spos at the budget each lineage received (total budget: fewshot's KT vs spos's at that lineage "
        "budget): 20: +0.10 vs n/a (8 per lineage, outside the sweep); 40: +0.25 vs +0.30 at 28.3; above at 0 of 1"
    ]
    assert B.lineage_matched_lines(sweep, "gmnas") == []
