"""CLOSE / CLOSE-S on sequential spaces: interval-split GLOW blocks (methods/close/interval_glow.py,
docs/methods.md#interval-splitting)."""

from __future__ import annotations

import copy
import json

import numpy as np
import pytest
import torch
import torch.nn as nn
from supernet_bench.methods import create_method
from supernet_bench.methods.base import TrainContext
from supernet_bench.methods.close.interval_glow import IntervalGlowWeights
from supernet_bench.spaces import get_space

from tests.methods.close.test_close import FakeBatches, params_equal, perturb_bn, scores

MACRO_ARCHS = [
    (0, 0, 0, 0, 0, 0, 0, 0),
    (1, 2, 1, 2, 0, 2, 1, 1),
    (2, 2, 2, 2, 2, 2, 2, 2),
    (1, 0, 2, 1, 1, 0, 0, 2),
]


def macro_ctx(total_passes: int = 12, seed: int = 0) -> TrainContext:
    torch.manual_seed(seed)
    return TrainContext(
        space=get_space("macro"),
        num_classes=10,
        supernet_kwargs=dict(width_mult=0.125),
        next_batch=FakeBatches(4),
        total_passes=total_passes,
        batch_size=4,
        train_size=8,
        seed=seed,
        rng=np.random.default_rng(seed),
    )


def make(name: str, ctx: TrainContext | None = None, **params):
    method = create_method(name, {name: params})
    method.setup(ctx or macro_ctx())
    return method


# -- a synthetic sequential space with more positions: stages of 6 and 4 slots (positions 0..4) ----------
STAGES = (range(0, 6), range(6, 10))


def toy_factory(layer: int, slot: int, op: int) -> nn.Module:
    c_in, c_out, stride = (3, 4, 2) if slot == 0 else (4, 6, 2) if slot == 6 else (4, 4, 1) if slot < 6 else (6, 6, 1)
    if op == 0:
        return nn.Identity() if stride == 1 else nn.Conv2d(c_in, c_out, 1, stride)
    return nn.Sequential(nn.Conv2d(c_in, c_out, 3, stride, padding=1), nn.BatchNorm2d(c_out))


def toy_weights(num_blocks: int = 5, seed: int = 0) -> IntervalGlowWeights:
    torch.manual_seed(seed)
    return IntervalGlowWeights(toy_factory, 1, 10, 2, stages=STAGES, num_blocks=num_blocks)


def toy_forward(w: IntervalGlowWeights, x: torch.Tensor, arch) -> torch.Tensor:
    for slot, op in enumerate(arch):
        x = w(0, slot, op, x, arch)
    return x


def contiguous_cover(w: IntervalGlowWeights) -> bool:
    ivs = w.partition()
    return [iv[0] for iv in ivs] == [0] + [iv[1] for iv in ivs[:-1]] and ivs[-1][1] == w.num_positions


def test_pre_splits_the_shallowest_multi_position_interval():
    w = toy_weights()
    assert w.num_positions == 5 and w.partition() == [[0, 5, 0]]
    expected = [
        [[0, 2, 0], [2, 5, 1]],
        [[0, 1, 0], [1, 2, 2], [2, 5, 1]],
        [[0, 1, 0], [1, 2, 2], [2, 3, 1], [3, 5, 3]],
        [[0, 1, 0], [1, 2, 2], [2, 3, 1], [3, 4, 3], [4, 5, 4]],
    ]
    for want in expected:
        w.split("pre")
        assert w.partition() == want and contiguous_cover(w)
    assert w.num_active == 5 and w.choose("pre") is None
    with pytest.raises(ValueError):
        w.split("pre")


def test_max_splits_the_longest_interval_ties_to_the_smallest_start():
    w = toy_weights()
    expected = [
        [[0, 2, 0], [2, 5, 1]],
        [[0, 2, 0], [2, 3, 1], [3, 5, 2]],  # [2,5) is the longest
        [[0, 1, 0], [1, 2, 3], [2, 3, 1], [3, 5, 2]],  # tie [0,2) vs [3,5): smallest start
        [[0, 1, 0], [1, 2, 3], [2, 3, 1], [3, 4, 2], [4, 5, 4]],
    ]
    for want in expected:
        w.split("max")
        assert w.partition() == want and contiguous_cover(w)


def test_positions_map_to_blocks_and_first_slots_are_unshared():
    w = toy_weights()
    w.split("pre")  # [0,2) -> 0, [2,5) -> 1
    assert w.position_block == (0, 0, 1, 1, 1)
    assert w.module(0, 1, 1) is w.blocks[0][0][0]["1"] and w.module(0, 3, 1) is w.blocks[0][0][1]["1"]
    assert w.module(0, 7, 1) is w.blocks[0][1][0]["1"] and w.module(0, 9, 1) is w.blocks[0][1][1]["1"]
    firsts = {id(w.module(0, s, op)) for s in (0, 6) for op in (0, 1)}
    block_ids = {id(m) for m in w.blocks.modules()}
    assert len(firsts) == 4 and not firsts & block_ids
    # every stage has its own block weights
    p0 = {p.data_ptr() for p in w.blocks[0][0].parameters()}
    p1 = {p.data_ptr() for p in w.blocks[0][1].parameters()}
    assert p0 and p1 and not p0 & p1


def test_copy_split_keeps_the_function_additive_does_not():
    archs = [(1,) * 10, (0, 1, 0, 1, 1, 0, 1, 1, 0, 1), (1, 1, 1, 1, 1, 1, 0, 0, 1, 1)]
    x = torch.randn(2, 3, 8, 8)
    for wit in ("copy", "additive"):
        w = toy_weights()
        w.eval()
        with torch.no_grad():
            for m in w.modules():
                if isinstance(m, nn.BatchNorm2d):
                    m.running_mean.uniform_(-0.5, 0.5)
            before = [toy_forward(w, x, a) for a in archs]
            w.split("pre", wit)
            after = [toy_forward(w, x, a) for a in archs]
        same = all(torch.equal(b, a) for b, a in zip(before, after))
        assert same == (wit == "copy")


def test_shape_mismatch_within_a_stage_rejected():
    def bad(layer, slot, op):
        return nn.Conv2d(4, 4 if slot != 3 else 5, 1)

    with pytest.raises(ValueError, match="interchangeable"):
        IntervalGlowWeights(bad, 1, 10, 1, stages=STAGES)


def test_split_all_and_load_partition():
    w = toy_weights()
    w.split("pre")
    w.split_all()
    assert w.partition() == [[0, 1, 0], [1, 2, 2], [2, 3, 1], [3, 4, 3], [4, 5, 4]] and w.num_active == 5
    v = toy_weights(seed=1)
    v.load_partition(w.partition())
    assert v.position_block == w.position_block and v.num_active == 5
    with pytest.raises(ValueError):
        v.load_partition([[0, 2, 0], [3, 5, 1]])  # gap


def test_sharing_extent_counts_blocks_per_stage():
    w = toy_weights()
    assert w.sharing_extent(10) == 10 * (5 + 3) / 2
    w.split("pre")  # [0,2),[2,5): stage 1 (positions 0..2) sees both blocks
    assert w.blocks_in_use() == 4
    w.split_all()
    assert w.sharing_extent(10) == 10  # every block serves one position of every arch


# -- CLOSE on NAS-Bench-Macro ----------------------------------------------------------------------------
def test_macro_space_stages():
    sp = get_space("macro")
    assert [list(r) for r in sp.stage_slices()] == [[0, 1], [2, 3, 4], [5, 6, 7]]


def test_close_on_macro_splits_at_schedule_and_keeps_scores():
    m = make("close", macro_ctx(total_passes=10))  # 2 positions: blocks capped at 2, split at step 2
    w = m.weights
    assert isinstance(w, IntervalGlowWeights) and w.num_blocks == 2 and m.block_steps == [0, 2]
    assert m.diagnostics()["num_blocks"] == 1
    assert m.diagnostics()["sharing_extent"] == pytest.approx(3**8 * 5 / 3)
    m.step()
    m.step()
    perturb_bn(m.net)
    x = torch.randn(3, 3, 8, 8)
    before = scores(m, MACRO_ARCHS, x)
    m.add_block()
    after = scores(m, MACRO_ARCHS, x)
    assert all(torch.equal(b, a) for b, a in zip(before, after))
    assert w.partition() == [[0, 1, 0], [1, 2, 1]]
    assert m.diagnostics()["sharing_extent"] == pytest.approx(3**8)
    # stage 1 (one shared position) uses block 0 only; stages 2 and 3 use both
    assert w.blocks_in_use() == 5
    for _ in range(8):
        m.step()
    d = m.decisions()["close"]
    assert d["assignment"] == "interval" and d["ignored_block_fractions"] == [0.4, 0.6]
    assert [p["intervals"] for p in d["partitions"]] == [[[0, 2, 0]], [[0, 1, 0], [1, 2, 1]]]
    assert d["restarted_at"] == [4]
    # trained: the two blocks of stage 2 have drifted apart
    a, b = (w.blocks[0][1][k]["1"].conv[0].weight for k in (0, 1))
    assert not torch.equal(a, b)


def test_close_on_macro_training_step_runs_and_schedules_split():
    m = make("close", macro_ctx(total_passes=10), cl_criteria="max")
    for _ in range(3):
        assert m.step() == 1
    assert m.weights.num_active == 2 and m.block_events == [2]


@pytest.mark.parametrize("split_at", [1, 3])  # resume before / after the split at step 2
def test_close_on_macro_resume_is_bit_identical(split_at):
    def run(split):
        ctx = macro_ctx(total_passes=8)
        m = make("close", ctx)
        for _ in range(split):
            m.step()
        return m, copy.deepcopy(m.state_dict()), (torch.get_rng_state(), copy.deepcopy(ctx.rng.bit_generator.state))

    full, _, _ = run(8)
    _, state, (trng, nrng) = run(split_at)
    fresh = make("close", macro_ctx(total_passes=8))
    fresh.load_state_dict(state)
    torch.set_rng_state(trng)
    fresh.ctx.rng.bit_generator.state = nrng
    fresh.ctx.next_batch.i = split_at
    for _ in range(8 - split_at):
        fresh.step()
    assert fresh.weights.partition() == full.weights.partition()
    assert params_equal(fresh.net, full.net)
    assert fresh.decisions() == full.decisions()


def test_close_s_on_macro_splits_every_position_at_the_switch():
    m = make("close-s", macro_ctx(total_passes=10))
    w = m.weights
    assert isinstance(w, IntervalGlowWeights) and m.switch_step == 4
    for _ in range(4):
        m.step()
    assert w.partition() == [[0, 2, 0]] and m.diagnostics()["num_blocks"] == 1
    perturb_bn(m.supernet)
    x = torch.randn(3, 3, 8, 8)
    before = scores(m, MACRO_ARCHS, x)
    m.switch()
    after = scores(m, MACRO_ARCHS, x)
    assert all(torch.equal(b, a) for b, a in zip(before, after))
    assert w.partition() == [[0, 1, 0], [1, 2, 1]] and m.diagnostics()["num_blocks"] == 2
    m.step()
    assert m.trainer.restarts == [4]
    assert m.decisions()["close-s"]["partition"] == [[0, 1, 0], [1, 2, 1]]
    state = m.state_dict()
    fresh = make("close-s", macro_ctx(total_passes=10))
    fresh.load_state_dict(state)
    assert fresh.weights.partition() == w.partition()


@pytest.mark.data
@pytest.mark.parametrize("method", ["close", "close-s"])
def test_cli_run_on_macro_smoke(method, tmp_path, data_dir):
    from supernet_bench.cli import main

    out = tmp_path / "run"
    tiny = ["--set", "supernet.width_mult=0.125", "--set", "run.threads=1"]
    argv = ["run", "--method", method, "--space", "macro", "--profile", "macro-smoke", "--out", str(out),
            "--data-dir", str(data_dir), "--quiet", *tiny]  # fmt: skip
    assert main(argv) == 0
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "complete"
    assert manifest["method"]["decisions"][method]["assignment"] == "interval"
