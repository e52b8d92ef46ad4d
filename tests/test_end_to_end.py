"""Every registered base method completes a tiny protocol run on real data, on every space."""

from __future__ import annotations

import json

import pyarrow.parquet as pq
import pytest
from supernet_bench import protocol
from supernet_bench.config import resolve_config
from supernet_bench.methods import base_names

from tests.helpers import TINY_OVERRIDES

MACRO_TINY = [o for o in TINY_OVERRIDES if not o.startswith("supernet.")] + ["supernet.width_mult=0.125"]
SPACES = {
    "nb201": ("smoke", TINY_OVERRIDES),
    "nb201:no-zero": ("smoke", TINY_OVERRIDES),
    "macro": ("macro-smoke", MACRO_TINY),
}


@pytest.mark.data
@pytest.mark.parametrize("space", sorted(SPACES))
@pytest.mark.parametrize("method", base_names())
def test_method_runs_on_space(method, space, tmp_path, data_dir):
    profile, overrides = SPACES[space]
    config = resolve_config(method, profile=profile, space=space, overrides=overrides)
    root = protocol.run(config, tmp_path / "run", data_dir=data_dir, progress=False)
    manifest = json.loads((root / "manifest.json").read_text())
    assert manifest["status"] == "complete"
    metrics = pq.read_table(root / "metrics.parquet").to_pandas()
    assert (metrics.passes.iloc[-1] >= manifest["budget"]["total_passes"]) and metrics.n_archs.eq(8).all()
    preds = pq.read_table(root / "predictions.parquet").to_pandas()
    from supernet_bench.spaces import get_space

    sp = get_space(space)
    assert all(sp.contains(sp.decode(a)) for a in preds.arch)  # the sample stays inside the (sub)space
