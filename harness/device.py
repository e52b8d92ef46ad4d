"""Where a run executes and how: the device, deterministic kernels, precision and memory layout.

The one place that reads the run keys `run.device` ("auto" | "cpu" | "cuda" | "cuda:N"), `run.deterministic`,
`run.precision` ("fp32" | "bf16") and `run.channels_last`, so the rest of the harness gets one resolved
:class:`DeviceSettings`. "auto" is CUDA when available, else the CPU. Asking for CUDA where there is none
is one clear :class:`DeviceError` before any work starts.

CPU-specific speed-ups are chosen here per device: the glibc allocator settings (harness/allocator.py) and
the scoring forward cache (spaces/forward_cache.py) were measured on CPUs only, so they stay off on CUDA
until a GPU measurement shows they pay there (scripts/gpu-check measures the cache).
"""

from __future__ import annotations

import contextlib
import os
import subprocess
from dataclasses import dataclass
from typing import Any

import torch
from supernet_bench.config import PRECISIONS, RunTable
from supernet_bench.core.errors import BenchError

DEVICE_CHOICES = ("auto", "cpu", "cuda", "cuda:N")
CUBLAS_WORKSPACE = ":4096:8"  # the setting cuBLAS documents for reproducible results


class DeviceError(BenchError):
    """A device that is unknown or not available on this machine."""


def parse_device(text: str | None) -> torch.device | None:
    """The device a name means, without looking at this machine: None for "auto"; DeviceError if no device."""
    text = "auto" if text is None else str(text).strip().lower()
    if text == "auto":
        return None
    try:
        device = torch.device(text)
    except (RuntimeError, ValueError):
        device = None
    if device is None or device.type not in ("cpu", "cuda") or (device.type == "cpu" and device.index):
        raise DeviceError(f"unknown device {text!r}: use one of {', '.join(DEVICE_CHOICES)}")
    return device


def resolve_device(text: str | None) -> torch.device:
    """ "auto" -> cuda when available else cpu; "cpu"; "cuda" / "cuda:N" only where that GPU exists."""
    device = parse_device(text)
    text = str(text).strip()
    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.type == "cpu":
        return torch.device("cpu")
    if not torch.cuda.is_available():
        raise DeviceError(f"device {text!r} requested, but CUDA is not available on this machine (torch "
                          f"{torch.__version__}); use --device cpu or auto")  # fmt: skip
    count = torch.cuda.device_count()
    index = 0 if device.index is None else device.index
    if index >= count:
        raise DeviceError(f"device {text!r} requested, but this machine has {count} CUDA device(s)")
    return torch.device("cuda", index)


@dataclass(frozen=True)
class DeviceSettings:
    """How a run executes; resolved once from the config's run table."""

    device: torch.device
    deterministic: bool = RunTable.deterministic  # the defaults are the config schema's (harness/config.py)
    precision: str = RunTable.precision
    channels_last: bool = RunTable.channels_last

    @property
    def is_cuda(self) -> bool:
        return self.device.type == "cuda"

    @property
    def forward_cache(self) -> bool:
        """The 1 GiB scoring cache: measured to pay on CPUs; unmeasured on GPUs, so off there."""
        return not self.is_cuda

    @property
    def memory_format(self) -> torch.memory_format:
        return torch.channels_last if self.channels_last else torch.contiguous_format

    def autocast(self) -> contextlib.AbstractContextManager:
        """bf16 autocast around training steps and scoring when `run.precision = "bf16"`, else nothing."""
        if self.precision == "bf16":
            return torch.autocast(self.device.type, dtype=torch.bfloat16)
        return contextlib.nullcontext()


def settings_from_run(run: dict[str, Any], device: str | None = None) -> DeviceSettings:
    """The run table's device keys (`device` overrides run.device, e.g. the CLI's --device)."""
    precision = run.get("precision", RunTable.precision)
    if precision not in PRECISIONS:
        raise BenchError(f"run.precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    for key in ("deterministic", "channels_last"):
        if key in run and not isinstance(run[key], bool):
            raise BenchError(f"run.{key} must be true or false, got {run[key]!r}")
    return DeviceSettings(
        device=resolve_device(device if device is not None else run.get("device", RunTable.device)),
        deterministic=bool(run.get("deterministic", RunTable.deterministic)),
        precision=precision,
        channels_last=bool(run.get("channels_last", RunTable.channels_last)),
    )


def apply(settings: DeviceSettings) -> None:
    """Process-wide settings a run needs before it builds anything (deterministic kernels, allocator)."""
    if settings.deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", CUBLAS_WORKSPACE)  # read when cuBLAS starts
        torch.backends.cudnn.benchmark = False
    # set both ways: a suite runs its runs one after the other in one process
    torch.backends.cudnn.deterministic = settings.deterministic
    torch.use_deterministic_algorithms(settings.deterministic)
    # "fp32" is true fp32 on a GPU as on the CPU (TF32 convs and matmuls round to 10 mantissa bits); with "bf16"
    # the ops autocast leaves in fp32 may use TF32
    torch.backends.cudnn.allow_tf32 = settings.precision != "fp32"
    torch.backends.cuda.matmul.allow_tf32 = settings.precision != "fp32"
    if settings.is_cuda:
        torch.cuda.set_device(settings.device)
    else:
        from supernet_bench.allocator import keep_freed_memory

        keep_freed_memory()  # freed activations are reused without page faults (harness/allocator.py)


def synchronize(device: torch.device) -> None:
    """Wait for the device's queued work (wall-clock timing of CUDA runs); a no-op on the CPU."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


# --- RNG state for --resume (tensors and plain types, so torch.load(weights_only=True) reads it) -----------
def cuda_rng_state() -> list[torch.Tensor]:
    """Every visible GPU's RNG state ([] without CUDA or before CUDA was used)."""
    if not torch.cuda.is_available() or not torch.cuda.is_initialized():
        return []
    return [s.clone() for s in torch.cuda.get_rng_state_all()]


def set_cuda_rng_state(states: list[torch.Tensor] | None) -> None:
    if states and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(states[: torch.cuda.device_count()])


# --- versions recorded in the manifest -------------------------------------------------------------------
def _nvidia_driver() -> str:
    try:
        out = subprocess.run(
            ["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
            capture_output=True, text=True, timeout=10,
        )  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    lines = out.stdout.strip().splitlines()
    return lines[0].strip() if out.returncode == 0 and lines else "unknown"


def device_versions(device: torch.device) -> dict[str, str]:
    """The device type, and for CUDA the GPU name, driver, CUDA and cuDNN versions (kernels differ by all)."""
    if device.type != "cuda":
        return {"device_type": "cpu"}
    cudnn = torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None
    return {
        "device_type": "cuda",
        "gpu_name": torch.cuda.get_device_name(device),
        "gpu_driver": _nvidia_driver(),
        "cuda": str(torch.version.cuda or "unknown"),
        "cudnn": str(cudnn) if cudnn else "unknown",
    }
