"""The demo benchmark: NB201 `conv3-pool` (64 architectures) on `demo-shapes`, with its own ground truth.

The ground truth is produced by the harness itself: every architecture is trained stand-alone (the NB201
network with that fixed genotype: C=8, N=1, affine BN) on the 2,000 demo-shapes training images and
scored on the 1,000 test images, once per seed. ``build_ground_truth`` writes the table shipped as
``harness/demo/nb201-demo-shapes.csv`` (columns ``arch``, ``demo-shapes_test_seed0``,
``demo-shapes_test_seed1``, ``demo-shapes_test_mean``: top-1 accuracy in percent); rebuild it with

    supernet-bench demo build-gt --out harness/demo/nb201-demo-shapes.csv

Every random choice is seeded (network init and batch order per (arch, seed)) and training runs on one
thread, so a rebuild on the same torch version gives the same table. The Kendall tau between the two
seed columns is the noise ceiling: no supernet can be expected to rank the architectures closer to
the mean column than two stand-alone trainings agree with each other.
"""

from __future__ import annotations

import functools
import math
import time
from collections.abc import Callable
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from supernet_bench import data as D

DATASET = "demo-shapes"
SPACE = "nb201:conv3-pool"
PROFILE = "demo"
GT_RESOURCE = "demo/nb201-demo-shapes.csv"  # inside the harness package
GT_SOURCE = f"package:supernet_bench/{GT_RESOURCE}"
SEEDS = (0, 1)
METHODS = ("spos", "fairnas", "close-s", "spos+calr+ms")

# stand-alone training recipe of the ground truth
EPOCHS = 8
BATCH_SIZE = 64
LR = 0.05
WEIGHT_DECAY = 5e-4
NETWORK = {"C": 8, "N": 1, "bn_affine": True, "track_running_stats": True}


def seed_column(seed: int) -> str:
    return f"{DATASET}_test_seed{seed}"


MEAN_COLUMN = f"{DATASET}_test_mean"


def gt_path() -> Path:
    """The shipped ground-truth table."""
    return Path(str(resources.files("supernet_bench") / GT_RESOURCE))


def train_standalone(
    arch: tuple[int, ...], seed: int, train: D.ImageDataset, test: D.ImageDataset, epochs: int = EPOCHS
) -> float:
    """Test accuracy (%) of `arch` trained from scratch: SGD + Nesterov, cosine LR, no augmentation."""
    from supernet_bench.spaces import get_space

    torch.manual_seed(seed)
    net = get_space(SPACE).build_supernet(train.num_classes, **NETWORK)
    params = [p for p in net.parameters() if p.requires_grad]
    opt = torch.optim.SGD(params, lr=LR, momentum=0.9, nesterov=True, weight_decay=WEIGHT_DECAY)
    stream = D.BatchStream(train, BATCH_SIZE, seed=seed, augment=False)
    steps = epochs * stream.batches_per_epoch
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 0.5 * (1 + math.cos(math.pi * s / steps)))
    net.train()
    for _ in range(steps):
        x, y = stream.next()
        opt.zero_grad(set_to_none=True)
        F.cross_entropy(net(x, arch), y).backward()
        opt.step()
        sched.step()
    net.eval()
    correct = 0
    with torch.no_grad():
        for x, y in D.eval_batches(test, 500):
            correct += int((net(x, arch).argmax(1) == y).sum())
    return 100.0 * correct / len(test)


@functools.cache
def _demo_data() -> tuple[D.ImageDataset, D.ImageDataset]:
    return D.load_dataset(DATASET, Path("."), "train"), D.load_dataset(DATASET, Path("."), "test")


def _train_task(task: tuple[str, int, int]) -> float:
    """One (arch, seed, epochs) training in a fresh single-threaded process state."""
    from supernet_bench.spaces import get_space

    torch.set_num_threads(1)
    name, seed, epochs = task
    train, test = _demo_data()
    return train_standalone(get_space(SPACE).decode(name), seed, train, test, epochs)


def build_ground_truth(
    out: str | Path,
    archs: list[str] | None = None,
    seeds: tuple[int, ...] = SEEDS,
    epochs: int = EPOCHS,
    workers: int = 1,
    log: Callable[[str], None] = print,
) -> pd.DataFrame:
    """Train every architecture of the demo space (or `archs`) once per seed and write the GT table.

    Each training is single-threaded and seeded by (seed) alone, so `workers` (local processes) changes
    the wall time, not the table.
    """
    from supernet_bench.spaces import get_space

    space = get_space(SPACE)
    names = [space.encode(a) for a in space.enumerate()] if archs is None else list(archs)
    tasks = [(name, seed, epochs) for name in names for seed in seeds]
    start = time.perf_counter()
    results: dict[tuple[str, int], float] = {}
    if workers <= 1:
        for task in tasks:
            results[task[:2]] = _train_task(task)
            log(
                f"[{len(results)}/{len(tasks)}] {task[0]} seed {task[1]}: {results[task[:2]]:.1f}% "
                f"({time.perf_counter() - start:.0f}s)"
            )
    else:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        ctx = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
            for task, acc in zip(tasks, pool.map(_train_task, tasks), strict=True):
                results[task[:2]] = acc
                log(
                    f"[{len(results)}/{len(tasks)}] {task[0]} seed {task[1]}: {acc:.1f}% "
                    f"({time.perf_counter() - start:.0f}s)"
                )
    rows = []
    for name in names:
        row = {"arch": name, **{seed_column(s): results[(name, s)] for s in seeds}}
        row[MEAN_COLUMN] = float(np.mean([results[(name, s)] for s in seeds]))
        rows.append(row)
    table = pd.DataFrame(rows)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(out, index=False, float_format="%.2f")
    return table


def noise_ceiling(path: str | Path | None = None) -> float:
    """Kendall tau-b between the two seed columns of the GT table (the seed-to-seed ceiling)."""
    from scipy.stats import kendalltau

    table = pd.read_csv(gt_path() if path is None else path)
    return float(kendalltau(table[seed_column(SEEDS[0])], table[seed_column(SEEDS[1])]).statistic)


def run_demo(
    out: str | Path,
    methods: tuple[str, ...] = METHODS,
    overrides: tuple[str, ...] = (),
    log: Callable[[str], None] = print,
) -> dict:
    """Train `methods` (seed 0) under the demo profile, score them against the shipped GT, write the report.

    Needs no data folder: the data set is generated and the GT ships with the harness, so the runs get
    an empty folder ``<out>/data`` as their data directory. Returns the paths written, the noise
    ceiling, the suite outcomes and the wall time.
    """
    from supernet_bench.aggregate import load_runs
    from supernet_bench.references import compute_references
    from supernet_bench.report import build_report
    from supernet_bench.suite import FAILED, Progress, Suite, plan, run_suite

    start = time.perf_counter()
    out = Path(out)
    data_dir = out / "data"  # deliberately empty: nothing of the demo is read from a data folder
    data_dir.mkdir(parents=True, exist_ok=True)
    suite = Suite(
        name="demo",
        profile=PROFILE,
        methods=tuple(methods),
        seeds=(0,),
        spaces=(SPACE,),
        overrides=tuple(overrides),
        out=str(out / "runs"),
    )
    tasks = plan(suite, out / "runs")
    log(f"demo: {len(tasks)} run(s) of {SPACE} on {DATASET} under profile {PROFILE} -> {out / 'runs'}")

    progress = Progress(len(tasks), 1, log, kt_digits=3)
    outcomes = run_suite(tasks, data_dir=data_dir, workers=1, on_outcome=progress)
    if not any(o.status == FAILED for o in outcomes):  # the board shows what counting parameters etc. achieve
        log("demo: scoring the free reference estimators (#params, FLOPs, zero-cost proxies, untrained supernet)")
        compute_references(load_runs(out / "runs"), data_dir, seeds=(0,), log=log)  # one seed: ~20 s here
    report_dir = out / "report"
    report = build_report(out / "runs", report_dir, data_dir=data_dir, title="supernet-bench demo")
    return {
        "runs": out / "runs",
        "report": report_dir,
        "leaderboard": report_dir / "leaderboard.md",
        "index": report_dir / "index.html",
        "figures": [p for p, _ in report.figures],
        "noise_ceiling": noise_ceiling(),
        "outcomes": outcomes,
        "failed": [o for o in outcomes if o.status == FAILED],
        "wall_s": time.perf_counter() - start,
    }
