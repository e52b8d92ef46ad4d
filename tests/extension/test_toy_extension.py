"""Adding a space and a method needs no edit to harness/, methods/ or spaces/: the toy space (its own folder with
a catalog), the toy method and the toy policy live here, register through the public registries, and run end to
end through the protocol on generated images; the method's declared requirement refuses a space without it."""

from __future__ import annotations

import dataclasses
import importlib
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from supernet_bench import aggregate, leaderboard, protocol
from supernet_bench.config import resolve_config
from supernet_bench.core.errors import UnsupportedError
from supernet_bench.methods import METHODS, check_supported, create_method, method_names
from supernet_bench.methods.policies import POLICIES
from supernet_bench.spaces import CATALOGS, SPACES, get_space, space_names

from tests.helpers import FakeBatches, fake_context

HERE = Path(__file__).parent
ROOT = HERE.parents[1]
PROFILE = str(HERE / "toy.toml")
TOY_MODULES = ("tests.extension.toy_space", "tests.extension.toy_space.space", "tests.extension.toy_space.catalog",
               "tests.extension.toy_method")  # fmt: skip


@pytest.fixture(scope="module")
def toy():
    """Register the toy space, catalog, method and policy for this module only (the registries get them back
    as they were, so other tests see the shipped names)."""
    space_names(), method_names()  # discover the shipped ones first
    with pytest.MonkeyPatch.context() as mp:
        for registry in (SPACES, CATALOGS, METHODS, POLICIES):
            mp.setattr(registry, "_items", dict(registry._items))
        for name in TOY_MODULES:
            sys.modules.pop(name, None)
        importlib.import_module("tests.extension.toy_space")
        importlib.import_module("tests.extension.toy_method")
        yield
        for name in TOY_MODULES:
            sys.modules.pop(name, None)


def test_toy_method_runs_end_to_end_on_the_toy_space(toy, tmp_path):
    assert "toy-chain" in space_names() and "toy-spos+half-lr" in method_names()
    config = resolve_config("toy-spos+half-lr", profile=PROFILE, space="toy-chain")
    out = protocol.run(config, tmp_path / "run", data_dir=tmp_path, progress=False)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "complete" and manifest["method"]["decisions"]["half_lr_factor"] == 0.5
    preds = pd.read_parquet(out / "predictions.parquet")
    space = get_space("toy-chain")
    assert len(preds) == 2 * 6 and all(space.contains(space.decode(a)) for a in preds.arch)
    # the toy catalog's reference line reaches the leaderboard
    refs, notes = leaderboard.reference_rows(aggregate.load_runs(tmp_path), tmp_path)
    assert notes == [] and refs.method.tolist() == ["#params"]


def test_the_trainer_calls_the_toy_policy_hook(toy):
    ctx = dataclasses.replace(fake_context("nb201"), space=get_space("toy-chain"), supernet_kwargs={"hidden": 4})
    plain, halved = create_method("toy-spos"), create_method("toy-spos+half-lr")
    for method in (plain, halved):
        torch.manual_seed(0)
        method.setup(dataclasses.replace(ctx, next_batch=FakeBatches(), rng=np.random.default_rng(0)))
        method.step()
    lr = [m.trainer.optimizers[0].param_groups[0]["lr"] for m in (plain, halved)]
    assert lr[0] > 0 and lr[1] == pytest.approx(0.5 * lr[0])


def test_toy_method_refuses_a_space_without_its_capability(toy):
    with pytest.raises(UnsupportedError, match=r"^toy-spos does not apply to space nb201: it trains layer chains"):
        check_supported(create_method("toy-spos"), get_space("nb201"))
    check_supported(create_method("toy-spos"), get_space("macro"))  # sequential: supported


def test_the_toy_touches_no_package_file():
    """The extension lives in tests/extension only: no file of the package names it."""
    found = subprocess.run(
        ["git", "grep", "-l", "-e", "toy-chain", "-e", "toy-spos", "-e", "half-lr", "--", "harness", "methods",
         "spaces"],
        cwd=ROOT, capture_output=True, text=True,
    )  # fmt: skip
    assert found.returncode == 1 and found.stdout == ""
