"""NAS-Bench-Macro ground truth from the official `nas-bench-macro_cifar10.json`.

The file maps each 8-character arch string to `{test_acc: [3 floats], mean_acc, std, params, flops}`
(CIFAR-10 test accuracy in percent of three independent stand-alone trainings). Columns:
`mean_acc` (the benchmark's mean) and `test_acc_0/1/2` (single runs).
"""

from __future__ import annotations

import difflib
import json
import math
from functools import lru_cache
from itertools import combinations
from pathlib import Path

import numpy as np
from scipy import stats
from supernet_bench.core.errors import BenchError, DataError, UnknownNameError
from supernet_bench.core.ground_truth import GroundTruth, sha256_file
from supernet_bench.spaces.macro.space import GT_COLUMNS, MacroSpace, encode_arch, parse_arch_string

DEFAULT_SOURCE = Path("nas-bench-macro") / "nas-bench-macro_cifar10.json"
NUM_RUNS = 3


def _path(data_dir, source) -> Path:
    if source is not None:
        return Path(source)
    if data_dir is None:
        raise DataError("NAS-Bench-Macro ground truth needs a data folder (set SUPERNET_BENCH_DATA)")
    return Path(data_dir) / DEFAULT_SOURCE


def _no_duplicates(pairs: list[tuple[str, object]]) -> dict:
    out: dict = {}
    for k, v in pairs:
        if k in out:
            raise DataError(f"duplicate key {k!r}")
        out[k] = v
    return out


def _number(value: object, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise DataError(f"{what} must be a finite number, got {value!r}")
    return float(value)


@lru_cache(maxsize=4)
def _read(path_str: str, mtime_ns: int, size: int) -> tuple[str, tuple[tuple[str, tuple[float, ...], float], ...]]:
    """(sha256, ((canonical arch, (run accuracies), mean_acc), ...)) of a validated file."""
    path = Path(path_str)
    try:
        with open(path, "rb") as f:
            data = json.loads(f.read(), object_pairs_hook=_no_duplicates)
    except DataError as e:
        raise DataError(f"NAS-Bench-Macro file {path}: {e}") from None
    except (OSError, ValueError) as e:
        raise DataError(f"cannot read NAS-Bench-Macro file {path}: {e}") from None
    if not isinstance(data, dict) or not data:
        raise DataError(f"NAS-Bench-Macro file {path} must hold a non-empty JSON object keyed by arch string")
    rows = []
    seen: dict[str, str] = {}
    for key, rec in data.items():
        try:
            arch = parse_arch_string(key)
        except BenchError as e:
            raise DataError(f"NAS-Bench-Macro file {path}: bad key: {e}") from None
        canon = encode_arch(arch)
        if canon in seen:
            raise DataError(f"NAS-Bench-Macro file {path}: keys {seen[canon]!r} and {key!r} are the same arch")
        seen[canon] = key
        where = f"NAS-Bench-Macro file {path}, arch {key!r}"
        if not isinstance(rec, dict):
            raise DataError(f"{where}: record must be an object, got {type(rec).__name__}")
        missing = [k for k in ("test_acc", "mean_acc") if k not in rec]
        if missing:
            raise DataError(f"{where}: record lacks field(s) {', '.join(missing)}")
        runs = rec["test_acc"]
        if not isinstance(runs, list) or len(runs) != NUM_RUNS:
            raise DataError(f"{where}: test_acc must be a list of {NUM_RUNS} accuracies, got {runs!r}")
        try:
            accs = tuple(_number(v, "test_acc entry") for v in runs)
            mean = _number(rec["mean_acc"], "mean_acc")
        except DataError as e:
            raise DataError(f"{where}: {e}") from None
        rows.append((canon, accs, mean))
    return sha256_file(path), tuple(rows)


def _records(path: Path):
    if not path.is_file():
        raise DataError(f"NAS-Bench-Macro ground-truth file not found: {path}")
    st = path.stat()
    return _read(str(path.resolve()), st.st_mtime_ns, st.st_size)


def _column_index(column: str) -> int | None:
    """None for mean_acc, else the run index of test_acc_<i>."""
    if column not in GT_COLUMNS:
        close = difflib.get_close_matches(column, GT_COLUMNS, n=2, cutoff=0.5)
        hint = f" Did you mean: {', '.join(close)}?" if close else ""
        raise UnknownNameError(
            f"Unknown NAS-Bench-Macro ground-truth column {column!r}.{hint} Available: {', '.join(GT_COLUMNS)}"
        )
    return None if column == "mean_acc" else int(column.rsplit("_", 1)[1])


def load_macro_ground_truth(column: str = "mean_acc", data_dir=None, source: str | Path | None = None) -> GroundTruth:
    """Ground truth of `column` for every arch in the file (keys: canonical 8-character strings)."""
    run = _column_index(column)
    path = _path(data_dir, source)
    sha, rows = _records(path)
    values = {arch: (mean if run is None else accs[run]) for arch, accs, mean in rows}
    return GroundTruth(
        space=MacroSpace().label,
        column=column,
        values=values,
        source=str(path),
        source_sha256=sha,
        higher_is_better=True,
    )


def seed_to_seed_kendall_tau(data_dir=None, source: str | Path | None = None) -> dict[str, float]:
    """Kendall tau-b between the independent stand-alone runs: the ranking-quality ceiling.

    Returns {"0-1", "0-2", "1-2": tau of that pair of runs over all archs, "mean": their mean}.
    """
    _, rows = _records(_path(data_dir, source))
    runs = np.array([accs for _, accs, _ in rows], dtype=np.float64)  # (n, 3)
    if len(runs) < 2:
        raise DataError("NAS-Bench-Macro noise ceiling needs at least 2 architectures")
    out = {
        f"{i}-{j}": float(stats.kendalltau(runs[:, i], runs[:, j], variant="b").statistic)
        for i, j in combinations(range(NUM_RUNS), 2)
    }
    out["mean"] = float(np.mean(list(out.values())))
    return out
