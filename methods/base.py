"""The method contract: set up, take one step (returning subnet passes spent), score an architecture.

The harness owns the loop, budget, data, checkpoints, evaluation and I/O; a method owns its
supernet(s), optimizer(s) and schedule. Constructors only store keyword hyperparameters (sklearn
style); checks happen in `setup`.
"""

from __future__ import annotations

import inspect
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import torch
import torch.nn as nn
from supernet_bench.spaces.base import Arch, OpMask, SearchSpace
from supernet_bench.spaces.capabilities import Requirement


@dataclass
class TrainContext:
    """Everything a method may use; given to `Method.setup` by the harness."""

    space: SearchSpace
    num_classes: int
    supernet_kwargs: dict[str, Any]  # size and BN options of the profile (C, N, bn_affine, ...)
    next_batch: Callable[[], tuple[torch.Tensor, torch.Tensor]]  # training batches (augmented, normalized)
    total_passes: int  # the whole run's budget in subnet passes
    batch_size: int
    train_size: int
    seed: int
    rng: np.random.Generator  # the method's own random stream (saved for --resume)
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))  # where every tensor of the run lives
    memory_format: torch.memory_format = torch.channels_last  # of weights and batches (`run.channels_last`)

    def build_supernet(self, weights_factory=None) -> nn.Module:
        """A freshly initialised supernet of the profile's size, on ctx.device in ctx.memory_format.

        Initialised on the CPU (seeded by torch's global CPU RNG), then moved: the same seed gives the same
        initial weights on every device."""
        net = self.space.build_supernet(self.num_classes, weights_factory=weights_factory, **self.supernet_kwargs)
        return net.to(self.device, memory_format=self.memory_format)  # matches harness.data.normalize


@dataclass
class ScoringModel:
    """What scores one architecture: the module whose BN state is recalibrated, and its forward."""

    module: nn.Module
    forward: Callable[[torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class Lineage:
    """One independently trained (sub-)supernet that scores the architectures inside `mask` (split methods).

    own_passes: passes spent on it since it was split off (training and, GM-NAS, gradient matching);
    lineage_passes: own + every ancestor's (the one-shot phase, warm-ups, matching), so the lineages of a
    run share their ancestors' passes; weight_passes: the training passes behind the weights it scores
    with (its own only, after a restart).
    """

    name: str
    mask: OpMask
    own_passes: int
    lineage_passes: int
    weight_passes: int


class Method(ABC):
    """Base class of every supernet-training method."""

    name: ClassVar[str] = ""
    # what the method needs from a space (spaces/capabilities.py); `methods.check_supported` refuses the rest
    requires: ClassVar[tuple[Requirement, ...]] = ()

    @abstractmethod
    def setup(self, ctx: TrainContext) -> None:
        """Build supernet(s) and optimizer(s); validate hyperparameters."""

    @abstractmethod
    def step(self) -> int:
        """Train on one or more batches (pulled from ctx.next_batch); return the subnet passes spent."""

    @abstractmethod
    def scoring_model(self, arch: Arch) -> ScoringModel:
        """The model that scores `arch` (e.g. its sub-supernet for Few-Shot NAS)."""

    def diagnostics(self) -> dict[str, float]:
        """Extra per-checkpoint numbers (e.g. CLOSE's block count); written with the metrics."""
        return {}

    def decisions(self) -> dict[str, Any]:
        """Run-level decisions (MS edge, split edges...) recorded in the manifest."""
        return {}

    def lineages(self) -> list[Lineage] | None:
        """The (sub-)supernets scoring architectures now, for split methods; None: one supernet, all passes."""
        return None

    @abstractmethod
    def state_dict(self) -> dict[str, Any]:
        """Everything needed to continue training bit-identically after --resume."""

    @abstractmethod
    def load_state_dict(self, state: dict[str, Any]) -> None: ...

    # -- introspection used by `supernet-bench list methods -v` and the manifest ------------------
    @classmethod
    def default_params(cls) -> dict[str, Any]:
        """Keyword hyperparameters of every constructor in the class hierarchy, subclasses last.

        A subclass declares only what it adds or re-defaults and passes `**params` on, so a method
        built on SPOS does not repeat SPOS's optimizer hyperparameters.
        """
        params: dict[str, Any] = {}
        for klass in reversed(cls.__mro__):
            init = vars(klass).get("__init__")
            if init is None or klass is object:
                continue
            for k, p in inspect.signature(init).parameters.items():
                if k in ("self", "policies") or p.kind in (p.VAR_KEYWORD, p.VAR_POSITIONAL) or p.default is p.empty:
                    continue
                params[k] = p.default
        return params

    def get_params(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.default_params()}


def mask_with(mask: OpMask, fixed: dict[int, int]) -> OpMask:
    """The mask with some slots pinned to one op."""
    return tuple(frozenset([fixed[i]]) if i in fixed else m for i, m in enumerate(mask))
