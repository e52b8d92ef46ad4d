"""Declared capabilities (spaces/capabilities.py) of the shipped spaces, and the one refusal of unsupported
method/space pairs (methods.check_supported) over every registered method."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from supernet_bench.core.errors import UnsupportedError
from supernet_bench.methods import check_supported, create_method, method_names
from supernet_bench.spaces import capabilities as C
from supernet_bench.spaces import get_space, space_catalogs

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ("nb201", "macro", "darts", "nds-resnet", "nds-resnexta")

OFFERS = {
    "nb201": {C.CellEdges, C.Connectivity, C.NamedSubsets},
    "macro": {C.SequentialLayers},
    "darts": {C.CellEdges, C.CellInputs, C.CellGroups, C.ComplexityBounds},
    "nds-resnet": {C.SequentialLayers, C.SharedBlockWeights, C.ComplexityBounds, C.BenchmarkedSample},
    "nds-resnexta": {C.SequentialLayers, C.SharedBlockWeights, C.ComplexityBounds, C.BenchmarkedSample},
}
ALL = {
    C.CellEdges, C.CellDAGSpace, C.CellInputs, C.CellGroups, C.SequentialLayers, C.ComplexityBounds,
    C.Connectivity, C.ConditionalDependencies, C.SharedBlockWeights, C.BenchmarkedSample, C.NamedSubsets,
}  # fmt: skip
REFUSED = {
    ("darts", "cond-weights"): "the space has no dependency table",
    ("darts", "fairnas+calr"): "strict-fairness paths leave the space",
    ("darts", "fairnas+calr+ms"): "strict-fairness paths leave the space",
    ("nds-resnet", "cond-weights"): "no per-op weights",
    ("nds-resnexta", "cond-weights"): "no per-op weights",
}


@pytest.mark.parametrize("name", SHIPPED)
def test_spaces_offer_exactly_their_declared_capabilities(name):
    space = get_space(name)
    assert {cap for cap in ALL if isinstance(space, cap)} == OFFERS[name]


@pytest.mark.parametrize("name", SHIPPED)
def test_every_method_is_supported_or_refused_in_one_line(name):
    space = get_space(name)
    for method in method_names():
        problem = REFUSED.get((name, method))
        if problem is None:
            check_supported(create_method(method), space)
            continue
        with pytest.raises(UnsupportedError) as refused:
            check_supported(create_method(method), space)
        line = str(refused.value)
        assert line.startswith(f"{method} does not apply to space {name}: ") and problem in line and "\n" not in line


def test_close_sample_connected_needs_connectivity():
    method = create_method("close", {"close": {"sample_connected": True}})
    check_supported(method, get_space("nb201"))
    with pytest.raises(UnsupportedError, match="^close does not apply to space darts: sample_connected needs"):
        check_supported(method, get_space("darts"))


def test_every_space_folder_has_a_catalog():
    folders = sorted(p.parent.name for p in (ROOT / "spaces").glob("*/space.py"))
    catalogs = space_catalogs()
    assert folders == ["darts", "macro", "nb201", "nds"] and len(catalogs) == len(folders)
    assert sorted(b.name for c in catalogs for b in c.benchmarks) == ["macro", "nb201", "nb301", "nds"]


@pytest.mark.parametrize("module", ["fetch.py", "datasets_catalog.py", "leaderboard.py", "archsample.py"])
def test_harness_code_names_no_space(module):
    """Per-space knowledge lives in the space folders: no string in these modules' code (docstrings aside)
    names a space or its benchmark."""
    tree = ast.parse((ROOT / "harness" / module).read_text())
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, (ast.Module, ast.FunctionDef, ast.ClassDef))
        and node.body and isinstance(node.body[0], ast.Expr) and isinstance(node.body[0].value, ast.Constant)
    }  # fmt: skip
    names = {"nb201", "macro", "darts", "nds", "nb301", "nds-resnet", "nds-resnexta"}
    found = [
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings
        and any(n in node.value.lower().replace("_", "-").split("-") or n == node.value for n in names)
    ]  # fmt: skip
    assert found == []
