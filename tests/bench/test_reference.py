"""Harness vs the papers' reference loop (issue 9), and how close the harness gets to this CPU's peak.

Same configuration on both sides (NB201 supernet C=16 N=1, batch 128, 32x32, SPOS, recalibrate 2x128 then
score 1024 images), one process, the same thread count. The terminal summary prints the ratios and the
achieved fraction of the measured peak conv FLOP/s; numbers also go to `benchmark.extra_info`.
"""

from __future__ import annotations

import random
import time

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from supernet_bench import data as D
from supernet_bench.allocator import keep_freed_memory
from supernet_bench.evaluation import score_architectures
from supernet_bench.methods import create_method
from supernet_bench.methods.base import TrainContext
from supernet_bench.spaces import get_space
from torch.utils.flop_counter import FlopCounterMode

from tests.bench.reference_nb201 import ReferenceSPOS
from tests.bench.summary import record_paired, record_rate

THREADS = 2
BATCH, RES, C, N = 128, 32, 16, 1
ARCH = (3, 2, 1, 3, 4, 3)  # a typical path: convs, a pool, a skip and a none edge


@pytest.fixture(scope="module", autouse=True)
def threads():
    keep_freed_memory()  # as every harness run does (harness/allocator.py); process-wide, so both sides get it
    before = torch.get_num_threads()
    torch.set_num_threads(THREADS)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def dataset():
    g = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (2048, 3, RES, RES), dtype=torch.uint8, generator=g)
    labels = torch.randint(0, 10, (2048,), generator=g)
    return D.ImageDataset("bench", images, labels, 10, (0.49, 0.48, 0.45), (0.25, 0.24, 0.26))


def harness_spos(dataset) -> tuple[object, D.BatchStream]:
    stream = D.BatchStream(dataset, BATCH, seed=0)
    torch.manual_seed(0)
    ctx = TrainContext(
        space=get_space("nb201"),
        num_classes=10,
        supernet_kwargs={"C": C, "N": N},
        next_batch=stream.next,
        total_passes=100_000,
        batch_size=BATCH,
        train_size=len(dataset),
        seed=0,
        rng=np.random.default_rng(0),
    )
    method = create_method("spos")
    method.setup(ctx)
    return method, stream


def test_train_harness(benchmark, dataset):
    method, _ = harness_spos(dataset)
    benchmark.pedantic(method.step, rounds=40, warmup_rounds=3)
    record_rate(benchmark, "train img/s", "harness", BATCH)


def harness_path_sequence():
    """The paths the harness's SPOS draws (same space, seed and sampler): both sides train the same ones."""
    space, rng = get_space("nb201"), np.random.default_rng(0)
    return lambda: space.sample(rng, space.allowed)


def reference_training_step(dataset):
    """One reference SPOS step per call, on the harness's path sequence and consecutive raw batches."""
    ref = ReferenceSPOS(C, N, sample_arch=harness_path_sequence())
    state = {"i": 0}

    def step():
        i = state["i"]
        state["i"] = (i + BATCH) % (len(dataset) - BATCH)
        return ref.step(dataset.images[i : i + BATCH], dataset.labels[i : i + BATCH])

    return step


def test_train_reference(benchmark, dataset):
    benchmark.pedantic(reference_training_step(dataset), rounds=40, warmup_rounds=3)
    record_rate(benchmark, "train img/s", "reference", BATCH)


def _eval_split(dataset):
    return dataset.images[:1024], dataset.labels[:1024]


# scoring is measured as the harness does it: a sample of architectures in one pass, where the stem and the
# first cell's op outputs that architectures share are computed once per batch (spaces/forward_cache.py);
# the reference scores the same architectures one by one
SCORE_ARCHS = [ARCH, (3, 3, 3, 3, 3, 3), (2, 3, 1, 2, 3, 4), (3, 1, 4, 2, 2, 3), (1, 3, 3, 4, 2, 3), (3, 2, 3, 3, 0, 2)]


def harness_scoring(dataset, archs, eval_batch: int):
    """A call that scores `archs` as the protocol does (recalibrate on 2 batches, then 1024 test images)."""
    method, _ = harness_spos(dataset)
    images, labels = _eval_split(dataset)
    evals = list(D.eval_batches(D.ImageDataset("eval", images, labels, 10, dataset.mean, dataset.std), eval_batch))
    recal = D.fixed_batches(dataset, 2, BATCH, seed=0)
    return lambda: score_architectures(method, archs, evals, recal, "recalibrate")


def reference_scoring(dataset, archs, eval_batch: int):
    """The same work for the reference: one architecture at a time, per-image preprocessing."""
    ref = ReferenceSPOS(C, N)
    images, labels = _eval_split(dataset)
    evals = [(images[i : i + eval_batch], labels[i : i + eval_batch]) for i in range(0, len(images), eval_batch)]
    recal = [(dataset.images[i : i + BATCH], dataset.labels[i : i + BATCH]) for i in (0, BATCH)]
    return lambda: [ref.score(arch, evals, recal) for arch in archs]


def score_harness(benchmark, dataset, archs, eval_batch: int, rounds: int, quantity: str) -> None:
    benchmark.pedantic(harness_scoring(dataset, archs, eval_batch), rounds=rounds, warmup_rounds=1)
    record_rate(benchmark, quantity, "harness", len(archs))


def score_reference(benchmark, dataset, archs, eval_batch: int, rounds: int, quantity: str) -> None:
    benchmark.pedantic(reference_scoring(dataset, archs, eval_batch), rounds=rounds, warmup_rounds=1)
    record_rate(benchmark, quantity, "reference", len(archs))


@pytest.mark.parametrize("eval_batch", [128, 512])
def test_score_harness(benchmark, dataset, eval_batch):
    score_harness(benchmark, dataset, SCORE_ARCHS, eval_batch, 5, f"score archs/s (eval batch {eval_batch})")


@pytest.mark.parametrize("eval_batch", [128, 512])
def test_score_reference(benchmark, dataset, eval_batch):
    score_reference(benchmark, dataset, SCORE_ARCHS, eval_batch, 5, f"score archs/s (eval batch {eval_batch})")


def test_peak_conv(benchmark):
    """A plain 3x3 conv forward (64->64 channels, 32x32, batch 128, channels-last): this CPU's practical peak."""
    conv = torch.nn.Conv2d(64, 64, 3, padding=1, bias=False).to(memory_format=torch.channels_last)
    x = torch.randn(BATCH, 64, 32, 32).contiguous(memory_format=torch.channels_last)
    flops = 2 * BATCH * 64 * 64 * 9 * 32 * 32
    with torch.no_grad():
        benchmark.pedantic(conv, args=(x,), rounds=20, warmup_rounds=3)
    record_rate(benchmark, "FLOP/s", "peak conv", flops)


def test_harness_flops(benchmark, dataset):
    """FLOP/s the harness's training step achieves: FLOPs counted by torch over many sampled paths."""
    method, stream = harness_spos(dataset)
    rng = random.Random(0)
    archs = [tuple(rng.randrange(5) for _ in range(6)) for _ in range(50)]
    net = method.trainer.supernet
    x, y = stream.next()
    counter = FlopCounterMode(display=False)
    with counter:
        for arch in archs:
            F.cross_entropy(net(x, arch), y).backward()
    flops_per_step = counter.get_total_flops() / len(archs)
    assert flops_per_step > 0, "the FLOP counter saw no convolutions"
    net.zero_grad()
    benchmark.pedantic(method.step, rounds=40, warmup_rounds=3)
    benchmark.extra_info["flops_per_step"] = flops_per_step
    record_rate(benchmark, "FLOP/s", "harness train", flops_per_step)


# a realistic sample at the 32x32 / batch-128 configuration: the 30 random architectures below, as
# a scoring pass of the protocol sees them (the 6 hand-picked archs above are the small-sample case);
# PROXY_ARCHS is defined with the proxy-scale benchmarks below
def test_score_harness_sample(benchmark, dataset):
    score_harness(benchmark, dataset, PROXY_ARCHS, 128, 2, "score archs/s (32x32, 30 archs)")


def test_score_reference_sample(benchmark, dataset):
    score_reference(benchmark, dataset, PROXY_ARCHS, 128, 2, "score archs/s (32x32, 30 archs)")


# the same comparison at the proxy leaderboard's scale (profile `proxy`: 16x16 images, a 100-arch sample):
# 30 random architectures, so the shared first-cell computations recur as they do in a real scoring pass
PROXY_ARCHS = [tuple(int(v) for v in np.random.default_rng(0).integers(0, 5, 6)) for _ in range(30)]


@pytest.fixture(scope="module")
def proxy_dataset():
    g = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (1280, 3, 16, 16), dtype=torch.uint8, generator=g)
    labels = torch.randint(0, 10, (1280,), generator=g)
    return D.ImageDataset("bench16", images, labels, 10, (0.49, 0.48, 0.45), (0.25, 0.24, 0.26))


def test_score_harness_proxy_scale(benchmark, proxy_dataset):
    score_harness(benchmark, proxy_dataset, PROXY_ARCHS, 128, 3, "score archs/s (16x16, 30 archs)")


def test_score_reference_proxy_scale(benchmark, proxy_dataset):
    score_reference(benchmark, proxy_dataset, PROXY_ARCHS, 128, 3, "score archs/s (16x16, 30 archs)")


# The ratios the issue asks for, measured so that a shared VM's drift cancels: each round times the harness and
# the reference back to back on the same work (same paths in the same order; the same architecture sample).
class Interleaved:
    """Runs harness / reference pairs, alternating which side goes first, and keeps each side's times."""

    def __init__(self, harness_fn, reference_fn, warmup: int = 1):
        self.fns, self.times, self.round = (harness_fn, reference_fn), ([], []), 0
        for _ in range(warmup):  # untimed
            harness_fn()
            reference_fn()

    def __call__(self) -> None:
        order = (0, 1) if self.round % 2 == 0 else (1, 0)
        for side in order:
            start = time.perf_counter()
            self.fns[side]()
            self.times[side].append(time.perf_counter() - start)
        self.round += 1


def test_train_paired(benchmark, dataset):
    method, _ = harness_spos(dataset)
    pairs = Interleaved(method.step, reference_training_step(dataset), warmup=3)  # same paths on both sides
    benchmark.pedantic(pairs, rounds=60, warmup_rounds=0)
    record_paired(benchmark, "train img/s (32x32, batch 128)", *pairs.times)


@pytest.mark.parametrize("archs,label", [(SCORE_ARCHS, "6 archs"), (PROXY_ARCHS, "30 archs")])
def test_score_paired(benchmark, dataset, archs, label):
    pairs = Interleaved(harness_scoring(dataset, archs, BATCH), reference_scoring(dataset, archs, BATCH))
    benchmark.pedantic(pairs, rounds=4 if len(archs) < 10 else 2, warmup_rounds=0)
    record_paired(benchmark, f"score archs/s (32x32, {label}, eval batch {BATCH})", *pairs.times)
