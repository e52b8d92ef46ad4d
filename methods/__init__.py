"""Method registry. `create_method("spos+calr+ms", params)` is the one way to build a method.

Every module in this package registers itself with `@register_method("name")`; modules are found by
walking the package, and out-of-tree methods come in through the `supernet_bench.methods`
entry-point group. A name `base+p1+p2` is a base method plus named training policies.
"""

from __future__ import annotations

import importlib
import pkgutil
from typing import Any

from supernet_bench.core.errors import BenchError, UnknownNameError, UnsupportedError
from supernet_bench.core.plugins import load_plugins
from supernet_bench.core.registry import Registry
from supernet_bench.methods.base import Method
from supernet_bench.methods.policies import POLICIES, Policy
from supernet_bench.spaces.base import SearchSpace
from supernet_bench.spaces.capabilities import Requirement, unsupported

METHODS: Registry[type[Method]] = Registry("method", base=Method)
SHARED_TABLE = "all"  # [methods.all] in a profile: hyperparameters shared by every method
register_method = METHODS.register

_discovered = False


def _discover() -> None:
    global _discovered
    if _discovered:
        return
    _discovered = True
    for info in pkgutil.iter_modules(__path__):
        if info.name not in ("base",):
            importlib.import_module(f"{__name__}.{info.name}")
    load_plugins("supernet_bench.methods")  # a plugin that fails to import warns once; the rest still works


def base_names() -> list[str]:
    _discover()
    return METHODS.names()


def method_names() -> list[str]:
    """Base methods plus every composition with the policies they accept."""
    _discover()
    names = []
    for name, cls in METHODS.items():
        names.append(name)
        accepted = [p for p in POLICIES.names() if p in getattr(cls, "accepts_policies", ())]
        for mask in range(1, 2 ** len(accepted)):
            names.append("+".join([name] + [p for i, p in enumerate(accepted) if mask >> i & 1]))
    return names


def parse_method_name(name: str) -> tuple[str, list[str]]:
    base, *policies = name.split("+")
    _discover()
    cls = METHODS.get(base) if base in METHODS else None
    if cls is None:
        raise UnknownNameError(METHODS.unknown_message(name))
    for p in policies:
        if p not in POLICIES:
            raise UnknownNameError(POLICIES.unknown_message(p))
        if p not in getattr(cls, "accepts_policies", ()):
            raise BenchError(f"method {base!r} does not take the policy {p!r}")
    if len(set(policies)) != len(policies):
        raise BenchError(f"method name {name!r} repeats a policy")
    return base, sorted(policies, key=POLICIES.names().index)


def canonical_name(name: str) -> str:
    base, policies = parse_method_name(name)
    return "+".join([base, *policies])


def create_method(name: str, params: dict[str, dict[str, Any]] | None = None) -> Method:
    """Build `base+policies` with hyperparameters from per-name tables.

    `params` maps a base name, a policy name or a full composite name to keyword arguments; the
    composite's table overrides the base's, which overrides the shared `all` table (keys there apply
    to every method that takes them, so a profile sets one optimizer for all methods).
    """
    params = params or {}
    base, policies = parse_method_name(name)
    cls = METHODS.get(base)
    accepted = cls.default_params()
    shared = {k: v for k, v in params.get(SHARED_TABLE, {}).items() if k in accepted}
    kwargs = {**shared, **params.get(base, {}), **params.get(canonical_name(name), {})}
    policy_objs: list[Policy] = []
    for p in policies:
        pcls = POLICIES.get(p)
        policy_objs.append(_construct(pcls, p, params.get(p, {})))
    method = _construct(cls, base, kwargs, policies=policy_objs)
    method.name = canonical_name(name)
    return method


def requirements(method: Method) -> list[Requirement]:
    """What `method` needs from a space: its own `requires` and what its policies add for it."""
    return [*method.requires, *(r for p in getattr(method, "policies", ()) for r in p.requirements(method))]


def check_supported(method: Method, space: SearchSpace) -> None:
    """The one place an unsupported method/space pair is refused, with one line naming why, before training."""
    missing = unsupported(requirements(method), space)
    if missing is not None:
        name = method.name or type(method).__name__
        raise UnsupportedError(f"{name} does not apply to space {space.label}: {missing.problem}")


def _construct(cls, label: str, kwargs: dict[str, Any], **extra):
    allowed = cls.default_params()
    unknown = sorted(set(kwargs) - set(allowed))
    if unknown:
        raise BenchError(
            f"unknown hyperparameter(s) {', '.join(unknown)} for {label!r}; it takes: {', '.join(sorted(allowed))}"
        )
    for key, value in kwargs.items():
        default = allowed[key]
        if (
            default is not None
            and not isinstance(value, type(default))
            and not (isinstance(default, float) and isinstance(value, int) and not isinstance(value, bool))
            and not (isinstance(default, (list, tuple)) and isinstance(value, (list, tuple)))  # TOML arrays
        ):
            raise BenchError(
                f"hyperparameter {key!r} of {label!r} must be {type(default).__name__}, got {type(value).__name__}"
            )
    return cls(**kwargs, **extra)


__all__ = ["METHODS", "Method", "check_supported", "create_method", "method_names", "register_method", "canonical_name"]
