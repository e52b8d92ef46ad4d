"""The official download of every benchmark's files, as data: ``CATALOG[name] -> Benchmark``.

Each benchmark lists its resources (URL, target path under the data folder, the checksum the
publisher gives if any, the size if known, and named post-steps that ``harness.fetch`` runs after a
verified download). A checksum the publisher does not give is ``None``: the fetcher then computes
and prints the sha256 so the user can pin it. ``manual`` marks a file that has no direct download
link (a Google Drive folder): ``data fetch`` prints the instructions instead of downloading.

URL provenance (looked up in the projects' own READMEs; ``verified=False`` marks a URL taken from
a third-party script rather than the publisher's README, or one not tried end to end):

- CIFAR-10/100: https://www.cs.toronto.edu/~kriz/cifar.html (md5 published there).
- NAS-Bench-201: D-X-Y/NAS-Bench-201 README -> Google Drive file 1SKW0Cu0u8-gb18zDpaAGi0f74UdXeGKs
  (``NAS-Bench-201-v1_0-e61699.pth``); its training data, including ImageNet16, is a Google Drive
  *folder* (1L0Lzq8rWpZLPfiQGd6QR8q5xLV88emU7), so ImageNet16-120 is manual.
- NAS-Bench-Macro: ``nas-bench-macro_cifar10.json`` in xiusu/NAS-Bench-Macro (``data/`` folder).
- NAS-Bench-301: automl/nasbench301 README -> figshare article 13061510 (nasbench301_models_v1_0.zip);
  the direct file id 24992018 is the one nasbench301's own download script uses.
- NDS: facebookresearch/nds README -> https://dl.fbaipublicfiles.com/nds/data.zip.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Resource:
    """One file to download. ``post`` holds step names run by ``harness.fetch`` (see POST_STEPS there):
    ``extract:<folder>`` (a tar.gz / zip, unpacked under ``<data>/<folder>``; ``.`` for the data
    folder itself), ``macro-parquet``, ``nb201-parquet``."""

    url: str | None
    target: str  # path relative to the data folder
    md5: str | None = None  # as published by the data set's authors
    sha256: str | None = None
    size: int | None = None  # bytes, if known
    post: tuple[str, ...] = ()
    verified: bool = True  # False: URL from a third-party source / not tried end to end
    manual: str | None = None  # instructions when there is no direct download


@dataclass(frozen=True)
class Benchmark:
    name: str
    description: str
    resources: tuple[Resource, ...]
    # what `data check` looks for: (kind, relative path); kind "file", "dir" (either may sit one
    # folder down, as the loaders allow) or "glob" (a pattern that must match at least one file)
    expect: tuple[tuple[str, str], ...]
    probe: str  # version probe name in harness.fetch.PROBES
    extra: str | None = None  # pip extra needed for the post-step
    notes: str = ""
    alternatives: tuple[str, ...] = field(default=())  # other accepted files (any one suffices)


CATALOG: dict[str, Benchmark] = {
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
    "nb201": Benchmark(
        name="nb201",
        description="NAS-Bench-201 v1.0 API file (about 2 GB)",
        resources=(
            Resource(
                url="https://drive.google.com/uc?export=download&id=1SKW0Cu0u8-gb18zDpaAGi0f74UdXeGKs",
                target="nas-bench-201/NAS-Bench-201-v1_0-e61699.pth",
                post=("nb201-parquet",),
                verified=False,  # Google Drive may answer a large file with a confirmation page
            ),
        ),
        expect=(("file", "nas-bench-201/NAS-Bench-201-v1_0-e61699.pth"),),
        alternatives=("nas-bench-201/nb201.csv", "nas-bench-201/NAS-Bench-201-v1_1-096897.pth"),
        probe="nb201",
        extra="nb201-api",
        notes="converting the .pth into canonical parquet needs `pip install supernet-bench[nb201-api]`",
    ),
    "macro": Benchmark(
        name="macro",
        description="NAS-Bench-Macro ground truth (CIFAR-10, 6561 archs)",
        resources=(
            Resource(
                url="https://raw.githubusercontent.com/xiusu/NAS-Bench-Macro/master/data/nas-bench-macro_cifar10.json",
                target="nas-bench-macro/nas-bench-macro_cifar10.json",
                post=("macro-parquet",),
                verified=False,
            ),
        ),
        expect=(("file", "nas-bench-macro/nas-bench-macro_cifar10.json"),),
        probe="macro",
    ),
    "nb301": Benchmark(
        name="nb301",
        description="NAS-Bench-301 surrogate models v1.0 (we use nb_models/xgb_v1.0)",
        resources=(
            Resource(
                url="https://ndownloader.figshare.com/files/24992018",
                target="nb301/nasbench301_models_v1.0.zip",
                post=("extract:nb301",),
                verified=False,
            ),
        ),
        expect=(("dir", "nb301/nb_models/xgb_v1.0"),),
        probe="nb301",
        extra="nb301",
        notes="the surrogate needs `pip install supernet-bench[nb301]` (xgboost) at scoring time",
    ),
    "nds": Benchmark(
        name="nds",
        description="NDS (On Network Design Spaces) training statistics",
        resources=(
            Resource(
                url="https://dl.fbaipublicfiles.com/nds/data.zip",
                target="nds/data.zip",
                post=("extract:nds",),
                verified=False,
            ),
        ),
        expect=(("glob", "nds/**/*.json"),),
        probe="nds",
        notes="space nds-resnet reads ResNet.json (and ResNet_rng1..3.json), nds-resnexta reads ResNeXt-A.json",
    ),
}
