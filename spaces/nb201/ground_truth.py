"""NAS-Bench-201 ground truth from a plain table (csv/parquet) or an official API file.

Plain table: an `arch` column of official arch strings and value columns named
`<dataset>_<split>_hp<epochs>` (e.g. `cifar10-valid_x-valid_hp200`, `cifar10_ori-test_hp12`), accuracies
in percent averaged over seeds. Official files (`NAS-Bench-201-v1_0-e61699.pth`,
`NAS-Bench-201-v1_1-096897.pth`, NATS `NATS-tss-v1_0-3ffb9-simple`) are read through the optional
`nas_201_api` / `nats_bench` packages (`pip install supernet-bench[nb201-api]`).
"""

from __future__ import annotations

import difflib
import hashlib
import re
from pathlib import Path

import numpy as np
import pandas as pd
from supernet_bench.core.errors import BenchError, DataError, UnknownNameError
from supernet_bench.core.ground_truth import GroundTruth, sha256_file
from supernet_bench.spaces.nb201.space import GT_COLUMNS, NB201Space, encode_arch, parse_arch_string

DEFAULT_SOURCE = Path("nas-bench-201") / "nb201.csv"
NON_VALUE_COLUMNS = frozenset({"arch", "index", "params_mb", "flops_m", "latency"})
_COLUMN = re.compile(
    r"(cifar10-valid|cifar10|cifar100|ImageNet16-120)_(train|x-valid|x-test|ori-test)_hp(\d+)"
)
_INSTALL_HINT = "pip install supernet-bench[nb201-api]"


def _did_you_mean(name: str, choices) -> str:
    close = difflib.get_close_matches(name, list(choices), n=3, cutoff=0.5)
    return f" Did you mean: {', '.join(close)}?" if close else ""


def _is_api_source(path: Path) -> str | None:
    name = path.name
    if name.startswith("NAS-Bench-201-") and name.endswith(".pth"):
        return "nas_201_api"
    if name.startswith("NATS-tss-"):
        return "nats_bench"
    return None


def _sha256_source(path: Path) -> str:
    if path.is_file():
        return sha256_file(path)
    h = hashlib.sha256()  # a directory (NATS "-simple" folder): hash names and contents in sorted order
    for f in sorted(p for p in path.rglob("*") if p.is_file()):
        h.update(str(f.relative_to(path)).encode() + b"\0" + sha256_file(f).encode())
    return h.hexdigest()


def _read_table(path: Path) -> pd.DataFrame:
    suffix = path.suffix.lower()
    try:
        if suffix in (".parquet", ".pq"):
            return pd.read_parquet(path)
        if suffix in (".csv", ".txt", ""):
            return pd.read_csv(path, dtype={"arch": str})
    except (OSError, ValueError, ImportError) as e:
        raise DataError(f"cannot read NB201 ground-truth table {path}: {e}") from None
    raise DataError(
        f"unsupported NB201 ground-truth source {path}: expected a .csv/.parquet table or an official "
        f"NAS-Bench-201 / NATS-tss API file"
    )


def _values_from_table(path: Path, column: str) -> list[tuple[str, float]]:
    df = _read_table(path)
    if "arch" not in df.columns:
        raise DataError(
            f"NB201 ground-truth table {path} has no 'arch' column "
            f"(columns: {', '.join(map(str, df.columns))})"
        )
    available = [c for c in df.columns if c not in NON_VALUE_COLUMNS]
    if column not in df.columns or column in ("arch", "index"):
        raise UnknownNameError(
            f"Unknown NB201 ground-truth column {column!r} in {path}.{_did_you_mean(column, available)} "
            f"Available: {', '.join(map(str, available))}"
        )
    try:
        values = pd.to_numeric(df[column], errors="raise").to_numpy(dtype=np.float64)
    except (ValueError, TypeError):
        raise DataError(f"column {column!r} of {path} is not numeric") from None
    nan_rows = np.flatnonzero(~np.isfinite(values))
    if len(nan_rows):
        r = int(nan_rows[0])
        raise DataError(
            f"column {column!r} of {path} has {len(nan_rows)} missing/NaN value(s), first at row {r} "
            f"(line {r + 2}, arch {df['arch'].iloc[r]!r})"
        )
    return list(zip(df["arch"].tolist(), values.tolist(), strict=True))


def parse_column(column: str) -> tuple[str, str, str]:
    """`cifar10-valid_x-valid_hp200` -> ('cifar10-valid', 'x-valid', '200')."""
    m = _COLUMN.fullmatch(column)
    if m is None:
        raise UnknownNameError(
            f"Unknown NB201 ground-truth column {column!r}.{_did_you_mean(column, GT_COLUMNS)} "
            f"Expected <dataset>_<split>_hp<epochs>, e.g. {', '.join(GT_COLUMNS)}"
        )
    return m.group(1), m.group(2), m.group(3)


def _values_from_api(path: Path, column: str, package: str) -> list[tuple[str, float]]:
    dataset, split, hp = parse_column(column)
    try:
        if package == "nas_201_api":
            from nas_201_api import NASBench201API

            api = NASBench201API(str(path), verbose=False)
        else:
            from nats_bench import create

            api = create(str(path), "tss", fast_mode=True, verbose=False)
    except ImportError:
        raise BenchError(
            f"reading the official NAS-Bench-201 file {path.name} needs the '{package}' package: "
            f"{_INSTALL_HINT}"
        ) from None
    out = []
    for index, arch in enumerate(api.meta_archs):
        try:
            info = api.query_meta_info_by_index(index, hp=hp)
            acc = info.get_metrics(dataset, split, iepoch=None, is_random=False)["accuracy"]
        except Exception as e:  # the API raises assorted errors for unavailable (dataset, split, hp)
            raise DataError(
                f"{path.name} has no {dataset}/{split}/hp{hp} result for arch index {index}: {e}"
            ) from None
        out.append((arch, float(acc)))
    return out


def load_nb201_ground_truth(
    column: str,
    data_dir: Path,
    source: str | Path | None = None,
    space: NB201Space | None = None,
) -> GroundTruth:
    """Ground truth of `column` for every arch of `space` (default: the full NB201 space)."""
    space = NB201Space() if space is None else space
    path = Path(source) if source is not None else Path(data_dir) / DEFAULT_SOURCE
    if not path.exists():
        raise DataError(f"NAS-Bench-201 ground-truth file not found: {path}")
    package = _is_api_source(path)
    rows = _values_from_api(path, column, package) if package else _values_from_table(path, column)

    values: dict[str, float] = {}
    first_row: dict[str, int] = {}
    for row, (text, value) in enumerate(rows):
        try:
            arch = parse_arch_string(text)
        except BenchError as e:
            raise DataError(f"{path} row {row} (line {row + 2}): {e}") from None
        key = encode_arch(arch)
        if key in first_row:
            raise DataError(
                f"{path}: duplicate arch {key!r} at rows {first_row[key]} and {row} "
                f"(lines {first_row[key] + 2}, {row + 2})"
            )
        first_row[key] = row
        if space.contains(arch):
            values[key] = value
    if not values:
        raise DataError(f"{path}: no architecture of space {space.label} in column {column!r}")
    return GroundTruth(
        space=space.label,
        column=column,
        values=values,
        source=str(path),
        source_sha256=_sha256_source(path),
        higher_is_better=True,
    )
