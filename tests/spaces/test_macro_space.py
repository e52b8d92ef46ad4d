"""NAS-Bench-Macro space: encodings, #params, supernet shapes and keying, ground truth, noise ceiling, CLI."""

from __future__ import annotations

import json
from itertools import product

import numpy as np
import pandas as pd
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from supernet_bench.core.errors import BenchError, DataError, UnknownNameError
from supernet_bench.core.ground_truth import sha256_file
from supernet_bench.methods.policies.ms import MomentumSeparation
from supernet_bench.spaces import get_space
from supernet_bench.spaces.macro import OPS, MacroSpace
from supernet_bench.spaces.macro.ground_truth import DEFAULT_SOURCE, load_macro_ground_truth, seed_to_seed_kendall_tau
from supernet_bench.spaces.macro.space import fixed_param_count, layer_plan, macro_param_count
from supernet_bench.spaces.macro.supernet import InvertedResidual, MacroSupernet
from supernet_bench.spaces.weights import EdgeWeights

ALL_STRINGS = sorted("".join(p) for p in product("012", repeat=8))
# From the benchmark file: params of three archs; paper CondWeights Table 3: the width-1 supernet.
KNOWN_PARAMS = {"00000000": 387_882, "11111111": 1_588_874, "22222222": 2_932_586}
SUPERNET_PARAMS = 4_221_386


@pytest.fixture(scope="module")
def space() -> MacroSpace:
    return MacroSpace()


def _params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


# --- registry, encodings ---------------------------------------------------------------------------
def test_registry_slots_and_subsets(space):
    sp = get_space("macro")
    assert isinstance(sp, MacroSpace) and sp.label == "macro" and sp.sequential is True
    assert OPS == ("identity", "mb_k3_e3", "mb_k5_e6")
    assert [s.name for s in sp.slots] == [f"layer{i}" for i in range(1, 9)]
    assert sp.size() == 6561 and list(sp.gt_columns()) == ["mean_acc", "test_acc_0", "test_acc_1", "test_acc_2"]
    with pytest.raises(UnknownNameError, match="Unknown macro subset 'no-zero'. Available: full"):
        get_space("macro:no-zero")


def test_round_trip_all(space):
    archs = list(space.enumerate())
    strings = [space.encode(a) for a in archs]
    assert strings == ALL_STRINGS  # lexicographic op order = sorted strings, layer1 first
    assert all(space.decode(s) == a for s, a in zip(strings, archs, strict=True))
    assert space.decode("12000221") == (1, 2, 0, 0, 0, 2, 2, 1) and space.decode(" 00000001\n")[-1] == 1
    assert space.check([2, 2, 2, 2, 2, 2, 2, 2]) == (2,) * 8 and space.check("01201201") == (0, 1, 2, 0, 1, 2, 0, 1)


@pytest.mark.parametrize(
    ("text", "pattern"),
    [
        ("0000000", "expected 8 characters.*got 7"),
        ("000000000", "expected 8 characters.*got 9"),
        ("", "got 0"),
        ("00000030", "bad character '3' for layer7"),
        ("0a000000", "bad character 'a' for layer2"),
        (12000221, "must be a string, got int"),
    ],
)
def test_decode_errors(space, text, pattern):
    with pytest.raises(BenchError, match=pattern):
        space.decode(text)


@pytest.mark.parametrize("arch", [(0,) * 7, (0,) * 9, (0, 0, 0, 0, 0, 0, 0, 3), (0, 0, 0, 0, 0, 0, 0, 1.5), None])
def test_check_errors(space, arch):
    with pytest.raises(BenchError):
        space.encode(arch)


def test_sampling_and_ms_first_layer(space):
    rng = np.random.default_rng(0)
    a = np.array([space.sample(rng) for _ in range(3000)])
    assert set(np.unique(a)) == {0, 1, 2} and np.allclose(np.bincount(a.ravel()) / a.size, 1 / 3, atol=0.02)
    ms = MomentumSeparation().bind(space, space.allowed, np.random.default_rng(5))
    assert ms.chosen == 0 and ms.decisions()["ms_slot"] == "layer1"
    assert ms.decisions()["ms_clusters"] == list(OPS)


# --- complexity ------------------------------------------------------------------------------------
def test_complexity_formula(space):
    for s, n in KNOWN_PARAMS.items():
        assert space.complexity(space.decode(s)) == n
    assert fixed_param_count() == 928 + 343_050  # stem and head+classifier of Table 3
    archs = list(space.enumerate())
    vec = space.complexities(archs)
    assert np.array_equal(vec, [space.complexity(a) for a in archs])
    assert space.complexities([]).shape == (0,)
    with pytest.raises(BenchError):
        space.complexities(np.zeros((2, 7), dtype=int))
    assert macro_param_count((0,) * 8, num_classes=100) == KNOWN_PARAMS["00000000"] + 90 * 1281


@pytest.mark.data
def test_complexity_matches_benchmark_params(space, data_dir):
    data = json.loads((data_dir / DEFAULT_SOURCE).read_text())
    assert len(data) == 6561
    mismatched = [k for k, rec in data.items() if space.complexity(space.decode(k)) != rec["params"]]
    assert mismatched == []


# --- supernet --------------------------------------------------------------------------------------
def test_channel_plan():
    assert layer_plan() == (
        (32, 64, 2), (64, 64, 1),
        (64, 128, 2), (128, 128, 1), (128, 128, 1),
        (128, 256, 2), (256, 256, 1), (256, 256, 1),
    )  # fmt: skip
    assert layer_plan(0.25)[0] == (8, 16, 2) and layer_plan(0.25)[-1] == (64, 64, 1)


def test_supernet_params_match_standalone(space):
    torch.manual_seed(0)
    net = MacroSupernet(10)
    assert _params(net) == SUPERNET_PARAMS  # paper CondWeights Table 3 sum
    fixed = _params(net.stem) + _params(net.head) + _params(net.classifier)
    for s in [*KNOWN_PARAMS, "12000221", "20120112"]:
        arch = space.decode(s)
        chosen = sum(_params(net.weights.module(0, slot, op)) for slot, op in enumerate(arch))
        assert fixed + chosen == space.complexity(arch), s


def test_identity_ops_and_shapes():
    net = MacroSupernet(10, width_mult=0.25)
    plan = net.plan
    for slot, (c_in, c_out, stride) in enumerate(plan):
        ident = net.weights.module(0, slot, 0)
        x = torch.randn(2, c_in, 16, 16)
        y = ident(x)
        if stride == 1:
            assert isinstance(ident, nn.Identity) and _params(ident) == 0 and y is x
        else:
            assert _params(ident) == c_in * c_out + 2 * c_out and y.shape == (2, c_out, 8, 8)
        for op in (1, 2):
            block = net.weights.module(0, slot, op)
            assert isinstance(block, InvertedResidual) and block.use_shortcut == (stride == 1)
            assert block(x).shape == (2, c_out, 16 // stride, 16 // stride)
    shapes = []
    hooks = [m.register_forward_hook(lambda m, i, o: shapes.append(tuple(o.shape))) for m in net.weights.ops.values()]
    net.eval()
    with torch.no_grad():
        net(torch.randn(2, 3, 32, 32), (0,) * 8)
    for h in hooks:
        h.remove()
    assert shapes == [(2, 16, 16, 16), (2, 16, 16, 16), (2, 32, 8, 8), (2, 32, 8, 8), (2, 32, 8, 8),
                      (2, 64, 4, 4), (2, 64, 4, 4), (2, 64, 4, 4)]  # fmt: skip


def test_identity_bn_affine_and_track_stats():
    net = MacroSupernet(10, width_mult=0.25, bn_affine=False, track_running_stats=False)
    ident = net.weights.module(0, 0, 0)
    assert _params(ident) == 8 * 16 and not ident[1].affine and not ident[1].track_running_stats
    assert net.stem[1].affine  # stem/head BN always affine


def test_forward_backward_only_path_gets_gradients():
    torch.manual_seed(0)
    net = MacroSupernet(10, width_mult=0.125, dropout=0.1)
    arch = (2, 0, 1, 0, 2, 0, 1, 2)
    x, y = torch.randn(4, 3, 16, 16), torch.randint(0, 10, (4,))
    logits = net(x, arch)
    assert logits.shape == (4, 10)
    F.cross_entropy(logits, y).backward()
    for slot in range(8):
        for op in range(3):
            grads = [p.grad for p in net.weights.module(0, slot, op).parameters()]
            if op == arch[slot]:
                assert all(g is not None for g in grads)
            else:
                assert all(g is None for g in grads)
    assert all(p.grad is not None for p in net.stem.parameters())
    with pytest.raises(BenchError, match="8 op indices"):
        net(x, (0,) * 7)


def test_weights_factory_keying():
    seen, calls = {}, []

    class Recording(EdgeWeights):
        def __init__(self, op_factory, num_layers, num_slots, ops):
            seen.update(num_layers=num_layers, num_slots=num_slots, ops=ops)
            super().__init__(op_factory, num_layers, num_slots, ops)

        def forward(self, layer, slot, op, x, arch):
            calls.append((layer, slot, op))
            return super().forward(layer, slot, op, x, arch)

    net = get_space("macro").build_supernet(10, weights_factory=Recording, width_mult=0.125)
    assert seen == {"num_layers": 1, "num_slots": 8, "ops": 3}
    arch = (0, 1, 2, 0, 1, 2, 0, 0)
    net(torch.randn(2, 3, 16, 16), arch)
    assert calls == [(0, slot, arch[slot]) for slot in range(8)]  # slot = arch position; identity too
    assert len(net.weights.ops) == 24


def test_build_supernet_errors(space):
    with pytest.raises(BenchError, match="unknown supernet option.*C, N.*another space"):
        space.build_supernet(10, C=8, N=1)
    with pytest.raises(BenchError, match="did you mean 'width_mult'"):
        space.build_supernet(10, width_mul=0.5)
    for bad in (0, -1.0, "1", True):
        with pytest.raises(BenchError, match="width_mult"):
            space.build_supernet(10, width_mult=bad)


# --- ground truth ------------------------------------------------------------------------------------
def _write(tmp_path, data, raw: str | None = None):
    path = tmp_path / DEFAULT_SOURCE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(raw if raw is not None else json.dumps(data))
    return path


def _rec(accs, mean=None):
    return {"test_acc": accs, "mean_acc": float(np.mean(accs)) if mean is None else mean, "params": 1}


def test_gt_small_file_and_noise_ceiling(tmp_path):
    data = {"00000000": _rec([50.0, 51.0, 52.0]), "22222222": _rec([93.0, 92.0, 91.0]), "01201201": _rec([80, 95, 83])}
    path = _write(tmp_path, data)
    gt = load_macro_ground_truth("mean_acc", tmp_path)
    assert gt.values == {"00000000": 51.0, "22222222": 92.0, "01201201": 86.0}
    assert gt.space == "macro" and gt.source == str(path) and gt.source_sha256 == sha256_file(path)
    assert load_macro_ground_truth("test_acc_2", tmp_path).values["01201201"] == 83.0
    assert MacroSpace().ground_truth("test_acc_0", tmp_path).value("22222222") == 93.0
    tau = seed_to_seed_kendall_tau(tmp_path)
    assert tau == pytest.approx({"0-1": 1 / 3, "0-2": 1.0, "1-2": 1 / 3, "mean": 5 / 9})


@pytest.mark.parametrize(
    ("data", "raw", "pattern"),
    [
        (None, "{not json", "cannot read NAS-Bench-Macro file"),
        ([1, 2], None, "non-empty JSON object"),
        ({}, None, "non-empty JSON object"),
        ({"0000000": _rec([1, 2, 3])}, None, "bad key.*expected 8 characters"),
        ({"00000003": _rec([1, 2, 3])}, None, "bad key.*bad character '3'"),
        ({"00000000": {"test_acc": [1, 2, 3]}}, None, "arch '00000000': record lacks field.*mean_acc"),
        ({"00000000": _rec([1, 2])}, None, "test_acc must be a list of 3"),
        ({"00000000": _rec([1, "x", 3], mean=2.0)}, None, "test_acc entry must be a finite number"),
        ({"00000000": _rec([1, 2, 3], mean=None) | {"mean_acc": None}}, None, "mean_acc must be a finite"),
        ({"00000000": [1, 2, 3]}, None, "record must be an object"),
        ({"00000000": _rec([1, 2, 3]), " 00000000": _rec([1, 2, 3])}, None, "are the same arch"),
        (None, '{"00000000": {"test_acc": [1,2,3], "mean_acc": 2}, "00000000": {}}', "duplicate key"),
    ],
)
def test_gt_malformed(tmp_path, data, raw, pattern):
    _write(tmp_path, data, raw)
    with pytest.raises(DataError, match=pattern):
        load_macro_ground_truth("mean_acc", tmp_path)


def test_gt_missing_file_and_bad_column(tmp_path):
    with pytest.raises(DataError, match="not found"):
        load_macro_ground_truth("mean_acc", tmp_path)
    with pytest.raises(UnknownNameError, match="Did you mean: .*test_acc_1.*Available: mean_acc"):
        load_macro_ground_truth("test_acc_I", tmp_path)
    with pytest.raises(UnknownNameError):
        load_macro_ground_truth("cifar10-valid_x-valid_hp200", tmp_path)


@pytest.mark.data
def test_gt_real(space, data_dir):
    data = json.loads((data_dir / DEFAULT_SOURCE).read_text())
    gt = space.ground_truth("mean_acc", data_dir)
    assert len(gt) == 6561 and set(gt.values) == set(ALL_STRINGS)
    assert gt.value("22222222") == data["22222222"]["mean_acc"]
    assert gt.source_sha256 == sha256_file(data_dir / DEFAULT_SOURCE)
    one = space.ground_truth("test_acc_1", data_dir)
    assert one.value("00000001") == data["00000001"]["test_acc"][1]


@pytest.mark.data
def test_noise_ceiling_real(data_dir):
    tau = seed_to_seed_kendall_tau(data_dir)
    assert set(tau) == {"0-1", "0-2", "1-2", "mean"}
    assert all(0.8 <= v <= 0.95 for v in tau.values())
    assert tau["mean"] == pytest.approx(np.mean([tau["0-1"], tau["0-2"], tau["1-2"]]))


# --- end to end ------------------------------------------------------------------------------------
@pytest.mark.data
@pytest.mark.slow
def test_cli_run_macro_smoke(data_dir, tmp_path):
    from supernet_bench.cli import main

    out = tmp_path / "m1"
    argv = ["run", "--method", "spos", "--space", "macro", "--profile", "macro-smoke", "--out", str(out)]
    argv += ["--data-dir", str(data_dir), "--quiet"]
    for kv in ("run.budget_epochs=0.5", "eval.sample='random:4'", "data.train_limit=128", "data.eval_limit=64"):
        argv += ["--set", kv]
    assert main(argv) == 0
    metrics = pd.read_parquet(out / "metrics.parquet")
    assert list(metrics.gt_column) == ["mean_acc", "mean_acc"] and set(metrics.space) == {"macro"}
    preds = pd.read_parquet(out / "predictions.parquet")
    assert preds.arch.str.fullmatch("[012]{8}").all() and preds.arch.nunique() == 4
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "complete" and manifest["config"]["supernet"]["width_mult"] == 0.25
