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
    cmd = [sys.executable, "-m", "harness.cli", "run", "--method", "spos", "--quiet", "--out", str(out)]
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


@pytest.mark.data
@pytest.mark.slow
def test_sigkill_at_random_points_then_resume_is_identical(tmp_path, data_dir):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    reference = tmp_path / "reference"
    t0 = time.monotonic()
    subprocess.run(cli(reference, data_dir), check=True, env=env, timeout=300)
    duration = time.monotonic() - t0
    ref_m, ref_p = results(reference)

    # kill points spread over the run (start-up, training, scoring, parquet/state writes); each resume
    # restarts from the last checkpoint, so later kills land in later checkpoints' work
    killed = tmp_path / "killed"
    kills, kills_after_results = 0, 0
    for fraction in (0.35, 0.55, 0.7, 0.85, 0.95):
        proc = subprocess.Popen(cli(killed, data_dir, "--resume"), env=env)
        time.sleep(fraction * duration)
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            kills += 1
            kills_after_results += (killed / "metrics.parquet").exists()
        proc.wait(timeout=300)
        if killed.exists():
            assert_parseable(killed)
    assert kills >= 2 and kills_after_results >= 1, (kills, kills_after_results)
    subprocess.run(cli(killed, data_dir, "--resume"), check=True, env=env, timeout=300)
    m, p = results(killed)
    assert m.equals(ref_m)
    assert p.equals(ref_p)
