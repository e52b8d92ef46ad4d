"""GM-NAS: gradient-matching splits (method) decided by a balanced min-cut (mincut)."""

from supernet_bench.methods.gmnas.method import GMNAS

__all__ = ["GMNAS"]
