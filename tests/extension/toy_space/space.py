"""`toy-chain`: three layers on flattened images, each `skip`, `linear` or `tanh` (27 architectures).

Its own ground truth is a formula, so no data files are needed. It declares sequential layers
(spaces/capabilities.SequentialLayers), the capability the toy method requires.
"""

from __future__ import annotations

import torch
import torch.nn as nn
from supernet_bench.core.errors import BenchError
from supernet_bench.core.ground_truth import GroundTruth
from supernet_bench.spaces import register_space
from supernet_bench.spaces.base import Arch, OpMask, SearchSpace, Slot, build_checked

OPS = ("skip", "linear", "tanh")
NUM_LAYERS = 3


class ToySupernet(nn.Module):
    """Flatten, project to `hidden`, then one op per layer (each weighted op owns its Linear), then classify."""

    def __init__(self, num_classes: int, weights_factory=None, hidden: int = 8, resolution: int = 8):
        super().__init__()
        if weights_factory is not None:
            raise BenchError("toy-chain: its supernet takes no weights_factory")
        self.stem = nn.Linear(3 * resolution * resolution, hidden)
        self.ops = nn.ModuleList(nn.ModuleList(nn.Linear(hidden, hidden) for _ in OPS[1:]) for _ in range(NUM_LAYERS))
        self.bn = nn.BatchNorm1d(hidden)
        self.classifier = nn.Linear(hidden, num_classes)

    def forward(self, x: torch.Tensor, arch: Arch) -> torch.Tensor:
        h = torch.relu(self.stem(x.flatten(1)))
        for layer, op in enumerate(arch):
            if op == 1:
                h = torch.relu(self.ops[layer][0](h))
            elif op == 2:
                h = torch.tanh(self.ops[layer][1](h))
        return self.classifier(self.bn(h))


@register_space("toy-chain")
class ToyChain(SearchSpace):
    name = "toy-chain"
    slots = tuple(Slot(f"layer{i + 1}", OPS) for i in range(NUM_LAYERS))
    sequential = True

    def __init__(self, subset: str = "full"):
        if subset not in self.subsets:
            raise BenchError(f"toy-chain has no subset {subset!r}")
        self.subset = subset

    @property
    def allowed(self) -> OpMask:
        return tuple(frozenset(range(len(OPS))) for _ in range(NUM_LAYERS))

    def stage_slices(self):
        return (range(NUM_LAYERS),)

    def encode(self, arch: Arch) -> str:
        return "".join(str(op) for op in arch)

    def decode(self, text: str) -> Arch:
        if len(text) != NUM_LAYERS or any(c not in "012" for c in text):
            raise BenchError(f"toy-chain arch must be {NUM_LAYERS} digits 0-2, got {text!r}")
        return tuple(int(c) for c in text)

    def complexity(self, arch: Arch) -> float:
        return 100.0 + sum(72.0 for op in arch if op)

    def build_supernet(self, num_classes: int, weights_factory=None, **size):
        return build_checked(self.label, ToySupernet, num_classes, weights_factory, size)

    def gt_columns(self):
        return ("score",)

    def ground_truth(self, column: str, data_dir) -> GroundTruth:
        if column != "score":
            raise BenchError(f"toy-chain has one GT column, 'score', not {column!r}")
        values = {self.encode(a): float(sum(a) + 0.1 * a[0]) for a in self.enumerate()}
        return GroundTruth(space=self.name, column=column, values=values, source="formula")
