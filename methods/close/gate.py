"""CLOSE's GATE: a GATES architecture embedder over the cell DAG plus a node-level MLP (docs/methods.md#glow-and-gate).

Written against a generic cell DAG (node count, input nodes, one (from, to) edge per slot, op count,
the `none` op, number of cell groups); NB201 gives one group of 4 nodes and its EDGES, DARTS/NB301 two
groups (normal, reduce) of 6 nodes with 2 input nodes and 14 edges each (slots: group-major). The GATES
update follows the paper's Eq. A10 and aw_nas DenseGraphSimpleOpEdgeFlow: S = X W (no bias);
out_j = sum over edges i->j with op != none of sigmoid(OpEmb(op) W_o) * S_i, plus S_j for input nodes only
("residual_only": 1 for NB201, 2 for the NB301 config). Cell groups are embedded as disjoint graphs by
the same layers, with their own input-node embeddings, as aw_nas's NB301 embedder (cellss-flow) does;
the gate MLP is shared by the groups (aw_nas CloseNet.node_level_gate). Messages only follow edges, so
node embeddings are permutation-equivariant: isomorphic cells get the same per-edge logits up to float
summation order. Non-input node embeddings start at zero and stay fixed (aw_nas's cellss-flow makes
them learnable from a zero init; with one shared x_hidden bias the difference is a per-group offset).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F
from supernet_bench.spaces.base import SearchSpace
from supernet_bench.spaces.capabilities import CellDAGSpace, CellEdges, CellGroups, CellInputs


@dataclass(frozen=True)
class CellDAG:
    """A cell as a DAG: edge k = slot g * len(edges) + k of cell group g, from node edges[k][0] to edges[k][1]."""

    num_nodes: int
    edges: tuple[tuple[int, int], ...]  # (from, to) per edge of one cell group
    num_ops: int
    none_op: int | None  # op index that removes the edge (NB201 `none`), or None
    num_input_nodes: int = 1
    num_groups: int = 1  # cell types, each with its own slots (DARTS: normal, reduce)

    @property
    def num_slots(self) -> int:
        return self.num_groups * len(self.edges)


def cell_dag(space: SearchSpace) -> CellDAG:
    """The space's `cell_dag()` if it has one, else derived from `space.edges` ((to, from) pairs of one cell),
    `space.ops`, and optionally `space.num_input_nodes` (default 1) and `space.cell_groups` (default one cell)."""
    if isinstance(space, CellDAGSpace):
        return space.cell_dag()
    if not isinstance(space, CellEdges):
        raise ValueError(f"space {space.label} describes no cell DAG (needs `edges` and `ops`, or `cell_dag()`)")
    edges = tuple((int(frm), int(to)) for to, frm in space.edges)
    ops = tuple(space.ops)
    return CellDAG(
        num_nodes=1 + max(max(e) for e in edges),
        edges=edges,
        num_ops=len(ops),
        none_op=ops.index("none") if "none" in ops else None,
        num_input_nodes=int(space.num_input_nodes) if isinstance(space, CellInputs) else 1,
        num_groups=len(space.cell_groups) if isinstance(space, CellGroups) else 1,
    )


class FlowLayer(nn.Module):
    """One GATES flow layer: op-gated sum of transformed predecessor embeddings."""

    def __init__(self, in_dim: int, out_dim: int, op_dim: int):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(in_dim, out_dim))
        self.op_attention = nn.Linear(op_dim, out_dim)  # own per layer (share_op_attention false)
        bound = 1.0 / math.sqrt(out_dim)  # aw_nas reset_parameters
        nn.init.uniform_(self.weight, -bound, bound)

    def forward(self, x, op_emb, live, frm, to, is_input):
        s = x @ self.weight  # (nodes, out)
        attn = torch.sigmoid(self.op_attention(op_emb)) * live.unsqueeze(-1)  # (edges, out)
        out = torch.zeros_like(s).index_add(0, to, (attn * s[frm]).to(s.dtype))  # one dtype under bf16 autocast
        return out + s * is_input  # residual for input nodes only (adds exact zeros elsewhere)


class GatesEmbedder(nn.Module):
    """Node embeddings (num_groups * num_nodes, gcn_dims[-1]) of one architecture, group-major."""

    def __init__(
        self,
        dag: CellDAG,
        op_dim: int = 48,
        node_dim: int = 48,
        hid_dim: int = 96,
        gcn_dims: Sequence[int] = (128,) * 5,
    ):
        super().__init__()
        self.dag = dag
        g, n, k = dag.num_groups, dag.num_nodes, dag.num_input_nodes
        self.input_node_emb = nn.Embedding(g * k, node_dim)  # learned, per group
        self.register_buffer("other_node_emb", torch.zeros(g * (n - k), node_dim))
        self.op_emb = nn.Embedding(dag.num_ops, op_dim)
        self.x_hidden = nn.Linear(node_dim, hid_dim)
        dims = [hid_dim, *gcn_dims]
        self.layers = nn.ModuleList(FlowLayer(a, b, op_dim) for a, b in zip(dims[:-1], dims[1:], strict=True))
        # group g's copy of the cell occupies nodes g*n .. g*n + n - 1 (a disjoint union of the cells)
        frm = [gi * n + e[0] for gi in range(g) for e in dag.edges]
        to = [gi * n + e[1] for gi in range(g) for e in dag.edges]
        self.register_buffer("edge_from", torch.tensor(frm, dtype=torch.long), persistent=False)
        self.register_buffer("edge_to", torch.tensor(to, dtype=torch.long), persistent=False)
        is_input = torch.tensor([float(i % n < k) for i in range(g * n)]).unsqueeze(-1)
        self.register_buffer("is_input", is_input, persistent=False)
        self.out_dim = dims[-1]

    def initial_nodes(self) -> torch.Tensor:
        """(num_groups * num_nodes, node_dim): each group's input-node embeddings, then its zero rows."""
        g, n, k = self.dag.num_groups, self.dag.num_nodes, self.dag.num_input_nodes
        inputs = self.input_node_emb.weight.view(g, k, -1)
        others = self.other_node_emb.view(g, n - k, -1)
        return torch.cat([inputs, others], dim=1).reshape(g * n, -1)

    def forward(self, arch: Sequence[int]) -> torch.Tensor:
        ops = torch.as_tensor(tuple(arch), dtype=torch.long, device=self.edge_from.device)
        none = self.dag.none_op
        live = (ops != none).to(self.x_hidden.weight.dtype) if none is not None else torch.ones_like(ops).float()
        op_emb = self.op_emb(ops)
        y = self.x_hidden(self.initial_nodes())
        for i, layer in enumerate(self.layers):
            y = layer(y, op_emb, live, self.edge_from, self.edge_to, self.is_input)
            if i < len(self.layers) - 1:
                y = F.relu(y)
        return y


class Gate(nn.Module):
    """GATES embedder + node-level MLP: per-edge block logits, truncated to the active blocks.

    MLP(concat(E_from, E_to)) = [Linear, ReLU, Dropout] x len(mlp_dims), then Linear(max_blocks).
    """

    def __init__(
        self,
        dag: CellDAG,
        max_blocks: int,
        op_dim: int = 48,
        node_dim: int = 48,
        hid_dim: int = 96,
        gcn_dims: Sequence[int] = (128,) * 5,
        mlp_dims: Sequence[int] = (200, 200, 200),
        mlp_dropout: float = 0.1,
    ):
        super().__init__()
        self.dag = dag
        self.max_blocks = max_blocks
        self.embedder = GatesEmbedder(dag, op_dim, node_dim, hid_dim, gcn_dims)
        layers: list[nn.Module] = []
        d = 2 * self.embedder.out_dim
        for width in mlp_dims:
            layers += [nn.Linear(d, width), nn.ReLU(), nn.Dropout(mlp_dropout)]
            d = width
        layers.append(nn.Linear(d, max_blocks))
        self.mlp = nn.Sequential(*layers)

    @property
    def last_layer(self) -> nn.Linear:
        return self.mlp[-1]

    def logits(self, arch: Sequence[int], num_active: int) -> torch.Tensor:
        """(num_slots, num_active) logits lambda of Eq. 4, one row per slot (edge of its cell group)."""
        e = self.embedder(arch)
        pair = torch.cat([e[self.embedder.edge_from], e[self.embedder.edge_to]], dim=-1)
        return self.mlp(pair)[:, :num_active]

    @torch.no_grad()
    def inherit_unit(self, dst: int, src: int, mode: str = "copy") -> None:
        """WIT for the new MLP output unit: row/bias dst <- src ("copy") or dst + src ("additive")."""
        for p in (self.last_layer.weight, self.last_layer.bias):
            if mode == "copy":
                p[dst].copy_(p[src])
            elif mode == "additive":
                p[dst].add_(p[src])
            else:
                raise ValueError(f"unknown WIT mode {mode!r}")


def gumbel_straight_through(
    logits: torch.Tensor, tau: float, generator: torch.Generator | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """(ST weights, block index) per row: forward = one-hot argmax of (lambda+g), backward = d softmax((lambda+g)/tau).

    Eqs. 7-8 of the paper. `hard + (soft - soft.detach())` keeps the forward value an exact one-hot.
    """
    u = torch.rand(logits.shape, generator=generator, dtype=logits.dtype, device=logits.device)
    g = -torch.log((-torch.log(u.clamp_min(1e-20))).clamp_min(1e-20))  # Gumbel(0, 1)
    soft = F.softmax((logits + g) / tau, dim=-1)
    index = soft.argmax(dim=-1)
    hard = F.one_hot(index, logits.shape[-1]).to(soft.dtype)
    return hard + (soft - soft.detach()), index
