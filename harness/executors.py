"""Where a suite's runs execute: this machine, a Ray cluster, or Slurm (via submitit).

Each factory in ``EXECUTORS`` takes :class:`ExecutorOptions` and returns a context manager yielding the
``executor`` argument of :func:`harness.suite.run_suite` (``None`` for the local process pool / this
process). Every run writes only its own directory under the results root, so remote workers need only
that root and the data folder, both on a shared filesystem. Ray and submitit are imported lazily; a
missing one is a :class:`BenchError` naming the extra to install.

    local           this process (--workers 1) or a local process pool (default)
    ray             one Ray task per run on the cluster at --address (default: a new local one)
    slurm           one Slurm job per run (submitit.AutoExecutor, --slurm-partition ...)
    submitit-local  submitit's local executor: the Slurm path on this machine (tests, debugging)

GPUs (`--gpus-per-run K`): the local pool gives each worker its own K GPUs through CUDA_VISIBLE_DEVICES
(:func:`gpu_groups`, so a run's "cuda" is its first own GPU); Ray tasks request ``num_gpus=K`` and Slurm jobs
``gpus_per_node=K`` (both schedulers then set CUDA_VISIBLE_DEVICES themselves). A run trains on one GPU; K > 1
reserves more for it (nothing splits one run over several GPUs yet).
"""

from __future__ import annotations

import importlib
import os
import shutil
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from supernet_bench.core.errors import BenchError
from supernet_bench.core.registry import Registry

LOG_FOLDER = ".submitit"  # under the results root: job scripts, pickles and logs of submitit jobs


@dataclass(frozen=True)
class ExecutorOptions:
    """Every engine's settings; each factory reads the ones it knows."""

    root: Path = Path("runs")  # the results root (submitit's log folder goes under it)
    workers: int = 1  # local
    address: str | None = None  # ray: "HEAD:6379", "auto", or None for a new local cluster
    cpus_per_run: int = 1  # ray num_cpus, slurm cpus_per_task
    slurm_partition: str | None = None
    time_limit_min: int = 240  # slurm job time limit
    gpus_per_run: int = 0  # local: GPUs of each worker; ray num_gpus; slurm gpus_per_node


def visible_gpus() -> list[str]:
    """This process's GPUs as CUDA_VISIBLE_DEVICES entries (its own list when set, else 0..count-1)."""
    import torch

    count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    listed = os.environ.get("CUDA_VISIBLE_DEVICES")
    if listed is not None and listed.strip():
        return [g.strip() for g in listed.split(",") if g.strip()][:count]
    return [str(i) for i in range(count)]


def gpu_groups(workers: int, gpus_per_run: int) -> list[str]:
    """One CUDA_VISIBLE_DEVICES value per local worker: disjoint groups of `gpus_per_run` GPUs."""
    gpus = visible_gpus()
    if gpus_per_run < 1:
        raise BenchError(f"--gpus-per-run must be >= 1 to assign GPUs, got {gpus_per_run}")
    if workers * gpus_per_run > len(gpus):
        raise BenchError(
            f"--workers {workers} x --gpus-per-run {gpus_per_run} needs {workers * gpus_per_run} GPU(s), this "
            f"machine has {len(gpus)}: use --workers {max(1, len(gpus) // gpus_per_run)} or fewer"
            if gpus_per_run <= len(gpus)
            else f"--gpus-per-run {gpus_per_run}: this machine has {len(gpus)} GPU(s)"
        )
    return [",".join(gpus[w * gpus_per_run : (w + 1) * gpus_per_run]) for w in range(workers)]


Factory = Callable[[ExecutorOptions], AbstractContextManager[Any]]
EXECUTORS: Registry[Factory] = Registry("executor")


def _require(module: str, extra: str) -> Any:
    try:
        mod = importlib.import_module(module)
    except ImportError:
        mod = None
    if mod is None:  # also a sys.modules entry set to None
        raise BenchError(
            f"the '{extra}' executor needs the {module} package: pip install 'supernet-bench[{extra}]'"
        ) from None
    return mod


def executor_names() -> list[str]:
    return EXECUTORS.names()


def make_executor(name: str, options: ExecutorOptions) -> AbstractContextManager[Any]:
    """The named engine as a context manager yielding run_suite's ``executor`` (unknown -> did you mean)."""
    return EXECUTORS.get(name)(options)


# ----------------------------------------------------------------------------------------------------------
# local


@contextmanager
def _local(options: ExecutorOptions) -> Iterator[None]:
    yield None  # run_suite: this process for workers=1, else its own process pool


EXECUTORS.register("local", _local)


# ----------------------------------------------------------------------------------------------------------
# ray


class _RayFuture:
    def __init__(self, ray: Any, ref: Any):
        self._ray, self.ref = ray, ref

    def result(self, timeout: float | None = None) -> Any:
        return self._ray.get(self.ref, timeout=timeout)


class RayExecutor:
    """``submit(fn, *args)`` runs ``fn`` as a Ray task needing ``num_cpus`` (and ``num_gpus``); ``.result()`` is
    ``ray.get``."""

    def __init__(self, ray: Any, num_cpus: int, num_gpus: int = 0):
        self._ray, self.num_cpus, self.num_gpus = ray, num_cpus, num_gpus
        self._remote: dict[Callable, Any] = {}

    def resources(self) -> dict[str, Any]:
        """The options of every task (num_gpus only when GPUs are asked for)."""
        out: dict[str, Any] = {"num_cpus": self.num_cpus, "max_retries": 0}
        if self.num_gpus:
            out["num_gpus"] = self.num_gpus
        return out

    def submit(self, fn: Callable, *args: Any, **kwargs: Any) -> _RayFuture:
        if fn not in self._remote:
            self._remote[fn] = self._ray.remote(**self.resources())(fn)
        return _RayFuture(self._ray, self._remote[fn].remote(*args, **kwargs))


@contextmanager
def _ray(options: ExecutorOptions) -> Iterator[RayExecutor]:
    ray = _require("ray", "ray")
    own = not ray.is_initialized()
    if own:
        if options.address:
            ray.init(address=options.address)
        else:  # a new single-node cluster, reachable from this machine only
            ray.init(include_dashboard=False, _node_ip_address="127.0.0.1")
    try:
        yield RayExecutor(ray, options.cpus_per_run, options.gpus_per_run)
    finally:
        if own:
            ray.shutdown()


EXECUTORS.register("ray", _ray)


# ----------------------------------------------------------------------------------------------------------
# slurm / submitit


def _submitit(options: ExecutorOptions, cluster: str | None) -> Any:
    submitit = _require("submitit", "slurm")
    executor = submitit.AutoExecutor(folder=Path(options.root) / LOG_FOLDER / "%j", cluster=cluster)
    gpus = {"gpus_per_node": options.gpus_per_run} if options.gpus_per_run else {}  # Slurm: --gpus-per-node
    executor.update_parameters(
        name="supernet-bench",
        timeout_min=options.time_limit_min,
        cpus_per_task=options.cpus_per_run,
        slurm_partition=options.slurm_partition,
        **gpus,
    )
    return executor


@contextmanager
def _slurm(options: ExecutorOptions) -> Iterator[Any]:
    if not options.slurm_partition:
        raise BenchError("--executor slurm needs --slurm-partition")
    if shutil.which("sbatch") is None:
        raise BenchError("--executor slurm: sbatch is not on PATH; run the suite from a Slurm login node")
    yield _submitit(options, "slurm")


@contextmanager
def _submitit_local(options: ExecutorOptions) -> Iterator[Any]:
    yield _submitit(options, "local")


EXECUTORS.register("slurm", _slurm)
EXECUTORS.register("submitit-local", _submitit_local)
