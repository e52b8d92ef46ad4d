"""harness/reuse.py: a suite adopts a complete run from another root where only the checkpoints differ."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from supernet_bench import aggregate as A
from supernet_bench.config import resolve_config
from supernet_bench.core.errors import BenchError
from supernet_bench.reuse import REUSED_FROM, reusable
from supernet_bench.suite import FAILED, RAN, REUSED, SKIPPED, load_suite, plan, run_suite

from tests.helpers import TINY_OVERRIDES


def write_suite(path: Path, **fields) -> Path:
    data = {"profile": "smoke", "seeds": [0], "methods": ["spos"], **fields}
    path.write_text("\n".join(f"{k} = {json.dumps(v)}" for k, v in data.items()) + "\n")
    return path


def test_only_checkpoints_may_differ_and_the_source_must_end_at_1():
    config = resolve_config("spos", profile="smoke", seed=0, overrides=["run.checkpoints=[0.0, 1.0]"])
    recorded = resolve_config("spos", profile="smoke", seed=0, overrides=["run.checkpoints=[0.5, 1.0]"]).to_dict()
    assert reusable(recorded, config)
    early = json.loads(json.dumps(recorded))
    early["run"]["checkpoints"] = [0.25, 0.5]  # a hand-edited or old manifest: never scored at its schedule's end
    assert not reusable(early, config)
    for other in ("eval.recal_batches=7", "run.budget_epochs=3.0", "data.resolution=8"):
        changed = resolve_config("spos", profile="smoke", seed=0, overrides=[other]).to_dict()
        assert not reusable(changed, config), other
    assert not reusable(resolve_config("spos", profile="smoke", seed=1).to_dict(), config)


def test_missing_reuse_root_is_one_clear_error_unless_the_suite_file_names_it(tmp_path: Path):
    suite = load_suite(write_suite(tmp_path / "s.toml", reuse=[str(tmp_path / "not-here")]))
    assert all(t.reuse == () for t in plan(suite, tmp_path / "runs"))  # committed results an install may lack
    with pytest.raises(BenchError, match="reuse root .*nowhere is not a folder"):
        plan(suite, tmp_path / "runs", reuse=[str(tmp_path / "nowhere")])


@pytest.mark.data
def test_sweep_adopts_the_boards_run_of_the_same_budget(tmp_path: Path, data_dir: Path):
    board_overrides = [*TINY_OVERRIDES, "run.checkpoints=[0.5, 1.0]"]
    board_suite = load_suite(write_suite(tmp_path / "board.toml", overrides=board_overrides))
    board = tmp_path / "board"
    assert [o.status for o in run_suite(plan(board_suite, board), data_dir=str(data_dir))] == [RAN]
    recal = load_suite(write_suite(tmp_path / "recal.toml", overrides=[*TINY_OVERRIDES, "eval.recal_batches=2"]))
    other = tmp_path / "other"  # trains the same but scores otherwise: never adopted
    run_suite(plan(recal, other), data_dir=str(data_dir))

    sweep_overrides = [*TINY_OVERRIDES, "run.checkpoints=[0.0, 1.0]"]
    sweep = load_suite(
        write_suite(tmp_path / "sweep.toml", budgets=[0.5, 1.0], overrides=sweep_overrides, reuse=[str(other)])
    )
    root = tmp_path / "sweep"
    outcomes = run_suite(plan(sweep, root, reuse=[str(board)]), data_dir=str(data_dir))
    assert [(o.label.split("/")[-2], o.status) for o in outcomes] == [("budget0.5", RAN), ("budget1", REUSED)]
    adopted = root / "smoke/nb201/cifar10/spos/budget1/seed0"
    source = board / "smoke/nb201/cifar10/spos/seed0"
    manifest = json.loads((adopted / "manifest.json").read_text())
    assert manifest[REUSED_FROM]["path"] == str(source) and manifest["config"]["run"]["checkpoints"] == [0.5, 1.0]
    for name in ("metrics.parquet", "predictions.parquet", "lineages.parquet"):
        assert (adopted / name).read_bytes() == (source / name).read_bytes(), name
    assert outcomes[1].kendall_tau == pytest.approx(A.load_runs(board).metrics.query("primary_gt").kendall_tau.iloc[-1])

    again = run_suite(plan(sweep, root, reuse=[str(board)]), data_dir=str(data_dir))
    assert [o.status for o in again] == [SKIPPED, SKIPPED]  # the adopted run is not "a different config in the way"
    runs = A.load_runs(root)
    assert sorted(runs.manifests) == sorted(o.label for o in outcomes) and not runs.problems
    assert FAILED not in {o.status for o in again}
