"""harness/leaderboard.py, harness/figures.py and harness/report.py on synthetic run directories."""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from scipy import stats
from supernet_bench import aggregate as A
from supernet_bench import figures as F
from supernet_bench import leaderboard as L
from supernet_bench.cli import main
from supernet_bench.report import build_report, fmt, fmt_ci, fmt_pm, leaderboard_markdown, markdown_table

from tests.harness.test_aggregate import GT, write_run


@pytest.fixture
def no_data_env(monkeypatch):
    """Reference lines need the data folder; these tests run without one."""
    monkeypatch.delenv("SUPERNET_BENCH_DATA", raising=False)


@pytest.fixture
def three_methods(tmp_path: Path) -> Path:
    """Final mean KT: close 0.625, spos 0.375, fairnas 0.375 (an exact tie), each over 2 seeds."""
    for method, finals in {"spos": (0.25, 0.5), "fairnas": (0.125, 0.625), "close": (0.5, 0.75)}.items():
        for seed, final in enumerate(finals):
            values = {f"rd_group{g}": g - 3.0 for g in range(1, 6)} | {"complexity_bias": 0.6, "top1_gt": 91.0}
            write_run(tmp_path, method=method, seed=seed, kt=(0.0, final), values=values)
    return tmp_path


def board_of(root: Path, references: pd.DataFrame | None = None) -> pd.DataFrame:
    return L.leaderboard(A.summarize(A.load_runs(root).metrics), references)


def test_leaderboard_order_follows_mean_kt(three_methods: Path):
    board = board_of(three_methods)
    assert list(board.method) == ["close", "fairnas", "spos"]  # tie broken by name, rank shared
    assert list(board["rank"]) == [1.0, 2.0, 2.0]
    assert board.kendall_tau_mean.tolist() == [0.625, 0.375, 0.375]
    assert (board.kind == L.METHOD).all() and (board.checkpoint == 1).all()
    assert list(board.columns) == L.LEADERBOARD_SCHEMA.names


def test_references_sit_beside_the_ranked_methods(three_methods: Path, tmp_path: Path):
    refs = pd.DataFrame(
        [
            {
                "space": "nb201",
                "dataset": "cifar10",
                "gt_column": GT,
                "profile": "smoke",
                "method": "oracle",
                "kendall_tau": 0.9,
                "spearman": 0.95,
                "note": "made up",
            }
        ]
    )
    board = board_of(three_methods, refs)
    assert list(board.kind) == [L.METHOD] * 3 + [L.REFERENCE]
    ref = board.iloc[-1]
    assert ref.method == "oracle" and ref.kendall_tau_mean == 0.9 and math.isnan(ref["rank"]) and ref.n_seeds == 0
    L.write_leaderboard(board, tmp_path / "lb.parquet")
    table = pq.read_table(tmp_path / "lb.parquet")
    assert table.schema.equals(L.LEADERBOARD_SCHEMA, check_metadata=False) and table.num_rows == 4
    text = leaderboard_markdown(board)
    assert "| ref | *oracle* |" in text and "- *oracle*: made up" in text


def test_rank_summary_needs_five_tasks(three_methods: Path):
    ranks = L.rank_summary(board_of(three_methods))
    assert ranks.mean_rank.to_dict() == {"close": 1.0, "fairnas": 2.5, "spos": 2.5}
    assert ranks.test == "" and any("needs at least 5" in n for n in ranks.notes)
    assert F.critical_difference_figure(ranks) is None


def test_rank_summary_runs_friedman_nemenyi_over_tasks(tmp_path: Path):
    for t in range(6):
        for method, final in {"a": 0.6, "b": 0.4, "c": 0.2, "d": 0.1}.items():
            write_run(tmp_path, method=method, dataset=f"set{t}", kt=(0.0, final + 0.01 * t))
    ranks = L.rank_summary(board_of(tmp_path))
    assert list(ranks.mean_rank.index) == ["a", "b", "c", "d"]
    assert ranks.mean_rank.tolist() == [1.0, 2.0, 3.0, 4.0]
    assert ranks.test == "friedman" and ranks.pvalue < 0.05
    # Nemenyi CD = q_0.05(k=4) * sqrt(k(k+1) / (6N)) = 2.569 * sqrt(20 / 36)
    assert ranks.critical_difference == pytest.approx(2.569 * math.sqrt(20 / 36), abs=0.01)
    fig = F.critical_difference_figure(ranks)
    assert fig is not None
    F.save(fig, tmp_path / "cd.png")
    assert (tmp_path / "cd.png").stat().st_size > 1000


def test_formatting_helpers():
    row = pd.Series({"x_mean": 0.25, "x_std": 0.1, "x_ci_low": 0.2, "x_ci_high": 0.3, "y_mean": 0.5, "y_std": math.nan})
    assert fmt(math.nan) == "n/a" and fmt(None) == "n/a" and fmt(1.23456, 2) == "1.23"
    assert fmt_pm(row, "x") == "0.250 ± 0.100" and fmt_pm(row, "y") == "0.500"
    assert fmt_ci(row, "x") == "0.250 [0.200, 0.300]" and fmt_ci(row, "y") == "0.500"
    table = markdown_table(pd.DataFrame({"a": ["1|2"], "b": ["x"]}))
    assert table.splitlines() == ["| a | b |", "| --- | --- |", "| 1\\|2 | x |"]


def test_report_writes_files_and_html(three_methods: Path, tmp_path: Path, no_data_env):
    out = tmp_path / "report"
    report = build_report(three_methods, out)
    for name in ("index.html", "leaderboard.md", "leaderboard.parquet", "summary.parquet"):
        assert (out / name).is_file(), name
    pngs = sorted(p.name for p in (out / "figures").glob("*.png"))
    slug = A.group_slug(("nb201", "cifar10", GT, "smoke"))
    kinds = ("curves", "final_kt", "improvement", "rd_groups", "score_vs_gt")
    assert pngs == sorted(f"{kind}_{slug}.png" for kind in kinds)
    assert all((out / "figures" / p).stat().st_size > 1000 for p in pngs)
    assert sorted(p.name for p in (out / "tables").glob("*.md")) == [
        "ablation.md",
        "kt_top50.md",
        "ranks.md",
        "signal.md",
        "spearman_top.md",
    ]
    page = (out / "index.html").read_text()
    assert page.startswith("<!doctype html>") and "<script>" in page
    assert page.count('<table class="sortable">') >= 2
    assert sorted(re.findall(r'<img src="figures/([^"]+)"', page)) == pngs  # every figure shown, stored once
    assert all(m in page for m in ("close", "fairnas", "spos"))
    assert "http://" not in page and "https://" not in page  # self-contained: nothing fetched
    md = (out / "leaderboard.md").read_text()
    lo, hi = A.t_interval([0.5, 0.75])  # 2 seeds: t(0.975, 1) = 12.7, the interval is as wide as it should be
    assert f"| 1 | close | 2 | 10.00 | 0.625 [{lo:.3f}, {hi:.3f}] |" in md
    assert "A proxy scale: not comparable with paper numbers" in md and "Kendall tau null std for 6 architectures" in md
    assert "reference lines skipped" in md  # no data folder here
    assert "![" in md and "](figures/curves_" in md
    ablation = (out / "tables" / "ablation.md").read_text()
    assert "| close | 0.625 ± 0.177 | 91.00 ± 0.00 | 0.600 ± 0.000 | n/a |" in ablation
    assert report.board.method.tolist() == ["close", "fairnas", "spos"]


def test_cli_leaderboard_prints_markdown(three_methods: Path, tmp_path: Path, capsys):
    assert main(["leaderboard", str(three_methods), "--no-references", "--parquet", str(tmp_path / "lb.parquet")]) == 0
    out = capsys.readouterr().out
    assert "| group | method |" in out and out.index("| close |") < out.index("| spos |")
    assert pq.read_table(tmp_path / "lb.parquet").num_rows == 3


def test_cli_report(three_methods: Path, tmp_path: Path, capsys, no_data_env):
    assert main(["report", str(three_methods), "--out", str(tmp_path / "r")]) == 0
    assert (tmp_path / "r" / "index.html").is_file()
    assert main(["report", str(tmp_path / "nothing"), "--out", str(tmp_path / "r2")]) == 2
    assert "not a folder" in capsys.readouterr().err


@pytest.mark.data
def test_nb201_hp12_reference_matches_the_table(tmp_path: Path, data_dir: Path, nb201_csv: Path):
    from supernet_bench.spaces import get_space

    space = get_space("nb201")
    archs = [space.encode(a) for a in space.sample_distinct(np.random.default_rng(5), 12)]
    for seed in range(2):
        write_run(tmp_path, seed=seed, archs=archs, gt_columns=(GT, "cifar10_ori-test_hp200"))
    refs, notes = L.reference_rows(A.load_runs(tmp_path), data_dir)
    assert notes == []
    table = pd.read_csv(nb201_csv).set_index("arch").loc[archs]
    for gt, proxy in ((GT, "cifar10-valid_x-valid_hp12"), ("cifar10_ori-test_hp200", "cifar10_ori-test_hp12")):
        row = refs[refs.gt_column == gt].iloc[0]
        expected = stats.kendalltau(table[proxy], table[gt]).statistic
        assert row.method == "hp12 training" and row.kendall_tau == pytest.approx(expected)
        assert proxy in row.note
    board = board_of(tmp_path, refs)
    assert board[board.kind == L.REFERENCE].shape[0] == 2


def test_macro_reference_is_the_seed_to_seed_ceiling(tmp_path: Path, monkeypatch):
    import supernet_bench.spaces.macro.ground_truth as macro_gt

    monkeypatch.setattr(macro_gt, "seed_to_seed_kendall_tau", lambda data_dir: {"0-1": 0.87, "mean": 0.88})
    write_run(tmp_path / "r", space="macro", gt_columns=("mean_acc",))
    refs, notes = L.reference_rows(A.load_runs(tmp_path / "r"), tmp_path)
    assert notes == [] and refs.method.tolist() == ["seed-to-seed ceiling"] and refs.kendall_tau.tolist() == [0.88]
    write_run(tmp_path / "d", space="darts", gt_columns=("val_accuracy",))  # no reference registered for darts
    refs, notes = L.reference_rows(A.load_runs(tmp_path / "d"), tmp_path)
    assert refs.empty and notes == []


def test_report_shows_lineages_passes_within_kt_and_selection(three_methods: Path, tmp_path: Path, no_data_env):
    """A split run's lineages (passes, within-lineage KT, the selected architecture) reach tables/lineages.md;
    a one-lineage run gets only its summary row."""
    from supernet_bench.store import RunStore

    def rows(method, seed, lineages):
        keys = {"run_id": f"seed{seed}", "method": method, "space": "nb201", "dataset": "cifar10",
                "profile": "smoke", "seed": seed, "checkpoint": 1, "passes": 100}  # fmt: skip
        return [
            keys | {"lineage": name, "own_passes": own, "lineage_passes": lin, "weight_passes": lin, "n_archs": n,
                    "kendall_tau": kt, "global_kendall_tau": 0.5, "best_arch": f"a-{name}", "best_score": 1.0,
                    "best_gt": gt, "selected": sel}  # fmt: skip
            for name, own, lin, n, kt, gt, sel in lineages
        ]

    for seed in (0, 1):  # close: two lineages per run, 40 + 60 own passes after a 20-pass one-shot phase
        RunStore(three_methods / "smoke/nb201/cifar10/close" / f"seed{seed}").write_lineages(
            rows("close", seed, [("e0=0", 20, 40, 3, 0.2, 90.0, False), ("e0=1", 40, 60, 3, -0.4, 92.0 + seed, True)])
        )
    RunStore(three_methods / "smoke/nb201/cifar10/spos/seed0").write_lineages(
        rows("spos", 0, [("all", 100, 100, 6, 0.5, 91.5, True)])
    )
    out = tmp_path / "report"
    build_report(three_methods, out)
    text = (out / "tables" / "lineages.md").read_text()
    assert "| close | 2 | 2 | 30 | 50 (50%) | -0.100 (-0.400..+0.200) | 0.500 ± 0.000 | 92.500 ± 0.707 |" in text
    assert "| spos | 1 | 1 | 100 | 100 (100%) | 0.500 (+0.500..+0.500) | 0.500 | 91.500 |" in text
    assert "| close | 1 | e0=1 | 40 | 60 | 60% | 60 | 3 | -0.400 | 0.500 | 93.00 | yes |" in text
    assert "| spos | 0 | all |" not in text  # one lineage: no per-lineage rows
    assert "lineages" in (out / "index.html").read_text().lower()


def test_pooled_report_ranks_across_roots(three_methods: Path, tmp_path: Path, no_data_env):
    """Two roots make one report: each root's board, and cross-task ranks over both (2 tasks: no CD test)."""
    other = tmp_path / "macro-root"
    for method, finals in {"spos": (0.6, 0.7), "fairnas": (0.1, 0.2), "close": (0.3, 0.4)}.items():
        for seed, final in enumerate(finals):
            write_run(other, method=method, seed=seed, kt=(0.0, final), space="macro", profile="macro-smoke")
    report = build_report([three_methods, other], tmp_path / "pooled")
    assert sorted(report.ranks.tasks) == sorted(
        [A.group_slug(("nb201", "cifar10", GT, "smoke")), A.group_slug(("macro", "cifar10", GT, "macro-smoke"))]
    )
    # nb201: close 1, fairnas / spos tied 2.5; macro: spos 1, close 2, fairnas 3
    assert report.ranks.mean_rank.to_dict() == {"close": 1.5, "spos": 1.75, "fairnas": 2.75}
    page = (tmp_path / "pooled" / "index.html").read_text()
    assert "Results roots" in page and "macro-root" in page
    assert "critical-difference test skipped: 2 task(s)" in page
    with pytest.raises(A.BenchError, match="given twice"):
        A.load_runs([three_methods, three_methods])
    assert main(["report", str(three_methods), str(other), "--out", str(tmp_path / "cli")]) == 0
