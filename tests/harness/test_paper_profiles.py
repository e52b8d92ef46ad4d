"""The GPU-scale profiles: they resolve for every method, build every method's hyperparameters, and state a cost."""

from __future__ import annotations

import pytest
from supernet_bench.cli import main, profile_cost
from supernet_bench.config import load_profile, resolve_config
from supernet_bench.methods import create_method, method_names

GPU_PROFILES = {
    "nb201-paper": "nb201",
    "nb201-paper-c100": "nb201",
    "nb201-paper-in16": "nb201",
    "macro-paper": "macro",
    "gpu-proxy": "nb201",
}


@pytest.mark.parametrize("profile", sorted(GPU_PROFILES))
def test_profile_resolves_and_builds_every_method(profile):
    for name in method_names():
        config = resolve_config(name, profile=profile, space=GPU_PROFILES[profile])
        method = create_method(name, config.method_params())
        assert method.get_params()


@pytest.mark.parametrize("profile", sorted(GPU_PROFILES))
def test_profile_states_its_cost_per_run(profile):
    description = load_profile(profile)[1]["description"]
    assert "GPU-h" in profile_cost(description) and "est." in description


def test_paper_profiles_use_the_papers_settings():
    c = resolve_config("fairnas", profile="nb201-paper")
    assert (c.supernet["C"], c.supernet["N"], c.data["resolution"], c.data["split"]) == (16, 5, 32, "holdout:0.5")
    assert c.run["budget_epochs"] == 250 and c.run["batch_size"] == 64 and c.eval["sample"] == "subset:kt-subset-327"
    fairnas = create_method("fairnas", c.method_params())
    assert fairnas.grad_clip == 0.0 and fairnas.nesterov and fairnas.lr == 0.025
    assert create_method("spos", c.method_params()).grad_clip == 5.0
    assert create_method("fewshot", c.method_params()).init == "scratch"
    m = resolve_config("spos", profile="macro-paper", space="macro")
    assert (m.run["budget_epochs"], m.run["batch_size"]) == (50, 256)
    assert (m.eval["bn_mode"], m.eval["recal_batches"]) == ("ema", 20)
    g = resolve_config("spos", profile="gpu-proxy")
    assert (g.supernet["N"], g.data["resolution"], g.data["train_limit"]) == (5, 32, 0)


def test_list_profiles_shows_the_cost(capsys):
    assert main(["list", "profiles"]) == 0
    lines = {line.split()[0]: line for line in capsys.readouterr().out.splitlines()}
    for profile in GPU_PROFILES:
        assert "GPU-h" in lines[profile]
