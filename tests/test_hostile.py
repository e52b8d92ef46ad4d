"""Hostile input, as a hostile user or a busy cluster gives it: one table of cases, each asserting the exit
code, ONE clear line (no traceback) and that every file that existed before is intact.

Categories: crafted resume state, divergence, duplicate and copied runs, a malformed run in a results
root, corrupt manifests and parquet files, filesystem failures (full, read-only, a file where a folder is
expected and the reverse), bad CLI arguments, bad suite files, bad baseline files, `score` inputs and
strict JSON output. Real signals to subprocesses are in the second table below.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pytest
from supernet_bench.cli import main
from supernet_bench.store import RunStore

from tests.harness.test_aggregate import GT, write_run
from tests.helpers import TINY_OVERRIDES

TINY = [x for o in TINY_OVERRIDES for x in ("--set", o)]
CONFIG = {"method": "spos", "run": {"budget_epochs": 1}, "data": {"dataset": "cifar10"}, "eval": {}, "supernet": {}}
MARKER = "pwned"  # a crafted state file that ran code would create this file


@dataclass
class Case:
    argv: list[str]
    code: int
    line: str  # regex the one error line (exit != 0) or some stderr line (exit 0) must match
    check: Callable[[], None] | None = None  # extra assertion after the command
    changes: tuple[str, ...] = ()  # files (relative to tmp) the command may legitimately change
    stdout: str | None = None  # regex stdout must match
    absent: str | None = None  # regex stdout must not match
    err_lines: int = 1  # stderr lines of a failing command (a suite adds one FAILED line per failed run)


# ------------------------------------------------------------------------------------------------------
# builders


def good_root(tmp: Path, seeds=(0, 1), methods=("spos", "fairnas")) -> Path:
    root = tmp / "root"
    for m in methods:
        for s in seeds:
            write_run(
                root, method=m, seed=s, kt=(0.1 + 0.1 * s, 0.3 + 0.05 * s), config={**CONFIG, "method": m, "seed": s}
            )
    return root


def crafted_state(path: Path, marker: Path) -> None:
    """A state.pt whose unpickling would run a shell command creating `marker`."""
    code = (
        "import os, sys, torch\n"
        "class Evil:\n"
        "    def __reduce__(self):\n"
        f"        return (os.system, ('touch {marker}',))\n"
        "torch.save({'method': Evil()}, sys.argv[1])\n"
    )
    subprocess.run([sys.executable, "-c", code, str(path)], check=True)


def interrupted_run(tmp: Path, data: Path) -> Path:
    """A tiny run cut after its first checkpoint (manifest 'running' + state.pt), as a Ctrl-C leaves it."""
    from supernet_bench import protocol
    from supernet_bench.config import resolve_config

    out = tmp / "cut"
    config = resolve_config("spos", profile="smoke", seed=0, overrides=TINY_OVERRIDES)

    class Cut(Exception):
        pass

    real = RunStore.save_state

    def save_then_cut(self, state):
        real(self, state)
        raise Cut

    RunStore.save_state = save_then_cut
    try:
        with pytest.raises(Cut):
            protocol.run(config, out, data_dir=data, progress=False)
    finally:
        RunStore.save_state = real
    return out


def run_argv(out: Path, data: Path, *extra: str) -> list[str]:
    return ["run", "--method", "spos", "--quiet", "--out", str(out), "--data-dir", str(data), *TINY, *extra]


def baseline_of(tmp: Path, root: Path) -> Path:
    from supernet_bench import regress as R

    path = tmp / "baseline.parquet"
    R.write_baseline(root, path)
    return path


def suite_file(tmp: Path, text: str) -> Path:
    path = tmp / "s.toml"
    path.write_text(text)
    return path


def raise_oserror(code: int):
    def raiser(*args, **kwargs):
        raise OSError(code, os.strerror(code))

    return raiser


def manifest_status(run_dir: Path) -> str:
    return json.loads((run_dir / "manifest.json").read_text())["status"]


# ------------------------------------------------------------------------------------------------------
# cases without real data


def c_leaderboard_missing_root(tmp, mp):
    return Case(["leaderboard", str(tmp / "nope"), "--no-references"], 2, r"results root .*nope is not a folder")


def c_leaderboard_root_is_file(tmp, mp):
    (tmp / "f").write_text("x")
    return Case(["leaderboard", str(tmp / "f"), "--no-references"], 2, r"is not a folder")


def _malformed(tmp, damage) -> Path:
    root = good_root(tmp)
    bad = write_run(root, method="spos", seed=7, config={**CONFIG, "seed": 7})
    damage(bad)
    return root


def _board_skips(tmp, damage, pattern):
    root = _malformed(tmp, damage)
    return Case(["leaderboard", str(root), "--no-references"], 0, pattern, stdout=r"spos")


def c_malformed_manifest_json(tmp, mp):
    return _board_skips(
        tmp, lambda d: (d / "manifest.json").write_text("{not json"), r"seed7 skipped, malformed: .*corrupt"
    )


def c_manifest_is_a_list(tmp, mp):
    return _board_skips(
        tmp, lambda d: (d / "manifest.json").write_text("[1, 2]"), r"seed7 skipped, malformed: .*not a JSON object"
    )


def c_truncated_metrics(tmp, mp):
    def damage(d):
        data = (d / "metrics.parquet").read_bytes()
        (d / "metrics.parquet").write_bytes(data[: len(data) // 2])

    return _board_skips(tmp, damage, r"seed7 skipped, malformed: cannot read .*metrics.parquet")


def c_missing_predictions(tmp, mp):
    return _board_skips(
        tmp, lambda d: (d / "predictions.parquet").unlink(), r"seed7 skipped, malformed: cannot read .*predictions"
    )


def c_metrics_lack_columns(tmp, mp):
    def damage(d):
        df = pd.read_parquet(d / "metrics.parquet").drop(columns=["kendall_tau"])
        df.to_parquet(d / "metrics.parquet")

    return _board_skips(tmp, damage, r"seed7 skipped, malformed: .*lacks columns: kendall_tau")


def c_repeated_checkpoints(tmp, mp):
    root = good_root(tmp)
    write_run(root, method="spos", seed=7, fractions=(0.5, 0.5, 1.0), kt=(0.1, 0.2, 0.3), config={**CONFIG, "seed": 7})
    return Case(
        ["leaderboard", str(root), "--no-references"], 0, r"seed7 skipped, malformed: .*not strictly increasing"
    )


def c_report_with_malformed_run(tmp, mp):
    root = _malformed(tmp, lambda d: (d / "manifest.json").write_text("{"))
    out = tmp / "report"
    return Case(
        ["report", str(root), "--out", str(out)],
        0,
        r"seed7 skipped, malformed",
        check=lambda: (out / "index.html").is_file() or pytest.fail("no report written"),
    )


def c_regress_with_malformed_run(tmp, mp):
    root = good_root(tmp)
    base = baseline_of(tmp, root)
    write_run(root, method="spos", seed=7, config={**CONFIG, "seed": 7})
    (root / "smoke/nb201/cifar10/spos/seed7/metrics.parquet").write_bytes(b"garbage")
    return Case(["regress", str(root), "--against", str(base)], 1, r"problem\(s\) against", stdout=r"LEFT OUT .*seed7")


def c_only_malformed_runs(tmp, mp):
    root = tmp / "root"
    d = write_run(root, config=CONFIG)
    (d / "manifest.json").write_text("{")
    return Case(["leaderboard", str(root), "--no-references"], 2, r"no complete runs under .*1 left out")


def c_copied_run_folder(tmp, mp):
    root = good_root(tmp)
    src = root / "smoke/nb201/cifar10/spos/seed0"
    shutil.copytree(src, root / "smoke/nb201/cifar10/spos/seed0-copy")
    return Case(
        ["leaderboard", str(root), "--no-references"],
        0,
        r"seed0-copy skipped: a duplicate of .*spos/seed0 \(the same config",
    )


def c_same_run_reached_twice(tmp, mp):
    """Same config and seed under another folder name (two names for one space subset), other scores."""
    root = good_root(tmp)
    write_run(
        root,
        method="spos",
        seed=0,
        kt=(0.9, 0.9),
        config={**CONFIG, "method": "spos", "seed": 0},
        out=root / "smoke/nb201-alias/cifar10/spos/seed0",
    )
    return Case(["leaderboard", str(root), "--no-references"], 0, r"alias/cifar10/spos/seed0 skipped: a duplicate")


def c_identical_predictions(tmp, mp):
    """Another seed whose every score equals seed 0's: a copy with its config edited, not a new seed."""
    root = good_root(tmp)
    d = root / "smoke/nb201/cifar10/spos/seed5"
    shutil.copytree(root / "smoke/nb201/cifar10/spos/seed0", d)
    m = json.loads((d / "manifest.json").read_text())
    m["config"]["seed"] = 5
    (d / "manifest.json").write_text(json.dumps(m))
    return Case(
        ["leaderboard", str(root), "--no-references"], 0, r"seed5 skipped: a duplicate of .*identical predictions"
    )


def c_regress_with_duplicate(tmp, mp):
    root = good_root(tmp)
    base = baseline_of(tmp, root)
    shutil.copytree(root / "smoke/nb201/cifar10/spos/seed1", root / "copy/seed1")
    return Case(
        ["regress", str(root), "--against", str(base)],
        1,
        r"problem\(s\)",
        stdout=r"LEFT OUT .*seed1 skipped: a duplicate",
    )


def c_write_baseline_with_duplicate(tmp, mp):
    root = good_root(tmp)
    shutil.copytree(root / "smoke/nb201/cifar10/spos/seed1", root / "copy/seed1")
    return Case(
        ["regress", str(root), "--write-baseline", str(tmp / "b.parquet")], 2, r"not writing a baseline .*duplicate"
    )


def c_diverged_run_not_ranked(tmp, mp):
    root = good_root(tmp)
    d = write_run(root, method="close", seed=0, kt=(0.9, 0.95), status="failed", config={**CONFIG, "method": "close"})
    m = json.loads((d / "manifest.json").read_text())
    m["failure"] = "diverged at pass 12 (training loss nan)"
    (d / "manifest.json").write_text(json.dumps(m))

    return Case(
        ["leaderboard", str(root), "--no-references"],
        0,
        r"close/seed0 failed: diverged at pass 12 .*not ranked",
        stdout=r"spos",
        absent=r"\bclose\b",
    )


def c_regress_with_diverged_run(tmp, mp):
    root = good_root(tmp)
    base = baseline_of(tmp, root)
    write_run(root, method="spos", seed=3, status="failed", config={**CONFIG, "seed": 3})
    return Case(["regress", str(root), "--against", str(base)], 1, r"problem\(s\)", stdout=r"LEFT OUT .*seed3 failed")


def c_regress_checked_nothing(tmp, mp):
    root = good_root(tmp)
    base = baseline_of(tmp, root)
    other = tmp / "other"
    write_run(other, method="spos", profile="proxy", config=CONFIG)
    return Case(
        ["regress", str(other), "--against", str(base), "--allow-missing"],
        1,
        r"problem\(s\)",
        stdout=r"NOTHING CHECKED",
    )


def c_regress_other_protocol(tmp, mp):
    root = good_root(tmp)
    base = baseline_of(tmp, root)
    fresh = tmp / "fresh"
    for m in ("spos", "fairnas"):
        for s in (0, 1):
            cfg = {**CONFIG, "method": m, "seed": s, "run": {"budget_epochs": 50}}
            write_run(fresh, method=m, seed=s, kt=(0.1 + 0.1 * s, 0.3 + 0.05 * s), config=cfg)
    return Case(
        ["regress", str(fresh), "--against", str(base)], 1, r"problem\(s\)", stdout=r"PROTOCOL .*run.budget_epochs"
    )


def c_baseline_missing(tmp, mp):
    return Case(
        ["regress", str(good_root(tmp)), "--against", str(tmp / "none.parquet")], 2, r"baseline .*does not exist"
    )


def c_baseline_not_parquet(tmp, mp):
    (tmp / "b.parquet").write_text("hello")
    return Case(["regress", str(good_root(tmp)), "--against", str(tmp / "b.parquet")], 2, r"cannot read .*b.parquet")


def c_baseline_lacks_columns(tmp, mp):
    pd.DataFrame({"method": ["spos"]}).to_parquet(tmp / "b.parquet")
    return Case(["regress", str(good_root(tmp)), "--against", str(tmp / "b.parquet")], 2, r"lacks columns")


def c_baseline_is_a_folder(tmp, mp):
    (tmp / "bdir").mkdir()
    return Case(["regress", str(good_root(tmp)), "--against", str(tmp / "bdir")], 2, r"bdir is a folder")


def c_write_baseline_to_folder(tmp, mp):
    (tmp / "bdir").mkdir()
    return Case(
        ["regress", str(good_root(tmp)), "--write-baseline", str(tmp / "bdir")],
        2,
        r"cannot write .*bdir: it is a folder",
    )


def c_regress_nan_tolerance(tmp, mp):
    root = good_root(tmp)
    base = baseline_of(tmp, root)
    return Case(["regress", str(root), "--against", str(base), "--tolerance", "nan"], 2, r"tolerance must be >= 0")


def c_write_baseline_disk_full(tmp, mp):
    root = good_root(tmp)
    base = baseline_of(tmp, root)
    mp.setattr(os, "replace", raise_oserror(errno.ENOSPC))
    return Case(
        ["regress", str(root), "--write-baseline", str(base)], 2, r"cannot write .*baseline.parquet: No space left"
    )


def c_report_disk_full(tmp, mp):
    root = good_root(tmp)
    out = tmp / "report"
    assert main(["report", str(root), "--out", str(out)]) == 0  # an earlier report, which must survive
    mp.setattr(os, "replace", raise_oserror(errno.ENOSPC))
    return Case(["report", str(root), "--out", str(out)], 2, r"cannot write .*report.*No space left")


def c_report_read_only(tmp, mp):
    root = good_root(tmp)
    mp.setattr(os, "replace", raise_oserror(errno.EROFS))
    return Case(["report", str(root), "--out", str(tmp / "report")], 2, r"cannot write .*report.*Read-only file system")


def c_report_out_is_a_file(tmp, mp):
    (tmp / "taken").write_text("mine")
    return Case(["report", str(good_root(tmp)), "--out", str(tmp / "taken")], 2, r"taken")


def c_leaderboard_parquet_read_only(tmp, mp):
    root = good_root(tmp)
    mp.setattr(os, "replace", raise_oserror(errno.EROFS))
    return Case(
        ["leaderboard", str(root), "--no-references", "--parquet", str(tmp / "lb.parquet")],
        2,
        r"cannot write .*lb.parquet: Read-only",
    )


def c_leaderboard_parquet_in_a_file(tmp, mp):
    (tmp / "afile").write_text("x")
    return Case(
        ["leaderboard", str(good_root(tmp)), "--no-references", "--parquet", str(tmp / "afile" / "lb.parquet")],
        2,
        r"afile",
    )


def c_run_out_is_a_file(tmp, mp):
    (tmp / "out").write_text("mine")
    return Case(["run", "--method", "spos", "--out", str(tmp / "out")], 2, r"exists and is not a directory")


def c_run_unknown_method(tmp, mp):
    return Case(["run", "--method", "sposs", "--out", str(tmp / "o")], 2, r"[Uu]nknown method 'sposs'")


def c_run_from_missing_manifest(tmp, mp):
    return Case(["run", "--from-manifest", str(tmp / "x" / "manifest.json")], 2, r"no manifest.json")


def c_run_override_without_value(tmp, mp):
    return Case(
        ["run", "--method", "spos", "--set", "run.budget_epochs", "--out", str(tmp / "o")], 2, r"section.key=value"
    )


def c_run_override_unknown_section(tmp, mp):
    return Case(["run", "--method", "spos", "--set", "nosection.k=1", "--out", str(tmp / "o")], 2, r"unknown section")


def c_demo_empty_methods(tmp, mp):
    return Case(["demo", "--out", str(tmp / "d"), "--methods", ","], 2, r"--methods is empty")


def c_suite_missing_file(tmp, mp):
    return Case(["suite", str(tmp / "none.toml")], 2, r"suite file .*none.toml does not exist")


def c_suite_not_toml(tmp, mp):
    return Case(["suite", str(suite_file(tmp, "profile = [unclosed"))], 2, r"is not valid TOML")


def c_suite_unknown_key(tmp, mp):
    s = suite_file(tmp, 'profile = "smoke"\nseeds = 1\nmethods = ["spos"]\nworkers = 4\n')
    return Case(["suite", str(s)], 2, r"unknown key\(s\) workers")


def c_suite_repeated_seed(tmp, mp):
    s = suite_file(tmp, 'profile = "smoke"\nseeds = [0, 0]\nmethods = ["spos"]\n')
    return Case(["suite", str(s)], 2, r"repeats a seed")


def c_suite_empty_methods(tmp, mp):
    s = suite_file(tmp, 'profile = "smoke"\nseeds = 1\nmethods = []\n')
    return Case(["suite", str(s)], 2, r"'methods' is empty")


def c_suite_unknown_method(tmp, mp):
    s = suite_file(tmp, 'profile = "smoke"\nseeds = 1\nmethods = ["spoz"]\n')
    return Case(["suite", str(s), "--dry-run"], 2, r"[Uu]nknown method 'spoz'")


def c_suite_corrupt_complete_run(tmp, mp):
    out = tmp / "runs"
    s = suite_file(tmp, f'profile = "smoke"\nseeds = 1\nmethods = ["spos"]\nout = "{out}"\n')
    d = out / "smoke/nb201/cifar10/spos/seed0"
    d.mkdir(parents=True)
    (d / "manifest.json").write_text('{"status": "compl')
    (tmp / "data").mkdir()
    return Case(
        ["suite", str(s), "--data-dir", str(tmp / "data")],
        1,
        r"1 of 1 run\(s\) failed; 0 may succeed when the suite is rerun",
        stdout=r"move the folder away",
        err_lines=2,
    )


def c_suite_file_in_the_way(tmp, mp):
    out = tmp / "runs"
    s = suite_file(tmp, f'profile = "smoke"\nseeds = 1\nmethods = ["spos"]\nout = "{out}"\n')
    out.mkdir()
    (out / "smoke").write_text("a file where the profile folder goes")
    (tmp / "data").mkdir()
    return Case(
        ["suite", str(s), "--data-dir", str(tmp / "data")], 1, r"1 of 1 run\(s\) failed", stdout=r"failed", err_lines=2
    )


def _scores(tmp, rows, name="t.csv") -> Path:
    path = tmp / name
    path.write_text(rows)
    return path


# ------------------------------------------------------------------------------------------------------
# cases on the real data (NB201 table, CIFAR-10 subset)

A1 = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|"
A2 = "|avg_pool_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|nor_conv_1x1~0|skip_connect~1|skip_connect~2|"
A3 = "|none~0|+|nor_conv_3x3~0|none~1|+|skip_connect~0|nor_conv_1x1~1|avg_pool_3x3~2|"


def score_argv(path: Path, data: Path, *extra: str) -> list[str]:
    return ["score", str(path), "--gt", GT, "--data-dir", str(data), *extra]


def d_score_missing_file(tmp, mp, data):
    return Case(score_argv(tmp / "none.csv", data), 2, r"prediction table .*none.csv does not exist")


def d_score_binary_csv(tmp, mp, data):
    (tmp / "t.csv").write_bytes(b"\x00\xff\xfe\x00garbage\x00")
    return Case(score_argv(tmp / "t.csv", data), 2, r"t.csv")


def d_score_missing_column(tmp, mp, data):
    return Case(score_argv(_scores(tmp, f"arch,value\n{A1},1\n{A2},2\n"), data), 2, r"lacks column\(s\): score")


def d_score_unknown_arch(tmp, mp, data):
    return Case(score_argv(_scores(tmp, f"arch,score\n|bogus~0|,1\n{A2},2\n"), data), 2, r"row 2")


def d_score_nan(tmp, mp, data):
    return Case(score_argv(_scores(tmp, f"arch,score\n{A1},nan\n{A2},2\n"), data), 2, r"missing or non-numeric")


def d_score_one_arch(tmp, mp, data):
    return Case(score_argv(_scores(tmp, f"arch,score\n{A1},1\n"), data), 2, r"at least 2 architectures")


def d_score_duplicate_arch(tmp, mp, data):
    return Case(score_argv(_scores(tmp, f"arch,score\n{A1},1\n{A1},2\n"), data), 2, r"appears more than once")


def _strict(text: str) -> dict:
    def refuse(token):
        raise AssertionError(f"bare {token} in JSON output")

    return json.loads(text, parse_constant=refuse)


def d_score_json_is_strict(tmp, mp, data):
    case = Case(score_argv(_scores(tmp, f"arch,score\n{A1},1\n{A2},2\n"), data, "--json"), 0, "", stdout=r"null")
    return case


def d_score_all_tied(tmp, mp, data):
    return Case(
        score_argv(_scores(tmp, f"arch,score\n{A1},1\n{A2},1\n{A3},1\n"), data, "--json"),
        0,
        "",
        stdout=r'"top1_gt": null',
    )


def d_crafted_state_refused(tmp, mp, data):
    out = interrupted_run(tmp, data)
    crafted_state(out / "state.pt", tmp / MARKER)

    def check():
        assert not (tmp / MARKER).exists(), "the crafted state file ran code"

    return Case(run_argv(out, data, "--resume"), 2, r"refusing resume state .*state.pt: it names posix.system", check)


def d_crafted_state_in_suite(tmp, mp, data):
    out = tmp / "runs"
    s = suite_file(
        tmp,
        f'profile = "smoke"\nseeds = 1\nmethods = ["spos"]\nout = "{out}"\noverrides = {json.dumps(TINY_OVERRIDES)}\n',
    )
    cut = interrupted_run(tmp, data)
    target = out / "smoke/nb201/cifar10/spos/seed0"
    shutil.copytree(cut, target)
    crafted_state(target / "state.pt", tmp / MARKER)

    def check():
        assert not (tmp / MARKER).exists(), "the crafted state file ran code"

    return Case(
        ["suite", str(s), "--data-dir", str(data)],
        1,
        r"1 of 1 run\(s\) failed",
        check,
        stdout=r"refusing resume state",
        err_lines=2,
    )


def d_garbage_state(tmp, mp, data):
    out = interrupted_run(tmp, data)
    (out / "state.pt").write_bytes(b"not a torch file")
    return Case(run_argv(out, data, "--resume"), 2, r"cannot read resume state .*state.pt")


def d_diverged_run(tmp, mp, data):
    out = tmp / "div"

    def check():
        m = json.loads((out / "manifest.json").read_text())
        assert m["status"] == "failed" and m["failure"].startswith("diverged at pass")
        assert not (out / "state.pt").exists() and not (out / ".lock").exists()

    return Case(
        run_argv(out, data, "--set", "run.budget_epochs=2.0", "--set", "methods.all.lr=1e6"),
        2,
        r"diverged at pass \d+ \(training loss .*\); marked failed",
        check,
    )


def d_diverged_run_is_final(tmp, mp, data):
    out = tmp / "div"
    argv = run_argv(out, data, "--set", "run.budget_epochs=2.0", "--set", "methods.all.lr=1e6")
    assert main(argv) == 2
    return Case([*argv, "--resume"], 2, r"diverged at pass .*delete the folder or use another --out")


def d_run_disk_full(tmp, mp, data):
    mp.setattr(os, "replace", raise_oserror(errno.ENOSPC))
    out = tmp / "full"
    return Case(run_argv(out, data), 2, r"cannot write .*full/manifest.json: No space left on device")


def d_run_without_data_leaves_no_folder(tmp, mp, data):
    (tmp / "empty").mkdir()
    out = tmp / "nodata"

    def check():
        assert not out.exists(), "a run that failed for lack of data left a folder behind"

    return Case(run_argv(out, tmp / "empty"), 2, r".", check)


def d_complete_run_has_no_lock(tmp, mp, data):
    out = tmp / "ok"

    def check():
        assert manifest_status(out) == "complete"
        assert not (out / ".lock").exists()
        assert oct((out / "manifest.json").stat().st_mode & 0o777) == oct(0o666 & ~current_umask())

    return Case(run_argv(out, data), 0, "", check, stdout=r"run directory")


def current_umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


CASES = {name[2:]: fn for name, fn in sorted(globals().items()) if name.startswith("c_") and callable(fn)}
DATA_CASES = {name[2:]: fn for name, fn in sorted(globals().items()) if name.startswith("d_") and callable(fn)}


def snapshot(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in root.rglob("*")
        if p.is_file()
    }


def check_case(case: Case, tmp: Path, before: dict[str, str], mp, capsys) -> None:
    capsys.readouterr()  # whatever the case's setup printed
    code = main(case.argv)
    mp.undo()
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == case.code, f"exit {code}, expected {case.code}; stderr: {err}; stdout: {out[-2000:]}"
    if case.code != 0:
        assert len(lines) == case.err_lines, f"expected {case.err_lines} error line(s), got: {lines}"
        assert re.search(case.line, lines[-1]), f"{case.line!r} not in {lines[-1]!r}"
    elif case.line:
        assert any(re.search(case.line, line) for line in lines), f"{case.line!r} not in {lines}"
    if case.stdout is not None:
        assert re.search(case.stdout, out), f"{case.stdout!r} not in stdout: {out[-2000:]}"
    if case.absent is not None:
        assert not re.search(case.absent, out), f"{case.absent!r} in stdout: {out[-2000:]}"
    if "--json" in case.argv:
        _strict(out)
    after = snapshot(tmp)
    changed = [p for p, h in before.items() if after.get(p) != h and p not in case.changes]
    assert not changed, f"earlier files changed or lost: {changed}"
    if case.check is not None:
        case.check()


@pytest.mark.parametrize("name", sorted(CASES))
def test_hostile(name, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    with monkeypatch.context() as mp:
        case = CASES[name](tmp_path, mp)
        before = snapshot(tmp_path)
        check_case(case, tmp_path, before, mp, capsys)


@pytest.mark.data
@pytest.mark.parametrize("name", sorted(DATA_CASES))
def test_hostile_on_real_data(name, tmp_path, monkeypatch, capsys, data_dir):
    monkeypatch.chdir(tmp_path)
    with monkeypatch.context() as mp:
        case = DATA_CASES[name](tmp_path, mp, data_dir)
        capsys.readouterr()
        before = snapshot(tmp_path)
        check_case(case, tmp_path, before, mp, capsys)


# ------------------------------------------------------------------------------------------------------
# real signals to real processes


@dataclass
class Stop:
    argv: list[str]
    signals: tuple[int, ...]
    code: int
    ready: Callable[[Path], bool]  # when to send the first signal
    after: Callable[[Path], None] = field(default=lambda tmp: None)


def _state_written(path: Path) -> Callable[[Path], bool]:
    return lambda tmp: any((tmp / path).rglob("state.pt")) if (tmp / path).exists() else False


SUITE = (
    'profile = "smoke"\nseeds = [0, 1, 2]\nmethods = ["spos"]\nout = "runs"\n'
    f"overrides = {json.dumps([*TINY_OVERRIDES, 'run.budget_epochs=8.0', 'run.checkpoints=[0.125, 0.25, 0.5, 1.0]'])}\n"
)


def _no_third_run(tmp: Path) -> None:
    started = [p for p in (tmp / "runs").rglob("seed*") if p.is_dir() and any(p.iterdir())]
    assert not any(p.name == "seed2" for p in started), "a queued run started after the stop"


# a run long enough to be stopped after its first checkpoint's resume state is written
RUN_ARGV = [
    "run", "--method", "spos", "--quiet", "--out", "r", *TINY,
    "--set", "run.budget_epochs=8.0", "--set", "run.checkpoints=[0.125, 0.25, 0.5, 1.0]",
]  # fmt: skip

STOPS = {
    "run_sigint": Stop(
        RUN_ARGV,
        (signal.SIGINT,),
        130,
        _state_written(Path("r")),
    ),
    "run_sigterm": Stop(
        RUN_ARGV,
        (signal.SIGTERM,),
        143,
        _state_written(Path("r")),
    ),
    "suite_two_workers_two_sigint": Stop(
        ["suite", "s.toml", "--workers", "2"],
        (signal.SIGINT, signal.SIGINT),
        130,
        _state_written(Path("runs")),
        _no_third_run,
    ),
    "suite_one_worker_sigterm": Stop(
        ["suite", "s.toml"], (signal.SIGTERM,), 143, _state_written(Path("runs")), _no_third_run
    ),
    "suite_two_workers_three_signals": Stop(
        ["suite", "s.toml", "--workers", "2"],
        (signal.SIGTERM, signal.SIGINT, signal.SIGTERM),
        143,
        _state_written(Path("runs")),
        _no_third_run,
    ),
}


@pytest.mark.data
@pytest.mark.parametrize("name", sorted(STOPS))
def test_stop_by_signal(name, tmp_path, data_dir):
    stop = STOPS[name]
    (tmp_path / "s.toml").write_text(SUITE)
    env = {**os.environ, "SUPERNET_BENCH_DATA": str(data_dir)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "supernet_bench.cli", *stop.argv],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        end = time.monotonic() + 240
        while proc.poll() is None and not stop.ready(tmp_path) and time.monotonic() < end:
            time.sleep(0.05)
        assert proc.poll() is None, f"ended before the signal: {proc.communicate()}"
        for sig in stop.signals:
            proc.send_signal(sig)
            time.sleep(0.1)
        start = time.monotonic()
        out, err = proc.communicate(timeout=30)
        waited = time.monotonic() - start
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert waited < 15, f"took {waited:.1f}s to stop"
    assert proc.returncode == stop.code, err
    assert "Traceback" not in out + err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and re.match(r"stopped by SIG(INT|TERM); .*(--resume|resume with)", lines[0]), lines
    stop.after(tmp_path)
    states = list(tmp_path.rglob("state.pt"))
    assert states, "no resumable state left"
    for s in states:
        assert manifest_status(s.parent) == "running"


# ------------------------------------------------------------------------------------------------------
# results files get the user's umask, not mkstemp's 0600


@pytest.mark.parametrize("mask", [0o022, 0o002, 0o077])
def test_atomic_writes_honour_the_umask(mask, tmp_path):
    from supernet_bench.core.atomic import atomic_write_text

    old = os.umask(mask)
    try:
        atomic_write_text(tmp_path / "f.txt", "x")
    finally:
        os.umask(old)
    assert (tmp_path / "f.txt").stat().st_mode & 0o777 == 0o666 & ~mask
