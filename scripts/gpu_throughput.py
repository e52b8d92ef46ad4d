"""Paired training/scoring throughput of the harness vs the papers' reference loop on one device (tests/bench on a GPU).

Same work on both sides (NB201 supernet C=16, 32x32, batch 128, SPOS on the same path sequence; scoring the same
architectures after BN recalibration), timed alternately pair by pair so the device's drift cancels, with a CUDA
sync after every call. The harness side is what a run does on that device: uint8 data held on the device and
augmented there, scoring per-batch sums read back once per architecture. The reference prepares each image on the
CPU and copies every batch over, as a DataLoader feeding a GPU does. Prints one line per figure and writes JSON.

    python scripts/gpu_throughput.py --device cuda --out throughput.json [--N 5] [--rounds 30]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the tests package (the reference loop)

from supernet_bench import data as D  # noqa: E402
from supernet_bench import device as DV  # noqa: E402
from supernet_bench.evaluation import score_architectures  # noqa: E402
from supernet_bench.methods import create_method  # noqa: E402
from supernet_bench.methods.base import TrainContext  # noqa: E402
from supernet_bench.spaces import get_space  # noqa: E402

from tests.bench.reference_nb201 import ReferenceSPOS  # noqa: E402
from tests.bench.summary import paired_ratio  # noqa: E402

BATCH, RES = 128, 32


def synced(fn, device):
    def call():
        out = fn()
        DV.synchronize(device)
        return out

    return call


def paired(harness_fn, reference_fn, rounds: int, warmup: int = 2) -> tuple[list[float], list[float]]:
    for _ in range(warmup):
        harness_fn()
        reference_fn()
    times: tuple[list[float], list[float]] = ([], [])
    for r in range(rounds):
        for side in (0, 1) if r % 2 == 0 else (1, 0):
            start = time.perf_counter()
            (harness_fn, reference_fn)[side]()
            times[side].append(time.perf_counter() - start)
    return times


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--device", default="auto")
    p.add_argument("--N", type=int, default=5, help="cells per stage (5 = the papers' supernet)")
    p.add_argument("--rounds", type=int, default=30)
    p.add_argument("--archs", type=int, default=20, help="architectures per scoring round")
    p.add_argument("--out", type=Path, default=None)
    args = p.parse_args()
    device = DV.resolve_device(args.device)
    DV.apply(DV.DeviceSettings(device))
    g = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (4096, 3, RES, RES), dtype=torch.uint8, generator=g)
    labels = torch.randint(0, 10, (4096,), generator=g)
    ds = D.ImageDataset("bench", images, labels, 10, (0.49, 0.48, 0.45), (0.25, 0.24, 0.26))
    space = get_space("nb201")

    # --- training: the same path sequence on both sides ---------------------------------------------------
    stream = D.BatchStream(ds.to(device), BATCH, seed=0)
    torch.manual_seed(0)
    ctx = TrainContext(space, 10, {"C": 16, "N": args.N}, stream.next, 10**6, BATCH, len(ds), 0,
                       np.random.default_rng(0), device=device)  # fmt: skip
    method = create_method("spos")
    method.setup(ctx)
    rng = np.random.default_rng(0)
    ref = ReferenceSPOS(16, args.N, sample_arch=lambda: space.sample(rng, space.allowed), device=str(device))
    pos = {"i": 0}

    def ref_step():
        i = pos["i"]
        pos["i"] = (i + BATCH) % (len(ds) - BATCH)
        return ref.step(images[i : i + BATCH], labels[i : i + BATCH])

    h, r = paired(synced(method.step, device), synced(ref_step, device), args.rounds)
    ratio, low, high = paired_ratio(h, r)
    results = {
        "device": str(device),
        "name": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
        "N": args.N,
        "train_img_s": {"harness": BATCH * len(h) / sum(h), "reference": BATCH * len(r) / sum(r)},
        "train_ratio": [ratio, low, high],
    }

    # --- scoring: the same architectures, recalibrate 2 x 128 then 1024 images --------------------------------
    archs = [tuple(int(v) for v in np.random.default_rng(i).integers(0, 5, 6)) for i in range(args.archs)]
    evals = D.to_device(D.eval_batches(D.ImageDataset("e", images[:1024], labels[:1024], 10, ds.mean, ds.std), 256),
                        device)  # fmt: skip
    recal = D.to_device(D.fixed_batches(ds, 2, BATCH, seed=0), device)
    ref_evals = [(images[i : i + 256], labels[i : i + 256]) for i in range(0, 1024, 256)]
    ref_recal = [(images[i : i + BATCH], labels[i : i + BATCH]) for i in (0, BATCH)]
    rounds = max(2, args.rounds // 10)
    for cache in (False, True):  # the forward cache is off on CUDA unless it pays: measured here
        h, r = paired(
            synced(lambda c=cache: score_architectures(method, archs, evals, recal, "recalibrate", cache=c), device),
            synced(lambda: [ref.score(a, ref_evals, ref_recal) for a in archs], device),
            rounds,
            warmup=1,
        )
        ratio, low, high = paired_ratio(h, r)
        key = "score_cache" if cache else "score"
        results[f"{key}_archs_s"] = {"harness": len(archs) * len(h) / sum(h), "reference": len(archs) * len(r) / sum(r)}
        results[f"{key}_ratio"] = [ratio, low, high]
    for key in ("train", "score", "score_cache"):
        rates = results[f"{key}_img_s" if key == "train" else f"{key}_archs_s"]
        ratio, low, high = results[f"{key}_ratio"]
        unit = "img/s" if key == "train" else "archs/s"
        print(
            f"{key} on {results['name']} (N={args.N}): harness {rates['harness']:,.4g} {unit}, reference "
            f"{rates['reference']:,.4g} {unit}; harness/reference {ratio:.2f}x (95% CI {low:.2f}-{high:.2f})"
        )
    if args.out is not None:
        args.out.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
