"""Shared fixtures. Real-data tests read SUPERNET_BENCH_DATA; CI sets SUPERNET_BENCH_REQUIRE_DATA=1
so that a missing data folder fails loudly instead of skipping."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

torch.set_num_threads(1)  # tiny test networks run fastest single-threaded, and CI has 2 cores


def pytest_collection_modifyitems(config, items) -> None:
    """Tests marked `gpu` need CUDA: skipped (reported as such) where there is none, so CI stays green."""
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs CUDA (gpu marker): run `tox -e gpu` or scripts/gpu-check on a GPU")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)


def _require_data() -> bool:
    return os.environ.get("SUPERNET_BENCH_REQUIRE_DATA", "") not in ("", "0")


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The real data folder (SUPERNET_BENCH_DATA); skipped when unset unless CI requires it."""
    value = os.environ.get("SUPERNET_BENCH_DATA")
    if not value:
        if _require_data():
            pytest.fail("SUPERNET_BENCH_DATA is not set but SUPERNET_BENCH_REQUIRE_DATA=1")
        pytest.skip("SUPERNET_BENCH_DATA not set: real-data test skipped")
    path = Path(value)
    if not path.is_dir():
        pytest.fail(f"SUPERNET_BENCH_DATA={value} is not a folder")
    return path


@pytest.fixture(scope="session")
def nb201_csv(data_dir: Path) -> Path:
    """The real NAS-Bench-201 ground-truth table."""
    path = data_dir / "nas-bench-201" / "nb201.csv"
    if not path.is_file():
        pytest.fail(f"missing {path}")
    return path
