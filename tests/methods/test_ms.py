"""MS (docs/methods.md#ms): one optimizer (momentum buffer) per cluster of the chosen slot; a step in cluster c
touches only optimizer c, and the slot and clusters are recorded as run decisions."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from scipy.stats import chisquare
from supernet_bench.methods import create_method
from supernet_bench.methods.base import mask_with
from supernet_bench.methods.policies.ms import MomentumSeparation
from supernet_bench.spaces import get_space

from tests.helpers import tiny_context


def setup_method(name: str, seed: int = 0, **policy):
    method = create_method(name, {"ms": policy})
    method.setup(tiny_context(total_passes=40, seed=seed))
    return method


def same_state(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(
        a[k].keys() == b[k].keys() and all(torch.equal(a[k][n], b[k][n]) for n in a[k]) for k in a
    )


def test_a_step_in_cluster_c_changes_only_optimizer_c():
    method = setup_method("spos+ms")
    trainer = method.trainer
    assert len(trainer.optimizers) == 5
    seen = set()
    for _ in range(12):
        before = [copy.deepcopy(o.state_dict()["state"]) for o in trainer.optimizers]
        method.step()
        c = trainer.policy("ms").cluster_of(trainer.last_archs[0][trainer.policy("ms").chosen])
        seen.add(c)
        after = [o.state_dict()["state"] for o in trainer.optimizers]
        for i in range(5):
            assert same_state(before[i], after[i]) == (i != c)
    assert len(seen) > 1


def test_decisions_name_the_slot_and_clusters():
    method = setup_method("spos+ms")
    space = get_space("nb201")
    d = method.decisions()
    chosen = method.trainer.policy("ms").chosen
    assert d["ms_slot_index"] == chosen and d["ms_slot"] == space.slots[chosen].name
    assert d["ms_clusters"] == list(space.ops)


def test_slot_is_random_per_run_reproducible_per_seed_or_fixed():
    chosen = {seed: setup_method("spos+ms", seed=seed).trainer.policy("ms").chosen for seed in range(8)}
    assert len(set(chosen.values())) > 1
    assert setup_method("spos+ms", seed=3).trainer.policy("ms").chosen == chosen[3]
    assert setup_method("spos+ms", slot=4).trainer.policy("ms").chosen == 4


def test_bind_skips_excluded_and_pinned_slots():
    space = get_space("nb201")
    mask = mask_with(space.allowed, {1: 2})
    for seed in range(20):
        ms = MomentumSeparation().bind(space, mask, np.random.default_rng(seed), exclude=(0,))
        assert ms.chosen not in (0, 1)


def test_spos_ms_still_samples_uniformly():
    """Drawing the cluster first, then the other slots, keeps SPOS's uniform marginals."""
    trainer = setup_method("spos+ms").trainer
    archs = np.array([trainer.sample_step()[1][0] for _ in range(5000)])
    for slot in range(6):
        counts = np.bincount(archs[:, slot], minlength=5)
        assert chisquare(counts).pvalue > 1e-3


@pytest.mark.parametrize("name", ["spos+calr+ms", "fairnas+calr+ms"])
def test_calr_ms_steps_the_clusters_optimizer_with_calr(name):
    method = setup_method(name)
    trainer = method.trainer
    for _ in range(3):
        method.step()
        c = trainer.policy("ms").cluster_of(trainer.last_archs[0][trainer.policy("ms").chosen])
        lr = trainer.optimizers[c].param_groups[0]["lr"]
        if trainer.policy("calr").resolved_mode(trainer.paths_per_step) == "lr":  # SPOS: the subnet's own CaLR rate
            progress = (trainer.t - 1) / trainer.total_steps
            assert lr == pytest.approx(0.025 * trainer.policy("calr").factor(progress, trainer.last_archs[0]))
        else:  # FairNAS: schedule in the loss weights, constant LR
            assert lr == 0.025
