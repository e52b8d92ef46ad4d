"""DARTS / NAS-Bench-301 cell space (`darts`); importing registers it."""

from supernet_bench.spaces.darts.space import OPS, DartsSpace

__all__ = ["DartsSpace", "OPS"]
