"""Two suites writing into one results root at once: no corruption, no run computed twice."""

from __future__ import annotations

import subprocess
import sys

import pandas as pd
import pytest

from tests.helpers import TINY_OVERRIDES

SUITE = """
description = "two suites at once"
profile = "smoke"
seeds = [0, 1]
methods = ["spos", "fairnas"]
spaces = ["nb201"]
datasets = ["cifar10"]
overrides = [{overrides}]
"""


@pytest.mark.data
@pytest.mark.slow
def test_two_suites_share_a_root(tmp_path, data_dir):
    suite = tmp_path / "s.toml"
    suite.write_text(SUITE.format(overrides=", ".join(repr(o) for o in TINY_OVERRIDES)))
    root = tmp_path / "root"
    cmd = [
        sys.executable,
        "-m",
        "supernet_bench.cli",
        "suite",
        str(suite),
        "--out",
        str(root),
        "--data-dir",
        str(data_dir),
    ]
    procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outs = [p.communicate(timeout=600) for p in procs]
    assert all(p.returncode == 0 for p in procs), outs
    lines = [line for out, _ in outs for line in out.splitlines() if line.startswith("[")]
    computed = [line for line in lines if " ran " in line or " resumed " in line]
    labels = [line.split()[2] for line in computed]
    assert len(labels) == len(set(labels)) == 4, lines  # every run computed exactly once
    runs = sorted(root.glob("smoke/nb201/cifar10/*/seed*"))
    assert len(runs) == 4
    for run in runs:
        assert '"status": "complete"' in (run / "manifest.json").read_text()
        assert len(pd.read_parquet(run / "metrics.parquet")) == 4
