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
"""

from __future__ import annotations

import importlib
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
    """``submit(fn, *args)`` runs ``fn`` as a Ray task needing ``num_cpus``; ``.result()`` is ``ray.get``."""

    def __init__(self, ray: Any, num_cpus: int):
        self._ray, self.num_cpus = ray, num_cpus
        self._remote: dict[Callable, Any] = {}

    def submit(self, fn: Callable, *args: Any, **kwargs: Any) -> _RayFuture:
        if fn not in self._remote:
            self._remote[fn] = self._ray.remote(num_cpus=self.num_cpus, max_retries=0)(fn)
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
        yield RayExecutor(ray, options.cpus_per_run)
    finally:
        if own:
            ray.shutdown()


EXECUTORS.register("ray", _ray)


# ----------------------------------------------------------------------------------------------------------
# slurm / submitit


def _submitit(options: ExecutorOptions, cluster: str | None) -> Any:
    submitit = _require("submitit", "slurm")
    executor = submitit.AutoExecutor(folder=Path(options.root) / LOG_FOLDER / "%j", cluster=cluster)
    executor.update_parameters(
        name="supernet-bench",
        timeout_min=options.time_limit_min,
        cpus_per_task=options.cpus_per_run,
        slurm_partition=options.slurm_partition,
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
