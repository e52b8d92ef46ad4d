"""Architecture types every layer shares: an architecture, the op mask methods sample within, a slot.

An architecture is an immutable tuple of op indices, one per decision slot (NB201: 6 edges;
Macro: 8 layers). Indices refer to the slot's full op list, so a subset space (e.g. NB201
`no-zero`) only narrows the allowed mask, never renumbers ops.
"""

from __future__ import annotations

from dataclasses import dataclass

Arch = tuple[int, ...]
OpMask = tuple[frozenset[int], ...]
"""Allowed op indices per slot. Methods (Few-Shot, GM-NAS) train sub-supernets on narrower masks."""


@dataclass(frozen=True)
class Slot:
    """One decision: a name (NB201 edge `2<-1`, Macro `layer3`) and its candidate op names."""

    name: str
    ops: tuple[str, ...]


def shorten(value: object, limit: int = 120) -> str:
    """repr() cut to `limit` characters, for error messages that quote user input."""
    r = repr(value)
    return r if len(r) <= limit else r[: limit - 3] + "..."
