"""Speed benchmarks (pytest-benchmark; `tox -e bench`). Not part of the default test run.

img/s and archs/s go into `benchmark.extra_info`; compare runs with
`tox -e bench -- --benchmark-compare --benchmark-compare-fail=mean:15%`.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from supernet_bench import data as D
from supernet_bench.evaluation import score_architecture
from supernet_bench.methods import create_method
from supernet_bench.metrics import compute_bundle
from supernet_bench.spaces import get_space

from tests.bench.summary import record_rate
from tests.helpers import tiny_context

torch.set_num_threads(2)
BATCH = 128


@pytest.fixture(scope="module")
def images():
    g = torch.Generator().manual_seed(0)
    return torch.randint(0, 256, (1024, 3, 32, 32), dtype=torch.uint8, generator=g)


@pytest.mark.parametrize("method", ["spos", "fairnas", "spos+calr+ms"])
def test_training_step(benchmark, method):
    ctx = tiny_context(total_passes=10_000, batch=BATCH, res=32)
    ctx.supernet_kwargs = {"C": 16, "N": 1}
    m = create_method(method)
    m.setup(ctx)
    passes = benchmark(m.step)
    record_rate(benchmark, f"train img/s ({method})", "harness", passes * BATCH)


def test_scoring_one_architecture(benchmark):
    torch.manual_seed(0)
    net = get_space("nb201").build_supernet(10, C=16, N=1)
    g = torch.Generator().manual_seed(0)
    evals = [(torch.randn(512, 3, 32, 32, generator=g), torch.randint(0, 10, (512,), generator=g)) for _ in range(2)]
    recal = [(torch.randn(128, 3, 32, 32, generator=g), torch.randint(0, 10, (128,), generator=g)) for _ in range(2)]
    arch = (3, 2, 1, 3, 4, 3)
    benchmark(score_architecture, lambda x: net(x, arch), net, evals, recal, "recalibrate")
    record_rate(benchmark, "score archs/s (random data)", "harness", 1)


def test_augmentation(benchmark, images):
    g = torch.Generator().manual_seed(0)
    benchmark(D.augment, images[:BATCH], g)
    record_rate(benchmark, "augment img/s", "harness", BATCH)


def test_metric_bundle_all_nb201(benchmark):
    rng = np.random.default_rng(0)
    pred, target, comp = rng.random(15625), rng.random(15625), rng.random(15625)
    benchmark(lambda: compute_bundle(pred=pred, target=target, complexity=comp))
