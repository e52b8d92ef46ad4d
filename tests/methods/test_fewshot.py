"""Few-Shot NAS (docs/methods.md#few-shot-nas, #combinations):
disjoint sub-supernets, one per op of the split slot; every arch
owned by exactly one; inherit copies the one-shot supernet at the split, scratch does not; passes
charged equal passes computed; round-robin training with per-sub-supernet schedules; --resume."""

from __future__ import annotations

import copy
import json

import pyarrow.parquet as pq
import pytest
import torch
from supernet_bench import protocol
from supernet_bench.config import resolve_config
from supernet_bench.core.errors import BenchError
from supernet_bench.methods import create_method
from supernet_bench.store import RunStore

from tests.helpers import TINY_OVERRIDES, tiny_context


def setup_method(name: str = "fewshot", total_passes: int = 20, seed: int = 0, **params):
    method = create_method(name, {"fewshot": params})
    method.setup(tiny_context(total_passes=total_passes, seed=seed))
    return method


def storage(module: torch.nn.Module) -> set[int]:
    return {t.untyped_storage().data_ptr() for t in [*module.parameters(), *module.buffers()] if t.numel()}


def run_until_split(method) -> int:
    spent = 0
    while method.phase == 0:
        spent += method.step()
    return spent


def test_sub_supernets_share_no_tensor_storage():
    method = setup_method()
    oneshot = method.oneshot.supernet
    run_until_split(method)
    method.step()
    nets = [oneshot, *(sub.supernet for sub in method.subs)]
    ptrs = [storage(n) for n in nets]
    assert all(ptrs)
    for i in range(len(nets)):
        for j in range(i + 1, len(nets)):
            assert not ptrs[i] & ptrs[j], (i, j)
    params = [{id(p) for p in sub.optimizers[0].param_groups[0]["params"]} for sub in method.subs]
    assert all(not params[i] & params[j] for i in range(5) for j in range(i + 1, 5))


def test_every_architecture_maps_to_exactly_one_sub_supernet():
    method = setup_method(init="scratch")
    space = method.ctx.space
    counts = [0] * 5
    for arch in space.enumerate():
        owners = [i for i, sub in enumerate(method.subs) if space.contains(arch, sub.mask)]
        assert owners == [arch[0]]
        assert method.scoring_model(arch).module is method.subs[owners[0]].supernet
        counts[owners[0]] += 1
    assert counts == [3125] * 5


def test_inherit_copies_the_oneshot_supernet_at_the_split():
    method = setup_method()
    oneshot = method.oneshot
    arch = (3, 1, 2, 4, 3, 1)
    assert method.scoring_model(arch).module is oneshot.supernet
    assert run_until_split(method) == method.oneshot_passes == round(20 * 600 / 2100)
    assert oneshot.t == method.oneshot_passes and method.oneshot is None
    weights = oneshot.supernet.state_dict()
    for sub in method.subs:
        got = sub.supernet.state_dict()
        assert got.keys() == weights.keys()
        assert all(torch.equal(got[k], weights[k]) for k in weights)
        assert sub.t == 0 and all(not o.state_dict()["state"] for o in sub.optimizers)  # fresh optimizer
    assert method.scoring_model(arch).module is method.subs[arch[0]].supernet


def test_scratch_sub_supernets_start_from_their_own_init():
    method = setup_method(init="scratch")
    assert method.phase == 1 and method.oneshot is None and method.oneshot_passes == 0
    assert method.sub_passes == 4  # the whole budget, shared by 5
    stems = [sub.supernet.stem[0].weight for sub in method.subs]
    assert all(not torch.equal(stems[0], s) for s in stems[1:])


@pytest.mark.parametrize(
    "name, init", [("fewshot", "inherit"), ("fewshot", "scratch"), ("fewshot+calr+ms", "inherit")]
)
def test_passes_charged_equal_passes_computed(name, init):
    method = setup_method(name, total_passes=23, init=init)
    nets = [sub.supernet for sub in method.subs] + ([method.oneshot.supernet] if method.oneshot else [])
    forwards = {"n": 0}
    for net in nets:
        net.register_forward_hook(lambda *_: forwards.__setitem__("n", forwards["n"] + 1))
    charged = 0
    while charged < 23:
        charged += method.step()
    assert charged == forwards["n"] == 23
    share = method.sub_passes
    assert share == -(-(23 - method.oneshot_passes) // 5)
    ts = [sub.t for sub in method.subs]
    assert sum(ts) == 23 - method.oneshot_passes and max(ts) - min(ts) <= 1 and max(ts) <= share
    assert all(sub.total_steps == share for sub in method.subs)


def test_round_robin_with_a_schedule_per_sub_supernet():
    method = setup_method()
    run_until_split(method)
    for k in range(10):
        index = method.next_sub
        assert index == k % 5
        ts = [sub.t for sub in method.subs]
        method.step()
        assert [sub.t for sub in method.subs] == [t + (i == index) for i, t in enumerate(ts)]
        if k < 5:  # each schedule starts at t = 0: the full LR, whatever the one-shot phase reached
            assert method.subs[index].optimizers[0].param_groups[0]["lr"] == 0.025


def test_ms_slot_is_shared_and_never_the_split_slot():
    for seed in range(6):
        for split in (0, 3):
            method = setup_method("fewshot+calr+ms", seed=seed, split_slot=split)
            chosen = {t.policy("ms").chosen for t in [method.oneshot, *method.subs]}
            assert len(chosen) == 1 and split not in chosen
            assert method.decisions()["ms_slot_index"] in chosen


def test_decisions_and_diagnostics():
    method = setup_method("fewshot+calr", split_slot=2)
    d = method.decisions()
    assert d["fewshot_split_slot"] == "2<-1" and d["fewshot_init"] == "inherit"
    assert d["fewshot_oneshot_passes"] == 6 and d["fewshot_passes_per_sub_supernet"] == 3
    assert "calr_gamma_max" in d
    assert method.diagnostics()["phase"] == 0
    run_until_split(method)
    assert method.diagnostics()["phase"] == 1


@pytest.mark.parametrize(
    "params, match",
    [
        ({"init": "warm"}, "init"),
        ({"split_slot": 6}, "split_slot"),
        ({"oneshot_fraction": 1.0}, "oneshot_fraction"),
    ],
)
def test_bad_hyperparameters_are_refused(params, match):
    with pytest.raises(BenchError, match=match):
        setup_method(**params)


def test_state_dict_round_trip_mid_round_robin():
    a = setup_method("fewshot+ms")
    run_until_split(a)
    a.step(), a.step()
    saved = copy.deepcopy(a.state_dict())
    b = setup_method("fewshot+ms")
    b.load_state_dict(saved)
    assert (b.phase, b.next_sub, b.oneshot) == (1, 2, None)
    assert [s.t for s in b.subs] == [1, 1, 0, 0, 0]


class Interrupt(Exception):
    pass


@pytest.fixture(scope="module")
def resume_config():
    return resolve_config(
        "fewshot",
        profile="smoke",
        overrides=[*TINY_OVERRIDES, "run.batch_size=16", "run.checkpoints=[0.125, 0.5, 1.0]"],
    )


@pytest.fixture(scope="module")
def full_run(tmp_path_factory, data_dir, resume_config):
    root = tmp_path_factory.mktemp("full") / "run"
    protocol.run(resume_config, root, data_dir=data_dir, progress=False)
    return root


@pytest.mark.data
@pytest.mark.parametrize("crash_at", [1, 2])  # after checkpoint 0 (one-shot phase) or 1 (mid round-robin)
def test_resume_is_identical(crash_at, full_run, resume_config, tmp_path, data_dir, monkeypatch):
    real_save = RunStore.save_state
    calls = {"n": 0}

    def crash(self, state):
        real_save(self, state)
        calls["n"] += 1
        if calls["n"] == crash_at:
            raise Interrupt

    root = tmp_path / "run"
    monkeypatch.setattr(RunStore, "save_state", crash)
    with pytest.raises(Interrupt):
        protocol.run(resume_config, root, data_dir=data_dir, progress=False)
    monkeypatch.undo()
    protocol.run(resume_config, root, data_dir=data_dir, resume=True, progress=False)
    wall = ["train_wall_s", "eval_wall_s", "peak_rss_mb"]
    for table in ("metrics", "predictions", "lineages"):
        want = pq.read_table(full_run / f"{table}.parquet").to_pandas()
        got = pq.read_table(root / f"{table}.parquet").to_pandas()
        want, got = (df.drop(columns=[c for c in wall if c in df.columns]) for df in (want, got))
        assert got.equals(want), table
    metrics = pq.read_table(root / "metrics.parquet").to_pandas()
    phases = metrics.groupby("checkpoint").diagnostics.first().map(lambda d: json.loads(d)["phase"])
    assert list(phases) == [0, 1, 1]  # the cuts fall in the one-shot phase and mid round-robin


@pytest.mark.data
def test_lineages_record_passes_and_within_lineage_kt(full_run):
    """lineages.parquet: the one-shot supernet, then one row per sub-supernet whose passes add up to the run's."""
    lin = pq.read_table(full_run / "lineages.parquet").to_pandas()
    manifest = json.loads((full_run / "manifest.json").read_text())
    total = manifest["budget"]["total_passes"]
    first, last = lin[lin.checkpoint == 0], lin[lin.checkpoint == lin.checkpoint.max()]
    assert list(first.lineage) == ["oneshot"] and first.own_passes.iloc[0] == first.passes.iloc[0]
    assert list(last.lineage) == manifest["method"]["decisions"]["fewshot_split_ops"]
    oneshot = manifest["method"]["decisions"]["fewshot_oneshot_passes"]
    assert oneshot + last.own_passes.sum() == last.passes.iloc[0] >= total
    assert (last.lineage_passes == oneshot + last.own_passes).all()
    assert (last.weight_passes == last.lineage_passes).all()
    assert last.n_archs.sum() == 8 and last.selected.sum() == 1
    assert [d["own_passes"] for d in manifest["method"]["lineages"]] == list(last.own_passes)
