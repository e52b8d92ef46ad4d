"""harness/executors.py: the engine registry, missing-package errors, and real tiny suites on submitit / Ray."""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd
import pytest
from supernet_bench import executors as E
from supernet_bench import suite as S
from supernet_bench.cli import main
from supernet_bench.core.errors import BenchError, UnknownNameError
from supernet_bench.store import RunStore

from tests.harness.test_suite import write_suite
from tests.helpers import TINY_OVERRIDES

VARYING = ["run_id", "train_wall_s", "eval_wall_s", "peak_rss_mb"]  # differ between two runs of one config


def test_registry_names_and_unknown_executor(tmp_path: Path, capsys):
    assert E.executor_names() == ["local", "ray", "slurm", "submitit-local"]
    with pytest.raises(UnknownNameError, match="Did you mean: ray"):
        E.make_executor("rey", E.ExecutorOptions())
    path = write_suite(tmp_path / "s.toml")
    assert main(["suite", str(path), "--out", str(tmp_path / "r"), "--executor", "slrum"]) == 2
    assert "Did you mean: slurm" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize(
    ("engine", "module", "extra"), [("ray", "ray", "ray"), ("submitit-local", "submitit", "slurm")]
)
def test_missing_package_names_the_extra(monkeypatch, tmp_path: Path, engine, module, extra):
    monkeypatch.setitem(sys.modules, module, None)  # import of it now fails, installed or not
    with pytest.raises(BenchError, match=rf"pip install 'supernet-bench\[{extra}\]'"):
        with E.make_executor(engine, E.ExecutorOptions(root=tmp_path)):
            pass


def test_slurm_needs_a_partition_and_sbatch(monkeypatch, tmp_path: Path):
    with pytest.raises(BenchError, match="--slurm-partition"):
        with E.make_executor("slurm", E.ExecutorOptions(root=tmp_path)):
            pass
    monkeypatch.setattr(E.shutil, "which", lambda name: None)
    with pytest.raises(BenchError, match="sbatch is not on PATH"):
        with E.make_executor("slurm", E.ExecutorOptions(root=tmp_path, slurm_partition="gpu")):
            pass


def test_local_executor_is_run_suites_default(tmp_path: Path):
    with E.make_executor("local", E.ExecutorOptions(root=tmp_path)) as executor:
        assert executor is None


# ----------------------------------------------------------------------------------------------------------
# real tiny suites: 2 runs each, compared with the same suite run in this process


def _metrics(root: Path, tasks: list[S.RunTask]) -> pd.DataFrame:
    frames = [RunStore(root / t.label).read_metrics().to_pandas() for t in tasks]
    return pd.concat(frames, ignore_index=True).drop(columns=VARYING)


@pytest.fixture(scope="module")
def tiny_suite(tmp_path_factory, data_dir: Path):
    """The tiny 2-run suite file and its metrics when run locally in this process."""
    base = tmp_path_factory.mktemp("executors")
    path = write_suite(base / "tiny.toml", seeds=[0, 1], overrides=TINY_OVERRIDES)
    tasks = S.plan(S.load_suite(path), base / "local")
    outcomes = S.run_suite(tasks, data_dir=data_dir)
    assert [o.status for o in outcomes] == ["ran", "ran"]
    return path, _metrics(base / "local", tasks)


@pytest.mark.data
@pytest.mark.slow
def test_submitit_local_runs_the_suite_like_local(tiny_suite, tmp_path: Path, data_dir: Path, capsys):
    path, expected = tiny_suite
    root = tmp_path / "r"
    args = ["suite", str(path), "--out", str(root), "--data-dir", str(data_dir), "--executor", "submitit-local"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "executor submitit-local" in out and out.count("| ran |") == 2
    tasks = S.plan(S.load_suite(path), root)
    pd.testing.assert_frame_equal(_metrics(root, tasks), expected)
    assert any((root / E.LOG_FOLDER).rglob("*.out"))  # submitit's logs live under the results root
    assert main(args) == 0 and capsys.readouterr().out.count("| skipped |") == 2


@pytest.mark.data
@pytest.mark.slow
def test_ray_local_cluster_runs_the_suite_like_local(tiny_suite, tmp_path: Path, data_dir: Path):
    ray = pytest.importorskip("ray")
    path, expected = tiny_suite
    root = tmp_path / "r"
    tasks = S.plan(S.load_suite(path), root)
    ray.init(num_cpus=2, include_dashboard=False, _node_ip_address="127.0.0.1", log_to_driver=False)
    try:
        with E.make_executor("ray", E.ExecutorOptions(root=root)) as executor:
            assert isinstance(executor, E.RayExecutor)
            outcomes = S.run_suite(tasks, data_dir=data_dir, executor=executor)
        assert ray.is_initialized()  # the executor leaves a cluster it did not start alone
    finally:
        ray.shutdown()
    assert [o.status for o in outcomes] == ["ran", "ran"]
    pd.testing.assert_frame_equal(_metrics(root, tasks), expected)
