"""Plugins: an installed package adds a method and a space through entry points and runs under the CLI;
a plugin that fails to import costs one warning line and nothing else."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import warnings
from importlib.metadata import EntryPoint
from pathlib import Path

import pandas as pd
import pytest
from supernet_bench.core.plugins import PluginWarning, load_plugins

from tests.plugins.install import install_plugin

PLUGINS = Path(__file__).resolve().parents[1] / "plugins"


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    """A folder with the example plugin and the broken plugin installed in it."""
    target = tmp_path_factory.mktemp("site")
    install_plugin(PLUGINS / "example_plugin", target)
    install_plugin(PLUGINS / "broken_plugin", target)
    return target


def cli(site: Path, *args: str) -> subprocess.CompletedProcess:
    """`supernet-bench ARGS` in a fresh interpreter that sees the plugins installed in `site`."""
    return subprocess.run(
        [sys.executable, "-c", "import sys; from supernet_bench.cli import main; sys.exit(main(sys.argv[1:]))", *args],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(site)},
        timeout=300,
    )


def test_plugin_space_is_listed(site):
    spaces = cli(site, "list", "spaces", "-v")
    assert spaces.returncode == 0, spaces.stderr
    assert "chain: 27 architectures" in spaces.stdout.splitlines()
    assert "nb201: 15625 architectures" in spaces.stdout.splitlines()
    assert spaces.stderr == ""  # the broken plugin is a method plugin: listing spaces never imports it


def test_broken_plugin_warns_once_and_list_methods_works(site):
    r = cli(site, "list", "methods")
    assert r.returncode == 0
    names = r.stdout.split()
    assert "spos" in names and "spos-balanced" in names  # built-ins and the good plugin are all there
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    assert lines[0].startswith("warning: plugin 'broken-method' (supernet_bench_broken.method")
    assert "ModuleNotFoundError: No module named 'supernet_bench_missing_dependency'" in lines[0]
    assert "Traceback" not in r.stderr


def test_plugin_method_runs_on_plugin_space(site, tmp_path):
    """A tiny run of the plugin's method on the plugin's space (data generated in code: demo-shapes), next to
    the broken plugin, which costs one warning line and nothing else."""
    out = tmp_path / "run"
    overrides = [
        "run.budget_epochs=1.0",
        "run.batch_size=32",
        "data.train_limit=128",
        "data.eval_limit=64",
        'eval.gt="synthetic"',
        'eval.gt_source=""',
        'eval.sample="all"',
        "eval.recal_batches=1",
        "eval.recal_batch_size=32",
        "supernet.C=4",
        "methods.spos-balanced.beta=2.0",
    ]
    args = ["run", "--method", "spos-balanced", "--space", "chain", "--profile", "demo", "--out", str(out), "--quiet"]
    args += ["--data-dir", str(tmp_path)]  # demo-shapes and the chain GT are generated: an empty data folder
    r = cli(site, *args, *[x for o in overrides for x in ("--set", o)])
    assert r.returncode == 0, r.stderr
    warnings_ = r.stderr.strip().splitlines()
    assert len(warnings_) == 1 and warnings_[0].startswith("warning: plugin 'broken-method'"), r.stderr
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "complete"
    metrics = pd.read_parquet(out / "metrics.parquet")
    assert set(metrics["gt_column"]) == {"synthetic"}
    assert metrics["passes"].max() == 4  # ceil(1 epoch * 128 images / batch 32)
    predictions = pd.read_parquet(out / "predictions.parquet")
    assert predictions["arch"].nunique() == 27
    assert "conv3x3-conv3x3-conv3x3" in set(predictions["arch"])


@pytest.fixture
def plugin_in_process(site, monkeypatch):
    """The example plugin importable in this process, its registrations undone afterwards (other tests count
    the registered methods and spaces)."""
    from supernet_bench.methods import METHODS, method_names
    from supernet_bench.spaces import SPACES, space_names

    method_names(), space_names()  # discover the built-ins first, so the snapshot holds them
    monkeypatch.setattr(METHODS, "_items", dict(METHODS._items))
    monkeypatch.setattr(SPACES, "_items", dict(SPACES._items))
    monkeypatch.syspath_prepend(str(site))
    yield
    for name in [m for m in sys.modules if m.startswith("supernet_bench_example")]:
        del sys.modules[name]


def test_balanced_sampler_evens_out_op_counts(plugin_in_process):
    """The plugin's sampler is a real variant: with a large beta, op counts per slot stay within 1."""
    import numpy as np
    from supernet_bench_example.method import BalancedSPOS
    from supernet_bench_example.space import ChainSpace

    from tests.helpers import tiny_context

    m = BalancedSPOS(beta=50.0)
    ctx = tiny_context()
    ctx.space, ctx.rng = ChainSpace(), np.random.default_rng(0)
    m.ctx, m.mask = ctx, [sorted(s) for s in ctx.space.allowed]
    m.counts = [np.zeros(3, dtype=np.int64) for _ in m.mask]
    for _ in range(30):
        m.sample()
    assert all(int(n.max() - n.min()) <= 1 for n in m.counts)
    uniform = BalancedSPOS(beta=0.0)
    uniform.ctx, uniform.mask = ctx, m.mask
    uniform.counts = [np.zeros(3, dtype=np.int64) for _ in m.mask]
    for _ in range(300):
        uniform.sample()
    assert max(int(n.max() - n.min()) for n in uniform.counts) > 1  # SPOS's uniform draw drifts


def test_plugin_registrations_do_not_leak():
    """Runs after the in-process test: the registries hold only the built-in names again."""
    from supernet_bench.methods import METHODS
    from supernet_bench.spaces import SPACES

    assert "spos-balanced" not in METHODS and "chain" not in SPACES


def _can_build_wheels() -> bool:
    """pip builds the plugin offline with this environment's setuptools: >= 70.1 has bdist_wheel, older needs wheel."""
    import setuptools

    major, minor = (int(x) for x in setuptools.__version__.split(".")[:2])
    return (major, minor) >= (70, 1) or importlib.util.find_spec("wheel") is not None


@pytest.mark.skipif(not _can_build_wheels(), reason="no offline wheel build here (setuptools < 70.1, no wheel)")
def test_pip_install_gives_the_layout_the_tests_use(tmp_path):
    """`pip install` of the example plugin writes the same entry points as tests/plugins/install.py."""
    source = shutil.copytree(PLUGINS / "example_plugin", tmp_path / "src")  # the build writes into its source
    r = subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation", "--no-index"]
        + ["--target", str(tmp_path / "pip"), str(source)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stderr
    ours = install_plugin(PLUGINS / "example_plugin", tmp_path / "ours")

    def entry_points(folder: Path) -> set[str]:
        return {line.strip() for line in (folder / "entry_points.txt").read_text().splitlines() if line.strip()}

    (pip_dist,) = (tmp_path / "pip").glob("*.dist-info")
    assert pip_dist.name == ours.name
    assert entry_points(pip_dist) == entry_points(ours)


def test_load_plugins_turns_any_import_failure_into_one_warning(monkeypatch):
    eps = [
        EntryPoint("bad", "supernet_bench_no_such_module", "supernet_bench.test"),
        EntryPoint("bad", "supernet_bench_no_such_module", "supernet_bench.test"),  # listed twice: one warning
        EntryPoint("good", "json", "supernet_bench.test"),
    ]
    monkeypatch.setattr("supernet_bench.core.plugins.entry_points", lambda group: eps)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        loaded = load_plugins("supernet_bench.test")
    assert loaded == ["good"]
    assert [w.category for w in caught] == [PluginWarning]
    assert "plugin 'bad' (supernet_bench_no_such_module, group supernet_bench.test)" in str(caught[0].message)
