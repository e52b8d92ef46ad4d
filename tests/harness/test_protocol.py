"""End-to-end runs of the protocol on the real data, resume equivalence, and the run directory."""

from __future__ import annotations

import json

import numpy as np
import pyarrow.parquet as pq
import pytest
from supernet_bench import protocol
from supernet_bench.config import resolve_config
from supernet_bench.core.errors import BenchError
from supernet_bench.metrics import bundle_columns
from supernet_bench.schema import METRICS_SCHEMA, PREDICTIONS_SCHEMA
from supernet_bench.store import RunStore

from tests.helpers import TINY_OVERRIDES

WALL = {"train_wall_s", "eval_wall_s", "peak_rss_mb"}


def tiny_config(method="spos", seed=0, extra=()):
    return resolve_config(method, profile="smoke", seed=seed, overrides=[*TINY_OVERRIDES, *extra])


def result_tables(root):
    m = pq.read_table(root / "metrics.parquet").to_pandas().drop(columns=sorted(WALL))
    p = pq.read_table(root / "predictions.parquet").to_pandas()
    return m, p


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory, data_dir):
    """One complete tiny SPOS run on the real CIFAR-10 subset and NB201 table."""
    root = tmp_path_factory.mktemp("runs") / "spos"
    protocol.run(tiny_config(), root, data_dir=data_dir, progress=False)
    return root


@pytest.mark.data
def test_run_writes_complete_directory(finished_run):
    manifest = json.loads((finished_run / "manifest.json").read_text())
    assert manifest["status"] == "complete"
    assert not (finished_run / "state.pt").exists()
    assert manifest["data"]["n_train"] == 128 and manifest["data"]["n_eval"] == 64
    assert all(len(sha) == 64 for sha in manifest["data"]["files"].values())
    assert manifest["ground_truth"][0]["column"] == "cifar10-valid_x-valid_hp200"
    assert manifest["ground_truth"][0]["source"] == "nas-bench-201/nb201.csv"  # relative to the data folder
    assert manifest["eval_sample"]["n"] == 8
    assert manifest["budget"]["total_passes"] == 4  # ceil(1 epoch * 128 / 32)
    metrics = pq.read_table(finished_run / "metrics.parquet")
    assert metrics.schema.equals(METRICS_SCHEMA, check_metadata=False)
    df = metrics.to_pandas()
    # two checkpoints x two GT columns; passes at the scheduled fractions
    assert len(df) == 4
    assert sorted(df.passes.unique()) == [2, 4]
    assert set(bundle_columns()) <= set(df.columns)
    assert df.kendall_tau.between(-1, 1).all()
    preds = pq.read_table(finished_run / "predictions.parquet")
    assert preds.schema.equals(PREDICTIONS_SCHEMA, check_metadata=False)
    p = preds.to_pandas()
    assert len(p) == 16 and p.arch.nunique() == 8
    assert p.accuracy.between(0, 100).all()


@pytest.mark.data
def test_same_seed_gives_identical_results(finished_run, tmp_path, data_dir):
    again = protocol.run(tiny_config(), tmp_path / "again", data_dir=data_dir, progress=False)
    m1, p1 = result_tables(finished_run)
    m2, p2 = result_tables(again)
    m1["run_id"] = m2["run_id"] = p1["run_id"] = p2["run_id"] = ""
    assert m1.equals(m2) and p1.equals(p2)


@pytest.mark.data
def test_other_seed_differs(finished_run, tmp_path, data_dir):
    other = protocol.run(tiny_config(seed=1), tmp_path / "s1", data_dir=data_dir, progress=False)
    _, p1 = result_tables(finished_run)
    _, p2 = result_tables(other)
    assert list(p1.arch) == list(p2.arch)  # the eval sample does not depend on the run seed
    assert not np.array_equal(p1.accuracy.to_numpy(), p2.accuracy.to_numpy())


class Interrupt(Exception):
    pass


@pytest.mark.data
@pytest.mark.parametrize("method", ["spos", "fairnas"])
def test_resume_after_interruption_is_identical(method, tmp_path, data_dir, monkeypatch):
    config = tiny_config(method)
    full = protocol.run(config, tmp_path / "full", data_dir=data_dir, progress=False)

    real_write = RunStore.save_state
    calls = {"n": 0}

    def crash_after_first_checkpoint(self, state):
        real_write(self, state)
        calls["n"] += 1
        raise Interrupt

    monkeypatch.setattr(RunStore, "save_state", crash_after_first_checkpoint)
    with pytest.raises(Interrupt):
        protocol.run(config, tmp_path / "cut", data_dir=data_dir, progress=False)
    monkeypatch.undo()
    cut = RunStore(tmp_path / "cut")
    assert cut.manifest()["status"] == "running" and cut.has_state()
    with pytest.raises(BenchError, match="--resume"):
        protocol.run(config, tmp_path / "cut", data_dir=data_dir, progress=False)
    protocol.run(config, tmp_path / "cut", data_dir=data_dir, resume=True, progress=False)
    m1, p1 = result_tables(full)
    m2, p2 = result_tables(tmp_path / "cut")
    for df in (m1, m2, p1, p2):
        df["run_id"] = ""
    assert m1.equals(m2)
    assert p1.equals(p2)


@pytest.mark.data
def test_resume_with_other_config_is_refused(tmp_path, data_dir, monkeypatch):
    monkeypatch.setattr(RunStore, "clear_state", lambda self: None)
    monkeypatch.setattr(RunStore, "write_manifest", _keep_running(RunStore.write_manifest))
    protocol.run(tiny_config(), tmp_path / "r", data_dir=data_dir, progress=False)
    with pytest.raises(
        BenchError, match=r"holds a different run \(1 differing key\(s\): seed \(stored 0, requested 3\)\)"
    ):
        protocol.run(tiny_config(seed=3), tmp_path / "r", data_dir=data_dir, resume=True, progress=False)


def _keep_running(write):
    def wrapper(self, manifest):
        write(self, {**manifest, "status": "running"})

    return wrapper


@pytest.mark.data
def test_complete_run_is_not_rerun(finished_run, data_dir):
    before = (finished_run / "metrics.parquet").stat().st_mtime_ns
    protocol.run(tiny_config(), finished_run, data_dir=data_dir, resume=True, progress=False)
    assert (finished_run / "metrics.parquet").stat().st_mtime_ns == before


def test_manifest_versions_record_the_cpu_capability():
    import torch
    from supernet_bench.protocol import versions
    from supernet_bench.reproducibility import GPU_KEYS, REPRODUCING_KEYS

    assert versions()["cpu_capability"] == torch.backends.cpu.get_cpu_capability()
    assert set(REPRODUCING_KEYS) - set(GPU_KEYS) <= set(versions())  # a CPU run records no GPU versions


def test_rerun_from_manifest_of_other_code_warns(capsys):
    """--from-manifest under another commit: a warning naming both shas (the run itself still proceeds)."""
    from supernet_bench import cli

    cli.warn_version_drift({"git_sha": "0" * 40})
    err = capsys.readouterr().err
    assert "git_sha: " + "0" * 40 + " ->" in err and "new seed" in err


@pytest.mark.data
@pytest.mark.parametrize(
    "section, change, named",
    [
        (
            "data",
            {"files": {"cifar-10-batches-py/data_batch_1": "0" * 64}},
            "data.files.cifar-10-batches-py/data_batch_1",
        ),
        (
            "ground_truth",
            [{"column": "cifar10-valid_x-valid_hp200", "source_sha256": "f" * 64, "n": 15625}],
            "ground_truth.",
        ),
    ],
)
def test_resume_refuses_other_data_or_ground_truth(tmp_path, data_dir, section, change, named):
    root = tmp_path / "r"
    root.mkdir()
    manifest = {"run_id": "x", "status": "running", "config": tiny_config().to_dict(), section: change}
    (root / "manifest.json").write_text(json.dumps(manifest))
    before = (root / "manifest.json").read_bytes()
    with pytest.raises(BenchError, match="holds a different run") as info:
        protocol.run(tiny_config(), root, data_dir=data_dir, resume=True, progress=False)
    assert named in str(info.value) and "\n" not in str(info.value)
    assert (root / "manifest.json").read_bytes() == before and not (root / "metrics.parquet").exists()


@pytest.mark.data
def test_run_id_is_the_config_hash_in_manifest_and_rows(finished_run):
    manifest = json.loads((finished_run / "manifest.json").read_text())
    assert manifest["run_id"] == tiny_config().run_id
    for name in ("metrics.parquet", "predictions.parquet"):
        assert set(pq.read_table(finished_run / name).column("run_id").to_pylist()) == {tiny_config().run_id}


@pytest.mark.data
@pytest.mark.parametrize("method", ["spos", "fairnas", "fewshot", "gmnas", "close-s"])
def test_scoring_checkpoints_do_not_change_training(method, tmp_path, data_dir):
    """Scoring draws no training randomness and leaves the weights as it found them, so a run's final
    predictions do not depend on how many checkpoints scored it on the way (what lets a budget sweep reuse a
    board's run of the same budget, harness/suite.py `reuse`)."""
    budget = ["run.budget_epochs=3.0"]
    few = protocol.run(tiny_config(method, extra=[*budget, "run.checkpoints=[1.0]"]), tmp_path / "a", data_dir=data_dir)
    many = protocol.run(
        tiny_config(method, extra=[*budget, "run.checkpoints=[0.0, 0.4, 0.7, 1.0]"]), tmp_path / "b", data_dir=data_dir
    )
    _, p_few = result_tables(few)
    _, p_many = result_tables(many)
    last = p_many[p_many.checkpoint == p_many.checkpoint.max()].reset_index(drop=True)
    columns = ["arch", "passes", "accuracy", "loss", "score"]
    assert last[columns].equals(p_few[columns].reset_index(drop=True))
