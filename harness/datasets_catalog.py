"""The official download of every benchmark's files, as data: ``CATALOG[name] -> Benchmark``: the image data
sets here, each space's benchmark from its own catalog (spaces/<name>/catalog.py).

Each benchmark lists its resources (URL, target path under the data folder, the checksum the
publisher gives if any, the size if known, and named post-steps that ``harness.fetch`` runs after a
verified download). A checksum the publisher does not give is ``None``: the fetcher then computes
and prints the sha256 so the user can pin it. ``manual`` marks a file that has no direct download
link (a Google Drive folder): ``data fetch`` prints the instructions instead of downloading.

URL provenance (looked up in the projects' own READMEs; ``verified=False`` marks a URL taken from
a third-party script rather than the publisher's README, or one not tried end to end):

- CIFAR-10/100: https://www.cs.toronto.edu/~kriz/cifar.html (md5 published there).
- ImageNet16-120: the NAS-Bench-201 README publishes its training data as a Google Drive *folder*
  (1L0Lzq8rWpZLPfiQGd6QR8q5xLV88emU7), so it is manual.
- the benchmarks' own files: see each space's catalog.py.
"""

from __future__ import annotations

from supernet_bench.core.catalog import Benchmark, Resource
from supernet_bench.spaces import space_catalogs

DATASETS: dict[str, Benchmark] = {
    "cifar10": Benchmark(
        name="cifar10",
        description="CIFAR-10, official python version",
        resources=(
            Resource(
                url="https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",
                target="cifar-10-python.tar.gz",
                md5="c58f30108f718f92721af3b95e74349a",
                size=170498071,
                post=("extract:.",),
            ),
        ),
        expect=(("dir", "cifar-10-batches-py"),),
        probe="cifar10",
    ),
    "cifar100": Benchmark(
        name="cifar100",
        description="CIFAR-100, official python version",
        resources=(
            Resource(
                url="https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz",
                target="cifar-100-python.tar.gz",
                md5="eb9058c3a382ffc7106e4002c42a8d85",
                size=169001437,
                post=("extract:.",),
            ),
        ),
        expect=(("dir", "cifar-100-python"),),
        probe="cifar100",
    ),
    "imagenet16-120": Benchmark(
        name="imagenet16-120",
        description="ImageNet16 (16x16 downsampled ImageNet) in the NAS-Bench-201 format",
        resources=(
            Resource(
                url=None,
                target="ImageNet16",
                manual=(
                    "no direct link: the NAS-Bench-201 README (github.com/D-X-Y/NAS-Bench-201) publishes the "
                    "training data as a Google Drive folder, https://drive.google.com/open?id="
                    "1L0Lzq8rWpZLPfiQGd6QR8q5xLV88emU7 (or Baidu-Wangpan https://pan.baidu.com/s/"
                    "1XAzavPKq3zcat1yBA1L2tQ, code 4fg7); download ImageNet16 from it and put "
                    "train_data_batch_1..10 and val_data under <data>/ImageNet16/"
                ),
            ),
        ),
        expect=(("dir", "ImageNet16"),),
        probe="imagenet16",
    ),
}

# the image data sets above, then every space catalog's benchmarks (spaces/<name>/catalog.py)
CATALOG: dict[str, Benchmark] = {**DATASETS, **{b.name: b for cat in space_catalogs() for b in cat.benchmarks}}

__all__ = ["CATALOG", "DATASETS", "Benchmark", "Resource"]
