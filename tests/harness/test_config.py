"""Profiles resolve defaults -> profile -> overrides; the registry gives helpful errors."""

from __future__ import annotations

import pytest
from supernet_bench.budget import Budget
from supernet_bench.config import RunConfig, load_profile, parse_override, profile_names, resolve_config
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
