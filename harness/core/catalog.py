"""What a space folder tells the harness about its benchmark, as data: the official files to download and check
(`Benchmark`, `Resource`), how to describe them (probes) and convert them (post-steps), and reference lines for
the leaderboard. Each spaces/<name>/catalog.py registers one `SpaceCatalog`; the harness reads them all
instead of naming spaces.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

Log = Callable[[str], None]
Probe = Callable[[list[Path]], str]  # found paths -> a short description of what they hold (version, counts)
PostStep = Callable[[str, Path, Path, Log], None]  # (argument, downloaded file, data folder, log)


@dataclass(frozen=True)
class Resource:
    """One file to download. ``post`` holds step names run by ``supernet_bench.fetch`` after a verified
    download: ``extract:<folder>`` (a tar.gz / zip, unpacked under ``<data>/<folder>``; ``.`` for the data
    folder itself) or a step a space catalog defines (e.g. ``macro-parquet``)."""

    url: str | None
    target: str  # path relative to the data folder
    md5: str | None = None  # as published by the data set's authors
    sha256: str | None = None
    size: int | None = None  # bytes, if known
    post: tuple[str, ...] = ()
    verified: bool = True  # False: URL from a third-party source / not tried end to end
    manual: str | None = None  # instructions when there is no direct download
    outputs: tuple[str, ...] = ()  # globs (next to the target) a post-step writes; a missing one reruns it


@dataclass(frozen=True)
class Benchmark:
    name: str
    description: str
    resources: tuple[Resource, ...]
    # what `data check` looks for: (kind, relative path); kind "file", "dir" (either may sit one
    # folder down, as the loaders allow) or "glob" (a pattern that must match at least one file)
    expect: tuple[tuple[str, str], ...]
    probe: str  # version probe name (supernet_bench.fetch.PROBES, filled from the catalogs)
    extra: str | None = None  # pip extra needed for the post-step
    notes: str = ""
    alternatives: tuple[str, ...] = field(default=())  # other accepted files (any one suffices)


@dataclass(frozen=True)
class ReferenceRequest:
    """What a reference estimator is compared on: one leaderboard group and its architecture sample."""

    space: str  # space label, e.g. "nb201" or "nb201:no-zero"
    dataset: str
    gt_column: str
    profile: str
    archs: tuple[str, ...]  # canonical strings of the shared evaluation sample
    data_dir: Path


@dataclass(frozen=True)
class ReferenceLine:
    """A non-supernet estimator shown beside the methods: either predictions the harness scores like a method's
    (`pred` against `target`, with `complexity`), or a Kendall tau known in advance (`kendall_tau`)."""

    method: str
    note: str
    pred: Sequence[float] | None = None
    target: Sequence[float] | None = None
    complexity: Sequence[float] | None = None
    kendall_tau: float | None = None


Reference = Callable[[ReferenceRequest], list[ReferenceLine]]


@dataclass(frozen=True)
class SpaceCatalog:
    """Everything per space the harness needs beyond the space itself (registered by spaces/<name>/catalog.py)."""

    benchmarks: tuple[Benchmark, ...] = ()
    probes: Mapping[str, Probe] = field(default_factory=dict)
    post_steps: Mapping[str, PostStep] = field(default_factory=dict)
    references: Mapping[str, Reference] = field(default_factory=dict)  # space name -> its reference lines

