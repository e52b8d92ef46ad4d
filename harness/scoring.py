"""Score an external estimator's table (zero-cost proxy, another supernet...) with the full bundle."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from supernet_bench.core.errors import BenchError, DataError
from supernet_bench.metrics import compute_bundle
from supernet_bench.spaces import get_space


def read_prediction_table(path: Path) -> pd.DataFrame:
    if not path.is_file():
        raise DataError(f"prediction table {path} does not exist")
    try:
        df = pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path, dtype={"arch": str})
    except Exception as e:  # noqa: BLE001 - pandas raises many types for unreadable files
        raise DataError(f"cannot read prediction table {path}: {e}") from None
    missing = {"arch", "score"} - set(df.columns)
    if missing:
        raise DataError(f"prediction table {path} lacks column(s): {', '.join(sorted(missing))}")
    return df


def score_table(path: Path, space_name: str, gt_column: str, data_dir: Path) -> dict:
    space = get_space(space_name)
    df = read_prediction_table(Path(path))
    archs = []
    for row, text in enumerate(df["arch"].astype(str), start=2):  # row 1 is the header
        try:
            archs.append(space.decode(text))
        except BenchError as e:
            raise BenchError(f"{path}, row {row}: {e}") from None
    canon = [space.encode(a) for a in archs]
    dup = pd.Series(canon).duplicated()
    if dup.any():
        raise DataError(f"{path}: architecture {canon[int(np.argmax(dup))]} appears more than once")
    scores = pd.to_numeric(df["score"], errors="coerce").to_numpy(dtype=np.float64)
    if not np.isfinite(scores).all():
        raise DataError(f"{path}: column 'score' has missing or non-numeric values")
    if len(archs) < 2:
        raise DataError(f"{path}: need at least 2 architectures to rank")
    gt = space.ground_truth(gt_column, data_dir)
    target = gt.lookup(canon)
    complexity = np.array([space.complexity(a) for a in archs], dtype=np.float64)
    result = {"space": space.label, "gt_column": gt_column, "n_archs": len(archs)}
    result.update(compute_bundle(pred=scores, target=target, complexity=complexity))
    return result
