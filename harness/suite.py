"""Suites: a grid of runs (method x space x dataset x seed) under one profile, described by a TOML file.

A suite file (shipped ones live in ``harness/suites/``; ``supernet-bench suite smoke`` finds them by name)::

    description = "..."
    profile = "smoke"                       # shipped profile name or a .toml path
    seeds = [0, 1]                          # or a count: seeds = 3 -> 0, 1, 2
    methods = ["spos", "fairnas"]
    spaces = ["nb201"]                      # default ["nb201"]
    datasets = ["cifar10"]                  # default: the profile's data set
    gt = "cifar10-valid_x-valid_hp200"      # optional primary GT column (default: the profile's)
    overrides = ["run.budget_epochs=4"]     # optional profile overrides, section.key=value
    out = "runs/smoke"                      # results root, relative to the working directory

Every run goes to ``<out>/<profile>/<space>/<dataset>/<method>/seed<k>``. A complete run is skipped
(after checking that its recorded config is the one the suite asks for), an interrupted one is resumed
(``protocol.run(..., resume=True)``), and a failed run does not stop the others: failures are collected
and reported at the end. Runs execute in this process (``workers=1``) or in a local process pool; any
``concurrent.futures``-style executor whose ``submit`` returns objects with ``.result()`` can be passed
instead (a ``submitit.AutoExecutor`` for Slurm, Ray's ``ray.util`` executors): every task is picklable.
Each run directory is locked while written (harness/lock.py), so two suites never write one run.
"""

from __future__ import annotations

import math
import multiprocessing
import os
import sys
import time
import tomllib
import traceback
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from supernet_bench.archsample import check_sample_size
from supernet_bench.config import RunConfig, config_diff, resolve_config
from supernet_bench.core.errors import BenchError, BudgetTooSmall, UnknownNameError
from supernet_bench.core.registry import Registry
from supernet_bench.divergence import Diverged
from supernet_bench.lock import RunLocked
from supernet_bench.reuse import REUSED_FROM, adopt, find_reusable, reusable
from supernet_bench.store import RunStore

# ----------------------------------------------------------------------------------------------------------
# suite files

_KEYS = {
    "description", "profile", "seeds", "methods", "spaces", "datasets", "gt", "overrides", "out", "budgets", "reuse",
}  # fmt: skip

SUITES: Registry[Path] = Registry("suite")
MAX_SEED_COUNT = 10_000  # `seeds = N` runs seeds 0..N-1; a larger count is a typo, not a plan


def _register_shipped_suites() -> None:
    if SUITES.names():
        return
    for entry in (resources.files("supernet_bench") / "suites").iterdir():
        if entry.name.endswith(".toml"):
            SUITES.register(entry.name[: -len(".toml")], Path(str(entry)))


def suite_names() -> list[str]:
    _register_shipped_suites()
    return SUITES.names()


@dataclass(frozen=True)
class Suite:
    """A parsed suite file: the grid and where it goes."""

    name: str
    profile: str
    methods: tuple[str, ...]
    seeds: tuple[int, ...]
    spaces: tuple[str, ...] = ("nb201",)
    datasets: tuple[str | None, ...] = (None,)  # None: the profile's data set
    gt: str | None = None
    overrides: tuple[str, ...] = ()
    out: str = ""
    description: str = ""
    # budgets (epoch-equivalents): one separate run per budget, each with its own full schedule
    # (run.budget_epochs), in <method>/budget<b>/seed<k>; empty: the profile's budget, <method>/seed<k>
    budgets: tuple[float, ...] = ()
    # results roots whose complete runs a task may adopt instead of training (harness/reuse.py), e.g. a
    # budget sweep's run at the board's budget
    reuse: tuple[str, ...] = ()


def _str_list(path: Path, key: str, value: Any, allow_empty: bool = False) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise BenchError(f"suite {path}: '{key}' must be a list of strings, got {value!r}")
    if not value and not allow_empty:
        raise BenchError(f"suite {path}: '{key}' is empty")
    return tuple(value)


def _seeds(path: Path, value: Any) -> tuple[int, ...]:
    if isinstance(value, int) and not isinstance(value, bool):
        if not 1 <= value <= MAX_SEED_COUNT:
            raise BenchError(f"suite {path}: 'seeds' as a count must be in [1, {MAX_SEED_COUNT}], got {value}")
        return tuple(range(value))
    if (
        not isinstance(value, list)
        or not value
        or not all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in value)
    ):
        raise BenchError(f"suite {path}: 'seeds' must be a count or a non-empty list of integers >= 0, got {value!r}")
    if len(set(value)) != len(value):
        raise BenchError(f"suite {path}: 'seeds' repeats a seed: {value}")
    return tuple(value)


def _budgets(path: Path, value: Any) -> tuple[float, ...]:
    if not isinstance(value, list) or not all(
        isinstance(b, (int, float)) and not isinstance(b, bool) and b > 0 for b in value
    ):
        raise BenchError(f"suite {path}: 'budgets' must be a list of positive epoch-equivalents, got {value!r}")
    if len(set(value)) != len(value):
        raise BenchError(f"suite {path}: 'budgets' repeats a budget: {value}")
    return tuple(float(b) for b in value)


def budget_label(budget: float) -> str:
    """``budget10``, ``budget2.5``: the run-directory level of one budget of a sweep."""
    return f"budget{budget:g}"


def load_suite(name_or_path: str | Path) -> Suite:
    """A shipped suite by name (``smoke``) or a suite file by path."""
    text = str(name_or_path)
    if text.endswith(".toml"):
        path = Path(text)
        if not path.is_file():
            raise BenchError(f"suite file {path} does not exist")
    else:
        _register_shipped_suites()
        path = SUITES.get(text)
    try:
        data = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as e:
        raise BenchError(f"suite {path} is not valid TOML: {e}") from None
    unknown = set(data) - _KEYS
    if unknown:
        raise BenchError(
            f"suite {path} has unknown key(s) {', '.join(sorted(unknown))}; allowed: {', '.join(sorted(_KEYS))}"
        )
    for key in ("profile", "methods", "seeds"):
        if key not in data:
            raise BenchError(f"suite {path} is missing '{key}'")
    if not isinstance(data["profile"], str):
        raise BenchError(f"suite {path}: 'profile' must be a string")
    gt = data.get("gt")
    if gt is not None and not isinstance(gt, str):
        raise BenchError(f"suite {path}: 'gt' must be a string")
    datasets = _str_list(path, "datasets", data.get("datasets", []), allow_empty=True)
    out = data.get("out", f"runs/{path.stem}")
    if not isinstance(out, str) or not out:
        raise BenchError(f"suite {path}: 'out' must be a folder path")
    return Suite(
        name=path.stem,
        profile=data["profile"],
        methods=_str_list(path, "methods", data["methods"]),
        seeds=_seeds(path, data["seeds"]),
        spaces=_str_list(path, "spaces", data.get("spaces", ["nb201"])),
        datasets=datasets or (None,),
        gt=gt,
        overrides=_str_list(path, "overrides", data.get("overrides", []), allow_empty=True),
        out=out,
        description=str(data.get("description", "")),
        budgets=_budgets(path, data["budgets"]) if "budgets" in data else (),
        reuse=_str_list(path, "reuse", data.get("reuse", []), allow_empty=True),
    )


# ----------------------------------------------------------------------------------------------------------
# the grid


@dataclass(frozen=True)
class RunTask:
    """One run of a suite: its resolved config and its directory (picklable, for process pools)."""

    config: RunConfig
    out: Path
    label: str  # the run directory relative to the results root
    reuse: tuple[str, ...] = ()  # results roots to adopt an equivalent complete run from (harness/reuse.py)


def run_dir(root: str | Path, config: RunConfig) -> Path:
    """``<root>/<profile>/<space>/<dataset>/<method>/seed<k>`` (a space subset ``a:b`` becomes ``a-b``)."""
    space = config.space.replace(":", "-")
    return Path(root) / config.profile / space / config.dataset / config.method / f"seed{config.seed}"


def plan(
    suite: Suite, root: str | Path | None = None, extra_overrides: Iterable[str] = (), reuse: Iterable[str] = ()
) -> list[RunTask]:
    """Resolve every run's config up front, so a typo fails before anything trains; ``reuse`` adds results
    roots to the suite's own."""
    from supernet_bench.methods import canonical_name

    root = Path(root if root is not None else suite.out)
    overrides = [*suite.overrides, *extra_overrides]
    for folder in reuse:
        if not Path(folder).is_dir():
            raise BenchError(f"reuse root {folder} is not a folder")
    # a suite file's roots are committed results that an installed copy may lack: absent ones are skipped
    reuse_roots = (*(r for r in suite.reuse if Path(r).is_dir()), *reuse)
    tasks, seen = [], set()
    for space in suite.spaces:
        for dataset in suite.datasets:
            for method in suite.methods:
                for budget in suite.budgets or (None,):
                    extra = [] if budget is None else [f"run.budget_epochs={budget}"]
                    for seed in suite.seeds:
                        config = resolve_config(
                            canonical_name(method),
                            profile=suite.profile,
                            space=space,
                            seed=seed,
                            overrides=[*overrides, *extra],
                            dataset=dataset,
                            gt=suite.gt,
                        )
                        out = run_dir(root, config)
                        if budget is not None:
                            out = out.parent / budget_label(budget) / out.name
                        if out in seen:
                            raise BenchError(f"suite {suite.name} lists the run {out.relative_to(root)} twice")
                        seen.add(out)
                        tasks.append(RunTask(config, out, out.relative_to(root).as_posix(), reuse_roots))
    _check_names(tasks)
    return tasks


def _check_names(tasks: list[RunTask]) -> None:
    from supernet_bench.data import DATASETS
    from supernet_bench.spaces import get_space

    for task in tasks:
        space = get_space(task.config.space)  # unknown space / subset -> "did you mean"
        check_sample_size(space, task.config.eval.sample)
        if task.config.dataset not in DATASETS:
            raise UnknownNameError(DATASETS.unknown_message(task.config.dataset))


# ----------------------------------------------------------------------------------------------------------
# running

SKIPPED, RAN, RESUMED, REUSED, FAILED, BUSY = "skipped", "ran", "resumed", "reused", "failed", "busy"
INFEASIBLE = "infeasible"  # the method refuses this budget (BudgetTooSmall): recorded, not a failure
INFEASIBLE_RECORD = "infeasible.json"


@dataclass
class RunOutcome:
    """What happened to one run of the suite."""

    label: str
    status: str  # skipped (complete) | ran | resumed | reused (adopted) | failed | busy (being written) | infeasible
    seconds: float = 0.0
    kendall_tau: float = math.nan  # final checkpoint, primary GT (NaN when unknown)
    error: str = ""  # one line for failed runs
    details: str = field(default="", repr=False)  # traceback of a failed run
    retry: bool = True  # False where rerunning the suite cannot help (diverged, corrupt, in the way)


def _final_kt(store: RunStore) -> float:
    from supernet_bench.aggregate import KT

    table = store.read_metrics().to_pandas()
    table = table[table["primary_gt"]]
    if table.empty:
        return math.nan
    return float(table.loc[table["checkpoint"].idxmax(), KT])


def _log_line(label: str) -> Callable[[str], None]:
    def log(line: str) -> None:
        print(f"  {label}: {line}", flush=True)

    return log


def execute(task: RunTask, data_dir: str | None, progress: bool = False, lines: bool = True) -> RunOutcome:
    """Run (or skip, or resume) one task; never raises for a failure of the run itself."""
    from supernet_bench import protocol

    store = RunStore(task.out)
    start = time.perf_counter()
    try:
        manifest = store.manifest()
    except BenchError as e:  # a corrupt manifest: rerunning cannot fix it, moving it can
        return RunOutcome(task.label, FAILED, error=f"{e}; move the folder away to run it again", retry=False)
    try:
        if manifest is not None and manifest.get("status") == "complete":
            recorded = manifest.get("config")
            diffs = config_diff(recorded, task.config) if isinstance(recorded, dict) else ["config (unreadable)"]
            if diffs and manifest.get(REUSED_FROM) and reusable(recorded, task.config):
                diffs = []  # adopted from another root: scored at other checkpoints, trained the same
            if diffs:
                return RunOutcome(
                    task.label,
                    FAILED,
                    error=f"a complete run with a different config is in the way ({'; '.join(diffs)}); "
                    "move it or use another --out",
                    retry=False,
                )
            try:
                return RunOutcome(task.label, SKIPPED, kendall_tau=_final_kt(store))
            except BenchError as e:
                return RunOutcome(
                    task.label, FAILED, error=f"complete but corrupt: {e}; move the folder away", retry=False
                )
        if manifest is None and not store.has_state() and task.reuse:
            source = find_reusable(task.config, task.reuse)
            if source is not None:
                adopt(source, task.out)
                return RunOutcome(task.label, REUSED, time.perf_counter() - start, _final_kt(store))
        status = RESUMED if store.has_state() else RAN
        log = _log_line(task.label) if lines else None  # per-checkpoint lines, from pool workers too
        protocol.run(task.config, task.out, data_dir=data_dir, resume=True, progress=progress, log=log)
        (task.out / INFEASIBLE_RECORD).unlink(missing_ok=True)  # a budget refused under an older config
        return RunOutcome(task.label, status, time.perf_counter() - start, _final_kt(store))
    except BudgetTooSmall as e:
        record_infeasible(task, str(e))
        return RunOutcome(task.label, INFEASIBLE, time.perf_counter() - start, error=str(e), retry=False)
    except RunLocked:
        return RunOutcome(task.label, BUSY, time.perf_counter() - start, error="being written by another process")
    except Diverged as e:
        return RunOutcome(task.label, FAILED, time.perf_counter() - start, error=str(e), retry=False)
    except Exception as e:  # noqa: BLE001 - a failed run is reported, the suite goes on
        message = str(e).splitlines()[0] if str(e) else ""
        return RunOutcome(
            task.label,
            FAILED,
            time.perf_counter() - start,
            error=f"{type(e).__name__}: {message}",
            details=traceback.format_exc(),
        )


def record_infeasible(task: RunTask, reason: str) -> None:
    """Write ``infeasible.json`` where the run would be, so a report can say why a (method, budget) point is
    missing (harness/budget_sweep.py) instead of showing a silent gap."""
    from supernet_bench.core.atomic import atomic_write_json

    record = {"status": INFEASIBLE, "reason": reason, "config": task.config.to_dict()}
    task.out.mkdir(parents=True, exist_ok=True)
    atomic_write_json(task.out / INFEASIBLE_RECORD, record)


def run_suite(
    tasks: list[RunTask],
    data_dir: str | Path | None = None,
    workers: int = 1,
    executor: Any = None,
    on_outcome: Callable[[int, int, RunOutcome], None] | None = None,
    gpus_per_run: int = 0,
) -> list[RunOutcome]:
    """Run every task; returns the outcomes in task order.

    ``workers=1`` runs in this process, one after the other; more use a local process pool (spawned
    processes, safe with torch). ``executor`` overrides both. ``on_outcome(done, total, outcome)`` is
    called as each run finishes. ``gpus_per_run`` > 0 gives each pool worker its own GPUs
    (harness/executors.py gpu_groups); one in-process worker uses the first ``gpus_per_run`` visible GPUs.
    """
    from supernet_bench.data import resolve_data_dir

    data = str(resolve_data_dir(data_dir))  # fail before anything starts, and give workers a plain path
    total = len(tasks)
    outcomes: list[RunOutcome | None] = [None] * total

    def finished(i: int, outcome: RunOutcome) -> None:
        outcomes[i] = outcome
        if on_outcome is not None:
            on_outcome(sum(o is not None for o in outcomes), total, outcome)

    groups = []
    if executor is None and gpus_per_run:
        from supernet_bench.executors import gpu_groups

        groups = gpu_groups(max(1, workers), gpus_per_run)
    if executor is None and workers <= 1:
        for i, task in enumerate(tasks):
            finished(i, execute(task, data))
        return outcomes  # type: ignore[return-value]

    own = executor is None
    if own:
        # a stop terminates the workers (stop_pool); the pool's queue semaphores are then reclaimed by
        # multiprocessing's resource tracker, which would warn about them on stderr after the stop line
        quiet = "ignore:resource_tracker:UserWarning"
        if quiet not in sys.warnoptions:
            sys.warnoptions.append(quiet)
        context = multiprocessing.get_context("spawn")
        slots = None
        if groups:  # each worker takes one group of GPUs as it starts
            slots = context.Queue()
            for group in groups:
                slots.put(group)
        executor = ProcessPoolExecutor(
            max_workers=workers,
            mp_context=context,
            initializer=init_worker,
            initargs=(os.getpid(), slots),
        )
    try:
        futures = {executor.submit(execute, task, data): i for i, task in enumerate(tasks)}
        pending = as_completed(futures) if own else futures
        for future in pending:
            i = futures[future]
            try:
                outcome = future.result()
            except Exception as e:  # noqa: BLE001 - a worker that died (OOM, killed) fails only its run
                outcome = RunOutcome(tasks[i].label, FAILED, error=f"worker failed: {type(e).__name__}: {e}")
            finished(i, outcome)
    except BaseException:  # Ctrl-C / SIGTERM (harness/stopping.py): stop the workers, start nothing new
        if own:
            stop_pool(executor)
            own = False
        raise
    finally:
        if own:
            executor.shutdown(wait=True, cancel_futures=True)
    return outcomes  # type: ignore[return-value]


def stop_pool(executor: ProcessPoolExecutor, grace_s: float = 5.0) -> None:
    """Terminate a process pool's workers now (queued runs never start), SIGKILL any left after ``grace_s``.

    A worker killed mid-run loses at most the work since its run's last checkpoint: writes are atomic and
    a rerun resumes it. ``shutdown(wait=True)`` instead would let every worker finish its run, and the
    pool's pre-queued tasks would start one more each.
    """
    import threading

    processes = list((getattr(executor, "_processes", None) or {}).values())
    for p in processes:
        if p.is_alive():
            p.terminate()
    deadline = time.monotonic() + grace_s
    for p in processes:
        p.join(timeout=max(0.0, deadline - time.monotonic()))
        if p.is_alive():
            p.kill()
            p.join(timeout=1.0)
    # with the workers gone the pool winds down at once and releases its queues' semaphores; bounded
    # all the same, so that nothing here can keep the process from exiting
    closer = threading.Thread(target=executor.shutdown, kwargs={"wait": True, "cancel_futures": True}, daemon=True)
    closer.start()
    closer.join(timeout=grace_s)


def init_worker(parent: int, gpu_slots: Any = None) -> None:
    """Pool-worker initializer: die with the suite process, and take this worker's own GPUs (a queue of
    CUDA_VISIBLE_DEVICES values, one per worker) before torch starts CUDA, so "cuda" means them."""
    if gpu_slots is not None:
        os.environ["CUDA_VISIBLE_DEVICES"] = gpu_slots.get(timeout=60)
    die_with_parent(parent)


def die_with_parent(parent: int) -> None:
    """Pool-worker initializer: on Linux, the kernel SIGKILLs the worker when the suite process dies.

    Without it, killing `supernet-bench suite` leaves its workers training on, writing runs nobody
    collects (and that a rerun then finds half-done under its feet). SIGKILL at any point is safe for a
    run: writes are atomic and `--resume` continues it (tests/harness/test_faults.py).
    """
    from supernet_bench.stopping import ignore_in_worker

    ignore_in_worker()
    if not sys.platform.startswith("linux"):
        return
    import ctypes
    import signal

    PR_SET_PDEATHSIG = 1
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):
        return
    if os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(1)


def outcome_rows(outcomes: list[RunOutcome]) -> list[dict[str, str]]:
    """Display rows of the end-of-suite summary."""
    return [
        {
            "run": o.label,
            "status": o.status,
            "final KT": "n/a" if math.isnan(o.kendall_tau) else f"{o.kendall_tau:.4f}",
            "seconds": f"{o.seconds:.1f}",
            "error": o.error,
        }
        for o in outcomes
    ]


class Progress:
    """``on_outcome`` for run_suite that prints one line per finished run with an ETA (plain lines, so a
    log file or a pipe shows them as they come; no terminal needed).

    The ETA is the mean wall time of the runs that trained so far times the runs left, over ``parallel``.
    """

    def __init__(self, total: int, parallel: int, log: Callable[[str], None], kt_digits: int = 4):
        self.total, self.parallel, self.log, self.kt_digits = total, max(1, parallel), log, kt_digits
        self.start = time.perf_counter()
        self.trained: list[float] = []

    def eta(self, done: int) -> str:
        left = self.total - done
        if left == 0:
            return f"done in {time.perf_counter() - self.start:.0f}s"
        if not self.trained:
            return f"{left} left"
        seconds = sum(self.trained) / len(self.trained) * left / min(self.parallel, left)
        return f"{left} left, ETA ~{_duration(seconds)}"

    def __call__(self, done: int, total: int, o: RunOutcome) -> None:
        if o.status in (RAN, RESUMED):
            self.trained.append(o.seconds)
        kt = "" if math.isnan(o.kendall_tau) else f" final KT {o.kendall_tau:.{self.kt_digits}f}"
        error = f" {o.error}" if o.error else ""
        self.log(f"[{done}/{total}] {o.status:<8} {o.label} ({o.seconds:.1f}s){kt}{error} [{self.eta(done)}]")


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    if seconds < 90:
        return f"{seconds}s"
    if seconds < 5400:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
