"""NAS-Bench-201 cell space (`nb201`, `nb201:no-zero`, `nb201:only-conv`); importing registers it."""

from supernet_bench.spaces.nb201.space import EDGES, OPS, NB201Space

__all__ = ["NB201Space", "OPS", "EDGES"]
