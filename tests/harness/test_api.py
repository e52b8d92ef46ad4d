"""The Python API (supernet_bench.api) and `--version`: a tiny run and a tiny suite on the generated
demo-shapes task (no data files), read back as DataFrames and ranked on a leaderboard."""

from __future__ import annotations

import json
from importlib.metadata import version

import pytest
from supernet_bench import api
from supernet_bench.cli import main
from supernet_bench.core.errors import BenchError

TINY = {
    "run.budget_epochs": 1.0,
    "run.batch_size": 32,
    "data.train_limit": 96,
    "data.eval_limit": 64,
    "eval.sample": "random:6",
    "eval.recal_batches": 1,
    "eval.recal_batch_size": 32,
    "supernet.C": 4,
}
SPACE = "nb201:conv3-pool"  # the demo profile's space: its ground truth ships with the package


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    """One run through api.run and a one-run suite through api.run_suite, under one results root."""
    root = tmp_path_factory.mktemp("results")
    empty = tmp_path_factory.mktemp("data")  # demo-shapes is generated: no data files needed
    run_dir = api.run("spos", SPACE, "demo", seed=3, overrides=TINY, out=root / "single", data_dir=empty)
    suite = root.parent / "tiny-suite.toml"
    suite.write_text(
        'profile = "demo"\nseeds = [0]\nmethods = ["fairnas"]\nspaces = ["nb201:conv3-pool"]\n'
        'datasets = ["demo-shapes"]\ngt = "demo-shapes_test_mean"\n'
        f"overrides = {json.dumps([f'{k}={json.dumps(v)}' for k, v in TINY.items()])}\n"  # a JSON array is TOML
        'out = "unused"\n'
    )
    outcomes = api.run_suite(suite, out=root / "suite", data_dir=empty)
    return root, run_dir, outcomes


def test_run_returns_a_complete_run_directory(root):
    _, run_dir, _ = root
    assert (run_dir / "manifest.json").is_file()
    results = api.load_results(run_dir)
    assert results.manifests.loc[0, "status"] == "complete"
    assert results.manifests.loc[0, "config.seed"] == 3
    assert results.manifests.loc[0, "config.run.batch_size"] == 32  # the override reached the config


def test_run_suite_reports_one_row_per_run(root):
    _, _, outcomes = root
    assert list(outcomes.columns) == ["run", "status", "seconds", "kendall_tau", "error"]
    assert len(outcomes) == 1 and set(outcomes["status"]) == {"ran"}
    assert outcomes["kendall_tau"].between(-1, 1).all()


def test_load_results_gives_dataframes_of_every_run(root):
    base, _, _ = root
    results = api.load_results(base)
    assert sorted(results.manifests["run_path"]) == sorted(results.metrics["run_path"].unique())
    assert len(results.manifests) == 2
    assert set(results.metrics["method"]) == {"spos", "fairnas"}
    # every run scored the same 6 architectures at both checkpoints
    assert results.predictions.groupby("run_path")["arch"].nunique().eq(6).all()
    assert set(results.predictions["checkpoint"]) == {0, 1}


def test_leaderboard_ranks_both_methods(root):
    base, _, _ = root
    board = api.leaderboard(base, references=False)
    assert {"spos", "fairnas"} <= set(board["method"])


def test_configure_rejects_bad_input_with_one_error():
    with pytest.raises(BenchError, match="run.budget_epochs must be > 0"):
        api.configure("spos", SPACE, "demo", overrides={"run.budget_epochs": -1})
    with pytest.raises(BenchError, match="Did you mean: spos"):
        api.configure("spoz")


def test_version_option_prints_the_installed_version(capsys):
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"supernet-bench {version('supernet-bench')}"
