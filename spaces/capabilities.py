"""What a space can offer beyond the `SearchSpace` interface, as typed protocols, and how a method says what it needs.

A space offers a capability by having its members (structural typing: no registration, no base class). A method
lists `requires = (Requirement(...), ...)`; `unsupported(requires, space)` names the first one a space does not
meet, and `methods.check_supported` turns that into the one refusal line a user sees.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from supernet_bench.core.arch import Arch


@runtime_checkable
class CellEdges(Protocol):
    """A cell space whose slots are the edges of one cell (or of several cell groups, slot-major per group)."""

    edges: Sequence[tuple[int, int]]  # (to, from) per edge of one cell
    ops: Sequence[str]


@runtime_checkable
class CellDAGSpace(Protocol):
    """A space that builds its own cell DAG description (CLOSE's GATE reads it)."""

    def cell_dag(self) -> Any: ...


@runtime_checkable
class CellInputs(Protocol):
    """A cell with more than one input node (DARTS: the outputs of cells k-2 and k-1)."""

    num_input_nodes: int


@runtime_checkable
class CellGroups(Protocol):
    """Several cell types with their own slots (DARTS: normal, reduce)."""

    cell_groups: Sequence[str]


@runtime_checkable
class SequentialLayers(Protocol):
    """A chain of layers grouped into stages: slot i feeds slot i + 1 (Macro, NDS)."""

    sequential: bool

    def stage_slices(self) -> Sequence[Sequence[int]]:
        """Per stage, the supernet's weight slots (block positions) in order; the first may differ in shape."""
        ...


@runtime_checkable
class ComplexityBounds(Protocol):
    """Exact (C_min, C_max) of `complexity` over the space, so CaLR need not enumerate or sample."""

    def complexity_bounds(self) -> tuple[float, float]: ...


@runtime_checkable
class Connectivity(Protocol):
    """Whether an architecture connects input to output (NB201: not every `none` pattern does)."""

    def is_connected(self, arch: Arch) -> bool: ...


@runtime_checkable
class ConditionalDependencies(Protocol):
    """The space's own table of which slots condition on which ({slot: (prior slots)}) for conditional weights."""

    conditional_dependencies: Mapping[int, tuple[int, ...]]


@runtime_checkable
class SharedBlockWeights(Protocol):
    """Slots choose sizes (depth, width, ...) of blocks whose weights every choice shares (NDS): no weights of
    their own per (slot, op), so nothing to copy or key per op."""

    shared_block_weights: bool


@runtime_checkable
class BenchmarkedSample(Protocol):
    """A benchmark that trained only a sample of its space: ground truth exists for those architectures only."""

    def benchmarked_archs(self, data_dir: Path | None) -> list[Arch]: ...


@runtime_checkable
class NamedSubsets(Protocol):
    """Published architecture lists shipped with the benchmark's data (`eval.sample = "subset:NAME"`)."""

    def load_named_subset(self, name: str, data_dir: Path | None) -> list[Arch]: ...


@dataclass(frozen=True)
class Requirement:
    """One thing a method needs: a space meets it when it offers any of `any_of` (protocols, or space names the
    method keeps its own per-space defaults for), none of `none_of`, and passes `test`. `problem` completes the
    sentence "<method> does not apply to space <label>: ..."."""

    problem: str
    any_of: tuple[type | str, ...] = ()
    none_of: tuple[type, ...] = ()
    test: Callable[[Any], bool] | None = None

    def met_by(self, space) -> bool:
        if self.any_of and not any(
            (space.name == cap) if isinstance(cap, str) else isinstance(space, cap) for cap in self.any_of
        ):
            return False
        if any(isinstance(space, cap) for cap in self.none_of):
            return False
        return self.test is None or bool(self.test(space))


def unsupported(requires: Iterable[Requirement], space) -> Requirement | None:
    """The first requirement `space` does not meet, or None."""
    return next((r for r in requires if not r.met_by(space)), None)


def is_sequential(space) -> bool:
    return isinstance(space, SequentialLayers) and bool(space.sequential)


# -- what a supernet may offer (methods read these from the built module) ---------------------------------
@runtime_checkable
class OwnSharedParams(Protocol):
    """A supernet whose weights are not owned per (slot, op) names GM-NAS's shared weights w_s itself (NDS)."""

    def shared_params_for(self, slot: int, mask) -> list: ...


@runtime_checkable
class IOModules(Protocol):
    """A supernet that names its input/output modules (outside GM-NAS's w_s) when they differ from the default."""

    io_modules: Sequence[str]


@runtime_checkable
class SlotShapeClasses(Protocol):
    """A supernet whose slots of one layer differ in shape (DARTS reduce cells: stride-2 vs stride-1 edges), so
    weights may be shared only within a class; None for a slot the layer does not use."""

    def slot_shape_class(self, layer: int, slot: int) -> int | None: ...
