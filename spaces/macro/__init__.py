"""NAS-Bench-Macro space (`macro`); importing registers it."""

from spaces.macro.space import OPS, MacroSpace

__all__ = ["MacroSpace", "OPS"]
