"""What a board says about itself (harness/caveats.py) and the fixed method styles of the figures."""

from __future__ import annotations

from pathlib import Path

from supernet_bench import aggregate as A
from supernet_bench import figures as F
from supernet_bench import leaderboard as L
from supernet_bench.caveats import board_caveats
from supernet_bench.methods import method_names
from supernet_bench.report import ordered_groups
from supernet_bench.signal import signal_rows, verdict

from tests.harness.test_aggregate import GT, write_run

OTHER = "cifar10_ori-test_hp200"


def test_every_registry_method_has_its_own_colour_and_marker():
    names = method_names()
    assert len(names) >= 16
    styles = [F.method_style(m) for m in names]
    assert len(set(styles)) == len(names)
    assert len({c for c, _ in styles}) == len(names)  # 16 methods, 16 colours (tab20)
    assert F.method_style("spos") == F.method_style("spos")  # the same in every figure


def test_partial_and_pooled_flags_and_primary_first(tmp_path: Path):
    for seed in (0, 1, 2):
        write_run(tmp_path, method="spos", seed=seed, kt=(0.0, 0.3 + 0.01 * seed), gt_columns=(GT, OTHER))
    write_run(tmp_path, method="fairnas", seed=0, kt=(0.0, 0.2), gt_columns=(GT, OTHER),
              versions={"git_sha": "abc", "cpu_capability": "AVX2"})
    runs = A.load_runs(tmp_path)
    board = L.leaderboard(A.summarize(runs.metrics))
    order = ordered_groups(board)
    assert [g[2] for g in order] == [GT, OTHER]  # the runs' primary column first, whatever its name sorts as
    lines, flags = board_caveats(runs, order[0], board, signal_rows(runs.metrics, runs.final_predictions()), "x")
    assert any(f.startswith("PARTIAL: fewer seeds than the others (3): fairnas (1)") for f in flags)
    # one entry per commit with its run count; a dirty tree counts with its commit
    assert "STALE?: runs made at code version(s) abc (1 runs), synthetic (3 runs); this checkout is x" in flags
    assert lines[0].startswith("Profile smoke") and "not comparable with paper numbers" in lines[0]
    assert "null std for 6 architectures" in lines[1]


def test_verdict_counts_clear_gains(tmp_path: Path):
    for seed in (0, 1):
        archs = [f"a{i}" for i in range(40)]
        write_run(tmp_path, method="spos", seed=seed, kt=(0.0, 0.9), fractions=(0.0, 1.0), archs=archs)
        write_run(tmp_path, method="fairnas", seed=seed, kt=(0.0, 0.01), fractions=(0.0, 1.0), archs=archs)
    runs = A.load_runs(tmp_path)
    text = verdict(signal_rows(runs.metrics, runs.final_predictions()))
    assert text.startswith("informative: 1 of 2 methods")
