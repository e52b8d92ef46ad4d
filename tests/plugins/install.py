"""Install a plugin folder the way an installer lays it out, without a build step or network.

`pip install tests/plugins/example_plugin` is what a user runs; pip needs a wheel build for that (the
`wheel` package, not in every test environment). What supernet-bench relies on is only the installed
layout: the import package next to a `<name>-<version>.dist-info/` holding METADATA and entry_points.txt,
found by importlib.metadata on sys.path. This writes exactly that from the plugin's pyproject.toml.
"""

from __future__ import annotations

import shutil
import tomllib
from pathlib import Path


def install_plugin(source: Path, target: Path) -> Path:
    """Copy the plugin's packages into `target` and write its dist-info; return the dist-info folder."""
    project = tomllib.loads((source / "pyproject.toml").read_text())
    meta, packages = project["project"], project["tool"]["setuptools"]["packages"]
    for package in packages:
        shutil.copytree(source / package.replace(".", "/"), target / package.replace(".", "/"), dirs_exist_ok=True)
    dist = target / f"{meta['name'].replace('-', '_')}-{meta['version']}.dist-info"
    dist.mkdir(parents=True, exist_ok=True)
    (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {meta['name']}\nVersion: {meta['version']}\n")
    lines = []
    for group, eps in meta.get("entry-points", {}).items():
        lines.append(f"[{group}]")
        lines += [f"{name} = {value}" for name, value in eps.items()]
    (dist / "entry_points.txt").write_text("\n".join(lines) + "\n")
    return dist
