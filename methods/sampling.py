"""How subnets are drawn for one training step: uniform single path (SPOS) or strict fairness (FairNAS)."""

from __future__ import annotations

import numpy as np
from supernet_bench.spaces.base import Arch, OpMask, SearchSpace


def uniform_paths(space: SearchSpace, rng: np.random.Generator, mask: OpMask) -> list[Arch]:
    """One architecture, every slot uniform over its allowed ops (SPOS, docs/methods.md#spos)."""
    return [space.sample(rng, mask)]


def fair_paths(space: SearchSpace, rng: np.random.Generator, mask: OpMask) -> list[Arch]:
    """m architectures that use every allowed op of every slot exactly once (FairNAS, docs/methods.md#fairnas).

    Each slot gets an independent random permutation of its ops; architecture k takes op pi_s(k)
    on slot s. A slot pinned to one op (MS cluster, Few-Shot split) repeats it in all m.
    """
    m = max(len(ops) for ops in mask)
    columns = []
    for ops in mask:
        ops = sorted(ops)
        if len(ops) == 1:
            columns.append(ops * m)
        elif len(ops) == m:
            columns.append([ops[i] for i in rng.permutation(m)])
        else:  # unequal op counts: each op at least once, the rest uniform
            extra = list(rng.choice(ops, size=m - len(ops)))
            columns.append([(ops + extra)[i] for i in rng.permutation(m)])
    return [tuple(int(col[k]) for col in columns) for k in range(m)]


SAMPLERS = {"uniform": uniform_paths, "fair": fair_paths}
