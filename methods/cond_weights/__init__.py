"""Conditional super-network weights (`cond-weights`): the method (method) and its weight keying (weights)."""

from supernet_bench.methods.cond_weights.method import CondWeights

__all__ = ["CondWeights"]
