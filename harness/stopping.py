"""Clean stops on SIGINT (Ctrl-C) and SIGTERM (what Slurm and `kill` send before SIGKILL).

The first signal raises KeyboardInterrupt in the main thread, so the command unwinds through its
``finally`` blocks: the current run keeps its last checkpoint's resume state (every write is atomic), a
suite kills its pool workers and starts nothing new. Every later signal is only noted: a second Ctrl-C
can no longer interrupt that cleanup halfway and leave the process waiting on workers forever.
The CLI then prints one line saying how to resume and exits 128 + the signal number (130, 143).
"""

from __future__ import annotations

import signal
import threading
from types import FrameType

_received: list[int] = []  # signal numbers, first first


def install() -> dict[int, object]:
    """Route SIGINT and SIGTERM to the handler below; returns the previous handlers for ``restore``.

    Outside the main thread (where Python allows no handlers) nothing changes."""
    _received.clear()
    previous: dict[int, object] = {}
    if threading.current_thread() is not threading.main_thread():
        return previous
    for sig in (signal.SIGINT, signal.SIGTERM):
        previous[sig] = signal.signal(sig, _handler)
    return previous


def restore(previous: dict[int, object]) -> None:
    """Put the previous handlers back, unless a stop is under way: then the noting handler stays, so a
    signal that arrives while the process exits cannot kill it with the default action (exit code -2)."""
    if _received:
        return
    for sig, handler in previous.items():
        signal.signal(sig, handler)


def _handler(signum: int, frame: FrameType | None) -> None:
    _received.append(signum)
    if len(_received) == 1:
        raise KeyboardInterrupt


def first_signal() -> int | None:
    """The signal that started the stop, or None (a KeyboardInterrupt raised otherwise counts as SIGINT)."""
    return _received[0] if _received else None


def exit_code() -> int:
    return 128 + (first_signal() or signal.SIGINT)


def signal_name() -> str:
    return signal.Signals(first_signal() or signal.SIGINT).name


def ignore_in_worker() -> None:
    """Pool workers ignore SIGINT: Ctrl-C reaches the whole process group, and the parent stops them."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
