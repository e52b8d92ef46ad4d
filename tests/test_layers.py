"""The package's layering: core <- spaces <- methods <- harness, with no import against the grain.

Every import statement is read from the source (module level and inside functions alike), so an
import hidden in a function to dodge a cycle is caught too.
"""

from __future__ import annotations

import ast
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FOLDERS = {
    "supernet_bench": ROOT / "harness",
    "supernet_bench.methods": ROOT / "methods",
    "supernet_bench.spaces": ROOT / "spaces",
}
RANK = {"core": 0, "spaces": 1, "methods": 2, "harness": 3}


def layer(module: str) -> str:
    parts = module.split(".")
    if parts[0] != "supernet_bench":
        raise ValueError(module)
    return parts[1] if len(parts) > 1 and parts[1] in ("core", "spaces", "methods") else "harness"


def modules() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for package, folder in FOLDERS.items():
        for path in folder.rglob("*.py"):
            rel = path.relative_to(folder).with_suffix("")
            parts = [p for p in rel.parts if p != "__init__"]
            name = ".".join([package, *parts])
            if package == "supernet_bench" and parts and parts[0] in ("methods", "spaces"):
                continue  # never the case: harness/ has no such folders
            found[name] = path
    return found


def imports_of(name: str, path: Path) -> list[tuple[str, int]]:
    """(imported module, line) for every supernet_bench import in the file, relative ones resolved."""
    tree = ast.parse(path.read_text(), filename=str(path))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(a.name, node.lineno) for a in node.names if a.name.split(".")[0] == "supernet_bench"]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.split(".")[0] != "supernet_bench":
                continue
            # `from supernet_bench import methods` imports the subpackage: count it as such
            out += [(f"{target}.{a.name}" if target == "supernet_bench" else target, node.lineno) for a in node.names]
    return out


def test_every_import_runs_down_the_layers():
    found = modules()
    assert "supernet_bench.core.errors" in found and "supernet_bench.spaces.nb201.space" in found
    against = []
    for name, path in sorted(found.items()):
        for target, line in imports_of(name, path):
            if RANK[layer(target)] > RANK[layer(name)]:
                against.append(f"{path.relative_to(ROOT)}:{line} ({layer(name)}) imports {target} ({layer(target)})")
    assert against == [], "imports against the layers:\n" + "\n".join(against)


def test_the_walker_sees_imports_inside_functions(tmp_path):
    probe = tmp_path / "probe.py"
    probe.write_text("def f():\n    from supernet_bench.protocol import run\n    from . import x\n")
    assert imports_of("supernet_bench.spaces.probe", probe) == [
        ("supernet_bench.protocol", 2),
        ("supernet_bench.spaces", 3),
    ]
    assert layer("supernet_bench.protocol") == "harness" and RANK["harness"] > RANK["spaces"]


def test_core_imports_no_torch():
    code = (
        "import sys, pkgutil, importlib, supernet_bench.core as c\n"
        "for m in pkgutil.iter_modules(c.__path__): importlib.import_module(f'supernet_bench.core.{m.name}')\n"
        "print(sorted(k for k in sys.modules if k == 'torch' or k.startswith('supernet_bench.')))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120).stdout
    loaded = eval(out)  # a list literal printed by the child
    assert "torch" not in loaded
    assert all(m.startswith("supernet_bench.core") or m == "supernet_bench" for m in loaded if m != "torch")


@pytest.mark.parametrize("package,folder", sorted(FOLDERS.items()))
def test_every_subpackage_is_packaged(package, folder):
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    for init in folder.rglob("__init__.py"):
        rel = init.parent.relative_to(folder).parts
        assert ".".join([package, *rel]) in listed, f"{init.parent} is not listed in pyproject's packages"


def test_every_test_file_is_collected():
    """pytest's testpaths is an explicit list (tests/bench runs apart); a test file outside it would never run."""
    paths = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["pytest"]["ini_options"]["testpaths"]
    roots = [ROOT / p for p in paths]
    missed = [
        f.relative_to(ROOT).as_posix()
        for f in (ROOT / "tests").rglob("test_*.py")
        if "bench" not in f.relative_to(ROOT / "tests").parts[:1]
        and not any(f == r or r in f.parents for r in roots)
        and "plugins" not in f.parts
    ]
    assert missed == [], f"test files outside pyproject's testpaths: {missed}"
