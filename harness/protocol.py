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
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from supernet_bench import data as D
from supernet_bench import device as DV
from supernet_bench.archsample import sample_digest, select_archs
from supernet_bench.budget import Budget
from supernet_bench.config import RunConfig, config_diff, flat_keys
from supernet_bench.core.errors import BenchError
from supernet_bench.divergence import Diverged, is_bad, watch_losses, worst_loss
from supernet_bench.evaluation import score_architectures
from supernet_bench.lineages import lineage_rows as make_lineage_rows
from supernet_bench.lineages import run_lineages
from supernet_bench.lock import DirLock
from supernet_bench.methods import check_supported, create_method
from supernet_bench.methods.base import TrainContext
from supernet_bench.metrics import compute_bundle
from supernet_bench.schema import Manifest
from supernet_bench.spaces import get_space
from supernet_bench.store import LOCK, RunStore
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
    train = D.load_dataset(d.dataset, data_dir, "train")
    test = D.load_dataset(d.dataset, data_dir, "test") if d.split == "train/test" else None
    files = {**train.files, **(test.files if test is not None else {})}
    train, evalset, split = D.split_dataset(train, test, d.split, d.split_seed)
    for limit, name in ((d.train_limit, "train"), (d.eval_limit, "eval")):
        ds = train if name == "train" else evalset
        if limit and limit < len(ds):
            g = torch.Generator().manual_seed(d.split_seed)
            idx = torch.randperm(len(ds), generator=g)[:limit].sort().values
            ds = ds.subset(idx)
            train, evalset = (ds, evalset) if name == "train" else (train, ds)
    train = D.resize(train, d.resolution)
    evalset = D.resize(evalset, d.resolution)
    record = {
        "dataset": d.dataset,
        "files": files,
        "split": split,
        "n_train": len(train),
        "n_eval": len(evalset),
        "resolution": d.resolution,
        "augment": d.augment,
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


def versions(device: torch.device | None = None) -> dict[str, str]:
    """What the run's numbers depend on besides its config; `device` adds the GPU's (harness/device.py)."""
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
        **DV.device_versions(device if device is not None else torch.device("cpu")),
    }


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _rng_state(rng: np.random.Generator) -> dict[str, Any]:
    return {
        "torch": torch.get_rng_state(),
        "cuda": DV.cuda_rng_state(),
        "numpy": rng.bit_generator.state,
        "python": random.getstate(),
    }


def _set_rng_state(rng: np.random.Generator, state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    DV.set_cuda_rng_state(state.get("cuda"))
    rng.bit_generator.state = state["numpy"]
    random.setstate(state["python"])


def _mark_diverged(store: RunStore, manifest: dict[str, Any], passes: int, loss: float) -> None:
    """Record the divergence in the manifest (status failed), drop the resume state, raise Diverged."""
    failure = f"diverged at pass {passes} (training loss {loss:.3g})"
    manifest["status"] = "failed"
    manifest["failure"] = failure
    store.write_manifest(manifest)
    store.clear_state()  # resuming would replay the same divergence
    raise Diverged(f"run {store.root} {failure}; marked failed in its manifest")


def checkpoint_line(cp: int, n_checkpoints: int, passes: int, total: int, wall_s: float) -> str:
    """One progress line per checkpoint (plain text: logs and pipes show it as it comes), with an ETA from
    the wall time per pass so far."""
    eta = wall_s / passes * max(0, total - passes) if passes else float("nan")
    return f"checkpoint {cp + 1}/{n_checkpoints}: {passes}/{total} passes, {wall_s:.0f}s" + (
        f", ETA ~{eta:.0f}s" if eta == eta and passes < total else ""
    )


def failed_reason(manifest: dict[str, Any] | None) -> str | None:
    """Why a run's manifest says it failed (``diverged at pass N ...``), or None for any other status."""
    if not manifest or manifest.get("status") != "failed":
        return None
    return str(manifest.get("failure") or "failed")


def run(
    config: RunConfig,
    out: str | Path,
    data_dir: str | Path | None = None,
    resume: bool = False,
    progress: bool = True,
    log: Callable[[str], None] | None = None,
) -> Path:
    """Run (or resume) one (method, space, dataset, seed) under `config`; returns the run directory.

    A directory that holds another run (a different config, data or ground truth) is refused, complete or not.
    """
    settings = DV.settings_from_run(config.run)  # an unavailable device fails here, before anything is written
    out = Path(out)
    store = RunStore(out)
    created = not out.exists()
    store.prepare(resume)
    if (recorded := store.manifest()) is not None:
        check_same_config(store.root, recorded, config)  # refuse before the lock touches the folder
    try:
        with DirLock(out) as lock:
            previous = store.manifest()
            if previous is not None:
                check_same_config(store.root, previous, config)
            if previous is not None and previous.get("status") == "complete":
                lock.remove = True
                return out
            reason = failed_reason(previous)
            if reason is not None:
                raise Diverged(f"run {out} {reason}; delete the folder or use another --out to train it again")
            try:
                return _run_locked(config, settings, store, D.resolve_data_dir(data_dir), previous, progress, log)
            finally:  # a finished or failed run needs no lock file; an interrupted one keeps it
                lock.remove = store.is_complete() or failed_reason(store.manifest()) is not None
    finally:
        if created:
            _remove_if_empty(out)


def _remove_if_empty(out: Path) -> None:
    """Remove a run folder this call created when nothing but its lock file ended up in it (no data...)."""
    try:
        if out.is_dir() and all(p.name == LOCK for p in out.iterdir()):
            (out / LOCK).unlink(missing_ok=True)
            out.rmdir()
    except OSError:
        pass


def check_same_config(root: Path, previous: dict[str, Any], config: RunConfig) -> None:
    """Refuse to continue (or report) a run directory recorded under another configuration."""
    recorded = previous.get("config")
    if not isinstance(recorded, dict):
        raise BenchError(f"{root}/manifest.json records no config; it is not a run directory of this harness")
    _refuse(root, config_diff(recorded, config))


def _refuse(root: Path, diffs: list[str]) -> None:
    if diffs:
        raise BenchError(
            f"{root} holds a different run ({len(diffs)} differing key(s): {'; '.join(diffs)}); "
            "use another --out, or move that run away"
        )


# --- the steps of one run ------------------------------------------------------------------------
@dataclass
class Setup:
    """What a run scores against, fixed before training: space, data, sample, ground truth, budget."""

    space: Any
    prepared: Prepared
    gts: list[Any]
    archs: list[Any]
    arch_strings: list[str]
    gt_values: dict[str, np.ndarray]
    complexity: np.ndarray
    budget: Budget
    recal: list[Any]
    eval_batches: list[Any]


@dataclass
class Progress:
    """Where training stands; saved with the method's state after every checkpoint."""

    passes: int = 0
    train_wall_s: float = 0.0
    eval_wall_s: float = 0.0
    next_checkpoint: int = 0
    metrics: list[dict] = field(default_factory=list)
    predictions: list[dict] = field(default_factory=list)
    lineages: list[dict] = field(default_factory=list)  # harness/lineages.py rows per checkpoint
    timing: dict[str, float] = field(default_factory=lambda: {"recal_s": 0.0})  # BN recalibration within eval


def setup_run(config: RunConfig, data_dir: Path, settings: DV.DeviceSettings | None = None) -> Setup:
    """Space, ground truth, data, architecture sample and budget; raises before any training. Scoring batches
    go to `settings.device` (the CPU when None)."""
    settings = settings if settings is not None else DV.settings_from_run(config.run)
    space = get_space(config.space)
    source = resolve_gt_source(config.eval.gt_source)
    extra = {} if source is None else {"source": source}  # spaces without a source= keep their call
    gts = [space.ground_truth(col, data_dir, **extra) for col in config.gt_columns]
    prepared = prepare_data(config, data_dir)
    ev = config.eval
    archs = select_archs(space, ev.sample, ev.sample_seed, data_dir)
    arch_strings = [space.encode(a) for a in archs]
    budget = Budget.from_epochs(
        config.run.budget_epochs, config.run.batch_size, len(prepared.train), config.run.checkpoints
    )
    cps = budget.checkpoint_passes
    if any(b <= a for a, b in zip(cps, cps[1:])):
        raise BenchError(
            f"run.checkpoints {list(config.run.checkpoints)} fall on repeated pass counts {list(cps)} of a "
            f"{budget.total_passes}-pass budget; use fewer checkpoints or a larger run.budget_epochs"
        )
    return Setup(
        space=space,
        prepared=prepared,
        gts=gts,
        archs=archs,
        arch_strings=arch_strings,
        gt_values={g.column: g.lookup(arch_strings) for g in gts},
        complexity=np.array([space.complexity(a) for a in archs], dtype=np.float64),
        budget=budget,
        # drawn on the CPU whatever the device, so every device scores the same images; moved once
        recal=D.to_device(
            D.fixed_batches(
                prepared.train,
                ev.recal_batches,
                ev.recal_batch_size,
                seed=ev.sample_seed,
                memory_format=settings.memory_format,
            ),
            settings.device,
        ),
        eval_batches=D.to_device(
            D.eval_batches(prepared.eval, ev.batch_size, memory_format=settings.memory_format), settings.device
        ),
    )


def inputs_record(config: RunConfig, setup: Setup, data_dir: Path) -> dict[str, Any]:
    """What the run read: data files and split, ground-truth files, the architecture sample (manifest sections)."""
    return {
        "data": setup.prepared.record,
        "ground_truth": [g.provenance(data_dir) for g in setup.gts],
        "eval_sample": {
            "spec": config.eval.sample,
            "seed": config.eval.sample_seed,
            "n": len(setup.archs),
            "sha256": sample_digest(setup.space, setup.archs),
        },
    }


def check_same_inputs(root: Path, previous: dict[str, Any], inputs: dict[str, Any]) -> None:
    """Refuse to resume a run whose data files, split, ground truth or sample differ from this one's."""

    def identity(m: dict[str, Any]) -> dict[str, Any]:
        gt = {g.get("column"): {k: g.get(k) for k in ("source_sha256", "n")} for g in m.get("ground_truth", [])}
        sample = {"sha256": m.get("eval_sample", {}).get("sha256")}
        return flat_keys(json.loads(json.dumps({"data": m.get("data", {}), "ground_truth": gt, "eval_sample": sample})))

    before, now = identity(previous), identity(inputs)
    keys = sorted(k for k in set(before) | set(now) if before.get(k) != now.get(k))
    _refuse(root, [f"{k} (stored {str(before.get(k))[:16]}, now {str(now.get(k))[:16]})" for k in keys])


def build_manifest(
    config: RunConfig, setup: Setup, inputs: dict[str, Any], method: Any, device: torch.device | None = None
) -> Manifest:
    """The run's manifest, status running; `Manifest.completed` finishes it."""
    budget = setup.budget
    return Manifest(
        run_id=config.run_id,
        status="running",
        config=config.to_dict(),
        budget={
            "total_passes": budget.total_passes,
            "checkpoint_passes": list(budget.checkpoint_passes),
            "batch_size": budget.batch_size,
            "train_size": budget.train_size,
        },
        **inputs,
        method={
            "name": method.name,
            "params": method.get_params(),
            "policies": {p.name: p.get_params() for p in getattr(method, "policies", [])},
            "decisions": method.decisions(),
        },
        versions=versions(device),
    )


def row_keys(manifest: Manifest, setup: Setup, config: RunConfig) -> dict[str, Any]:
    """The run columns every metrics and predictions row starts with (schema.RUN_KEYS)."""
    return {
        "run_id": manifest.run_id,
        "method": manifest.method["name"],
        "space": setup.space.label,
        "dataset": config.dataset,
        "profile": config.profile,
        "seed": config.seed,
    }


def metrics_rows(config, setup, keys, cp, progress, acc, score, diagnostics) -> list[dict]:
    cp_keys = {
        **keys,
        "checkpoint": cp,
        "budget_fraction": float(config.run.checkpoints[cp]),
        "passes": progress.passes,
        "epoch_equiv": setup.budget.epoch_equiv(progress.passes),
        "train_wall_s": progress.train_wall_s,
        "eval_wall_s": progress.eval_wall_s,
    }
    return [
        {
            **cp_keys,
            "gt_column": g.column,
            "primary_gt": g.column == config.gt,
            "n_archs": len(setup.archs),
            "mean_score": float(acc.mean()),
            "peak_rss_mb": peak_rss_mb(),
            "diagnostics": diagnostics,
            **compute_bundle(pred=score, target=setup.gt_values[g.column], complexity=setup.complexity),
        }
        for g in setup.gts
    ]


def prediction_rows(config, setup, keys, cp, passes, acc, loss, score) -> list[dict]:
    primary = setup.gt_values[config.gt]
    return [
        {
            **keys,
            "checkpoint": cp,
            "passes": passes,
            "arch": a,
            "score": float(score[i]),
            "accuracy": float(acc[i]),
            "loss": float(loss[i]),
            "gt": float(primary[i]),
            "complexity": float(setup.complexity[i]),
        }
        for i, a in enumerate(setup.arch_strings)
    ]


def _restore(store: RunStore, method, stream, rng, run_id: str) -> Progress:
    state = store.load_state()
    method.load_state_dict(state["method"])
    stream.load_state_dict(state["stream"])
    _set_rng_state(rng, state["rng"])
    done = Progress(
        state["passes"],
        state["train_wall_s"],
        state["eval_wall_s"],
        state["next_checkpoint"],
        state["metrics"],
        state["predictions"],
        state.get("lineages", []),
        state.get("timing", {"recal_s": 0.0}),
    )
    for row in (*done.metrics, *done.predictions, *done.lineages):  # rows written before run ids were config hashes
        row["run_id"] = run_id
    return done


def _run_locked(
    config: RunConfig,
    settings: DV.DeviceSettings,
    store: RunStore,
    data_dir: Path,
    previous: dict[str, Any] | None,
    progress: bool,
    log: Callable[[str], None] | None = None,
) -> Path:
    torch.set_num_threads(config.run.threads)
    DV.apply(settings)
    device = settings.device
    method = create_method(config.method, config.method_params())
    check_supported(method, get_space(config.space))  # refuse an unsupported pair before reading data or training
    setup = setup_run(config, data_dir, settings)
    inputs = inputs_record(config, setup, data_dir)
    if previous is not None:
        check_same_inputs(store.root, previous, inputs)

    rng = np.random.default_rng(config.seed)
    torch.manual_seed(config.seed)
    random.seed(config.seed)
    stream = D.BatchStream(  # on a GPU the uint8 images live there and are augmented there
        setup.prepared.train.to(device),
        config.run.batch_size,
        seed=config.seed,
        augment=setup.prepared.record["augment"],
        memory_format=settings.memory_format,
    )
    ctx = TrainContext(
        space=setup.space,
        num_classes=setup.prepared.train.num_classes,
        supernet_kwargs=dict(config.supernet),
        next_batch=stream.next,
        total_passes=setup.budget.total_passes,
        batch_size=config.run.batch_size,
        train_size=len(setup.prepared.train),
        seed=config.seed,
        rng=rng,
        device=device,
        memory_format=settings.memory_format,
    )
    method.setup(ctx)
    manifest = build_manifest(config, setup, inputs, method, device)
    done = _restore(store, method, stream, rng, manifest.run_id) if previous and store.has_state() else Progress()
    store.write_manifest(manifest.to_dict())
    _train_and_score(config, settings, setup, method, stream, rng, store, manifest, done, progress, log)
    lineages = [dataclasses.asdict(x) for x in run_lineages(method, setup.space, done.passes)]
    completed = manifest.completed(
        method.decisions(), done.train_wall_s, done.eval_wall_s, lineages=lineages, recal_wall_s=done.timing["recal_s"]
    )
    store.write_manifest(completed.to_dict())
    store.clear_state()
    return store.root


def _train_and_score(
    config, settings, setup, method, stream, rng, store, manifest, done: Progress, progress: bool, log=None
) -> None:
    """Train to each checkpoint's pass count, score the sample, write results and resume state."""
    keys = row_keys(manifest, setup, config)
    budget = setup.budget
    bar = tqdm(
        total=budget.total_passes,
        initial=done.passes,
        desc=f"{method.name} train",
        unit="pass",
        disable=None if progress else True,
    )
    for cp in range(done.next_checkpoint, len(budget.checkpoint_passes)):
        t0 = time.perf_counter()
        while done.passes < budget.checkpoint_passes[cp]:
            with watch_losses() as losses, settings.autocast():
                spent = method.step()
            if spent <= 0:
                raise RuntimeError(f"method {method.name} reported {spent} passes for a step")
            done.passes += spent
            bar.update(spent)
            loss = worst_loss(losses)
            if is_bad(loss):
                bar.close()
                _mark_diverged(store, manifest.to_dict(), done.passes, loss)
        DV.synchronize(settings.device)
        done.train_wall_s += time.perf_counter() - t0

        t0 = time.perf_counter()
        with tqdm(
            total=len(setup.archs),
            desc=f"score @{done.passes}",
            unit="arch",
            leave=False,
            disable=None if progress else True,
        ) as sbar:
            with settings.autocast():
                acc, loss = score_architectures(
                    method,
                    setup.archs,
                    setup.eval_batches,
                    setup.recal,
                    config.eval.bn_mode,
                    sbar.update,
                    cache=settings.forward_cache,
                    timing=done.timing,
                )
        done.eval_wall_s += time.perf_counter() - t0
        score = acc if config.eval.score == "accuracy" else -loss
        diagnostics = json.dumps(method.diagnostics(), sort_keys=True)
        done.metrics += metrics_rows(config, setup, keys, cp, done, acc, score, diagnostics)
        done.predictions += prediction_rows(config, setup, keys, cp, done.passes, acc, loss, score)
        done.next_checkpoint = cp + 1
        primary = setup.gt_values[config.gt]
        checkpoint_keys = {**keys, "checkpoint": cp, "passes": done.passes}
        done.lineages += make_lineage_rows(
            run_lineages(method, setup.space, done.passes),
            setup.space, setup.archs, setup.arch_strings, score, primary, checkpoint_keys,
        )  # fmt: skip
        store.write_results(done.metrics, done.predictions)
        store.write_lineages(done.lineages)
        store.save_state(
            {
                "method": method.state_dict(),
                "stream": stream.state_dict(),
                "rng": _rng_state(rng),
                **dataclasses.asdict(done),
            }
        )
        if log is not None:
            wall = done.train_wall_s + done.eval_wall_s
            log(checkpoint_line(cp, len(budget.checkpoint_passes), done.passes, budget.total_passes, wall))
    bar.close()
