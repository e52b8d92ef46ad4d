"""Keep freed tensor memory in the process (glibc malloc), so new activations do not page-fault.

With glibc's defaults, memory freed at the top of the heap is returned to the OS once it exceeds a
dynamic trim threshold, and the next activation of the same size page-faults its way back in (the kernel
zeroes every page). A CPU forward pass allocates and frees many activations of a few MB, so this costs a
large share of elementwise-op time whenever something else holds memory between passes: with the scoring
forward cache (spaces/forward_cache.py) holding ~1 GB, BN / add / ReLU ran ~4x slower per call
(tests/bench). Fixing the mmap threshold at its maximum (32 MiB: larger blocks still come from mmap) and
never trimming keeps the freed pages for reuse; the process's RSS stays at its peak instead.

Numerics are unaffected. A no-op where glibc's `mallopt` is unavailable (macOS, musl, Windows).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools

M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 32 << 20  # glibc's upper limit on 64-bit (HEAP_MAX_SIZE / 2)
TRIM_THRESHOLD = 2**31 - 1  # effectively never trim


@functools.cache
def keep_freed_memory() -> bool:
    """Apply the settings once per process; True if glibc accepted them."""
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD))
