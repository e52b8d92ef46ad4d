"""Ground truth in one canonical form: a table of (arch string, value) with its provenance.

Every space's importer (NB201 csv / API file, Macro JSON, NB301 surrogate, NDS JSON) produces a
GroundTruth; it can be written to and read from the canonical parquet file.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from supernet_bench.core.atomic import atomic_write_table
from supernet_bench.core.errors import BenchError, DataError

GT_SCHEMA = pa.schema(
    [
        pa.field("arch", pa.string(), nullable=False),  # canonical arch string of the space
        pa.field("value", pa.float64(), nullable=False),  # ground-truth value (accuracy in percent)
    ]
)


def sha256_file(path: str | Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def portable_path(path: str, data_dir: str | Path | None) -> str:
    """`path` relative to `data_dir` when it lies inside it, else unchanged."""
    if not path or data_dir is None:
        return path
    try:
        return Path(path).resolve().relative_to(Path(data_dir).resolve()).as_posix()
    except ValueError:
        return path


@dataclass(frozen=True)
class GroundTruth:
    """Ground-truth values of one column of one benchmark, keyed by canonical arch string."""

    space: str  # space name, e.g. "nb201"
    column: str  # e.g. "cifar10-valid_x-valid_hp200"
    values: dict[str, float] = field(repr=False)
    source: str = ""  # file it was read from
    source_sha256: str = ""  # checksum of that file
    higher_is_better: bool = True

    def __len__(self) -> int:
        return len(self.values)

    def value(self, arch: str) -> float:
        try:
            return self.values[arch]
        except KeyError:
            raise BenchError(f"architecture {arch!r} has no ground truth in column {self.column!r}") from None

    def lookup(self, archs: list[str]) -> np.ndarray:
        return np.array([self.value(a) for a in archs], dtype=np.float64)

    def provenance(self, data_dir: str | Path | None = None) -> dict:
        """What the manifest records. With `data_dir`, a source inside it is given relative to it (as the
        data files are), so manifests carry no machine's paths and stay valid wherever the data lives."""
        return {
            "space": self.space,
            "column": self.column,
            "source": portable_path(self.source, data_dir),
            "source_sha256": self.source_sha256,
            "n": len(self.values),
        }

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame({"arch": list(self.values), "value": list(self.values.values())})

    def to_parquet(self, path: str | Path) -> None:
        table = pa.Table.from_pandas(self.to_frame(), schema=GT_SCHEMA, preserve_index=False)
        table = table.replace_schema_metadata({k.encode(): str(v).encode() for k, v in self.provenance().items()})
        atomic_write_table(table, path)

    @classmethod
    def from_parquet(cls, path: str | Path) -> GroundTruth:
        try:
            table = pq.read_table(path)
        except (OSError, pa.ArrowInvalid) as e:
            raise DataError(f"cannot read ground-truth parquet {path}: {e}") from None
        meta = {k.decode(): v.decode() for k, v in (table.schema.metadata or {}).items()}
        missing = {"arch", "value"} - set(table.column_names)
        if missing:
            raise DataError(f"ground-truth parquet {path} lacks columns {sorted(missing)}")
        df = table.to_pandas()
        return cls(
            space=meta.get("space", ""),
            column=meta.get("column", ""),
            values=dict(zip(df["arch"], df["value"].astype(float))),
            source=meta.get("source", str(path)),
            source_sha256=meta.get("source_sha256", ""),
        )
