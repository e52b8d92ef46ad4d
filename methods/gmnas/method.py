"""GM-NAS: few-shot NAS with gradient-matching splits (`gmnas`; docs/methods.md#gm-nas, #code-vs-paper).

Pipeline (paper Alg. 1-2, RSPS/SPOS base):
1. For t = 1..T: warm up every current (sub-)supernet with SPOS inside its op mask, then split each:
   for every unsplit edge e, over M mini-batches draw a random base path inside the mask, put each
   op o of e on it in turn, forward+backward one batch and collect the gradient of the shared
   weights w_s (every supernet parameter except edge e's ops and the stem/head/classifier);
   cosine distances between the ops' gradients give a matrix; a brute-force balanced min-cut
   (methods/gmnas/mincut.py) splits e's ops into B groups; the edge with the largest cut (sum of
   distances across it) is split. Children inherit weights and optimizer state.
2. After the last split the leaves are re-initialised (fresh weights and optimizer) and trained
   with SPOS inside their masks; an architecture is scored by the one leaf whose mask holds it
   (before that, by the current supernet that holds it).

Budget rule (all in subnet passes; P = the run's budget):
- every split scores every unsplit edge on M = `gm_batches` mini-batches (default 100, the reference
  code's `repeat`), whatever the budget: with E = passes one GM batch costs summed over every edge of
  every split (NB201 full, B=2, T=2: 6*5 + 2*5*5 = 80), matching costs M*E passes (paper NB201 run:
  8000 of ~135k). A budget that cannot pay for it is refused; a profile lowers `gm_batches` explicitly
  (the manifest records M). Deciding splits from 1-2 batches makes them close to random.
- `gm_budget_fraction` (off by default) is the opt-in cap for tiny budgets (smoke, tests):
  M = min(gm_batches, floor(gm_budget_fraction * P / E)); if even M = 1 does not fit, M = 1 and each
  split scores only a random subset of its candidate edges (at least one) sized to fit.
- the rest R = P - (planned GM passes) is shared like the paper's epochs: each supernet of a
  splitting level trains `warmup_share` units and each leaf `leaf_share` units
  (20 and 50: 20 + 2*20 + 4*50 = 260 units on NB201), i.e. warm-up passes = R*20/260 per supernet.
  Supernets of one level and the leaves are trained round-robin, so every checkpoint sees them
  equally trained; any rounding remainder goes to the leaves.
- every gradient-matching forward+backward is one pass, returned by `step()`.

`gm_average`: "distance" (the code: average the per-batch cosine-distance matrices) or "gradient"
(paper Alg. 2: average each op's gradient over the M batches, then one cosine distance).
`leaf_lr_horizon`: "leaf" (default: the restarted leaves' cosine schedule spans their own passes and
ends at lr_min) or "lineage" (the code's quirk, T_max = the whole per-lineage schedule, so the LR
stops around mid-way). Warm-up levels share one cosine schedule per lineage (T*warm-up + leaf
passes), inherited by the children with the optimizer state.
`restart=False` keeps the last split's inherited weights (the paper's no-restart ablation). Restarted
leaves are initialised under a seed drawn from the method's RNG, so they depend on the run's seed
only. Base paths are drawn uniformly in the mask and, on spaces that can tell (`is_connected`: NB201), redrawn
until the output is reachable from the input, as the code's check_connect does; the op then put on edge e
may still cut the path (the code does not retry for that either).
Optimizer defaults are SPOS's (lr 0.025 -> 0, wd 5e-4, nesterov, clip 5), as Few-Shot's; the code's RSPS
values (lr_min 0.001, weight_decay 1e-4) are settable.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from supernet_bench.core.errors import BenchError, BudgetTooSmall
from supernet_bench.methods import register_method
from supernet_bench.methods.base import Lineage, ScoringModel, TrainContext
from supernet_bench.methods.gmnas.mincut import balanced_mincut
from supernet_bench.methods.single_path import SPOS, SinglePathTrainer
from supernet_bench.spaces.base import Arch, OpMask
from supernet_bench.spaces.capabilities import IOModules, OwnSharedParams

GM_AVERAGES = ("distance", "gradient")
LEAF_LR_HORIZONS = ("leaf", "lineage")
MAX_BASE_DRAWS = 1000
IO_MODULES = ("stem", "head", "classifier")
"""Top-level supernet modules outside w_s (a supernet may name its own in `io_modules`)."""


def cosine_distances(vectors: list[torch.Tensor]) -> torch.Tensor:
    """1 - cos between every pair of flat vectors (a zero vector has cosine 0 with everything)."""
    g = torch.stack([v.double() for v in vectors])
    norms = g.norm(dim=1)
    cos = (g @ g.T) / (norms[:, None] * norms[None, :]).clamp_min(1e-30)
    d = 1.0 - cos
    d.fill_diagonal_(0.0)
    return d


class GradientMatch:
    """Accumulates one edge's gradient-matching statistics over mini-batches, in either order."""

    def __init__(self, n_ops: int, average: str):
        if average not in GM_AVERAGES:
            raise BenchError(f"gm_average must be one of {GM_AVERAGES}, got {average!r}")
        self.n_ops, self.average, self.count = n_ops, average, 0
        self.total: torch.Tensor | list[torch.Tensor] | None = None

    def add(self, grads: list[torch.Tensor]) -> None:
        if len(grads) != self.n_ops:
            raise ValueError(f"expected {self.n_ops} gradients, got {len(grads)}")
        # the sums stay on the gradients' device (a resumed total comes back on the CPU: moved once)
        if self.average == "distance":
            d = cosine_distances(grads)
            self.total = d if self.total is None else self.total.to(d.device) + d
        else:
            g = [v.detach().double().clone() for v in grads]
            self.total = g if self.total is None else [a.to(b.device) + b for a, b in zip(self.total, g)]
        self.count += 1

    def distances(self) -> np.ndarray:
        if self.count == 0:
            raise ValueError("no mini-batch was added")
        if self.average == "distance":
            return (self.total / self.count).cpu().numpy()  # once per scored edge, not per batch
        return cosine_distances([t / self.count for t in self.total]).cpu().numpy()

    def state_dict(self) -> dict[str, Any]:
        return {"count": self.count, "total": self.total}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.count, self.total = state["count"], state["total"]


@dataclass
class _Node:
    """One (sub-)supernet: its op mask, its trainer and what it has been trained at this level."""

    name: str
    mask: OpMask
    trainer: SinglePathTrainer
    horizon: int  # the trainer's total_passes (its LR schedule length)
    trained: int = 0
    gm_spent: int = 0  # gradient-matching passes spent on it
    base_passes: int = 0  # every ancestor's training and matching passes
    base_weight_passes: int = 0  # ancestors' training passes its weights carry (0 after a restart)


@register_method("gmnas")
class GMNAS(SPOS):
    """Gradient-matching splits of an SPOS supernet into B^T sub-supernets, then restarted leaves."""

    accepts_policies = ()

    def __init__(
        self,
        splits: int = 2,
        branches: int = 2,
        warmup_share: float = 20.0,
        leaf_share: float = 50.0,
        gm_batches: int = 100,
        gm_budget_fraction: float | None = None,
        gm_average: str = "distance",
        restart: bool = True,
        leaf_lr_horizon: str = "leaf",
        **params,
    ):
        super().__init__(**params)
        self.splits, self.branches = splits, branches
        self.warmup_share, self.leaf_share = warmup_share, leaf_share
        self.gm_batches, self.gm_budget_fraction, self.gm_average = gm_batches, gm_budget_fraction, gm_average
        self.restart, self.leaf_lr_horizon = restart, leaf_lr_horizon

    # --- setup and the budget plan -----------------------------------------------------------------------
    def _validate(self, ctx: TrainContext) -> None:
        if self.splits < 1 or self.branches < 2:
            raise BenchError(f"gmnas: need splits >= 1 and branches >= 2, got {self.splits}, {self.branches}")
        if self.warmup_share < 0 or self.leaf_share <= 0:
            raise BenchError("gmnas: warmup_share must be >= 0 and leaf_share > 0")
        if self.gm_batches < 1:
            raise BenchError(f"gmnas: gm_batches must be >= 1, got {self.gm_batches}")
        fraction = self.gm_budget_fraction
        if fraction is not None and (not isinstance(fraction, (int, float)) or not 0.0 <= fraction < 1.0):
            raise BenchError(f"gmnas: gm_budget_fraction must be in [0, 1) or unset, got {self.gm_budget_fraction}")
        if self.gm_average not in GM_AVERAGES:
            raise BenchError(f"gmnas: gm_average must be one of {GM_AVERAGES}, got {self.gm_average!r}")
        if self.leaf_lr_horizon not in LEAF_LR_HORIZONS:
            raise BenchError(f"gmnas: leaf_lr_horizon must be one of {LEAF_LR_HORIZONS}")
        splittable = [i for i, m in enumerate(ctx.space.allowed) if len(m) >= self.branches]
        if len(splittable) < self.splits:
            raise BenchError(
                f"gmnas: {ctx.space.label} has {len(splittable)} slots with >= {self.branches} ops, "
                f"cannot split {self.splits} times"
            )

    def _plan(self, ctx: TrainContext) -> dict[str, Any]:
        """M, edges scored per split, warm-up and leaf passes (see the module docstring)."""
        B, T, P = self.branches, self.splits, ctx.total_passes
        counts = sorted((len(m) for m in ctx.space.allowed if len(m) >= B), reverse=True)

        def cost(k: int) -> int:  # passes of one GM batch on k edges of one supernet (upper bound)
            return sum(counts[:k])

        full_edges = [len(counts) - t for t in range(T)]
        per_batch = sum(B**t * cost(full_edges[t]) for t in range(T))
        m, edges = self.gm_batches, full_edges
        if self.gm_budget_fraction is not None:
            cap = self.gm_budget_fraction * P
            m = min(self.gm_batches, math.floor(cap / per_batch))
            if m < 1:
                m, share = 1, cap / per_batch
                edges = [max(1, math.floor(share * k)) for k in full_edges]
        gm_passes = m * sum(B**t * cost(edges[t]) for t in range(T))
        if self.gm_budget_fraction is None and gm_passes >= P:
            raise BudgetTooSmall(
                f"gmnas: {m} gradient-matching batches per edge cost {gm_passes} passes ({per_batch} per batch), "
                f"not less than the run's budget of {P}; lower methods.gmnas.gm_batches"
            )
        train = max(0, P - gm_passes)
        units = self.warmup_share * sum(B**t for t in range(T)) + self.leaf_share * B**T
        warm = math.floor(train * self.warmup_share / units)
        leaf = math.floor(train * self.leaf_share / units)
        return {
            "gm_batches": m,
            "gm_batches_requested": self.gm_batches,
            "gm_passes_per_batch": per_batch,
            "edges_scored_per_split": edges,
            "gm_passes_planned": gm_passes,
            "gm_budget_fraction": self.gm_budget_fraction,
            "warmup_passes_per_supernet": warm,
            "leaf_passes_per_leaf": leaf,
            "warmup_fraction_per_supernet": self.warmup_share / units,
            "leaf_fraction_per_leaf": self.leaf_share / units,
            "lineage_passes": T * warm + leaf,
            "total_passes": P,
        }

    def setup(self, ctx: TrainContext) -> None:
        self._validate(ctx)
        self.ctx = ctx
        self.plan = self._plan(ctx)
        self.lineage = max(1, self.plan["lineage_passes"])
        self.level = 0  # splitting level; == splits once the leaves train
        self.nodes = [self._node("0", ctx.space.allowed, ctx.build_supernet(), self.lineage)]
        self.pending: list[_Node] = []  # children made at this level
        self.gm_node = 0  # index of the node being scored at this level
        self.gm: dict[str, Any] | None = None  # the running split evaluation of nodes[gm_node]
        self.split_log: list[dict[str, Any]] = []

    def _fresh_supernet(self, seed: int | None = None):
        """A newly initialised supernet seeded from the method's own RNG, leaving torch's global RNG alone
        (so a restart depends on the run's seed only, not on what else used torch's RNG)."""
        if seed is None:
            seed = int(self.ctx.rng.integers(2**62))
        device = self.ctx.device
        with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):  # manual_seed seeds CUDA too
            torch.manual_seed(seed)
            return self.ctx.build_supernet()

    def _node(self, name: str, mask: OpMask, net, horizon: int) -> _Node:
        return _Node(name, tuple(frozenset(m) for m in mask), self.make_trainer(net, mask, horizon), horizon)

    @property
    def phase(self) -> str:
        if self.level >= self.splits:
            return "leaves"
        if (
            any(n.trained < self.plan["warmup_passes_per_supernet"] for n in self.nodes)
            and self.gm_node == 0
            and self.gm is None
        ):
            return "warmup"
        return "split"

    # --- one step -------------------------------------------------------------------------------------------
    def step(self) -> int:
        phase = self.phase
        if phase == "split":
            return self._gm_batch()
        node = min(self.nodes, key=lambda n: n.trained)  # round-robin: least-trained first, ties by order
        x, y = self.ctx.next_batch()
        spent = node.trainer.step(x, y)
        node.trained += spent
        return spent

    # --- gradient matching ---------------------------------------------------------------------------------
    def _candidate_edges(self, node: _Node) -> list[int]:
        free = [
            i for i, m in enumerate(node.mask) if len(m) >= self.branches and m == frozenset(self.ctx.space.allowed[i])
        ]
        k = self.plan["edges_scored_per_split"][self.level]
        if k < len(free):
            free = sorted(int(i) for i in self.ctx.rng.choice(free, size=k, replace=False))
        return free

    def shared_params(self, node: _Node, edge: int) -> list[torch.nn.Parameter]:
        """w_s for `edge`: all parameters except that edge's ops (every layer) and the I/O modules.

        Ops outside the node's mask never get a gradient and are left out (zeros change no cosine).
        A supernet whose weights are not owned per (slot, op) names its own w_s (`shared_params_for`;
        NDS: channel-sliced blocks shared by every choice).
        """
        net = node.trainer.supernet
        if isinstance(net, OwnSharedParams):
            return net.shared_params_for(edge, node.mask)
        weights = net.weights
        io = net.io_modules if isinstance(net, IOModules) else IO_MODULES
        skip = {id(p) for name in io if hasattr(net, name) for p in getattr(net, name).parameters()}
        skip |= {id(p) for p in weights.parameters()}
        keep = []
        for layer in range(weights.num_layers):
            for slot in range(weights.num_slots):
                if slot == edge:
                    continue
                for op in sorted(node.mask[slot]):
                    keep.extend(weights.module(layer, slot, op).parameters())
        keep.extend(p for p in net.parameters() if id(p) not in skip)
        return keep

    def _base_path(self, mask: OpMask) -> list[int]:
        """A random path inside `mask`, redrawn until connected where the space can tell (the code's check_connect)."""
        space = self.ctx.space
        connected = getattr(space, "is_connected", None)
        for _ in range(MAX_BASE_DRAWS):
            arch = space.sample(self.ctx.rng, mask)
            if connected is None or connected(arch):
                return list(arch)
        raise BenchError(f"gmnas: no connected base path in {MAX_BASE_DRAWS} draws from {self._mask_names(mask)}")

    def _gm_batch(self) -> int:
        node = self.nodes[self.gm_node]
        if self.gm is None:
            edges = self._candidate_edges(node)
            self.gm = {"edges": edges, "edge_i": 0, "batch_i": 0, "acc": None, "distances": []}
        gm = self.gm
        edge = gm["edges"][gm["edge_i"]]
        ops = sorted(node.mask[edge])
        if gm["acc"] is None:
            gm["acc"] = GradientMatch(len(ops), self.gm_average)
        net = node.trainer.supernet
        params = self.shared_params(node, edge)
        x, y = self.ctx.next_batch()
        base = self._base_path(node.mask)
        net.train()
        grads = []
        for op in ops:
            base[edge] = op
            loss = F.cross_entropy(net(x, tuple(base)), y)
            g = torch.autograd.grad(loss, params, allow_unused=True)
            grads.append(
                torch.cat([(gi if gi is not None else torch.zeros_like(p)).reshape(-1) for gi, p in zip(g, params)])
            )
        gm["acc"].add(grads)
        node.gm_spent += len(ops)
        gm["batch_i"] += 1
        if gm["batch_i"] == self.plan["gm_batches"]:
            gm["distances"].append(gm["acc"].distances())
            gm["acc"], gm["batch_i"] = None, 0
            gm["edge_i"] += 1
            if gm["edge_i"] == len(gm["edges"]):
                self._split(node)
        return len(ops)

    def _split(self, node: _Node) -> None:
        gm, space = self.gm, self.ctx.space
        scores = []
        for edge, dist in zip(gm["edges"], gm["distances"]):
            ops = sorted(node.mask[edge])
            cut = balanced_mincut(dist, self.branches, kind="distance")
            scores.append((edge, ops, cut, dist))
        edge, ops, cut, _ = max(scores, key=lambda s: s[2].cut)  # first of equals wins
        groups = [tuple(ops[i] for i in g) for g in cut.groups]
        final = self.level == self.splits - 1
        for c, group in enumerate(groups):
            mask = tuple(frozenset(group) if i == edge else m for i, m in enumerate(node.mask))
            name = f"{node.name}.{c}"
            if final and self.restart:
                horizon = self.plan["leaf_passes_per_leaf"] if self.leaf_lr_horizon == "leaf" else self.lineage
                child = self._node(name, mask, self._fresh_supernet(), max(1, horizon))
            else:
                child = self._node(name, mask, copy.deepcopy(node.trainer.supernet), node.horizon)
                child.trainer.optimizers[0].load_state_dict(copy.deepcopy(node.trainer.optimizers[0].state_dict()))
                child.trainer.t = node.trainer.t
            child.base_passes = node.base_passes + node.trained + node.gm_spent
            child.base_weight_passes = 0 if final and self.restart else node.base_weight_passes + node.trained
            self.pending.append(child)
        slot_name = space.slots[edge].name
        self.split_log.append(
            {
                "level": self.level,
                "supernet": node.name,
                "edge": slot_name,
                "edge_index": edge,
                "groups": [[space.slots[edge].ops[o] for o in g] for g in groups],
                "cut": cut.cut,
                "gm_batches": self.plan["gm_batches"],
                "scores": {
                    space.slots[e].name: {
                        "ops": [space.slots[e].ops[o] for o in o_list],
                        "cut": c.cut,
                        "groups": [[space.slots[e].ops[o_list[i]] for i in g] for g in c.groups],
                        "distances": np.round(d, 6).tolist(),
                    }
                    for e, o_list, c, d in scores
                },
            }
        )
        self.gm = None
        self.gm_node += 1
        if self.gm_node == len(self.nodes):
            self.nodes, self.pending, self.gm_node = self.pending, [], 0
            self.level += 1

    # --- scoring ---------------------------------------------------------------------------------------------
    def frontier(self) -> list[_Node]:
        """The supernets that currently own the architectures (split ones replaced by their children)."""
        return self.pending + self.nodes[self.gm_node :]

    def node_of(self, arch: Arch) -> _Node:
        for node in self.frontier():
            if self.ctx.space.contains(arch, node.mask):
                return node
        raise BenchError(f"gmnas: no sub-supernet contains architecture {arch!r}")

    def scoring_model(self, arch: Arch) -> ScoringModel:
        net = self.node_of(arch).trainer.supernet
        return ScoringModel(net, lambda x: net(x, arch))

    # --- records ---------------------------------------------------------------------------------------------
    def _mask_names(self, mask: OpMask) -> dict[str, list[str]]:
        slots = self.ctx.space.slots
        return {s.name: [s.ops[o] for o in sorted(m)] for s, m in zip(slots, mask)}

    def decisions(self) -> dict[str, Any]:
        return {
            "plan": dict(self.plan),
            "gm_average": self.gm_average,
            "restart": self.restart,
            "splits": list(self.split_log),
            "supernets": [{"name": n.name, "mask": self._mask_names(n.mask)} for n in self.frontier()],
        }

    def lineages(self) -> list[Lineage]:
        out = []
        for n in self.frontier():
            own = n.trained + n.gm_spent
            out.append(Lineage(n.name, n.mask, own, n.base_passes + own, n.base_weight_passes + n.trained))
        return out

    def diagnostics(self) -> dict[str, float]:
        return {"level": float(self.level), "supernets": float(len(self.frontier()))}

    # --- resume ----------------------------------------------------------------------------------------------
    @staticmethod
    def _node_state(n: _Node) -> dict[str, Any]:
        return {
            "name": n.name,
            "mask": [sorted(m) for m in n.mask],
            "trainer": n.trainer.state_dict(),
            "horizon": n.horizon,
            "trained": n.trained,
            "gm_spent": n.gm_spent,
            "base_passes": n.base_passes,
            "base_weight_passes": n.base_weight_passes,
        }

    def _load_node(self, s: dict[str, Any]) -> _Node:
        net = self._fresh_supernet(seed=0)  # its weights are overwritten below
        node = self._node(s["name"], tuple(frozenset(m) for m in s["mask"]), net, s["horizon"])
        node.trainer.load_state_dict(s["trainer"])
        node.trained, node.gm_spent = s["trained"], s["gm_spent"]
        node.base_passes, node.base_weight_passes = s["base_passes"], s["base_weight_passes"]
        return node

    def state_dict(self) -> dict[str, Any]:
        gm = None
        if self.gm is not None:
            gm = {**self.gm, "acc": None if self.gm["acc"] is None else self.gm["acc"].state_dict()}
        return {
            "level": self.level,
            "gm_node": self.gm_node,
            "nodes": [self._node_state(n) for n in self.nodes],
            "pending": [self._node_state(n) for n in self.pending],
            "gm": gm,
            "split_log": copy.deepcopy(self.split_log),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.level, self.gm_node = state["level"], state["gm_node"]
        self.nodes = [self._load_node(s) for s in state["nodes"]]
        self.pending = [self._load_node(s) for s in state["pending"]]
        self.split_log = copy.deepcopy(state["split_log"])
        self.gm = None
        if state["gm"] is not None:
            gm = dict(state["gm"])
            if gm["acc"] is not None:
                acc = GradientMatch(len(self.nodes[self.gm_node].mask[gm["edges"][gm["edge_i"]]]), self.gm_average)
                acc.load_state_dict(gm["acc"])
                gm["acc"] = acc
            self.gm = gm
