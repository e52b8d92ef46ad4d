"""What a rerun must match to reproduce a run bit for bit, and which of it differs.

Kept apart from harness.protocol so reports can check pooled runs without importing torch.
"""

from __future__ import annotations

GPU_KEYS = ("gpu_name", "gpu_driver", "cuda", "cudnn")
"""Recorded only by runs on a GPU (harness/device.py device_versions)."""

REPRODUCING_KEYS = ("git_sha", "torch", "numpy", "cpu_capability", "device_type", *GPU_KEYS)
"""What a rerun must match to reproduce a run bit for bit (thread counts come with the config). The CPU's
vector ISA is one of them: oneDNN picks other kernels on AVX2 than on AVX-512, which round differently, and
the same commit, torch and numpy gave other proxy-run Kendall taus on the two (reports/proxy-profile.md).
On a GPU the kernels come from the GPU model, driver, CUDA and cuDNN (harness/device.py device_versions);
a CPU run records device_type "cpu" only, so its GPU keys are unknown and never count."""


def version_drift(recorded: dict[str, str], current: dict[str, str]) -> list[str]:
    """'key: recorded -> current' for each reproducing version that differs (unknown values never count).

    Supernet training amplifies float-rounding differences (a faster kernel, a new BLAS) like a new seed, so a
    rerun under other versions is a fresh sample, not a reproduction."""
    drift = []
    for key in REPRODUCING_KEYS:
        a, b = recorded.get(key), current.get(key)
        if a and b and a != b and "unknown" not in (a, b):
            drift.append(f"{key}: {a} -> {b}")
    return drift
