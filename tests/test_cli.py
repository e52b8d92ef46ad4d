"""The CLI: a table of malformed inputs, each answered by one clear line and exit code 2,
never a traceback, never touching results already written; plus `score` and `list`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from supernet_bench.cli import main

from tests.helpers import TINY_OVERRIDES

TINY = [x for o in TINY_OVERRIDES for x in ("--set", o)]
ALL_NONE = "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|"
ALL_CONV = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|"


@pytest.fixture(scope="module")
def broken_data(tmp_path_factory, data_dir) -> dict[str, Path]:
    """Data folders with one thing wrong each (links to the real files otherwise)."""
    root = tmp_path_factory.mktemp("broken")
    real_cifar = data_dir / "cifar-10-subset" / "cifar-10-batches-py"

    def folder(name: str, truncate: bool = False, gt_without_arch: bool = False, no_cifar: bool = False):
        d = root / name
        (d / "nas-bench-201").mkdir(parents=True)
        gt = data_dir / "nas-bench-201" / "nb201.csv"
        if gt_without_arch:
            pd.read_csv(gt).drop(columns=["arch"]).to_csv(d / "nas-bench-201" / "nb201.csv", index=False)
        else:
            os.symlink(gt, d / "nas-bench-201" / "nb201.csv")
        if not no_cifar:
            c = d / "cifar-10-batches-py"
            c.mkdir()
            for f in real_cifar.iterdir():
                if truncate and f.name == "data_batch_3":
                    (c / f.name).write_bytes(f.read_bytes()[:5000])
                else:
                    os.symlink(f, c / f.name)
        return d

    return {
        "truncated": folder("truncated", truncate=True),
        "gt_without_arch": folder("gtbad", gt_without_arch=True),
        "no_cifar": folder("nocifar", no_cifar=True),
    }


def tables(tmp: Path) -> dict[str, Path]:
    out = {}
    rows = {
        "malformed": [("|nor_conv_3x3~0|+|bogus", 1.0), (ALL_CONV, 2.0)],
        "duplicate": [(ALL_CONV, 1.0), (ALL_CONV, 2.0), (ALL_NONE, 0.0)],
        "no_score": None,
        "non_numeric": [(ALL_CONV, "high"), (ALL_NONE, 1.0)],
    }
    for name, data in rows.items():
        path = tmp / f"{name}.csv"
        if data is None:
            pd.DataFrame({"arch": [ALL_CONV, ALL_NONE]}).to_csv(path, index=False)
        else:
            pd.DataFrame(data, columns=["arch", "score"]).to_csv(path, index=False)
        out[name] = path
    return out


def bad_inputs(tmp: Path, data: Path, broken: dict[str, Path]) -> list[tuple[str, list[str], str]]:
    t = tables(tmp)
    bad_toml = tmp / "bad.toml"
    bad_toml.write_text("[run\nbudget_epochs = 1")
    run = ["run", "--method", "spos", "--profile", "smoke", "--data-dir", str(data), *TINY]
    return [
        ("unknown method", ["run", "--method", "spso", "--data-dir", str(data)], "Did you mean: spos"),
        ("unknown policy", ["run", "--method", "spos+calrr", "--data-dir", str(data)], "Unknown policy"),
        ("unknown space", [*run, "--space", "nb2O1"], "Unknown space"),
        ("unknown subset", [*run, "--space", "nb201:no-zeros"], "subset"),
        ("unknown profile", ["run", "--method", "spos", "--profile", "proxxy"], "Unknown profile"),
        ("profile file missing", ["run", "--method", "spos", "--profile", str(tmp / "nope.toml")], "does not exist"),
        ("profile not TOML", ["run", "--method", "spos", "--profile", str(bad_toml)], "not valid TOML"),
        ("unknown GT column", [*run, "--gt", "cifar10_valid_hp200"], "cifar10"),
        ("unknown dataset", [*run, "--dataset", "cifar11"], "Unknown dataset"),
        ("override without =", [*run, "--set", "run.budget_epochs"], "section.key=value"),
        ("override bad section", [*run, "--set", "training.lr=1"], "unknown section"),
        ("wrong type", [*run, "--set", 'run.batch_size="many"'], "run.batch_size"),
        ("checkpoints not ending at 1", [*run, "--set", "run.checkpoints=[0.5]"], "must end at 1.0"),
        ("negative budget", [*run, "--set", "run.budget_epochs=-1"], "budget_epochs"),
        ("unknown BN mode", [*run, "--set", 'eval.bn_mode="frozen"'], "Unknown BN mode"),
        ("bad eval sample", [*run, "--set", 'eval.sample="random:lots"'], "random:N"),
        ("unknown hyperparameter", [*run, "--set", "methods.spos.lrr=0.1"], "unknown hyperparameter"),
        ("hyperparameter type", [*run, "--set", 'methods.spos.lr="fast"'], "must be float"),
        ("negative seed", [*run, "--seed", "-1"], "seed"),
        ("missing data folder", ["run", "--method", "spos", "--data-dir", str(tmp / "none")], "does not exist"),
        ("no CIFAR-10 files", [*run[: -len(TINY) - 2], "--data-dir", str(broken["no_cifar"]), *TINY], "cifar-10"),
        ("truncated pickle", [*run[: -len(TINY) - 2], "--data-dir", str(broken["truncated"]), *TINY], "data_batch_3"),
        (
            "GT table without arch",
            [*run[: -len(TINY) - 2], "--data-dir", str(broken["gt_without_arch"]), *TINY],
            "arch",
        ),
        (
            "score: malformed arch",
            ["score", str(t["malformed"]), "--gt", "cifar10_ori-test_hp200", "--data-dir", str(data)],
            "row 2",
        ),
        (
            "score: duplicate arch",
            ["score", str(t["duplicate"]), "--gt", "cifar10_ori-test_hp200", "--data-dir", str(data)],
            "more than once",
        ),
        (
            "score: arch outside subset",
            [
                "score",
                str(t["duplicate"]),
                "--space",
                "nb201:only-conv",
                "--gt",
                "cifar10_ori-test_hp200",
                "--data-dir",
                str(data),
            ],
            "only-conv",
        ),
        (
            "score: no score column",
            ["score", str(t["no_score"]), "--gt", "cifar10_ori-test_hp200", "--data-dir", str(data)],
            "score",
        ),
        (
            "score: non-numeric score",
            ["score", str(t["non_numeric"]), "--gt", "cifar10_ori-test_hp200", "--data-dir", str(data)],
            "non-numeric",
        ),
        (
            "score: missing table",
            ["score", str(tmp / "missing.csv"), "--gt", "cifar10_ori-test_hp200", "--data-dir", str(data)],
            "does not exist",
        ),
    ]


@pytest.mark.data
def test_bad_inputs_give_one_clear_line(tmp_path, data_dir, broken_data, capsys):
    cases = bad_inputs(tmp_path, data_dir, broken_data)
    assert len(cases) >= 20
    failures = []
    for label, argv, expected in cases:
        code = main(argv)
        err = capsys.readouterr().err.strip()
        lines = err.splitlines()
        if code != 2 or len(lines) != 1 or not lines[0].startswith("error: ") or expected not in lines[0]:
            failures.append(f"{label}: exit {code}, stderr {err!r}")
    assert not failures, "\n".join(failures)


@pytest.mark.data
def test_existing_results_are_never_touched(tmp_path, data_dir, capsys):
    out = tmp_path / "run"
    out.mkdir()
    (out / "metrics.parquet").write_bytes(b"precious")
    code = main(["run", "--method", "spos", "--out", str(out), "--data-dir", str(data_dir), *TINY])
    assert code == 2 and "--resume" in capsys.readouterr().err
    assert (out / "metrics.parquet").read_bytes() == b"precious"


@pytest.mark.data
def test_score_gt_against_itself_is_perfect(tmp_path, data_dir, capsys):
    gt = pd.read_csv(data_dir / "nas-bench-201" / "nb201.csv")
    table = tmp_path / "gt.csv"
    gt.rename(columns={"cifar10-valid_x-valid_hp200": "score"})[["arch", "score"]].to_csv(table, index=False)
    assert (
        main(["score", str(table), "--gt", "cifar10-valid_x-valid_hp200", "--json", "--data-dir", str(data_dir)]) == 0
    )
    result = json.loads(capsys.readouterr().out)
    assert result["n_archs"] == 15625
    assert result["kendall_tau"] == pytest.approx(1.0)
    assert result["p_at_top_5pct"] == pytest.approx(1.0)


@pytest.mark.data
def test_score_hp12_estimator(tmp_path, data_dir, capsys):
    gt = pd.read_csv(data_dir / "nas-bench-201" / "nb201.csv")
    table = tmp_path / "hp12.csv"
    gt.rename(columns={"cifar10-valid_x-valid_hp12": "score"})[["arch", "score"]].to_csv(table, index=False)
    assert (
        main(["score", str(table), "--gt", "cifar10-valid_x-valid_hp200", "--json", "--data-dir", str(data_dir)]) == 0
    )
    kt = json.loads(capsys.readouterr().out)["kendall_tau"]
    assert 0.3 < kt < 0.99  # a real but imperfect estimator


def test_list_commands(capsys):
    assert main(["list", "methods"]) == 0
    names = capsys.readouterr().out.split()
    for required in ("spos", "fairnas", "spos+calr+ms", "fairnas+calr+ms", "spos+calr", "spos+ms"):
        assert required in names
    assert main(["list", "profiles"]) == 0
    assert {"smoke", "proxy"} <= set(capsys.readouterr().out.split())
    assert main(["list", "methods", "-v"]) == 0
    assert "lr = 0.025" in capsys.readouterr().out


def test_console_script_has_no_traceback(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "supernet_bench.cli", "run", "--method", "nope"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert proc.stderr.strip().startswith("error: Unknown method 'nope'")


@pytest.mark.data
def test_score_keeps_leading_zeros_of_macro_archs(tmp_path, data_dir, capsys):
    table = tmp_path / "macro.csv"
    table.write_text("arch,score\n00000000,1.0\n01201201,2.0\n22222222,3.0\n")
    assert (
        main(["score", str(table), "--space", "macro", "--gt", "mean_acc", "--json", "--data-dir", str(data_dir)]) == 0
    )
    assert json.loads(capsys.readouterr().out)["n_archs"] == 3


def test_profile_of_another_space_is_one_clear_error(tmp_path, capsys):
    from supernet_bench.spaces import get_space

    with pytest.raises(Exception, match="unknown supernet option.*width_mult"):
        get_space("nb201").build_supernet(10, width_mult=0.5)


@pytest.mark.data
def test_manifest_is_enough_to_rerun(tmp_path, data_dir, capsys):
    first, again = tmp_path / "a", tmp_path / "b"
    assert (
        main(["run", "--method", "fairnas", "--seed", "3", "--out", str(first), "--data-dir", str(data_dir), *TINY])
        == 0
    )
    assert (
        main(["run", "--from-manifest", str(first / "manifest.json"), "--out", str(again), "--data-dir", str(data_dir)])
        == 0
    )
    a = pd.read_parquet(first / "predictions.parquet").drop(columns=["run_id"])
    b = pd.read_parquet(again / "predictions.parquet").drop(columns=["run_id"])
    assert a.equals(b) and set(a.method) == {"fairnas"} and set(a.seed) == {3}
    capsys.readouterr()
    assert main(["run", "--from-manifest", str(tmp_path / "nowhere" / "manifest.json")]) == 2
    assert "no manifest.json" in capsys.readouterr().err
