"""One directory per run: manifest.json, metrics.parquet, predictions.parquet, lineages.parquet, and state.pt while
the run is in progress. Every file is replaced atomically; a run is complete only when its
manifest says so, and `state.pt` (written after each checkpoint) lets --resume continue it.
"""

from __future__ import annotations

import json
import os
import pickle
import re
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import torch
from supernet_bench.core.atomic import atomic_write, atomic_write_json, atomic_write_table
from supernet_bench.core.errors import BenchError
from supernet_bench.schema import LINEAGES_SCHEMA, METRICS_SCHEMA, PREDICTIONS_SCHEMA

MANIFEST = "manifest.json"
METRICS = "metrics.parquet"
PREDICTIONS = "predictions.parquet"
LINEAGES = "lineages.parquet"
STATE = "state.pt"
LOCK = ".lock"


class RunStore:
    def __init__(self, root: str | Path):
        self.root = Path(root)

    # --- status ------------------------------------------------------------------------------
    def manifest(self) -> dict[str, Any] | None:
        path = self.root / MANIFEST
        if not path.is_file():
            return None
        try:
            return json.loads(path.read_text())
        except json.JSONDecodeError as e:
            raise BenchError(f"{path} is corrupt: {e}") from None

    def is_complete(self) -> bool:
        m = self.manifest()
        return m is not None and m.get("status") == "complete"

    def has_lineages(self) -> bool:
        return (self.root / LINEAGES).exists()

    def has_state(self) -> bool:
        return (self.root / STATE).is_file()

    def prepare(self, resume: bool) -> None:
        """Check the directory may be (re)used; never deletes anything already written."""
        if self.root.exists() and not self.root.is_dir():
            raise BenchError(f"output path {self.root} exists and is not a directory")
        if self.root.is_dir() and any(p.name != LOCK for p in self.root.iterdir()) and not resume:
            raise BenchError(f"output directory {self.root} is not empty; pass --resume to continue it")
        self.root.mkdir(parents=True, exist_ok=True)

    # --- writes ------------------------------------------------------------------------------
    def write_manifest(self, manifest: dict[str, Any]) -> None:
        atomic_write_json(self.root / MANIFEST, manifest)

    def write_results(self, metrics_rows: list[dict], prediction_rows: list[dict]) -> None:
        atomic_write_table(pa.Table.from_pylist(metrics_rows, schema=METRICS_SCHEMA), self.root / METRICS)
        atomic_write_table(pa.Table.from_pylist(prediction_rows, schema=PREDICTIONS_SCHEMA), self.root / PREDICTIONS)

    def write_lineages(self, rows: list[dict]) -> None:
        atomic_write_table(pa.Table.from_pylist(rows, schema=LINEAGES_SCHEMA), self.root / LINEAGES)

    def save_state(self, state: dict[str, Any]) -> None:
        atomic_write(self.root / STATE, lambda tmp: torch.save(state, tmp))

    def load_state(self) -> dict[str, Any]:
        """The resume state, read with ``weights_only=True``: tensors and plain Python types only.

        Result folders are shared and copied between people; a state file that names any other Python
        object (which unpickling would import and call) is refused, never executed.
        """
        path = self.root / STATE
        try:
            return torch.load(path, map_location="cpu", weights_only=True)
        except pickle.UnpicklingError as e:
            found = re.search(r"GLOBAL (\S+)", str(e))
            if found is None:  # damaged, or not a torch file at all
                detail = [line for line in str(e).splitlines() if line.strip() and "weights" not in line.lower()]
                why = detail[0].strip() if detail else "not a torch file"
                raise BenchError(f"cannot read resume state {path}: {why[:200]}") from None
            raise BenchError(
                f"refusing resume state {path}: it names {found.group(1)}, which could run code; "
                "delete it to restart the run"
            ) from None
        except Exception as e:  # noqa: BLE001 - any unreadable checkpoint is the same user problem
            first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise BenchError(f"cannot read resume state {path}: {first[:200]}") from None

    def clear_state(self) -> None:
        path = self.root / STATE
        if path.exists():
            os.unlink(path)

    # --- reads -------------------------------------------------------------------------------
    def read_metrics(self) -> pa.Table:
        return read_table(self.root / METRICS, METRICS_SCHEMA)

    def read_predictions(self) -> pa.Table:
        return read_table(self.root / PREDICTIONS, PREDICTIONS_SCHEMA)

    def read_lineages(self) -> pa.Table:
        return read_table(self.root / LINEAGES, LINEAGES_SCHEMA)


def read_table(path: Path, schema: pa.Schema) -> pa.Table:
    try:
        table = pq.read_table(path)
    except (OSError, pa.ArrowInvalid) as e:
        raise BenchError(f"cannot read {path}: {e}") from None
    missing = [n for n in schema.names if n not in table.column_names]
    if missing:
        raise BenchError(f"{path} lacks columns: {', '.join(missing)}")
    return table
