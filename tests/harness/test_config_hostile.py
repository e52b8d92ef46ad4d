"""Hostile configuration input, as a table: every case exits 2 through the CLI with one clear line, before
anything trains, and leaves an existing run directory byte for byte as it was.

Categories: unknown keys (did-you-mean), wrong types, out-of-range values, combinations (checkpoints, BN
recalibration, sample size), seeds, profile files, suite files, recorded manifests, resume/re-run integrity.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from supernet_bench.cli import main
from supernet_bench.config import resolve_config

BIG = str(2**63)

# (case id, extra CLI args for `run --method spos`, expected message fragment)
SET_CASES = [
    (
        "unknown-run-key",
        ["--set", "run.budget_epoch=500"],
        "unknown key run.budget_epoch; did you mean run.budget_epochs?",
    ),
    ("unknown-eval-key", ["--set", "eval.bn_mod=ema"], "unknown key eval.bn_mod; did you mean eval.bn_mode?"),
    ("unknown-data-key", ["--set", "data.datset=cifar10"], "unknown key data.datset; did you mean data.dataset?"),
    ("unknown-key-no-match", ["--set", "run.zzz=1"], "unknown key run.zzz (known: "),
    ("unknown-section", ["--set", "rnu.threads=1"], "unknown section 'rnu'; did you mean run?"),
    ("nested-run-key", ["--set", "run.threads.x=1"], "run keys are run.key=value"),
    ("flat-methods-key", ["--set", "methods.lr=0.1"], "methods keys are methods.NAME.key=value"),
    ("flat-policies-key", ["--set", "policies.gamma=0.1"], "policies keys are policies.NAME.key=value"),
    ("no-equals", ["--set", "run.threads"], "must look like section.key=value"),
    ("device-format", ["--set", "run.device=gpu"], "run.device must be auto, cpu, cuda or cuda:N, got 'gpu'"),
    ("device-index", ["--set", "run.device=cuda:x"], "run.device must be auto, cpu, cuda or cuda:N"),
    ("device-type", ["--set", "run.device=0"], "run.device must be a string, got 0"),
    ("precision", ["--set", "run.precision=fp16"], "run.precision must be one of fp32, bf16, got 'fp16'"),
    ("deterministic-type", ["--set", "run.deterministic=yes"], "run.deterministic must be a boolean, got 'yes'"),
    ("channels-last-int", ["--set", "run.channels_last=1"], "run.channels_last must be a boolean, got 1"),
    ("threads-zero", ["--set", "run.threads=0"], "run.threads must be >= 1, got 0"),
    ("threads-string", ["--set", "run.threads=two"], "run.threads must be an integer, got 'two'"),
    ("threads-bool", ["--set", "run.threads=true"], "run.threads must be an integer, got True"),
    ("batch-float", ["--set", "run.batch_size=1.5"], "run.batch_size must be an integer, got 1.5"),
    ("batch-zero", ["--set", "run.batch_size=0"], "run.batch_size must be >= 1, got 0"),
    ("budget-zero", ["--set", "run.budget_epochs=0"], "run.budget_epochs must be > 0"),
    ("budget-nan", ["--set", "run.budget_epochs=nan"], "run.budget_epochs must be > 0, got nan"),
    ("budget-string", ["--set", 'run.budget_epochs="5"'], "run.budget_epochs must be a number, got '5'"),
    ("checkpoints-repeat", ["--set", "run.checkpoints=[0.5, 0.5, 1.0]"], "strictly increasing fractions in [0, 1]"),
    ("checkpoints-decrease", ["--set", "run.checkpoints=[1.0, 0.5]"], "strictly increasing fractions in [0, 1]"),
    ("checkpoints-above-1", ["--set", "run.checkpoints=[0.5, 1.5]"], "strictly increasing fractions in [0, 1]"),
    ("checkpoints-negative", ["--set", "run.checkpoints=[-0.5, 1.0]"], "strictly increasing fractions in [0, 1]"),
    ("checkpoints-empty", ["--set", "run.checkpoints=[]"], "strictly increasing fractions in [0, 1], got []"),
    ("checkpoints-no-end", ["--set", "run.checkpoints=[0.25, 0.5]"], "must end at 1.0"),
    ("checkpoints-scalar", ["--set", "run.checkpoints=1.0"], "run.checkpoints must be a list of numbers"),
    ("checkpoints-strings", ["--set", 'run.checkpoints=["a"]'], "run.checkpoints must be a list of numbers"),
    (
        "recal-zero",
        ["--set", "eval.recal_batches=0"],
        "eval.recal_batches must be >= 1 with eval.bn_mode='recalibrate'",
    ),
    (
        "recal-zero-ema",
        ["--set", "eval.recal_batches=0", "--set", "eval.bn_mode=ema"],
        "eval.recal_batches must be >= 1 with eval.bn_mode='ema'",
    ),
    (
        "recal-negative",
        ["--set", "eval.recal_batches=-1", "--set", "eval.bn_mode=train-mode"],
        "eval.recal_batches must be >= 0",
    ),
    ("recal-batch-size", ["--set", "eval.recal_batch_size=0"], "eval.recal_batch_size must be >= 1"),
    ("eval-batch-size", ["--set", "eval.batch_size=0"], "eval.batch_size must be >= 1"),
    ("bn-mode", ["--set", "eval.bn_mode=recal"], "Unknown BN mode 'recal'"),
    ("score", ["--set", "eval.score=acc"], "Unknown score 'acc'"),
    ("sample-one", ["--set", 'eval.sample="random:1"'], "need at least 2 architectures to rank"),
    ("sample-n-text", ["--set", 'eval.sample="random:x"'], "random:N needs an integer N"),
    ("sample-kind", ["--set", "eval.sample=some"], "must be random:N, all, subset:NAME or file:PATH"),
    ("sample-file-empty", ["--set", 'eval.sample="file:"'], "needs a name after the colon"),
    ("sample-seed-negative", ["--set", "eval.sample_seed=-1"], "eval.sample_seed must be an integer in [0, 2**63)"),
    ("split-seed-huge", ["--set", f"data.split_seed={BIG}"], "data.split_seed must be an integer in [0, 2**63)"),
    ("resolution-zero", ["--set", "data.resolution=0"], "data.resolution must be >= 1"),
    ("train-limit-negative", ["--set", "data.train_limit=-5"], "data.train_limit must be >= 0"),
    ("augment-string", ["--set", "data.augment=no"], "data.augment must be a boolean, got 'no'"),
    ("extra-gt-string", ["--set", 'eval.extra_gt="x"'], "eval.extra_gt must be a list of strings"),
    ("gt-number", ["--set", "eval.gt=5"], "eval.gt must be a string, got 5"),
    ("gt-source-number", ["--set", "eval.gt_source=5"], "eval.gt_source must be a string or unset, got 5"),
    ("seed-huge", ["--seed", BIG], "seed must be an integer in [0, 2**63)"),
    ("seed-negative", ["--seed", "-1"], "seed must be an integer in [0, 2**63), got -1"),
]


def _call(args: list[str], capsys) -> tuple[int, list[str]]:
    rc = main(args)
    err = capsys.readouterr().err
    return rc, [line for line in err.splitlines() if line.strip()]


def _one_line(rc: int, lines: list[str], message: str) -> None:
    assert rc == 2
    assert len(lines) == 1, lines
    assert lines[0].startswith("error: ") and "Traceback" not in lines[0]
    assert message in lines[0], lines[0]


def _snapshot(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("args, message", [c[1:] for c in SET_CASES], ids=[c[0] for c in SET_CASES])
def test_bad_run_options(tmp_path, capsys, args, message):
    out = tmp_path / "run"
    _one_line(*_call(["run", "--method", "spos", "--out", str(out), *args], capsys), message)
    assert not out.exists()  # refused before anything was written


SMOKE = (Path(__file__).parents[2] / "harness" / "profiles" / "smoke.toml").read_text()

PROFILE_CASES = [
    (
        "profile-unknown-key",
        SMOKE.replace("threads = 2", "thread = 2"),
        "unknown key run.thread; did you mean run.threads?",
    ),
    ("profile-unknown-table", SMOKE.replace("[eval]", "[evl]"), "unknown table [evl]; did you mean eval?"),
    ("profile-wrong-type", SMOKE.replace("batch_size = 64", 'batch_size = "64"'), "run.batch_size must be an integer"),
    ("profile-missing-key", SMOKE.replace("batch_size = 64\n", ""), "config is missing run.batch_size"),
    ("profile-bad-checkpoints", SMOKE.replace("[0.5, 1.0]", "[0.5, 0.5, 1.0]"), "strictly increasing"),
    ("profile-methods-not-table", SMOKE + "\n[policies]\ncalr = 3\n", "[policies] must hold one table per name"),
]


@pytest.mark.parametrize("text, message", [c[1:] for c in PROFILE_CASES], ids=[c[0] for c in PROFILE_CASES])
def test_bad_profile_files(tmp_path, capsys, text, message):
    profile = tmp_path / "mine.toml"
    profile.write_text(text)
    out = tmp_path / "run"
    _one_line(*_call(["run", "--method", "spos", "--profile", str(profile), "--out", str(out)], capsys), message)
    assert not out.exists()


SUITE = 'profile = "smoke"\nmethods = ["spos"]\nspaces = ["nb201:conv3-pool"]\n'

SUITE_CASES = [
    ("suite-override-typo", SUITE + 'seeds = [0]\noverrides = ["eval.bn_mod=ema"]\n', "did you mean eval.bn_mode?"),
    ("suite-seed-huge", SUITE + f"seeds = [{BIG}]\n", "seed must be an integer in [0, 2**63)"),
    ("suite-seed-count-huge", SUITE + "seeds = 1000000000\n", "'seeds' as a count must be in [1, 10000]"),
    (
        "suite-sample-too-large",
        SUITE + 'seeds = [0]\noverrides = ["eval.sample=\\"random:100\\""]\n',
        "asks for 100 architectures but space nb201:conv3-pool has 64",
    ),
]


@pytest.mark.parametrize("text, message", [c[1:] for c in SUITE_CASES], ids=[c[0] for c in SUITE_CASES])
def test_bad_suite_files(tmp_path, capsys, text, message):
    suite = tmp_path / "mine.toml"
    suite.write_text(text)
    out = tmp_path / "root"
    _one_line(*_call(["suite", str(suite), "--out", str(out)], capsys), message)
    assert not any(out.rglob("manifest.json")) if out.exists() else True


def _recorded(tmp_path: Path, status: str, **changes) -> Path:
    """A run directory as `run` leaves it (manifest only: every refusal comes before results are read)."""
    root = tmp_path / "existing"
    root.mkdir()
    config = resolve_config("spos", profile="smoke", seed=0).to_dict()
    for key, value in changes.items():
        section, _, name = key.partition("__")
        if name:
            config[section][name] = value
        else:
            config[section] = value
    manifest = {"run_id": "existing", "status": status, "config": config}
    (root / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True))
    (root / "metrics.parquet").write_bytes(b"results written earlier")
    return root


RESUME_CASES = [
    ("complete-other-method", "complete", ["--method", "fairnas"], 'method (stored "spos", requested "fairnas")'),
    (
        "complete-other-set",
        "complete",
        ["--set", "run.budget_epochs=3"],
        "run.budget_epochs (stored 2.0, requested 3.0)",
    ),
    ("complete-other-seed", "complete", ["--seed", "1"], "seed (stored 0, requested 1)"),
    ("complete-other-profile", "complete", ["--profile", "proxy"], 'profile (stored "smoke", requested "proxy")'),
    (
        "running-other-set",
        "running",
        ["--set", "eval.bn_mode=ema"],
        'eval.bn_mode (stored "recalibrate", requested "ema")',
    ),
    ("running-other-lr", "running", ["--set", "methods.all.lr=0.1"], "methods.all.lr (stored 0.05, requested 0.1)"),
    (
        "running-new-key",
        "running",
        ["--set", "run.deterministic=true"],
        "run.deterministic (stored false, requested true)",
    ),
]


@pytest.mark.parametrize("status, args, message", [c[1:] for c in RESUME_CASES], ids=[c[0] for c in RESUME_CASES])
def test_resume_refuses_another_run(tmp_path, capsys, status, args, message):
    root = _recorded(tmp_path, status)
    before = _snapshot(root)
    cli_args = ["run", "--method", "spos", "--out", str(root), "--resume", *args]
    if "--method" in args:
        cli_args = ["run", "--out", str(root), "--resume", *args]
    rc, lines = _call(cli_args, capsys)
    _one_line(rc, lines, message)
    assert "holds a different run" in lines[0]
    assert _snapshot(root) == before


def test_resume_names_every_differing_key(tmp_path, capsys):
    root = _recorded(tmp_path, "running")
    rc, lines = _call(
        ["run", "--method", "fairnas", "--out", str(root), "--resume", "--seed", "2", "--set", "run.threads=1"], capsys
    )
    _one_line(rc, lines, "holds a different run (3 differing key(s): method")
    assert "run.threads (stored 2, requested 1)" in lines[0] and "seed (stored 0, requested 2)" in lines[0]


MANIFEST_CASES = [
    ("manifest-unknown-key", {"run__budget_epoch": 3}, "unknown key run.budget_epoch; did you mean run.budget_epochs?"),
    ("manifest-wrong-type", {"run__threads": "2"}, "run.threads must be an integer"),
    ("manifest-unknown-top", {"learning_rate": 1}, "unknown config key learning_rate"),
]


@pytest.mark.parametrize("changes, message", [c[1:] for c in MANIFEST_CASES], ids=[c[0] for c in MANIFEST_CASES])
def test_bad_recorded_manifest(tmp_path, capsys, changes, message):
    root = _recorded(tmp_path, "complete", **changes)
    before = _snapshot(root)
    _one_line(*_call(["run", "--from-manifest", str(root), "--out", str(tmp_path / "again")], capsys), message)
    assert _snapshot(root) == before and not (tmp_path / "again").exists()


def test_table_size():
    """The hostile-input table this file contributes (the project counts these cases)."""
    cases = SET_CASES + PROFILE_CASES + SUITE_CASES + RESUME_CASES + MANIFEST_CASES
    assert len({c[0] for c in cases}) == len(cases) >= 70
