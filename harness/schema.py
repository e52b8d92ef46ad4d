"""Result schemas, declared once. Writers, readers, reports and tests import these.

metrics.parquet: one row per (checkpoint, ground-truth column).
predictions.parquet: one row per (checkpoint, architecture).
lineages.parquet: one row per (checkpoint, lineage) (harness/lineages.py).
manifest.json: see `Manifest`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Any

import pyarrow as pa
from supernet_bench.metrics import bundle_columns

RUN_KEYS = [
    pa.field("run_id", pa.string()),  # RunConfig.run_id: hash of the resolved config and seed (older runs: folder name)
    pa.field("method", pa.string()),  # canonical registry name, e.g. "spos+calr+ms"
    pa.field("space", pa.string()),  # space label, e.g. "nb201" or "nb201:no-zero"
    pa.field("dataset", pa.string()),  # training/scoring data set
    pa.field("profile", pa.string()),
    pa.field("seed", pa.int64()),
]

CHECKPOINT_KEYS = [
    pa.field("checkpoint", pa.int64()),  # 0-based index into run.checkpoints
    pa.field("budget_fraction", pa.float64()),  # the scheduled fraction of the budget
    pa.field("passes", pa.int64()),  # subnet passes actually spent when scored
    pa.field("epoch_equiv", pa.float64()),  # passes * batch_size / train_size
    pa.field("train_wall_s", pa.float64()),  # cumulative training wall time
    pa.field("eval_wall_s", pa.float64()),  # cumulative scoring wall time
]

METRICS_SCHEMA = pa.schema(
    RUN_KEYS
    + CHECKPOINT_KEYS
    + [
        pa.field("gt_column", pa.string()),  # ground-truth column the row's metrics compare with
        pa.field("primary_gt", pa.bool_()),  # the run's main GT column (leaderboards use these rows)
        pa.field("n_archs", pa.int64()),  # architectures scored
        pa.field("mean_score", pa.float64()),  # mean supernet accuracy over the sample ("oneshot average")
        pa.field("peak_rss_mb", pa.float64()),  # peak resident memory of the process so far
        pa.field("diagnostics", pa.string()),  # JSON of method diagnostics (lr, CLOSE blocks, sharing extent...)
    ]
    + [pa.field(c, pa.float64()) for c in bundle_columns()]  # metric bundle, harness/metrics.py
)

PREDICTIONS_SCHEMA = pa.schema(
    RUN_KEYS
    + [
        pa.field("checkpoint", pa.int64()),
        pa.field("passes", pa.int64()),
        pa.field("arch", pa.string()),  # canonical arch string
        pa.field("score", pa.float64()),  # the ranking score (eval.score: accuracy or -loss)
        pa.field("accuracy", pa.float64()),  # supernet accuracy on the evaluation split, percent
        pa.field("loss", pa.float64()),  # supernet mean cross-entropy on the evaluation split
        pa.field("gt", pa.float64()),  # primary ground truth
        pa.field("complexity", pa.float64()),  # #params of the stand-alone network
    ]
)

LINEAGES_SCHEMA = pa.schema(
    RUN_KEYS
    + [
        pa.field("checkpoint", pa.int64()),
        pa.field("passes", pa.int64()),  # the run's passes when scored
        pa.field("lineage", pa.string()),  # sub-supernet / leaf name ("all" for a method that never splits)
        pa.field("own_passes", pa.int64()),  # spent on it since it was split off (training + matching)
        pa.field("lineage_passes", pa.int64()),  # own + every ancestor's (one-shot phase, warm-ups, matching)
        pa.field("weight_passes", pa.int64()),  # training passes behind the weights it scores with
        pa.field("n_archs", pa.int64()),  # scored architectures it owns
        pa.field("kendall_tau", pa.float64()),  # tau-b among those (NaN below 2 or constant)
        pa.field("global_kendall_tau", pa.float64()),  # tau-b over every scored architecture (primary GT)
        pa.field("best_arch", pa.string()),  # its best architecture by supernet score (null if it owns none)
        pa.field("best_score", pa.float64()),
        pa.field("best_gt", pa.float64()),  # primary GT of best_arch
        pa.field("selected", pa.bool_()),  # best_arch with the highest GT across lineages: GM-NAS's selection
    ]
)


@dataclass(frozen=True)
class Manifest:
    """manifest.json: enough to rerun the run and to know what it compared against.

    Written by harness/protocol.py from the resolved config; read back as plain JSON by aggregate, report,
    leaderboard and regress (older manifests carry the run folder's name as run_id).
    """

    run_id: str  # RunConfig.run_id
    status: str  # "running" | "complete"
    config: dict[str, Any]  # the resolved RunConfig (harness/config.py)
    budget: dict[str, Any]  # total_passes, checkpoint_passes, batch_size, train_size
    data: dict[str, Any]  # dataset files and sha256, split record, resolution
    ground_truth: list[dict[str, Any]]  # provenance of each GT column (file, sha256)
    eval_sample: dict[str, Any]  # spec, count, digest of the canonical strings
    method: dict[str, Any]  # canonical name, hyperparameters, policies, run-level decisions
    versions: dict[str, str]  # python, torch, numpy, supernet-bench, git sha
    timing: dict[str, float] = field(default_factory=dict)  # train/eval/total wall seconds

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def completed(
        self,
        decisions: dict[str, Any],
        train_wall_s: float,
        eval_wall_s: float,
        lineages: list[dict[str, Any]] | None = None,
        recal_wall_s: float | None = None,
    ) -> Manifest:
        """The manifest of the finished run: final method decisions, passes per lineage (harness/lineages.py)
        and wall times (BN recalibration's share of eval_wall_s apart, to size eval.recal_batches)."""
        timing = {"train_wall_s": train_wall_s, "eval_wall_s": eval_wall_s, "total_wall_s": train_wall_s + eval_wall_s}
        if recal_wall_s is not None:
            timing["recal_wall_s"] = recal_wall_s
        method = {**self.method, "decisions": decisions}
        if lineages is not None:
            method["lineages"] = lineages
        return replace(self, status="complete", method=method, timing=timing)
