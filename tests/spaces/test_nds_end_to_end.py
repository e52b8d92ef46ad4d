"""Every registered method end to end (harness.protocol.run) on NDS ResNet, NDS ResNeXt-A and DARTS/NB301.

Ground truth comes from generated files only: NDS sweep files in the official schema under a temporary
data folder, and the tiny NB301 XGB ensemble of test_darts_ground_truth.py. Images are the harness's own
generated `demo-shapes` task, so no data folder is needed. A method that cannot run on a space for a real
reason must stop with one clear BenchError before training; the table below names each such case.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from supernet_bench import protocol
from supernet_bench.config import resolve_config
from supernet_bench.core.errors import BenchError
from supernet_bench.methods import method_names
from supernet_bench.spaces import get_space

from tests.spaces.nds_helpers import make_sweep, write_sweep

SPACES = {"nds-resnet": "nds-smoke", "nds-resnexta": "nds-smoke", "darts": "darts-smoke"}
TINY = [
    'data.dataset="demo-shapes"',
    "data.augment=false",
    "data.resolution=8",
    "data.train_limit=32",
    "data.eval_limit=16",
    "run.batch_size=8",
    "run.budget_epochs=1.0",  # 4 subnet passes
    "run.checkpoints=[1.0]",
    "run.threads=1",
    'eval.sample="random:4"',
    "eval.recal_batches=1",
    "eval.recal_batch_size=8",
    "eval.batch_size=16",
]
SIZE = {"darts": ["supernet.C=4", "supernet.layers=3"]}
# Few-Shot's weight transfer into 7 DARTS sub-supernets costs seconds (torch's load_state_dict on ~2k modules
# each); plain `fewshot` covers it, its policy composites train their sub-supernets from scratch here.
FAST = {("darts", m): ['methods.fewshot.init="scratch"'] for m in ("fewshot+calr", "fewshot+ms", "fewshot+calr+ms")}
_FAIRNAS_CALR = "^fairnas\\+calr(\\+ms)? does not apply to space darts: strict-fairness paths leave the space"
REFUSED = {
    ("nds-resnet", "cond-weights"): "^cond-weights does not apply to space nds-resnet: .*no per-op weights",
    ("nds-resnexta", "cond-weights"): "^cond-weights does not apply to space nds-resnexta: .*no per-op weights",
    ("darts", "cond-weights"): "^cond-weights does not apply to space darts: the space has no dependency table",
    ("darts", "fairnas+calr"): _FAIRNAS_CALR,
    ("darts", "fairnas+calr+ms"): _FAIRNAS_CALR,
}


@pytest.fixture(scope="module", autouse=True)
def demo_images_once():
    """Every run regenerates demo-shapes; generate each split once for this module's runs (copies, never shared)."""
    from supernet_bench import demo_data

    real, cache = demo_data.generate, {}

    def generate(split, n=None, seed=None):
        if (split, n, seed) not in cache:
            cache[split, n, seed] = real(split, n, seed)
        images, labels = cache[split, n, seed]
        return images.copy(), labels.copy()

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(demo_data, "generate", generate)
        yield


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """A data folder with generated NDS files, and a generated NB301 surrogate ensemble."""
    root = tmp_path_factory.mktemp("data")
    for name in ("nds-resnet", "nds-resnexta"):
        space = get_space(name)
        write_sweep(root / "nds" / space.design.file, make_sweep(space, 12, seed=7)[1])
    pytest.importorskip("xgboost")
    from tests.spaces.test_darts_ground_truth import make_ensemble

    nb301 = root / "nb301" / "nb_models" / "xgb_v1.0"
    make_ensemble(nb301, members=2, n=60)
    return root, nb301


@pytest.mark.parametrize("method", method_names())
@pytest.mark.parametrize("space", list(SPACES))
def test_every_method_runs_or_refuses_clearly(space, method, data, tmp_path):
    root, nb301 = data
    overrides = TINY + SIZE.get(space, []) + FAST.get((space, method), [])
    overrides += [f'eval.gt_source="{nb301}"'] if space == "darts" else []
    config = resolve_config(method, profile=SPACES[space], space=space, overrides=overrides)
    refused = REFUSED.get((space, method))
    if refused is not None:
        with pytest.raises(BenchError, match=refused):
            protocol.run(config, tmp_path / "run", data_dir=root, progress=False)
        return
    out = protocol.run(config, tmp_path / "run", data_dir=root, progress=False)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "complete" and manifest["eval_sample"]["n"] == 4
    preds = pd.read_parquet(out / "predictions.parquet")
    sp = get_space(space)
    assert len(preds) == 4 and all(sp.contains(sp.decode(a)) for a in preds.arch)
    assert np.isfinite(preds["gt"]).all() and np.isfinite(preds["accuracy"]).all()
    if (space, method) == ("darts", "fewshot"):  # `none` on the split edge into node 2 leaves no architecture
        assert manifest["method"]["decisions"]["fewshot_ops_without_architectures"] == ["none"]
    if space != "darts":  # evaluation draws from the generated NDS sample
        gt = sp.ground_truth("test_acc", root)
        assert set(preds.arch) <= set(gt.values)
        assert manifest["ground_truth"][0]["notes"]["records"] == 12
