"""Fault injection: a run killed with SIGKILL at random points resumes to the identical result, and no
results file is ever left half-written (every file in the run directory parses at every kill point)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pandas as pd
import pytest

from tests.helpers import TINY_OVERRIDES

ARGS = [x for o in TINY_OVERRIDES for x in ("--set", o)] + ["--set", "run.checkpoints=[0.0, 0.25, 0.5, 0.75, 1.0]"]


def cli(out, data_dir, *extra):
    cmd = [sys.executable, "-m", "supernet_bench.cli", "run", "--method", "spos", "--quiet", "--out", str(out)]
    return cmd + ["--data-dir", str(data_dir), *ARGS, *extra]


def assert_parseable(run_dir):
    """Whatever a kill left behind is either absent or complete."""
    for name in ("metrics.parquet", "predictions.parquet"):
        if (run_dir / name).exists():
            pd.read_parquet(run_dir / name)
    if (run_dir / "manifest.json").exists():
        json.loads((run_dir / "manifest.json").read_text())


def results(run_dir):
    m = pd.read_parquet(run_dir / "metrics.parquet").drop(
        columns=["run_id", "train_wall_s", "eval_wall_s", "peak_rss_mb"]
    )
    p = pd.read_parquet(run_dir / "predictions.parquet").drop(columns=["run_id"])
    return m, p


def mtime(path):
    return path.stat().st_mtime_ns if path.exists() else 0


def kill_when(proc, ready, delay: float, timeout: float = 240.0) -> bool:
    """SIGKILL `proc` `delay` seconds after `ready()` turns true; False if it ended first."""
    end = time.monotonic() + timeout
    while time.monotonic() < end and proc.poll() is None and not ready():
        time.sleep(0.02)
    time.sleep(delay)
    if proc.poll() is not None:
        return False
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=60)
    return True


@pytest.mark.data
@pytest.mark.slow
def test_sigkill_at_random_points_then_resume_is_identical(tmp_path, data_dir):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    reference = tmp_path / "reference"
    subprocess.run(cli(reference, data_dir), check=True, env=env, timeout=300)
    ref_m, ref_p = results(reference)

    # Kill points are tied to the run's progress, not to the clock, so a loaded machine cannot skip them:
    # during start-up/training, right after a checkpoint's parquet write (state save, next training),
    # and a little later (training or scoring). Each resume restarts from the last saved checkpoint.
    killed = tmp_path / "killed"
    metrics = killed / "metrics.parquet"
    points = [("manifest", 0.3), ("write", 0.0), ("write", 0.15), ("write", 0.0), ("write", 0.4)]
    kills, kills_after_results = 0, 0
    for event, delay in points:
        before = mtime(metrics)
        proc = subprocess.Popen(cli(killed, data_dir, "--resume"), env=env)
        if event == "manifest":
            ready = lambda: (killed / "manifest.json").exists()  # noqa: E731
        else:
            ready = lambda before=before: mtime(metrics) != before  # noqa: E731
        if kill_when(proc, ready, delay):
            kills += 1
            kills_after_results += metrics.exists()
        assert_parseable(killed)
    assert kills >= 3 and kills_after_results >= 2, (kills, kills_after_results)
    subprocess.run(cli(killed, data_dir, "--resume"), check=True, env=env, timeout=300)
    m, p = results(killed)
    assert m.equals(ref_m)
    assert p.equals(ref_p)
