"""Rates measured by the benchmarks, collected for the terminal summary (tests/bench/conftest.py)."""

from __future__ import annotations

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


def summary_lines() -> list[str]:
    lines = []
    for quantity, sides in RATES.items():
        lines.append(f"{quantity}: " + ", ".join(f"{side} {rate:,.4g}" for side, rate in sides.items()))
        if "harness" in sides and "reference" in sides:
            lines.append(f"  harness / reference = {sides['harness'] / sides['reference']:.2f}x")
    flops = RATES.get("FLOP/s", {})
    if "harness train" in flops and "peak conv" in flops:
        share = flops["harness train"] / flops["peak conv"]
        lines.append(f"  harness training reaches {share:.1%} of the peak conv FLOP/s")
    return lines
