"""Atomic file writes: write to a temporary file in the same folder, fsync, then os.replace.

A reader (or a run killed mid-write) never sees a half-written results file.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from supernet_bench.core.errors import StorageError, describe_os_error


def _umask() -> int:
    """The process umask, read without changing it where /proc tells it (os.umask sets it to read it)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except OSError:
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def atomic_write(path: str | Path, write: Callable[[str], None]) -> None:
    """Write ``path`` through ``write(tmp)``; the file gets the permissions ``open`` would give it.

    ``mkstemp`` creates its file 0600 whatever the umask, so results on a shared filesystem would be
    unreadable to the rest of a group; the mode is reset to 0666 & ~umask before the file is published.
    """
    path = Path(path)
    if path.is_dir():
        raise StorageError(f"cannot write {path}: it is a folder")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as e:  # read-only, full, or a file where a folder is expected
        raise StorageError(f"cannot write {path}: {describe_os_error(e)}") from None
    try:
        os.fchmod(fd, 0o666 & ~_umask())
    finally:
        os.close(fd)
    try:
        write(tmp)
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as e:  # the earlier file at `path`, if any, is untouched
        _discard(tmp)
        raise StorageError(f"cannot write {path}: {e.strerror or e}") from None
    except BaseException:
        _discard(tmp)
        raise


def _discard(tmp: str) -> None:
    try:
        os.unlink(tmp)
    except OSError:
        pass


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    def write(tmp: str) -> None:
        with open(tmp, "wb") as f:
            f.write(data)

    atomic_write(path, write)


def atomic_write_text(path: str | Path, text: str) -> None:
    atomic_write_bytes(path, text.encode())


def atomic_write_json(path: str | Path, obj) -> None:
    atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n")


def atomic_write_table(table: pa.Table, path: str | Path) -> None:
    atomic_write(path, lambda tmp: pq.write_table(table, tmp))
