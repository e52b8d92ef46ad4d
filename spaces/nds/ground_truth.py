"""NDS ground truth from the official sweep files (facebookresearch/nds `data.zip`, one JSON per design space).

A file is a JSON list of records, one per trained network: `net` (the config: `block_type`, `ds`, `ws`,
`ss`, [`bot_muls`, `num_gs`], stem entry first; spaces/nds/design.py), `min_test_top1` (the lowest
CIFAR-10 test top-1 error in percent over the training epochs), `test_ep_top1` (the error after every
epoch), `params`, `flops`, `optim`, `rng_seed`, ... Records are mapped to canonical arch strings and read
into the canonical GroundTruth. Columns (accuracy in percent):

- `test_acc` = 100 - min_test_top1 of `ResNet.json` / `ResNeXt-A.json` (what aw_nas/EPEE and CLOSE rank
  against: `100 - result["min_test_top1"]`);
- `final_test_acc` = 100 - test_ep_top1[-1] (the last epoch's test accuracy) of the same file;
- `test_acc_3seed` (ResNet only) = the mean over `ResNet_rng1.json`, `_rng2`, `_rng3` (the same sample
  trained with three seeds, NDS App. A) of 100 - min_test_top1, for the archs present in all three.

Several records of one architecture are averaged (counted in the provenance `notes`); a record outside
the design space or with a malformed field is one DataError naming the file, the record and the field.
Each record's `params` is compared with the space's #params formula; mismatches are counted in the notes
(and warned about), not fatal. Files are found at `<data>/nds/<file>` or one folder down (the unzipped
`data.zip`, e.g. `<data>/nds/data/ResNet.json`); `source=` (eval.gt_source) names a file or such a folder.
"""

from __future__ import annotations

import difflib
import json
import math
import warnings
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np
from supernet_bench.core.errors import BenchError, DataError, UnknownNameError
from supernet_bench.core.ground_truth import GroundTruth, sha256_file
from supernet_bench.spaces.nds.design import Design, config_from_net, encode_config, param_count

DATA_FOLDER = "nds"
DEFINITIONS = {
    "test_acc": "100 - min_test_top1 (best CIFAR-10 test top-1 accuracy over the training epochs)",
    "final_test_acc": "100 - test_ep_top1[-1] (CIFAR-10 test top-1 accuracy after the last epoch)",
    "test_acc_3seed": "mean over ResNet_rng1/2/3.json of 100 - min_test_top1 (archs present in all three)",
}


@dataclass(frozen=True)
class NDSGroundTruth(GroundTruth):
    """GroundTruth plus notes on how the records were combined (written to the manifest)."""

    notes: dict = field(default_factory=dict)

    def provenance(self, data_dir=None) -> dict:
        definition = DEFINITIONS.get(self.column, "")
        return {**super().provenance(data_dir), "definition": definition, "notes": dict(self.notes)}


@dataclass(frozen=True)
class Row:
    arch: str  # canonical string
    min_top1: float
    final_top1: float | None  # None: the record has no test_ep_top1
    params: float | None
    params_ok: bool | None  # None: no params field


# --- locating files ------------------------------------------------------------------------------------------
def _one(found: list[Path], name: str, where: Path) -> Path | None:
    if len(found) > 1:
        raise DataError(f"several copies of NDS file {name} under {where}: {', '.join(map(str, found))}")
    return found[0] if found else None


def find_file(name: str, data_dir, source: str | Path | None = None) -> Path:
    """`source` if it is the file; else `<folder>/<name>` or one folder down, folder = source or <data>/nds."""
    if source is not None:
        src = Path(source)
        if src.is_file():
            return src
        folder = src
    else:
        if data_dir is None:
            raise DataError("NDS ground truth needs a data folder (set SUPERNET_BENCH_DATA) or eval.gt_source")
        folder = Path(data_dir) / DATA_FOLDER
    hit = folder / name if (folder / name).is_file() else _one(sorted(folder.glob(f"*/{name}")), name, folder)
    if hit is None:
        raise DataError(
            f"NDS file {name} not found in {folder} or one folder below it: unzip the official data.zip "
            f"(https://dl.fbaipublicfiles.com/nds/data.zip) into <data>/{DATA_FOLDER}/"
        )
    return hit


# --- reading and validating one file ---------------------------------------------------------------------------
def _number(value: object, what: str, low: float = -math.inf, high: float = math.inf) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise DataError(f"{what} must be a finite number, got {value!r}")
    if not low <= value <= high:
        raise DataError(f"{what} must be in [{low:g}, {high:g}], got {value!r}")
    return float(value)


def _row(design: Design, rec: object) -> Row:
    if not isinstance(rec, dict):
        raise DataError(f"record must be an object, got {type(rec).__name__}")
    missing = [k for k in ("net", "min_test_top1") if k not in rec]
    if missing:
        raise DataError(f"record lacks field(s) {', '.join(missing)}")
    try:
        cfg = config_from_net(design, rec["net"])
    except BenchError as e:
        raise DataError(f"bad net: {e}") from None
    min_top1 = _number(rec["min_test_top1"], "min_test_top1", 0.0, 100.0)
    final = None
    if "test_ep_top1" in rec:
        curve = rec["test_ep_top1"]
        if not isinstance(curve, list) or not curve:
            raise DataError(f"test_ep_top1 must be a non-empty list of errors, got {type(curve).__name__}")
        final = _number(curve[-1], "test_ep_top1[-1]", 0.0, 100.0)
    params = ok = None
    if rec.get("params") is not None:
        params = _number(rec["params"], "params", 0.0)
        ok = int(params) == param_count(design, cfg)
    return Row(encode_config(design, cfg), min_top1, final, params, ok)


@lru_cache(maxsize=8)
def _read(design: Design, path_str: str, mtime_ns: int, size: int) -> tuple[str, tuple[Row, ...]]:
    """(sha256, rows) of a validated file; cached per file version."""
    path = Path(path_str)
    try:
        with open(path, "rb") as f:
            data = json.loads(f.read())
    except (OSError, ValueError) as e:
        raise DataError(f"cannot read NDS file {path}: {e}") from None
    if isinstance(data, dict) and set(data) == {"top", "mid"}:  # the *_reruns files
        data = data["top"] + data["mid"]
    if not isinstance(data, list) or not data:
        raise DataError(f"NDS file {path} must hold a non-empty JSON list of records")
    rows = []
    for i, rec in enumerate(data):
        try:
            rows.append(_row(design, rec))
        except DataError as e:
            raise DataError(f"NDS file {path}, record {i}: {e}") from None
    return sha256_file(path), tuple(rows)


def read_rows(design: Design, path: Path) -> tuple[str, tuple[Row, ...]]:
    st = path.stat()
    return _read(design, str(path.resolve()), st.st_mtime_ns, st.st_size)


# --- columns -------------------------------------------------------------------------------------------------
def _mean_per_arch(rows, value) -> tuple[dict[str, float], int]:
    """Mean of `value(row)` per arch, and how many archs had several records."""
    groups: dict[str, list[float]] = {}
    for r in rows:
        groups.setdefault(r.arch, []).append(value(r))
    return {a: float(np.mean(v)) for a, v in groups.items()}, sum(len(v) > 1 for v in groups.values())


def _params_notes(path: Path, rows) -> dict:
    checked = [r for r in rows if r.params_ok is not None]
    bad = [r for r in checked if not r.params_ok]
    notes = {"params_checked": len(checked), "params_mismatched": len(bad)}
    if bad:
        notes["params_mismatch_example"] = f"{bad[0].arch}: record {bad[0].params:.0f}"
        warnings.warn(
            f"NDS file {path}: {len(bad)} of {len(checked)} records' params differ from the space's #params "
            f"formula (e.g. {notes['params_mismatch_example']}); complexity-based metrics use the formula",
            stacklevel=3,
        )
    return notes


def _single_file(design: Design, column: str, path: Path) -> tuple[dict[str, float], str, dict]:
    sha, rows = read_rows(design, path)
    if column == "final_test_acc":
        lacking = next((i for i, r in enumerate(rows) if r.final_top1 is None), None)
        if lacking is not None:
            raise DataError(f"NDS file {path}, record {lacking}: column final_test_acc needs test_ep_top1")
        values, dups = _mean_per_arch(rows, lambda r: 100.0 - r.final_top1)
    else:
        values, dups = _mean_per_arch(rows, lambda r: 100.0 - r.min_top1)
    notes = {"records": len(rows), "archs": len(values), "archs_with_duplicate_records_averaged": dups}
    return values, sha, {**notes, **_params_notes(path, rows)}


def _seed_files(design: Design, data_dir, source) -> tuple[dict[str, float], str, str, dict]:
    paths = [find_file(name, data_dir, source) for name in design.seed_files]
    per_seed, shas, notes = [], [], {"records": [], "params_mismatched": 0}
    for p in paths:
        sha, rows = read_rows(design, p)
        values, dups = _mean_per_arch(rows, lambda r: 100.0 - r.min_top1)
        per_seed.append(values)
        shas.append(sha)
        notes["records"].append(len(rows))
        notes["params_mismatched"] += _params_notes(p, rows)["params_mismatched"]
        notes.setdefault("archs_with_duplicate_records_averaged", []).append(dups)
    common = set(per_seed[0]).intersection(*per_seed[1:])
    values = {a: float(np.mean([s[a] for s in per_seed])) for a in sorted(common)}
    notes["archs"] = len(values)
    notes["archs_not_in_all_seed_files_dropped"] = len(set().union(*per_seed) - common)
    return values, ";".join(map(str, paths)), ";".join(shas), notes


def load_nds_ground_truth(space, column: str, data_dir=None, source: str | Path | None = None) -> NDSGroundTruth:
    """Ground truth of `column` for every architecture in the space's NDS file(s)."""
    design = space.design
    columns = tuple(space.gt_columns())
    if column not in columns:
        close = difflib.get_close_matches(column, columns, n=2, cutoff=0.5)
        hint = f" Did you mean: {', '.join(close)}?" if close else ""
        raise UnknownNameError(
            f"Unknown {space.name} ground-truth column {column!r}.{hint} Available: {', '.join(columns)}"
        )
    if column == "test_acc_3seed":
        if source is not None and Path(source).is_file():
            raise DataError(f"{column} reads {', '.join(design.seed_files)}: give their folder, not one file")
        values, where, sha, notes = _seed_files(design, data_dir, source)
    else:
        path = find_file(design.file, data_dir, source)
        values, sha, notes = _single_file(design, column, path)
        where = str(path)
    return NDSGroundTruth(space=space.label, column=column, values=values, source=where, source_sha256=sha, notes=notes)


def benchmarked(space, data_dir) -> frozenset[str]:
    """Canonical strings of the architectures in the space's main NDS file under the data folder."""
    _, rows = read_rows(space.design, find_file(space.design.file, data_dir))
    return frozenset(r.arch for r in rows)
