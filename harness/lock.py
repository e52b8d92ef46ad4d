"""An exclusive, non-blocking lock on a run directory, so two suites never write one run at once."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from supernet_bench.core.errors import BenchError


class RunLocked(BenchError):
    """Another process holds the run directory (a concurrent suite is writing this run)."""


class DirLock:
    def __init__(self, directory: str | Path):
        self.path = Path(directory) / ".lock"
        self.fd: int | None = None
        self.remove = False  # set by the holder: unlink the lock file on release (a finished run needs none)

    def __enter__(self) -> DirLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.fd = os.open(self.path, os.O_CREAT | os.O_RDWR, 0o644)
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(self.fd)
            self.fd = None
            raise RunLocked(f"run directory {self.path.parent} is being written by another process") from None
        return self

    def __exit__(self, *exc) -> None:
        if self.fd is not None:
            if self.remove:  # unlinked while still held, so no other process can take the old file meanwhile
                try:
                    self.path.unlink()
                except OSError:
                    pass
            fcntl.flock(self.fd, fcntl.LOCK_UN)
            os.close(self.fd)
            self.fd = None
