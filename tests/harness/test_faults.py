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

# A little more work than TINY_OVERRIDES so each checkpoint segment outlasts the 20 ms polling below.
OVERRIDES = [*TINY_OVERRIDES, "data.train_limit=512", "data.resolution=16", 'eval.sample="random:16"', "supernet.C=8"]
ARGS = [x for o in OVERRIDES for x in ("--set", o)] + ["--set", "run.checkpoints=[0.0, 0.25, 0.5, 0.75, 1.0]"]
SEGMENTS = 5  # checkpoints in ARGS


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


def wait_for(proc, ready, timeout: float = 240.0) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end and proc.poll() is None and not ready():
        time.sleep(0.02)


def kill_when(proc, ready, delay: float) -> bool:
    """SIGKILL `proc` `delay` seconds after `ready()` turns true; False if it ended first."""
    wait_for(proc, ready)
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
    proc = subprocess.Popen(cli(reference, data_dir), env=env)
    wait_for(proc, lambda: (reference / "manifest.json").exists())
    started = time.monotonic()
    assert proc.wait(timeout=300) == 0
    # Delays are fractions of one checkpoint segment as measured on this machine, so a fast CI runner
    # cannot finish the run before a kill lands and a slow one cannot skip a kill point.
    segment = (time.monotonic() - started) / SEGMENTS
    ref_m, ref_p = results(reference)

    # Kill points are tied to the run's progress: during start-up/training, right after a checkpoint's
    # parquet write (state save, next training), and part-way into the next segment (training or scoring).
    # Each resume restarts from the last saved checkpoint.
    killed = tmp_path / "killed"
    metrics = killed / "metrics.parquet"
    points = [("manifest", 0.3), ("write", 0.0), ("write", 0.3), ("write", 0.0), ("write", 0.6)]
    points += [("write", 0.0)] * SEGMENTS  # spares, used only if a kill above found the run already ended
    kills, kills_after_results = 0, 0
    for event, fraction in points:
        if kills >= 3 and kills_after_results >= 2:
            break
        before = mtime(metrics)
        proc = subprocess.Popen(cli(killed, data_dir, "--resume"), env=env)
        if event == "manifest":
            ready = lambda: (killed / "manifest.json").exists()  # noqa: E731
        else:
            ready = lambda before=before: mtime(metrics) != before  # noqa: E731
        if kill_when(proc, ready, fraction * segment):
            kills += 1
            kills_after_results += metrics.exists()
        assert_parseable(killed)
    assert kills >= 3 and kills_after_results >= 2, (kills, kills_after_results, segment)
    subprocess.run(cli(killed, data_dir, "--resume"), check=True, env=env, timeout=300)
    m, p = results(killed)
    assert m.equals(ref_m)
    assert p.equals(ref_p)
