"""harness/signal.py: gain over initialization and seed-to-seed agreement, on hand-computed cases."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from supernet_bench.report import signal_tables
from supernet_bench.signal import kendall_null_std, seed_to_seed_tau, signal_rows

from tests.harness.test_aggregate import GT, write_run

KEYS = {"space": "nb201", "dataset": "cifar10", "profile": "proxy", "method": "spos"}


def frames(init=(0.1, 0.0, -0.1), final=(0.3, 0.05, -0.2), scores=((1, 2, 3, 4), (1, 2, 4, 3), (4, 3, 2, 1))):
    metrics, preds = [], []
    for seed, (i, f, s) in enumerate(zip(init, final, scores, strict=True)):
        run = f"proxy/nb201/cifar10/spos/seed{seed}"
        for cp, (frac, kt) in enumerate([(0.0, i), (1.0, f)]):
            metrics.append({**KEYS, "gt_column": GT, "run_path": run, "seed": seed, "checkpoint": cp,
                            "budget_fraction": frac, "kendall_tau": kt, "n_archs": 4})
        preds += [{**KEYS, "run_path": run, "seed": seed, "arch": a, "score": float(v)}
                  for a, v in zip("abcd", s, strict=True)]
    return pd.DataFrame(metrics), pd.DataFrame(preds)


def test_kendall_null_std_hand_value():
    assert kendall_null_std(4) == pytest.approx(math.sqrt(26 / 108))
    assert kendall_null_std(100) == pytest.approx(0.0678, abs=1e-4)  # sqrt(410 / 89100)
    assert math.isnan(kendall_null_std(1))


def test_seed_to_seed_tau_is_the_mean_over_pairs():
    _, preds = frames()
    # (1234, 1243): 4/6; (1234, 4321): -1; (1243, 4321): -4/6  -> mean -1/3
    assert seed_to_seed_tau(preds) == pytest.approx(-1 / 3)
    one = preds[preds.run_path.str.endswith("seed0")]
    assert math.isnan(seed_to_seed_tau(one))


def test_seed_to_seed_tau_aligns_architectures_not_rows():
    _, preds = frames(scores=((1, 2, 3, 4), (1, 2, 3, 4), (1, 2, 3, 4)))
    shuffled = pd.concat([preds.iloc[:4], preds.iloc[4:8].iloc[::-1], preds.iloc[8:]])
    assert seed_to_seed_tau(shuffled) == pytest.approx(1.0)


def test_signal_rows_gain_and_spread():
    metrics, preds = frames()
    (row,) = signal_rows(metrics, preds).to_dict("records")
    assert row["seeds"] == 3 and row["seeds_gained"] == 2
    np.testing.assert_allclose(row["gain"], [0.2, 0.05, -0.1])
    assert row["seed_to_seed_tau"] == pytest.approx(-1 / 3)
    assert row["score_spread"] == pytest.approx(np.std([1, 2, 3, 4], ddof=1))
    assert row["kt_null_std"] == pytest.approx(kendall_null_std(4))


def test_no_untrained_checkpoint_means_no_gain():
    metrics, preds = frames()
    metrics.loc[metrics.checkpoint == 0, "budget_fraction"] = 0.5
    (row,) = signal_rows(metrics, preds).to_dict("records")
    assert np.isnan(row["kt_init"]).all() and row["seeds_gained"] == 0
    (_, shown), = signal_tables(metrics, preds)
    assert shown.iloc[0]["KT @ 0%"] == "n/a" and shown.iloc[0]["gain per seed (min .. max)"] == "n/a"


def test_signal_table_strings():
    metrics, preds = frames()
    (title, shown), = signal_tables(metrics, preds)
    assert "4 architectures" in title and "0.491" in title
    r = shown.iloc[0]
    assert r["KT @ 0%"] == "0.000 ± 0.100" and r["gain per seed (min .. max)"] == "-0.100 .. +0.200"
    assert r["seeds gained"] == "2/3" and r["seed-to-seed KT"] == "-0.333" and r["score spread"] == "1.29"


def test_report_writes_the_signal_table(tmp_path: Path, monkeypatch):
    monkeypatch.delenv("SUPERNET_BENCH_DATA", raising=False)
    root = tmp_path / "runs"
    for seed, final in enumerate((0.3, 0.5)):
        write_run(root, method="spos", seed=seed, kt=(0.1, final), fractions=(0.0, 1.0))
    from supernet_bench.report import build_report

    report = build_report(root, tmp_path / "out")
    text = (tmp_path / "out" / "tables" / "signal.md").read_text()
    assert "| spos | 2 | 0.100 ± 0.000 | 0.400 ± 0.141 | +0.200 .. +0.400 | 2/2 |" in text
    assert tmp_path / "out" / "tables" / "signal.md" in report.tables
    assert "Signal: Kendall tau untrained" in (tmp_path / "out" / "index.html").read_text()
