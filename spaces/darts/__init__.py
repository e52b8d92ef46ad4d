"""DARTS / NAS-Bench-301 cell space (`darts`); importing registers it."""

from spaces.darts.space import OPS, DartsSpace

__all__ = ["DartsSpace", "OPS"]
