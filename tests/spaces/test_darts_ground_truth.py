"""NB301 surrogate ground truth: feature encoding, a tiny XGB ensemble in the official layout, lazy lookup, cache."""

from __future__ import annotations

import json
import pickle
import sys

import numpy as np
import pandas as pd
import pytest
from supernet_bench.core.errors import BenchError, DataError, UnknownNameError
from supernet_bench.core.ground_truth import GroundTruth
from supernet_bench.spaces import get_space
from supernet_bench.spaces.darts.ground_truth import (
    FEATURE_NAMES,
    MODEL_ENV,
    NB301GroundTruth,
    NB301Surrogate,
    config_vector,
    feature_matrix,
    load_nb301_ground_truth,
    predict_to_parquet,
)
from supernet_bench.spaces.darts.space import CONFIG_PREFIX, arch_to_config

from tests.spaces.test_darts_space import DARTS_V2

SPACE = get_space("darts")


def synthetic_target(archs) -> np.ndarray:
    """A learnable 'accuracy': more sep_convs in the normal cell is better."""
    return np.array([90.0 + 0.5 * sum(op in (4, 5) for op in a[:14]) for a in archs])


def make_ensemble(root, members: int = 3, n: int = 200, model: str = "xgb"):
    """A tiny XGB ensemble in the nasbench301 layout: <root>/<member>/{surrogate_model.model, *_config.json}."""
    import xgboost as xgb

    rng = np.random.default_rng(0)
    archs = SPACE.sample_distinct(rng, n)
    X, y = feature_matrix(archs), synthetic_target(archs)
    boosters = []
    for i in range(members):
        d = root / f"surrogate_model_{i}"
        d.mkdir(parents=True)
        params = {"max_depth": 3, "eta": 0.3, "nthread": 1, "seed": i, "subsample": 0.8}
        booster = xgb.train(params, xgb.DMatrix(X, label=y), num_boost_round=15)
        (d / "surrogate_model.model").write_bytes(pickle.dumps(booster))
        (d / "model_config.json").write_text(json.dumps({"model": model, "param:bananas_enc": False}))
        (d / "data_config.json").write_text(json.dumps({"seed": i}))
        boosters.append(booster)
    return boosters


@pytest.fixture(scope="module")
def ensemble(tmp_path_factory):
    pytest.importorskip("xgboost")
    root = tmp_path_factory.mktemp("nb301") / "nb_models" / "xgb_v1.0"
    boosters = make_ensemble(root)
    return root, boosters


# --- encoding (no xgboost needed) ---------------------------------------------------------------------------
def test_feature_layout():
    assert len(FEATURE_NAMES) == 56 and len(set(FEATURE_NAMES)) == 56
    assert FEATURE_NAMES[0] == "CreateImageDataLoader:batch_size"
    assert FEATURE_NAMES[10] == f"{CONFIG_PREFIX}edge_normal_0"
    # conditional edges come after all unconditional hyperparameters, in string order (10 < 2)
    assert (
        FEATURE_NAMES[32] == f"{CONFIG_PREFIX}edge_normal_10" and FEATURE_NAMES[36] == f"{CONFIG_PREFIX}edge_normal_2"
    )
    assert FEATURE_NAMES[-1] == f"{CONFIG_PREFIX}edge_reduce_9"


def test_config_vector_values():
    rng = np.random.default_rng(0)
    for a in SPACE.sample_distinct(rng, 50):
        v = config_vector(arch_to_config(a))
        edges = [i for i, n in enumerate(FEATURE_NAMES) if ":edge_" in n]
        active = [i for i in edges if v[i] >= 0]
        assert len(active) == 16  # 8 active edges per cell
        for i in active:
            cell, k = FEATURE_NAMES[i].split("edge_")[1].split("_")
            assert v[i] == a[(0 if cell == "normal" else 14) + int(k)] - 1  # op choice index (no 'none')
        inputs = v[[FEATURE_NAMES.index(f"{CONFIG_PREFIX}inputs_node_normal_{to}") for to in (3, 4, 5)]]
        assert (inputs >= 0).all() and inputs[0] < 3 and inputs[1] < 6 and inputs[2] < 10
    a = SPACE.decode(DARTS_V2)
    v = dict(zip(FEATURE_NAMES, config_vector(arch_to_config(a))))
    assert v[f"{CONFIG_PREFIX}inputs_node_normal_5"] == 1  # "0_2" in 0_1, 0_2, 0_3, ...
    assert v[f"{CONFIG_PREFIX}inputs_node_reduce_3"] == 2  # "1_2" in 0_1, 0_2, 1_2
    assert v[f"{CONFIG_PREFIX}edge_normal_11"] == 5 and v[f"{CONFIG_PREFIX}edge_normal_12"] == -1
    assert v["ImageAugmentation:cutout_length"] == pytest.approx((16 - 0.50001) / (50.49999 - 0.50001))
    with pytest.raises(BenchError, match="unconditional"):
        config_vector({})


def test_missing_xgboost_is_a_clear_error(tmp_path, monkeypatch):
    root = tmp_path / "xgb_v1.0" / "m0"
    root.mkdir(parents=True)
    (root / "surrogate_model.model").write_bytes(b"x")
    (root / "model_config.json").write_text('{"model": "xgb"}')
    monkeypatch.setitem(sys.modules, "xgboost", None)  # import xgboost -> ImportError
    with pytest.raises(BenchError, match=r"needs the 'xgboost' package.*supernet-bench\[nb301\]"):
        load_nb301_ground_truth("nb301-mean", tmp_path, source=tmp_path / "xgb_v1.0")


def test_layout_errors(tmp_path, monkeypatch):
    monkeypatch.delenv(MODEL_ENV, raising=False)
    with pytest.raises(DataError, match="surrogate directory not found.*nb301/nb_models/xgb_v1.0"):
        load_nb301_ground_truth("nb301-mean", tmp_path)
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no ensemble member"):
        NB301Surrogate(tmp_path / "empty")
    d = tmp_path / "gnn" / "m0"
    d.mkdir(parents=True)
    (d / "surrogate_model.model").write_bytes(b"x")
    (d / "model_config.json").write_text('{"model": "gnn_gin"}')
    with pytest.raises(DataError, match="'gnn_gin' is not supported"):
        NB301Surrogate(tmp_path / "gnn")
    with pytest.raises(UnknownNameError, match="nb301-mean"):
        load_nb301_ground_truth("val_acc", tmp_path)


# --- with a fixture ensemble -------------------------------------------------------------------------------
def test_ensemble_mean_matches_members(ensemble):
    import xgboost as xgb

    root, boosters = ensemble
    sur = NB301Surrogate(root)
    assert len(sur.member_dirs) == 3
    archs = SPACE.sample_distinct(np.random.default_rng(7), 40)
    dm = xgb.DMatrix(feature_matrix(archs))
    expected = np.mean([b.predict(dm) for b in boosters], axis=0)
    np.testing.assert_allclose(sur.predict_mean(archs), expected, rtol=1e-6)
    # the synthetic target is learned: predictions rank like it
    from scipy.stats import kendalltau

    assert kendalltau(sur.predict_mean(archs), synthetic_target(archs))[0] > 0.4


def test_lazy_ground_truth_via_space(ensemble, tmp_path):
    root, _ = ensemble
    gt = SPACE.ground_truth("nb301-mean", tmp_path, source=root)
    assert isinstance(gt, NB301GroundTruth) and len(gt) == 0 and gt.column == "nb301-mean"
    archs = SPACE.sample_distinct(np.random.default_rng(8), 10)
    texts = [SPACE.encode(a) for a in archs]
    values = gt.lookup(texts)
    assert values.shape == (10,) and np.isfinite(values).all() and len(gt) == 10
    assert gt.value(texts[3]) == values[3]
    prov = gt.provenance()
    assert prov["n"] == 10 and prov["source"] == str(root) and len(prov["source_sha256"]) == 64
    snap = gt.snapshot()
    assert isinstance(snap, GroundTruth) and snap.lookup(texts).tolist() == values.tolist()
    with pytest.raises(BenchError):
        gt.lookup(["Genotype(normal=[]"])


def test_env_var_cache_and_parquet(ensemble, tmp_path, monkeypatch):
    root, _ = ensemble
    monkeypatch.setenv(MODEL_ENV, str(root))
    archs = SPACE.sample_distinct(np.random.default_rng(9), 6)
    texts = [SPACE.encode(a) for a in archs]
    cache = tmp_path / "gt.parquet"
    gt = load_nb301_ground_truth("nb301-mean", tmp_path / "nowhere", cache=cache)
    values = gt.lookup(texts)
    assert cache.is_file()
    gt2 = load_nb301_ground_truth("nb301-mean", tmp_path / "nowhere", cache=cache)
    assert len(gt2) == 6  # read from the cache, nothing predicted yet
    gt2.surrogate.predict_mean = None  # a cache hit must not call the surrogate
    np.testing.assert_array_equal(gt2.lookup(texts[::-1]), values[::-1])
    out = predict_to_parquet(archs, tmp_path / "sample.parquet")
    df = pd.read_parquet(tmp_path / "sample.parquet")
    assert list(df.columns) == ["arch", "value"] and df.arch.tolist() == texts
    np.testing.assert_allclose(df.value, values)
    assert GroundTruth.from_parquet(tmp_path / "sample.parquet").source_sha256 == out.source_sha256


def test_xgboost_json_member_file(tmp_path):
    xgb = pytest.importorskip("xgboost")
    root = tmp_path / "xgb"
    boosters = make_ensemble(root, members=1, n=50)
    boosters[0].save_model(str(tmp_path / "m.json"))
    (root / "surrogate_model_0" / "surrogate_model.model").write_bytes((tmp_path / "m.json").read_bytes())
    archs = SPACE.sample_distinct(np.random.default_rng(3), 5)
    np.testing.assert_allclose(
        NB301Surrogate(root).predict_mean(archs), boosters[0].predict(xgb.DMatrix(feature_matrix(archs))), rtol=1e-6
    )


# --- end to end (real CIFAR data, fixture surrogate) ---------------------------------------------------------
@pytest.mark.data
@pytest.mark.slow
def test_run_spos_darts_smoke(ensemble, data_dir, tmp_path, monkeypatch):
    from supernet_bench import protocol
    from supernet_bench.config import resolve_config

    from tests.helpers import TINY_OVERRIDES

    root, _ = ensemble
    monkeypatch.setenv(MODEL_ENV, str(root))
    overrides = TINY_OVERRIDES + ["supernet.layers=3", 'eval.sample="random:4"', "run.budget_epochs=0.5"]
    config = resolve_config("spos", profile="darts-smoke", space="darts", overrides=overrides)
    out = protocol.run(config, tmp_path / "run", data_dir=data_dir, progress=False)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "complete"
    preds = pd.read_parquet(out / "predictions.parquet")
    assert preds.arch.nunique() == 4 and all(SPACE.contains(SPACE.decode(a)) for a in preds.arch)
    assert np.isfinite(preds["gt"]).all() and set(pd.read_parquet(out / "metrics.parquet").gt_column) == {"nb301-mean"}


def test_unreadable_member_file(tmp_path):
    pytest.importorskip("xgboost")
    d = tmp_path / "xgb" / "m0"
    d.mkdir(parents=True)
    (d / "surrogate_model.model").write_bytes(b"not a model")
    (d / "model_config.json").write_text('{"model": "xgb"}')
    with pytest.raises(DataError, match="neither a pickled xgboost Booster nor a model file"):
        NB301Surrogate(tmp_path / "xgb").predict_mean([SPACE.sample(np.random.default_rng(0))])
