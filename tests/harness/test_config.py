"""Profiles resolve defaults -> profile -> overrides; the registry gives helpful errors."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
from supernet_bench.budget import Budget
from supernet_bench.config import (
    TABLES,
    RunConfig,
    config_diff,
    load_profile,
    parse_override,
    profile_names,
    resolve_config,
    validate,
)
from supernet_bench.core.errors import BenchError, UnknownNameError
from supernet_bench.core.registry import Registry


def test_shipped_profiles_resolve():
    assert {"smoke", "proxy"} <= set(profile_names())
    for name in ("smoke", "proxy"):
        config = resolve_config("spos", profile=name)
        assert config.run["checkpoints"][-1] == 1.0
        assert config.gt_columns[0] == config.eval["gt"]


def test_overrides_take_precedence_and_parse_toml_values():
    config = resolve_config(
        "spos", overrides=["run.budget_epochs=3", 'eval.sample="all"', "eval.bn_mode=ema", "methods.spos.lr=0.1"]
    )
    assert config.run["budget_epochs"] == 3
    assert config.eval["sample"] == "all" and config.eval["bn_mode"] == "ema"
    assert config.method_params()["spos"]["lr"] == 0.1
    assert load_profile("smoke")[1]["run"]["budget_epochs"] == 2.0  # the shipped file is not mutated


def test_config_round_trips_through_dict():
    config = resolve_config("fairnas", profile="proxy", seed=4, gt="cifar10_ori-test_hp200")
    assert RunConfig.from_dict(config.to_dict()) == config
    with pytest.raises(BenchError, match="unknown config key learning_rate"):
        RunConfig.from_dict({**config.to_dict(), "learning_rate": 1})


@pytest.mark.parametrize(
    "text, message",
    [("run.x", "section.key=value"), ("nope.x=1", "unknown section"), ("x=1", "section.key=value")],
)
def test_bad_overrides(text, message):
    with pytest.raises(BenchError, match=message):
        parse_override(text)


def test_registry_duplicate_and_did_you_mean():
    reg: Registry[int] = Registry("thing")
    reg.register("alpha", 1)
    with pytest.raises(ValueError, match="duplicate"):
        reg.register("alpha", 2)
    with pytest.raises(UnknownNameError, match="Did you mean: alpha"):
        reg.get("alpah")
    reg.freeze()
    with pytest.raises(RuntimeError):
        reg.register("beta", 3)


def test_budget_counts_passes_and_epoch_equivalents():
    b = Budget.from_epochs(2.0, batch_size=64, train_size=500, fractions=[0.0, 0.5, 1.0])
    assert b.total_passes == 16  # ceil(2 * 500 / 64)
    assert b.checkpoint_passes == (0, 8, 16)
    assert b.epoch_equiv(16) == pytest.approx(16 * 64 / 500)


def test_shared_method_table_reaches_every_method_and_specific_tables_win():
    from supernet_bench.methods import create_method

    config = resolve_config("fairnas", overrides=["methods.fairnas.lr=0.2", "methods.all.grad_clip=1.0"])
    fair = create_method("fairnas", config.method_params())
    spos = create_method("spos+calr", config.method_params())
    assert fair.lr == 0.2 and spos.lr == 0.05  # fairnas table beats the shared one; spos gets the shared lr
    assert fair.grad_clip == 1.0 and spos.grad_clip == 1.0


# --- typed tables: defaults in one place, run ids, recorded configs ---------------------------------------------
REPO = Path(__file__).parents[2]
MINIMAL_PROFILE = """
[run]
budget_epochs = 2
batch_size = 64
checkpoints = [0.5, 1]
[data]
dataset = "cifar10"
split = "train/test"
resolution = 16
[eval]
gt = "cifar10-valid_x-valid_hp200"
sample = "random:16"
bn_mode = "recalibrate"
batch_size = 256
"""


def test_unset_keys_get_the_declared_defaults(tmp_path):
    profile = tmp_path / "minimal.toml"
    profile.write_text(MINIMAL_PROFILE)
    config = resolve_config("spos", profile=str(profile))
    for table, cls in TABLES.items():
        for f in dataclasses.fields(cls):
            if f.default is not dataclasses.MISSING:
                assert getattr(getattr(config, table), f.name) == f.default, f"{table}.{f.name}"
    assert config.run.threads == 2 and config.eval.recal_batches == 4 and config.eval.sample_seed == 0
    assert config.run.budget_epochs == 2.0 and isinstance(config.run.budget_epochs, float)  # TOML 2 is 2.0
    assert config.run.checkpoints == (0.5, 1.0)
    assert config.run["batch_size"] == 64  # item access still works for callers written against dicts


def test_protocol_reads_no_scattered_defaults():
    source = (REPO / "harness" / "protocol.py").read_text()
    assert '.get("sample_seed"' not in source and "ev.get(" not in source and "d.get(" not in source


def test_new_run_keys_are_declared_with_defaults():
    config = resolve_config("spos")
    assert (config.run.device, config.run.deterministic, config.run.precision, config.run.channels_last) == (
        "auto",
        False,
        "fp32",
        True,
    )
    for device in ("cpu", "cuda", "cuda:1"):
        assert resolve_config("spos", overrides=[f"run.device={device}"]).run.device == device
    config = resolve_config(
        "spos", overrides=["run.precision=bf16", "run.deterministic=true", "run.channels_last=false"]
    )
    assert (config.run.precision, config.run.deterministic, config.run.channels_last) == ("bf16", True, False)


def test_recal_batches_may_be_zero_where_the_bn_mode_does_not_recalibrate():
    config = resolve_config("spos", overrides=["eval.bn_mode=train-mode", "eval.recal_batches=0"])
    assert config.eval.recal_batches == 0


def test_run_id_is_unique_across_a_suite_grid_and_stable():
    from supernet_bench.suite import load_suite, plan

    tasks = plan(load_suite("proxy"), "unused-root")
    assert len(tasks) == 48
    ids = {t.config.run_id for t in tasks}
    assert len(ids) == 48 and all(len(i) == 12 and int(i, 16) >= 0 for i in ids)
    again = plan(load_suite("proxy"), "another-root")  # the results root is not part of the identity
    assert [t.config.run_id for t in again] == [t.config.run_id for t in tasks]
    assert resolve_config("spos", seed=0).run_id == "b9017a54e881"  # the same on every machine


def test_run_id_follows_the_content_not_the_path_of_named_files(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    arch = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|\n"
    for folder in ("a", "b"):
        (tmp_path / folder / "archs.txt").write_text(arch)
    ids = [resolve_config("spos", overrides=[f'eval.sample="file:{tmp_path / f}/archs.txt"']).run_id for f in "ab"]
    assert ids[0] == ids[1]
    (tmp_path / "b" / "archs.txt").write_text(arch + arch)
    assert resolve_config("spos", overrides=[f'eval.sample="file:{tmp_path}/b/archs.txt"']).run_id != ids[0]
    assert resolve_config("spos", overrides=["run.threads=1"]).run_id != resolve_config("spos").run_id


def test_manifest_config_keeps_todays_format_plus_the_declared_run_keys():
    recorded = json.loads(next((REPO / "results" / "runs").rglob("manifest.json")).read_text())["config"]
    config = RunConfig.from_dict(recorded)
    written = config.to_dict()
    new_keys = {"device", "deterministic", "precision", "channels_last"}
    assert {k: v for k, v in written["run"].items() if k not in new_keys} == recorded["run"]
    assert set(written["run"]) - set(recorded["run"]) == new_keys
    assert {k: written[k] for k in recorded if k != "run"} == {k: v for k, v in recorded.items() if k != "run"}


def test_committed_runs_load_and_match_their_suite():
    """Old manifests (no run.device & co., folder-name run ids) parse, validate, and are the suite's runs."""
    from supernet_bench.suite import load_suite, plan

    manifests = sorted((REPO / "results" / "runs").rglob("manifest.json"))
    assert manifests
    for path in manifests:
        recorded = json.loads(path.read_text())
        validate(RunConfig.from_dict(recorded["config"]))
    for suite in ("proxy", "macro-proxy"):
        spec = load_suite(suite)
        for task in plan(spec, REPO / spec.out):
            manifest = task.out / "manifest.json"
            if manifest.is_file():
                assert config_diff(json.loads(manifest.read_text())["config"], task.config) == [], task.label


def test_config_diff_names_keys_and_fills_defaults_of_old_records():
    config = resolve_config("spos")
    old = config.to_dict()
    for key in ("device", "deterministic", "precision", "channels_last"):
        del old["run"][key]
    assert config_diff(old, config) == []
    old["run"]["budget_epochs"] = 3
    old["methods"]["all"]["lr"] = 0.1
    assert config_diff(old, config) == [
        "methods.all.lr (stored 0.1, requested 0.05)",
        "run.budget_epochs (stored 3, requested 2.0)",
    ]


def test_aggregate_pools_old_and_new_manifests_of_one_protocol():
    import pandas as pd
    from supernet_bench.aggregate import RUN_PATH, config_notes

    new = resolve_config("spos").to_dict()
    old = json.loads(json.dumps(new))
    for key in ("device", "deterministic", "precision", "channels_last"):
        del old["run"][key]
    metrics = pd.DataFrame(
        [{RUN_PATH: p, "space": "nb201", "dataset": "cifar10", "profile": "smoke", "method": "spos"} for p in "ab"]
    )
    manifests = {"a": {"config": old}, "b": {"config": new}}
    assert not [n for n in config_notes(metrics, manifests) if "protocol configs" in n]
    manifests["b"]["config"]["run"]["precision"] = "bf16"
    assert [n for n in config_notes(metrics, manifests) if "protocol configs" in n]
