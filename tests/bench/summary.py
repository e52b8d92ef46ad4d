"""Rates measured by the benchmarks, collected for the terminal summary (tests/bench/conftest.py)."""

from __future__ import annotations

import numpy as np

RATES: dict[str, dict[str, float]] = {}
"""quantity -> {side: amount per second}, e.g. RATES["train img/s"]["harness"]."""


def record_rate(benchmark, quantity: str, side: str, amount: float) -> None:
    """amount per second of the measured median (robust to the noise spikes of a shared VM), into extra_info
    and RATES (absent when benchmarks are off)."""
    if benchmark.stats is None:
        return
    rate = amount / benchmark.stats.stats.median
    benchmark.extra_info[quantity] = rate
    RATES.setdefault(quantity, {})[side] = rate


PAIRED: dict[str, tuple[float, float, float, int]] = {}
"""quantity -> (reference time / harness time over all pairs, 95% CI low, high, pairs)."""


def paired_ratio(
    harness_seconds: list[float], reference_seconds: list[float], seed: int = 0
) -> tuple[float, float, float]:
    """sum(reference) / sum(harness) over interleaved pairs, with a bootstrap 95% interval over the pairs.

    Timing the two sides alternately on the same work cancels the drift of a shared VM (its speed changes
    10-30 % over minutes, which moves separately timed medians more than the effect being measured), and the
    ratio of totals is the ratio of throughputs."""
    h, r = np.asarray(harness_seconds), np.asarray(reference_seconds)
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(h), size=(2000, len(h)))
    boot = r[idx].sum(axis=1) / h[idx].sum(axis=1)
    low, high = np.percentile(boot, [2.5, 97.5])
    return float(r.sum() / h.sum()), float(low), float(high)


def record_paired(benchmark, quantity: str, harness_seconds: list[float], reference_seconds: list[float]) -> None:
    ratio, low, high = paired_ratio(harness_seconds, reference_seconds)
    benchmark.extra_info.update({"ratio": ratio, "ratio_ci95": [low, high], "pairs": len(harness_seconds)})
    PAIRED[quantity] = (ratio, low, high, len(harness_seconds))


def summary_lines() -> list[str]:
    lines = [
        f"{quantity}, paired: harness / reference = {ratio:.2f}x (95% CI {low:.2f}-{high:.2f}, {n} interleaved pairs)"
        for quantity, (ratio, low, high, n) in PAIRED.items()
    ]
    for quantity, sides in RATES.items():
        lines.append(f"{quantity}: " + ", ".join(f"{side} {rate:,.4g}" for side, rate in sides.items()))
        if "harness" in sides and "reference" in sides:
            lines.append(f"  harness / reference = {sides['harness'] / sides['reference']:.2f}x")
    flops = RATES.get("FLOP/s", {})
    if "harness train" in flops and "peak conv" in flops:
        share = flops["harness train"] / flops["peak conv"]
        lines.append(f"  harness training reaches {share:.1%} of the peak conv FLOP/s")
    return lines
