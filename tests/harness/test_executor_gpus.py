"""--gpus-per-run: the GPUs each local worker is given and the resources Ray and Slurm are asked for (mocked, CPU)."""

from __future__ import annotations

import multiprocessing
import os
import types
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest
import torch
from supernet_bench import executors as E
from supernet_bench import suite as S
from supernet_bench.core.errors import BenchError


def fake_gpus(monkeypatch, n: int, visible: str | None = None) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: n > 0)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: n)
    if visible is None:
        monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    else:
        monkeypatch.setenv("CUDA_VISIBLE_DEVICES", visible)


def test_each_local_worker_gets_its_own_gpus(monkeypatch):
    fake_gpus(monkeypatch, 4)
    assert E.gpu_groups(4, 1) == ["0", "1", "2", "3"]
    assert E.gpu_groups(2, 2) == ["0,1", "2,3"]
    assert E.gpu_groups(1, 3) == ["0,1,2"]


def test_groups_come_from_this_process_visible_gpus(monkeypatch):
    fake_gpus(monkeypatch, 4, visible="4,5,6,7")
    assert E.gpu_groups(2, 2) == ["4,5", "6,7"]


def test_too_many_workers_or_gpus_per_run_is_one_clear_error(monkeypatch):
    fake_gpus(monkeypatch, 4)
    with pytest.raises(BenchError, match="needs 6 GPU"):
        E.gpu_groups(3, 2)
    with pytest.raises(BenchError, match="--gpus-per-run 8: this machine has 4 GPU"):
        E.gpu_groups(1, 8)
    fake_gpus(monkeypatch, 0)
    with pytest.raises(BenchError, match="has 0 GPU"):
        E.gpu_groups(1, 1)


def test_run_suite_checks_gpus_before_any_run(monkeypatch, tmp_path: Path):
    fake_gpus(monkeypatch, 1)
    with pytest.raises(BenchError, match="needs 2 GPU"):
        S.run_suite([], data_dir=tmp_path, workers=2, gpus_per_run=1)


def _visible_once_both_run(barrier) -> str:
    barrier.wait(timeout=120)  # each worker holds one task until both have one, so both workers answer
    return os.environ.get("CUDA_VISIBLE_DEVICES", "")


def test_pool_workers_take_one_group_each():
    """Real spawned workers with the suite's initializer: each sees its own CUDA_VISIBLE_DEVICES."""
    context = multiprocessing.get_context("spawn")
    slots = context.Queue()
    for group in ("0,1", "2,3"):
        slots.put(group)
    with context.Manager() as manager:
        barrier = manager.Barrier(2)
        init = (os.getpid(), slots)
        with ProcessPoolExecutor(2, mp_context=context, initializer=S.init_worker, initargs=init) as pool:
            seen = sorted(pool.map(_visible_once_both_run, [barrier, barrier]))
    assert seen == ["0,1", "2,3"]


class FakeRay:
    def __init__(self):
        self.options: list[dict] = []

    def remote(self, **options):
        self.options.append(options)
        return lambda fn: types.SimpleNamespace(remote=lambda *a, **k: ("ref", fn(*a, **k)))

    def get(self, ref, timeout=None):
        return ref[1]


@pytest.mark.parametrize(("gpus", "expected"), [(0, {"num_cpus": 2, "max_retries": 0}),
                                                 (1, {"num_cpus": 2, "max_retries": 0, "num_gpus": 1})])  # fmt: skip
def test_ray_tasks_request_num_gpus(gpus, expected):
    ray = FakeRay()
    executor = E.RayExecutor(ray, num_cpus=2, num_gpus=gpus)
    assert executor.submit(lambda x: x + 1, 41).result() == 42
    assert ray.options == [expected]


def test_ray_executor_gets_gpus_per_run_from_the_options(monkeypatch, tmp_path: Path):
    ray = FakeRay()
    ray.is_initialized = lambda: True
    monkeypatch.setattr(E, "_require", lambda module, extra: ray)
    with E.make_executor("ray", E.ExecutorOptions(root=tmp_path, cpus_per_run=3, gpus_per_run=2)) as ex:
        assert (ex.num_cpus, ex.num_gpus) == (3, 2)


class FakeAutoExecutor:
    def __init__(self, folder, cluster):
        self.folder, self.cluster, self.parameters = folder, cluster, {}

    def update_parameters(self, **kwargs):
        self.parameters.update(kwargs)


@pytest.mark.parametrize("gpus", [0, 2])
def test_slurm_jobs_request_gpus_per_node(monkeypatch, tmp_path: Path, gpus):
    fake = types.SimpleNamespace(AutoExecutor=FakeAutoExecutor)
    monkeypatch.setattr(E, "_require", lambda module, extra: fake)
    monkeypatch.setattr(E.shutil, "which", lambda name: "/usr/bin/sbatch")
    options = E.ExecutorOptions(root=tmp_path, slurm_partition="gpu", cpus_per_run=4, gpus_per_run=gpus)
    with E.make_executor("slurm", options) as ex:
        assert ex.cluster == "slurm" and ex.parameters["cpus_per_task"] == 4
        assert ex.parameters.get("gpus_per_node", 0) == gpus


def test_suite_cli_passes_gpus_per_run_to_the_executor(monkeypatch, tmp_path: Path):
    from supernet_bench.cli import main

    from tests.harness.test_suite import write_suite

    seen = {}

    def fake_make(name, options):
        seen["options"] = options
        raise BenchError("stop here")

    monkeypatch.setattr(E, "make_executor", fake_make)
    path = write_suite(tmp_path / "s.toml")
    assert main(["suite", str(path), "--out", str(tmp_path / "r"), "--executor", "ray", "--gpus-per-run", "2"]) == 2
    assert seen["options"].gpus_per_run == 2
