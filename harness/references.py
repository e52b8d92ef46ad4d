"""Reference estimators: what a method must beat, computed on the runs' own architecture sample.

``supernet-bench references ROOT`` reads the complete method runs under ROOT and, per (space, dataset,
profile), scores the same architectures against the same GT columns with:

- free estimators (no training): the parameter count, FLOPs (multiply-accumulates at the profile's
  resolution), the zero-cost proxies of methods/zero_cost.py on the profile's supernet at initialization
  with one training batch (one seed per run seed: init and batch), and the untrained supernet itself
  (accuracy and loss at the runs' 0% checkpoint, recalibrated as the runs score it);
- (on the board, computed from the GT table by harness/leaderboard.py) the NB201 12-epoch training and the
  Macro seed-to-seed ceiling, which are not free.

Each estimator x seed is stored as a run directory ``ROOT/references/<group>/<name>-s<seed>/`` with the
method runs' files (metrics.parquet, predictions.parquet: METRICS_SCHEMA / PREDICTIONS_SCHEMA) and a
manifest whose ``kind`` is ``"reference"``; ``harness.aggregate.load_runs`` keeps them apart from the
methods (``RunSet.references``), so every board, figure and baseline can show them beside the methods.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from supernet_bench.aggregate import REFERENCE_KIND, RunSet, group_slug
from supernet_bench.core.errors import BenchError
from supernet_bench.metrics import compute_bundle
from supernet_bench.store import RunStore

REFERENCES_DIR = "references"  # under the results root
UNTRAINED_FROM = ("spos", "fairnas")  # the untrained supernet is read from these methods' 0% checkpoint


@dataclass(frozen=True)
class Estimator:
    name: str  # the label on the board
    free: bool  # needs no training (eligible as "the best free reference")
    seeded: bool  # depends on the init / batch seed
    note: str


ESTIMATORS = {
    "params": Estimator("#params", True, False, "parameter count of the stand-alone network (more = better)"),
    "flops": Estimator("FLOPs", True, False, "multiply-accumulates of the path at the profile's resolution"),
    "synflow": Estimator("synflow", True, True, "Tanaka et al. 2020 / Abdelfattah et al. 2021, at init"),
    "snip": Estimator("snip", True, True, "Lee et al. 2019 / Abdelfattah et al. 2021, one batch at init"),
    "grad_norm": Estimator("grad_norm", True, True, "Abdelfattah et al. 2021, one batch at init"),
    "jacob_cov": Estimator("jacob_cov", True, True, "Mellor et al. 2020, one batch at init"),
    "naswot": Estimator("naswot", True, True, "Mellor et al. 2021, one batch at init"),
    "untrained-acc": Estimator(
        "untrained supernet (acc)", True, True, "the runs' supernet at 0% of the budget, accuracy"
    ),
    "untrained-loss": Estimator("untrained supernet (loss)", True, True, "the same supernet ranked by -loss"),
}
ZERO_COST = ("synflow", "snip", "grad_norm", "jacob_cov", "naswot")
FREE_LABELS = frozenset(e.name for e in ESTIMATORS.values() if e.free)


@dataclass
class GroupSample:
    """One (space, dataset, profile) of the method runs: its sample, config and GT columns."""

    space: str
    dataset: str
    profile: str
    archs: list[str]
    manifest: dict[str, Any]  # of the first run (config tables, sample record)
    gt_columns: list[str]
    primary: str
    run_paths: list[str]  # every method run of the group


def group_samples(runs: RunSet) -> list[GroupSample]:
    """The groups of ``runs`` (methods only) with the architecture sample their runs scored."""
    out = []
    m = runs.metrics
    preds = runs.final_predictions()
    for (space, dataset, profile), g in m.groupby(["space", "dataset", "profile"], sort=True):
        paths = sorted(g["run_path"].unique())
        sel = preds[preds["run_path"] == paths[0]]
        gt_columns = list(dict.fromkeys(g["gt_column"]))
        primary = g.loc[g["primary_gt"].astype(bool), "gt_column"]
        out.append(
            GroupSample(
                space, dataset, profile, sel["arch"].tolist(), runs.manifests[paths[0]], gt_columns,
                str(primary.iloc[0]) if len(primary) else gt_columns[0], paths,
            )
        )
    return out


def _row_keys(name: str, sample: GroupSample, seed: int, wall: float) -> dict[str, Any]:
    return {
        "run_id": f"{name}-s{seed}",
        "method": ESTIMATORS[name].name,
        "space": sample.space,
        "dataset": sample.dataset,
        "profile": sample.profile,
        "seed": seed,
        "checkpoint": 0,
        "budget_fraction": 0.0,
        "passes": 0,
        "epoch_equiv": 0.0,
        "train_wall_s": wall,
        "eval_wall_s": 0.0,
    }


def write_reference(
    root: Path,
    sample: GroupSample,
    name: str,
    seed: int,
    scores: np.ndarray,
    targets: dict[str, np.ndarray],
    complexity: np.ndarray,
    wall: float,
    extra: dict[str, Any] | None = None,
) -> Path:
    """One reference run directory with the method runs' file layout and schemas."""
    est = ESTIMATORS[name]
    folder = root / REFERENCES_DIR / group_slug((sample.space, sample.dataset, sample.profile)) / f"{name}-s{seed}"
    folder.mkdir(parents=True, exist_ok=True)
    store = RunStore(folder)
    keys = _row_keys(name, sample, seed, wall)
    diagnostics = json.dumps({"kind": REFERENCE_KIND, "free": est.free}, sort_keys=True)
    metrics = [
        {
            **keys,
            "gt_column": col,
            "primary_gt": col == sample.primary,
            "n_archs": len(scores),
            "mean_score": float("nan"),
            "peak_rss_mb": float("nan"),
            "diagnostics": diagnostics,
            **compute_bundle(pred=scores, target=target, complexity=complexity),
        }
        for col, target in targets.items()
    ]
    run_keys = {k: keys[k] for k in ("run_id", "method", "space", "dataset", "profile", "seed")}
    predictions = [
        {
            **run_keys,
            "checkpoint": 0,
            "passes": 0,
            "arch": a,
            "score": float(s),
            "accuracy": float("nan"),
            "loss": float("nan"),
            "gt": float(targets[sample.primary][i]),
            "complexity": float(complexity[i]),
        }
        for i, (a, s) in enumerate(zip(sample.archs, scores, strict=True))
    ]
    store.write_results(metrics, predictions)
    from supernet_bench.protocol import versions

    store.write_manifest(
        {
            "run_id": keys["run_id"],
            "status": "complete",
            "kind": REFERENCE_KIND,
            "reference": {"key": name, "name": est.name, "free": est.free, "note": est.note, **(extra or {})},
            "config": sample.manifest.get("config", {}),
            "eval_sample": sample.manifest.get("eval_sample", {}),
            "versions": versions(),
            "timing": {"total_wall_s": wall},
        }
    )
    return folder


def _untrained(runs: RunSet, sample: GroupSample) -> dict[str, list[tuple[int, np.ndarray]]]:
    """Per run seed of the first of UNTRAINED_FROM (else the first method) present: accuracy and -loss at the
    0% checkpoint, aligned with ``sample.archs``; empty when the runs do not start with an untrained score."""
    m = runs.metrics[runs.metrics["run_path"].isin(sample.run_paths)]
    zero = m[(m["checkpoint"] == 0) & (m["budget_fraction"] == 0.0)]
    if zero.empty:
        return {}
    methods = sorted(zero["method"].unique())
    chosen = next((x for x in UNTRAINED_FROM if x in methods), methods[0])
    out: dict[str, list[tuple[int, np.ndarray]]] = {"untrained-acc": [], "untrained-loss": [], chosen: []}
    for run_path in sorted(zero.loc[zero["method"] == chosen, "run_path"].unique()):
        p = RunStore(runs.root / run_path).read_predictions().to_pandas()
        p = p[p["checkpoint"] == 0].set_index("arch")
        if not set(sample.archs) <= set(p.index):
            continue
        p = p.loc[sample.archs]
        seed = int(p["seed"].iloc[0])
        out["untrained-acc"].append((seed, p["accuracy"].to_numpy(dtype=np.float64)))
        out["untrained-loss"].append((seed, -p["loss"].to_numpy(dtype=np.float64)))
    return out


def compute_references(
    runs: RunSet,
    data_dir: str | Path | None = None,
    *,
    seeds: Iterable[int] = (0, 1, 2),
    batch_size: int = 64,
    only: Iterable[str] | None = None,
    log: Callable[[str], None] = lambda s: None,
) -> list[Path]:
    """Compute and store the reference estimators for every group of ``runs``; returns the folders written."""
    import torch
    from supernet_bench import data as D
    from supernet_bench.config import RunConfig
    from supernet_bench.methods.zero_cost import flops, zero_cost_scores
    from supernet_bench.protocol import prepare_data, resolve_gt_source
    from supernet_bench.spaces import get_space

    wanted = list(ESTIMATORS) if only is None else list(only)
    unknown = [w for w in wanted if w not in ESTIMATORS]
    if unknown:
        raise BenchError(f"unknown reference estimator(s): {', '.join(unknown)}; known: {', '.join(ESTIMATORS)}")
    seeds = list(seeds)
    data = D.resolve_data_dir(data_dir)
    written = []
    for sample in group_samples(runs):
        if len(sample.archs) < 2:
            log(f"{sample.space}/{sample.dataset}/{sample.profile}: fewer than 2 architectures, skipped")
            continue
        config = RunConfig.from_dict(sample.manifest["config"])
        space = get_space(sample.space)
        source = resolve_gt_source(config.eval.get("gt_source"))
        extra = {} if source is None else {"source": source}
        targets = {c: space.ground_truth(c, data, **extra).lookup(sample.archs) for c in sample.gt_columns}
        archs = [space.decode(a) for a in sample.archs]
        complexity = np.array([space.complexity(a) for a in archs], dtype=np.float64)
        label = f"{sample.space}/{sample.dataset}/{sample.profile}"

        def save(name, seed, scores, wall, extra=None, sample=sample, targets=targets, complexity=complexity):
            written.append(write_reference(runs.root, sample, name, seed, scores, targets, complexity, wall, extra))

        if "params" in wanted:
            save("params", 0, complexity, 0.0)
        untrained = _untrained(runs, sample)
        source = next((k for k in untrained if k not in ESTIMATORS), "")  # the method whose 0% runs are read
        for name, per_seed in untrained.items():
            for seed, scores in per_seed if name in wanted else []:
                note = f"{ESTIMATORS[name].note} ({source} runs' 0% checkpoint, one per run seed)"
                save(name, seed, scores, 0.0, {"note": note})
        proxies = [p for p in ZERO_COST if p in wanted]
        if not proxies and "flops" not in wanted:
            continue
        prepared = prepare_data(config, data)
        shape = tuple(prepared.train.images.shape[1:])
        for seed in seeds if proxies else seeds[:1]:
            torch.manual_seed(seed)
            model = space.build_supernet(prepared.train.num_classes, **config.supernet)
            if "flops" in wanted and seed == seeds[0]:
                t0 = time.perf_counter()
                counts = np.array([flops(model, a, shape) for a in archs], dtype=np.float64)
                save("flops", 0, counts, time.perf_counter() - t0)
            if not proxies:
                continue
            inputs, labels = D.fixed_batches(prepared.train, 1, batch_size, seed)[0]
            t0 = time.perf_counter()
            scores = [zero_cost_scores(model, a, inputs, labels, proxies) for a in archs]
            wall = time.perf_counter() - t0
            for p in proxies:
                save(p, seed, np.array([s[p] for s in scores], dtype=np.float64), wall / len(proxies),
                     {"batch_size": batch_size})
            log(f"{label}: zero-cost proxies, seed {seed}, {len(archs)} architectures in {wall:.1f} s")
    return written


def reference_info(manifests: dict[str, dict[str, Any]]) -> pd.DataFrame:
    """Label, free flag and note of each stored reference (one row per label)."""
    rows = {}
    for m in manifests.values():
        ref = m.get("reference", {})
        info = {"free": bool(ref.get("free")), "note": ref.get("note", "")}
        rows.setdefault(ref.get("name", m.get("run_id", "")), info)
    return pd.DataFrame.from_dict(rows, orient="index")
