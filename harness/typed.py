"""Typed TOML tables: a frozen dataclass declares a table's keys, types and defaults; `parse_table` turns
a plain dict (a profile table, `--set` overrides, a manifest's record) into it or raises one BenchError line.

Unknown keys get a did-you-mean; values are checked against the declared type, never coerced from strings
(`run.threads="2"` is refused). Numbers declared float accept TOML integers and become floats, so `2` and
`2.0` are one configuration.
"""

from __future__ import annotations

import dataclasses
import difflib
import types
import typing
from typing import Any, TypeVar

from supernet_bench.core.errors import BenchError

T = TypeVar("T")


def did_you_mean(name: str, known: list[str], prefix: str = "") -> str:
    """`; did you mean run.budget_epochs?` or the list of known keys."""
    close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
    if close:
        return f"; did you mean {prefix}{close[0]}?"
    return f" (known: {', '.join(sorted(known))})"


def _type_name(hint: Any) -> str:
    origin = typing.get_origin(hint)
    if origin is tuple:
        return "a list of " + {float: "numbers", int: "integers", str: "strings"}[typing.get_args(hint)[0]]
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_type_name(a) for a in typing.get_args(hint))
    return {bool: "a boolean", int: "an integer", float: "a number", str: "a string", type(None): "unset"}.get(
        hint, str(hint)
    )


def coerce(value: Any, hint: Any) -> Any:
    """`value` as the declared type `hint`; raises TypeError when it is not one."""
    origin = typing.get_origin(hint)
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            raise TypeError
        return tuple(coerce(v, typing.get_args(hint)[0]) for v in value)
    if origin in (typing.Union, types.UnionType):
        for arg in typing.get_args(hint):
            try:
                return coerce(value, arg)
            except TypeError:
                continue
        raise TypeError
    if hint is type(None):
        if value is not None:
            raise TypeError
        return None
    if hint is bool:
        if not isinstance(value, bool):
            raise TypeError
        return value
    if isinstance(value, bool):  # True is an int to Python, never to a config
        raise TypeError
    if hint is float and isinstance(value, (int, float)):
        return float(value)
    if not isinstance(value, hint):
        raise TypeError
    return value


def check_value(cls: type, key: str, value: Any, section: str, where: str = "") -> Any:
    """One key of the table `cls`: known, and of its declared type; returns the value as that type."""
    hints = typing.get_type_hints(cls)
    if key not in hints:
        raise BenchError(f"{where}unknown key {section}.{key}{did_you_mean(key, list(hints), f'{section}.')}")
    try:
        return coerce(value, hints[key])
    except TypeError:
        raise BenchError(f"{where}{section}.{key} must be {_type_name(hints[key])}, got {value!r}") from None


def parse_table(cls: type[T], table: Any, section: str, where: str = "") -> T:
    """An instance of the dataclass `cls` from a TOML table; `where` prefixes errors (e.g. the profile)."""
    if not isinstance(table, dict):
        raise BenchError(f"{where}[{section}] must be a table, got {table!r}")
    values = {key: check_value(cls, key, value, section, where) for key, value in table.items()}
    for f in dataclasses.fields(cls):  # type: ignore[arg-type]
        if f.name not in values and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise BenchError(f"{where}config is missing {section}.{f.name}")
    return cls(**values)


def table_dict(obj: Any) -> dict[str, Any]:
    """The TOML/JSON form of a parsed table: tuples as lists, unset optional keys left out."""
    out = {}
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        if value is None:
            continue
        out[f.name] = list(value) if isinstance(value, tuple) else value
    return out


def table_defaults(cls: type) -> dict[str, Any]:
    """The declared defaults of a table (keys without one are required)."""
    out = {}
    for f in dataclasses.fields(cls):
        if f.default is not dataclasses.MISSING and f.default is not None:
            out[f.name] = list(f.default) if isinstance(f.default, tuple) else f.default
    return out
