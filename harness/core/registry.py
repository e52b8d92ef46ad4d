"""One small name -> object registry used for methods, policies, spaces and metrics.

Registration is a decorator; a duplicate name raises; an unknown name gets a "did you mean".
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

from supernet_bench.core.errors import UnknownNameError

T = TypeVar("T")


class Registry(Generic[T]):
    def __init__(self, kind: str, base: type | None = None):
        self.kind = kind
        self.base = base
        self._items: dict[str, T] = {}
        self._frozen = False

    def register(self, name: str, obj: T | None = None) -> Callable[[T], T] | T:
        """Register `obj` under `name`; usable as `@registry.register("name")`."""

        def add(o: T) -> T:
            if self._frozen:
                raise RuntimeError(f"{self.kind} registry is frozen; cannot add {name!r}")
            if name in self._items and self._items[name] is not o:
                raise ValueError(f"duplicate {self.kind} name {name!r}")
            if self.base is not None and isinstance(o, type) and not issubclass(o, self.base):
                raise TypeError(f"{self.kind} {name!r} must subclass {self.base.__name__}")
            self._items[name] = o
            return o

        return add(obj) if obj is not None else add

    def get(self, name: str) -> T:
        try:
            return self._items[name]
        except KeyError:
            raise UnknownNameError(self.unknown_message(name)) from None

    def unknown_message(self, name: str) -> str:
        close = difflib.get_close_matches(name, self._items, n=3, cutoff=0.5)
        hint = f" Did you mean: {', '.join(close)}?" if close else ""
        return f"Unknown {self.kind} {name!r}.{hint} Available: {', '.join(sorted(self._items))}"

    def names(self) -> list[str]:
        return sorted(self._items)

    def items(self) -> Iterator[tuple[str, T]]:
        return iter(sorted(self._items.items()))

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def freeze(self) -> None:
        self._frozen = True
