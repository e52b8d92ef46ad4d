"""CLOSE and CLOSE-S: GLOW-block weight keying (glow, interval_glow), the GATE (gate), the shared training
recipe and CLOSE itself (method), the two-stage CLOSE-S (close_s). Importing registers both methods."""

from supernet_bench.methods.close import close_s, method  # noqa: F401  (registration)
from supernet_bench.methods.close.close_s import CLOSES
from supernet_bench.methods.close.method import CLOSE

__all__ = ["CLOSE", "CLOSES"]
