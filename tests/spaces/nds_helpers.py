"""Generated NDS sweep files in the official schema (never real data) and tiny NDS training contexts."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import torch
from supernet_bench.methods.base import TrainContext
from supernet_bench.spaces import get_space

from tests.helpers import FakeBatches

TINY = {"width_mult": 0.0625}  # widths 1..16: every supernet builds and runs in milliseconds


def synthetic_error(space, arch, rng: np.random.Generator) -> float:
    """A plausible `min_test_top1`: bigger networks err less, plus noise."""
    return float(np.clip(25.0 - 2.5 * math.log10(space.complexity(arch)) + rng.normal(0, 0.3), 1.0, 60.0))


def make_record(space, arch, rng: np.random.Generator, epochs: int = 4, **override) -> dict:
    """One record as in facebookresearch/nds data.zip: net config, complexity, optim, curves, seed."""
    err = synthetic_error(space, arch, rng)
    curve = [round(err + 10.0 / (e + 1), 3) for e in range(epochs - 1)] + [round(err + 0.2, 3)]
    rec = {
        "net": space.to_net(arch),
        "params": int(space.complexity(arch)),
        "flops": int(space.complexity(arch)) * 64,
        "optim": {"base_lr": 0.1, "wd": 5e-4, "max_ep": epochs, "lr_policy": "cos"},
        "rng_seed": 1,
        "min_test_top1": round(min(err, *curve), 3),
        "test_ep_top1": curve,
        "train_ep_top1": [c - 1.0 for c in curve],
        "train_ep_loss": [0.1 * c for c in curve],
    }
    rec.update(override)
    return rec


def write_sweep(path: Path, records: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(records))
    return path


def make_sweep(space, n: int, seed: int = 0, duplicates: int = 0) -> tuple[list[tuple[int, ...]], list[dict]]:
    """n distinct random archs (plus `duplicates` extra records repeating the first archs) and their records."""
    rng = np.random.default_rng(seed)
    archs = space.sample_distinct(rng, n)
    records = [make_record(space, a, rng) for a in archs]
    records += [make_record(space, archs[i], rng) for i in range(duplicates)]
    return archs, records


def nds_data_dir(root: Path, space_name: str, n: int = 24, seed: int = 0, sub: str = "") -> Path:
    """A data folder whose `nds/<sub>/` holds the space's main sweep file; returns the data folder."""
    space = get_space(space_name)
    _, records = make_sweep(space, n, seed)
    write_sweep(root / "nds" / sub / space.design.file, records)
    return root


def nds_context(space: str = "nds-resnet", total_passes: int = 12, seed: int = 0, **size) -> TrainContext:
    torch.manual_seed(seed)
    return TrainContext(
        space=get_space(space),
        num_classes=10,
        supernet_kwargs={**TINY, **size},
        next_batch=FakeBatches(4),
        total_passes=total_passes,
        batch_size=4,
        train_size=8,
        seed=seed,
        rng=np.random.default_rng(seed),
    )
