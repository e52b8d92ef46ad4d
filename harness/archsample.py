"""The fixed architecture sample every method and seed of a suite is scored on.

`random:N` (seeded by eval.sample_seed, independent of the run seed), `all`, `subset:NAME` (a
published list shipped with the benchmark's data, e.g. NB201 `kt-subset-327`) or `file:PATH`
(one canonical arch string per line, or a csv/parquet with an `arch` column).

A benchmark that trained only a random sample of its space (NDS) has ground truth for that sample
alone: such a space offers `benchmarked_archs(data_dir)`, and `random:N` / `all` then draw from (or
take) those architectures instead of the whole space.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
from supernet_bench.core.errors import BenchError, DataError
from supernet_bench.spaces.base import Arch, SearchSpace
from supernet_bench.spaces.capabilities import BenchmarkedSample, NamedSubsets


def benchmarked(space: SearchSpace, data_dir: Path | None) -> list[Arch] | None:
    """The architectures with ground truth of a space whose benchmark is a finite sample, else None."""
    if not isinstance(space, BenchmarkedSample):
        return None
    pool = list(space.benchmarked_archs(data_dir))
    if not pool:
        raise BenchError(f"no architecture of space {space.label} has ground truth: nothing to evaluate")
    return pool


def check_sample_size(space: SearchSpace, spec: str, available: int | None = None) -> None:
    """`random:N` may not ask for more architectures than there are (the space's, or `available`)."""
    kind, _, arg = spec.partition(":")
    if kind != "random" or not arg.isdigit():
        return
    total = space.size() if available is None else available
    if int(arg) > total:
        raise BenchError(
            f"eval.sample {spec!r} asks for {arg} architectures but space {space.label} has {total} to draw from; "
            'use eval.sample="all" or a smaller N'
        )


def select_archs(space: SearchSpace, spec: str, seed: int, data_dir: Path | None) -> list[Arch]:
    """The sample `spec` names; at least 2 architectures, never more than the space has."""
    archs = _select(space, spec, seed, data_dir)
    if len(archs) < 2:
        raise BenchError(
            f"eval.sample {spec!r} selects {len(archs)} architecture(s) of space {space.label}; ranking needs 2 or more"
        )
    return archs


def _select(space: SearchSpace, spec: str, seed: int, data_dir: Path | None) -> list[Arch]:
    kind, _, arg = spec.partition(":")
    if kind == "random":
        try:
            n = int(arg)
        except ValueError:
            raise BenchError(f"eval.sample {spec!r}: random:N needs an integer N") from None
        if n < 2:
            raise BenchError(f"eval.sample {spec!r}: need at least 2 architectures to rank")
        pool = benchmarked(space, data_dir)
        check_sample_size(space, spec, None if pool is None else len(pool))
        if pool is None:
            return space.sample_distinct(np.random.default_rng(seed), n)
        if n >= len(pool):
            return pool
        picked = np.sort(np.random.default_rng(seed).choice(len(pool), size=n, replace=False))
        return [pool[i] for i in picked]
    if kind == "all":
        pool = benchmarked(space, data_dir)
        return pool if pool is not None else list(space.enumerate())
    if kind == "subset":
        if not isinstance(space, NamedSubsets):
            raise BenchError(f"space {space.label} has no named architecture subsets")
        archs = space.load_named_subset(arg, data_dir)
        return [space.check(tuple(a)) for a in archs]
    if kind == "file":
        return read_arch_list(space, Path(arg))
    raise BenchError(f"eval.sample {spec!r} must be random:N, all, subset:NAME or file:PATH")


def read_arch_list(space: SearchSpace, path: Path) -> list[Arch]:
    if not path.is_file():
        raise DataError(f"architecture list {path} does not exist")
    if path.suffix in (".csv", ".parquet"):
        df = pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path, dtype={"arch": str})
        if "arch" not in df.columns:
            raise DataError(f"architecture list {path} has no 'arch' column")
        texts = df["arch"].astype(str).tolist()
    else:
        texts = [line.strip() for line in path.read_text().splitlines() if line.strip()]
    archs = []
    for i, text in enumerate(texts, 1):
        try:
            archs.append(space.decode(text))
        except BenchError as e:
            raise BenchError(f"{path}, entry {i}: {e}") from None
    if len(set(archs)) != len(archs):
        raise DataError(f"architecture list {path} has duplicate architectures")
    return archs


def sample_digest(space: SearchSpace, archs: list[Arch]) -> str:
    """sha256 of the canonical strings: two runs ranked the same archs iff digests match."""
    return hashlib.sha256("\n".join(space.encode(a) for a in archs).encode()).hexdigest()
