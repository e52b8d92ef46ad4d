"""Few-Shot NAS (docs/methods.md#few-shot-nas): split the supernet on one slot into one sub-supernet per op on it.

Sub-supernet b trains (and scores) exactly the architectures whose split-slot op is the b-th allowed
op; it has its own weights, optimizer(s) and schedule. Two initialisations:

- `init="inherit"` (official code): a one-shot SPOS supernet trains for the first `oneshot_fraction`
  of the budget (official schedule: 600 of 600 + 5x300 epochs), then every sub-supernet starts from a
  copy of its whole state dict (so the split op keeps its one-shot weights, the official "weight
  transfer") with a fresh optimizer and LR schedule.
- `init="scratch"` (DYNAS code): sub-supernets start from their own random init; no one-shot phase.

The rest of the budget is split equally. Sub-supernets are trained round-robin, one step each, so an
intermediate checkpoint scores every sub-supernet at the same fraction of its own training (both
codebases train them one after the other, which would leave the last ones untrained at early
checkpoints). Each sub-supernet's LR schedule, and CaLR's t/T, spans its own share of passes.

Policies (`fewshot+calr+ms`): every trainer, the one-shot one included, is SPOS+CaLR+MS. The MS slot is
drawn once per run among the slots other than the split slot and shared by all trainers (DYNAS draws
one MS edge per run). As in DYNAS, all cells share one architecture per step (the official code draws
one per cell), and the optimizer defaults are SPOS's (DYNAS recipe; the official code used wd 1e-4 and
a cosine floor of 0.001, both settable).
"""

from __future__ import annotations

import math
from typing import Any

from supernet_bench.core.errors import BenchError
from supernet_bench.methods import register_method
from supernet_bench.methods.base import Lineage, ScoringModel, TrainContext, mask_with
from supernet_bench.methods.single_path import SPOS, SinglePathTrainer
from supernet_bench.spaces.base import Arch

INITS = ("inherit", "scratch")


@register_method("fewshot")
class FewShot(SPOS):
    """Few-Shot NAS: one sub-supernet per op of a split slot (after a one-shot SPOS phase, by default).

    split_slot: the slot index to split on (0 = NB201 edge 1<-0, as both codebases);
    init: "inherit" or "scratch"; oneshot_fraction: budget share of the one-shot phase (inherit only)."""

    def __init__(
        self,
        split_slot: int = 0,
        init: str = "inherit",
        oneshot_fraction: float = 600 / 2100,
        **params,
    ):
        super().__init__(**params)
        self.split_slot, self.init, self.oneshot_fraction = split_slot, init, oneshot_fraction

    def setup(self, ctx: TrainContext) -> None:
        allowed = ctx.space.allowed
        if self.init not in INITS:
            raise BenchError(f"fewshot init must be one of {INITS}, got {self.init!r}")
        if not 0 <= self.split_slot < len(allowed) or len(allowed[self.split_slot]) < 2:
            free = [i for i, m in enumerate(allowed) if len(m) > 1]
            raise BenchError(f"fewshot split_slot {self.split_slot} is not a slot with several ops: {free}")
        if self.init == "inherit" and not 0.0 < self.oneshot_fraction < 1.0:
            raise BenchError(f"fewshot oneshot_fraction must be in (0, 1), got {self.oneshot_fraction}")
        self.ctx = ctx
        # an op whose sub-space holds no architecture gets no sub-supernet (DARTS: `none` on an edge into
        # node 2, whose two inputs must both be active)
        ops = sorted(allowed[self.split_slot])
        self.split_ops = [op for op in ops if ctx.space.size(mask_with(allowed, {self.split_slot: op})) > 0]
        self.empty_ops = [op for op in ops if op not in self.split_ops]
        if len(self.split_ops) < 2:
            slot = ctx.space.slots[self.split_slot].name
            raise BenchError(f"fewshot: only {len(self.split_ops)} op(s) of split slot {slot} leave architectures "
                             f"in space {ctx.space.label}; choose another split_slot")  # fmt: skip
        inherit = self.init == "inherit"
        self.oneshot_passes = max(1, round(self.oneshot_fraction * ctx.total_passes)) if inherit else 0
        self.sub_passes = max(1, math.ceil((ctx.total_passes - self.oneshot_passes) / len(self.split_ops)))
        exclude = (self.split_slot,)
        self.oneshot: SinglePathTrainer | None = None
        if inherit:
            self.oneshot = self.make_trainer(ctx.build_supernet(), allowed, self.oneshot_passes, exclude_slots=exclude)
        # Sub-supernets are built up front in both variants (inherit overwrites their init at the split),
        # so the set of modules, and the resume state, never change shape during a run.
        like = self.oneshot  # every trainer shares the run-level policy choices (the MS slot) of the first
        self.subs: list[SinglePathTrainer] = []
        for op in self.split_ops:
            mask = mask_with(allowed, {self.split_slot: op})
            sub = self.make_trainer(ctx.build_supernet(), mask, self.sub_passes, exclude_slots=exclude, like=like)
            like = sub
            self.subs.append(sub)
        self.phase = 0 if inherit else 1
        self.oneshot_spent = 0
        self.next_sub = 0

    def _split(self) -> None:
        """Copy the whole one-shot state dict into every sub-supernet (their optimizers are untouched,
        i.e. fresh) and drop the one-shot supernet."""
        weights = self.oneshot.supernet.state_dict()
        for sub in self.subs:
            sub.supernet.load_state_dict(weights)
        self.oneshot = None
        self.phase = 1

    def step(self) -> int:
        x, y = self.ctx.next_batch()
        if self.phase == 0:
            spent = self.oneshot.step(x, y)
            self.oneshot_spent += spent
            if self.oneshot_spent >= self.oneshot_passes:
                self._split()
            return spent
        trainer = self.subs[self.next_sub]
        self.next_sub = (self.next_sub + 1) % len(self.subs)
        return trainer.step(x, y)

    def sub_index(self, arch: Arch) -> int:
        """The sub-supernet that owns `arch` (by its op on the split slot)."""
        op = arch[self.split_slot]
        if op not in self.split_ops:
            raise BenchError(f"architecture {arch!r} has op {op} on the split slot, not one of {self.split_ops}")
        return self.split_ops.index(op)

    def scoring_model(self, arch: Arch) -> ScoringModel:
        trainer = self.oneshot if self.phase == 0 else self.subs[self.sub_index(arch)]
        net = trainer.supernet
        return ScoringModel(net, lambda x: net(x, arch))

    def decisions(self) -> dict[str, Any]:
        slot = self.ctx.space.slots[self.split_slot]
        out: dict[str, Any] = {
            "fewshot_split_slot": slot.name,
            "fewshot_split_slot_index": self.split_slot,
            "fewshot_split_ops": [slot.ops[o] for o in self.split_ops],
            "fewshot_init": self.init,
            "fewshot_oneshot_passes": self.oneshot_passes,
            "fewshot_passes_per_sub_supernet": self.sub_passes,
            "fewshot_schedule": "round-robin",
        }
        if self.empty_ops:
            out["fewshot_ops_without_architectures"] = [slot.ops[o] for o in self.empty_ops]
        for p in self.subs[0].policies:
            out.update(p.decisions())
        return out

    def lineages(self) -> list[Lineage]:
        """The one-shot supernet before the split; after it, one lineage per sub-supernet (its split op)."""
        allowed = self.ctx.space.allowed
        if self.phase == 0:
            return [Lineage("oneshot", allowed, self.oneshot_spent, self.oneshot_spent, self.oneshot_spent)]
        slot = self.ctx.space.slots[self.split_slot]
        out = []
        for op, sub in zip(self.split_ops, self.subs, strict=True):
            own = sub.t * sub.paths_per_step
            mask = mask_with(allowed, {self.split_slot: op})
            out.append(Lineage(slot.ops[op], mask, own, self.oneshot_spent + own, self.oneshot_spent + own))
        return out

    def diagnostics(self) -> dict[str, float]:
        trainer = self.oneshot if self.phase == 0 else self.subs[self.next_sub]
        return {"phase": float(self.phase), "lr": trainer.scheduled_lr()}

    def state_dict(self) -> dict[str, Any]:
        return {
            "phase": self.phase,
            "oneshot_spent": self.oneshot_spent,
            "next_sub": self.next_sub,
            "oneshot": self.oneshot.state_dict() if self.oneshot is not None else None,
            "subs": [sub.state_dict() for sub in self.subs],
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.phase, self.oneshot_spent, self.next_sub = state["phase"], state["oneshot_spent"], state["next_sub"]
        if state["oneshot"] is None:
            self.oneshot = None
        else:
            self.oneshot.load_state_dict(state["oneshot"])
        for sub, s in zip(self.subs, state["subs"], strict=True):
            sub.load_state_dict(s)
