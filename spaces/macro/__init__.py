"""NAS-Bench-Macro space (`macro`); importing registers it."""

from supernet_bench.spaces.macro.space import OPS, MacroSpace

__all__ = ["MacroSpace", "OPS"]
