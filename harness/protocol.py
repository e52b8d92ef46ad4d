"""The one protocol every method runs under, top to bottom:

data -> method.setup -> (train until the next checkpoint's pass count -> score the fixed
architecture sample -> metrics vs ground truth -> atomic write + resume state) for every checkpoint
-> manifest marked complete.
"""

from __future__ import annotations

import dataclasses
import json
import platform
import random
import resource
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from supernet_bench import data as D
from supernet_bench.allocator import keep_freed_memory
from supernet_bench.archsample import sample_digest, select_archs
from supernet_bench.budget import Budget
from supernet_bench.config import RunConfig
from supernet_bench.core.errors import BenchError
from supernet_bench.evaluation import score_architectures
from supernet_bench.lineages import lineage_rows as make_lineage_rows
from supernet_bench.lineages import run_lineages
from supernet_bench.lock import DirLock
from supernet_bench.methods import create_method
from supernet_bench.methods.base import TrainContext
from supernet_bench.metrics import compute_bundle
from supernet_bench.spaces import get_space
from supernet_bench.store import RunStore
from tqdm.auto import tqdm

PACKAGE_VERSION = "0.1.0"


@dataclass
class Prepared:
    """Data, sample and ground truth of a run: everything that does not depend on the method."""

    train: D.ImageDataset
    eval: D.ImageDataset
    record: dict[str, Any]


def prepare_data(config: RunConfig, data_dir: Path) -> Prepared:
    d = config.data
    train = D.load_dataset(d["dataset"], data_dir, "train")
    test = D.load_dataset(d["dataset"], data_dir, "test") if d["split"] == "train/test" else None
    files = {**train.files, **(test.files if test is not None else {})}
    train, evalset, split = D.split_dataset(train, test, d["split"], d.get("split_seed", 0))
    for limit_key, name in (("train_limit", "train"), ("eval_limit", "eval")):
        limit = d.get(limit_key, 0)
        ds = train if name == "train" else evalset
        if limit and limit < len(ds):
            g = torch.Generator().manual_seed(d.get("split_seed", 0))
            idx = torch.randperm(len(ds), generator=g)[:limit].sort().values
            ds = ds.subset(idx)
            train, evalset = (ds, evalset) if name == "train" else (train, ds)
    train = D.resize(train, d["resolution"])
    evalset = D.resize(evalset, d["resolution"])
    record = {
        "dataset": d["dataset"],
        "files": files,
        "split": split,
        "n_train": len(train),
        "n_eval": len(evalset),
        "resolution": d["resolution"],
        "augment": d.get("augment", True),
    }
    return Prepared(train, evalset, record)


def resolve_gt_source(text: str | None) -> Path | None:
    """``eval.gt_source``: a ground-truth file for the space's importer instead of the data folder's.

    ``package:<pkg>/<path>`` names a file shipped inside an installed package (the demo's own table,
    ``package:supernet_bench/demo/nb201-demo-shapes.csv``); anything else is a file path. None when unset.
    """
    if not text:
        return None
    if text.startswith("package:"):
        from importlib import resources

        package, _, inner = text[len("package:") :].partition("/")
        package = {"harness": "supernet_bench"}.get(package, package)  # manifests written before the namespace
        try:
            path = Path(str(resources.files(package) / inner))
        except ModuleNotFoundError:
            raise BenchError(f"eval.gt_source {text!r}: no package {package!r}") from None
    else:
        path = Path(text).expanduser()
    if not path.exists():
        raise BenchError(f"eval.gt_source {text!r}: file {path} does not exist")
    return path


def git_sha() -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=Path(__file__).parent, capture_output=True, text=True, timeout=5
        )
        sha = out.stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=Path(__file__).parent,
            capture_output=True,
            text=True,
            timeout=5,
        ).stdout.strip()
        return (sha + ("-dirty" if dirty else "")) if out.returncode == 0 else "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def versions() -> dict[str, str]:
    import numpy
    import pyarrow
    import scipy

    return {
        "supernet-bench": PACKAGE_VERSION,
        "git_sha": git_sha(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "numpy": numpy.__version__,
        "scipy": scipy.__version__,
        "pyarrow": pyarrow.__version__,
        "platform": platform.platform(),
        "torch_threads": str(torch.get_num_threads()),
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),  # the kernels' ISA: AVX2, AVX512, ...
    }


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _rng_state(rng: np.random.Generator) -> dict[str, Any]:
    return {"torch": torch.get_rng_state(), "numpy": rng.bit_generator.state, "python": random.getstate()}


def _set_rng_state(rng: np.random.Generator, state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    rng.bit_generator.state = state["numpy"]
    random.setstate(state["python"])


def run(
    config: RunConfig,
    out: str | Path,
    data_dir: str | Path | None = None,
    resume: bool = False,
    progress: bool = True,
) -> Path:
    """Run (or resume) one (method, space, dataset, seed) under `config`; returns the run directory."""
    out = Path(out)
    store = RunStore(out)
    store.prepare(resume)
    with DirLock(out):
        if store.is_complete():
            return out
        return _run_locked(config, store, D.resolve_data_dir(data_dir), resume, progress)


def _run_locked(config: RunConfig, store: RunStore, data_dir: Path, resume: bool, progress: bool) -> Path:
    torch.set_num_threads(int(config.run.get("threads", 2)))
    keep_freed_memory()  # freed activations are reused without page faults (harness/allocator.py)
    space = get_space(config.space)
    source = resolve_gt_source(config.eval.get("gt_source"))
    extra = {} if source is None else {"source": source}  # spaces without a source= keep their call
    gts = [space.ground_truth(col, data_dir, **extra) for col in config.gt_columns]
    prepared = prepare_data(config, data_dir)
    ev = config.eval
    archs = select_archs(space, ev["sample"], ev.get("sample_seed", 0), data_dir)
    arch_strings = [space.encode(a) for a in archs]
    gt_values = {g.column: g.lookup(arch_strings) for g in gts}
    complexity = np.array([space.complexity(a) for a in archs], dtype=np.float64)
    budget = Budget.from_epochs(
        config.run["budget_epochs"], config.run["batch_size"], len(prepared.train), config.run["checkpoints"]
    )

    method = create_method(config.method, config.method_params())
    rng = np.random.default_rng(config.seed)
    torch.manual_seed(config.seed)
    random.seed(config.seed)
    stream = D.BatchStream(
        prepared.train, config.run["batch_size"], seed=config.seed, augment=prepared.record["augment"]
    )
    ctx = TrainContext(
        space=space,
        num_classes=prepared.train.num_classes,
        supernet_kwargs=dict(config.supernet),
        next_batch=stream.next,
        total_passes=budget.total_passes,
        batch_size=config.run["batch_size"],
        train_size=len(prepared.train),
        seed=config.seed,
        rng=rng,
    )
    method.setup(ctx)

    run_id = store.root.name
    manifest = {
        "run_id": run_id,
        "status": "running",
        "config": config.to_dict(),
        "budget": {
            "total_passes": budget.total_passes,
            "checkpoint_passes": list(budget.checkpoint_passes),
            "batch_size": budget.batch_size,
            "train_size": budget.train_size,
        },
        "data": prepared.record,
        "ground_truth": [g.provenance(data_dir) for g in gts],
        "eval_sample": {
            "spec": ev["sample"],
            "seed": ev.get("sample_seed", 0),
            "n": len(archs),
            "sha256": sample_digest(space, archs),
        },
        "method": {
            "name": method.name,
            "params": method.get_params(),
            "policies": {p.name: p.get_params() for p in getattr(method, "policies", [])},
            "decisions": method.decisions(),
        },
        "versions": versions(),
        "timing": {},
    }

    metrics_rows: list[dict] = []
    prediction_rows: list[dict] = []
    lineage_rows: list[dict] = []
    timing: dict[str, float] = {"recal_s": 0.0}  # BN recalibration seconds within eval_wall (eval.recal_batches)
    passes, train_wall, eval_wall, next_cp = 0, 0.0, 0.0, 0
    if resume and store.has_state():
        state = store.load_state()
        previous = store.manifest() or {}
        if previous.get("config") != json.loads(json.dumps(manifest["config"], default=str)):
            raise BenchError(f"cannot resume {store.root}: its config differs from this run's config")
        method.load_state_dict(state["method"])
        stream.load_state_dict(state["stream"])
        _set_rng_state(rng, state["rng"])
        passes, train_wall, eval_wall = state["passes"], state["train_wall_s"], state["eval_wall_s"]
        next_cp, metrics_rows, prediction_rows = state["next_checkpoint"], state["metrics"], state["predictions"]
        lineage_rows, timing = state["lineages"], state["timing"]
    store.write_manifest(manifest)

    recal = D.fixed_batches(
        prepared.train,
        int(ev.get("recal_batches", 4)),
        int(ev.get("recal_batch_size", 128)),
        seed=ev.get("sample_seed", 0),
    )
    eval_batches = list(D.eval_batches(prepared.eval, int(ev["batch_size"])))
    keys = {
        "run_id": run_id,
        "method": method.name,
        "space": space.label,
        "dataset": config.dataset,
        "profile": config.profile,
        "seed": config.seed,
    }
    bar = tqdm(
        total=budget.total_passes,
        initial=passes,
        desc=f"{method.name} train",
        unit="pass",
        disable=None if progress else True,
    )
    for cp in range(next_cp, len(budget.checkpoint_passes)):
        target = budget.checkpoint_passes[cp]
        t0 = time.perf_counter()
        while passes < target:
            spent = method.step()
            if spent <= 0:
                raise RuntimeError(f"method {method.name} reported {spent} passes for a step")
            passes += spent
            bar.update(spent)
        train_wall += time.perf_counter() - t0

        t0 = time.perf_counter()
        with tqdm(
            total=len(archs), desc=f"score @{passes}", unit="arch", leave=False, disable=None if progress else True
        ) as sbar:
            acc, loss = score_architectures(method, archs, eval_batches, recal, ev["bn_mode"], sbar.update, timing)
        eval_wall += time.perf_counter() - t0
        score = acc if ev.get("score", "accuracy") == "accuracy" else -loss

        cp_keys = {
            **keys,
            "checkpoint": cp,
            "budget_fraction": float(config.run["checkpoints"][cp]),
            "passes": passes,
            "epoch_equiv": budget.epoch_equiv(passes),
            "train_wall_s": train_wall,
            "eval_wall_s": eval_wall,
        }
        diagnostics = json.dumps(method.diagnostics(), sort_keys=True)
        for g in gts:
            metrics_rows.append(
                {
                    **cp_keys,
                    "gt_column": g.column,
                    "primary_gt": g.column == config.gt,
                    "n_archs": len(archs),
                    "mean_score": float(acc.mean()),
                    "peak_rss_mb": peak_rss_mb(),
                    "diagnostics": diagnostics,
                    **compute_bundle(pred=score, target=gt_values[g.column], complexity=complexity),
                }
            )
        primary = gt_values[config.gt]
        for i, a in enumerate(arch_strings):
            prediction_rows.append(
                {
                    **keys,
                    "checkpoint": cp,
                    "passes": passes,
                    "arch": a,
                    "score": float(score[i]),
                    "accuracy": float(acc[i]),
                    "loss": float(loss[i]),
                    "gt": float(primary[i]),
                    "complexity": float(complexity[i]),
                }
            )
        lineages = run_lineages(method, space, passes)
        lineage_rows += make_lineage_rows(
            lineages, space, archs, arch_strings, score, primary, {**keys, "checkpoint": cp, "passes": passes}
        )
        store.write_results(metrics_rows, prediction_rows)
        store.write_lineages(lineage_rows)
        store.save_state(
            {
                "method": method.state_dict(),
                "stream": stream.state_dict(),
                "rng": _rng_state(rng),
                "passes": passes,
                "train_wall_s": train_wall,
                "eval_wall_s": eval_wall,
                "next_checkpoint": cp + 1,
                "metrics": metrics_rows,
                "predictions": prediction_rows,
                "lineages": lineage_rows,
                "timing": timing,
            }
        )
    bar.close()
    manifest["status"] = "complete"
    manifest["method"]["decisions"] = method.decisions()
    # passes per lineage at the end of the run (harness/lineages.py)
    manifest["method"]["lineages"] = [dataclasses.asdict(x) for x in run_lineages(method, space, passes)]
    manifest["timing"] = {
        "train_wall_s": train_wall,
        "eval_wall_s": eval_wall,
        "recal_wall_s": timing["recal_s"],  # part of eval_wall_s
        "total_wall_s": train_wall + eval_wall,
    }
    store.write_manifest(manifest)
    store.clear_state()
    return store.root
