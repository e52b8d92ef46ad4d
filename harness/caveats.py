"""What a board must say about itself: scale and data, comparability, signal, noise floor and ceiling, flags.

``board_caveats(group, ...)`` returns the lines printed above each leaderboard table (Markdown and HTML):

- the profile's scale and data, read from the runs' manifests (supernet size, resolution, images, budget,
  architectures), and "not comparable with paper numbers" unless the profile is a paper profile;
- the signal verdict (``harness.signal.verdict``) and Kendall tau's null std for the sample size;
- the noise ceiling where one is known (Macro: seed-to-seed of the benchmark's own trainings; NB201: the
  12-epoch column against the 200-epoch one, the closest the table has to a second training);
- flags (``board_flags``): partial (a method with fewer seeds than the others, incomplete runs), stale (runs
  made at another code version than this checkout), pooled (runs of different configs or code versions).
"""

from __future__ import annotations

import math
from collections import Counter
from typing import Any

import pandas as pd
from supernet_bench.aggregate import KT, RunSet, select_group
from supernet_bench.leaderboard import METHOD, REFERENCE, best_free
from supernet_bench.signal import kendall_null_std, verdict

PAPER_MARK = "paper"  # profiles named *-paper reproduce a paper's setting; everything else is a proxy
MACRO_CEILING = 0.88  # mean Kendall tau between NAS-Bench-Macro's three stand-alone trainings (its README)
CEILING_LABELS = ("seed-to-seed ceiling", "hp12 training")


def _group_manifests(runs: RunSet, group: tuple[Any, ...]) -> list[dict[str, Any]]:
    space, dataset, _, profile = group
    m = runs.metrics
    paths = m[(m["space"] == space) & (m["dataset"] == dataset) & (m["profile"] == profile)]["run_path"].unique()
    return [runs.manifests[p] for p in sorted(paths) if p in runs.manifests]


def scale_line(manifests: list[dict[str, Any]], profile: str) -> str:
    """Profile, supernet size, resolution, data and budget of the group's runs (from the first manifest)."""
    if not manifests:
        return f"Profile {profile}."
    m = manifests[0]
    config, data, sample = m.get("config", {}), m.get("data", {}), m.get("eval_sample", {})
    net = ", ".join(f"{k}={v}" for k, v in config.get("supernet", {}).items() if k in ("C", "N", "width_mult"))
    parts = [
        f"Profile {profile}: supernet {net}" if net else f"Profile {profile}",
        f"{data.get('resolution', '?')}x{data.get('resolution', '?')} images",
        f"{data.get('n_train', '?')} training / {data.get('n_eval', '?')} scoring images of {data.get('dataset', '?')}",
        f"{config.get('run', {}).get('budget_epochs', '?')} epoch-equivalents",
        f"{sample.get('n', '?')} architectures ({sample.get('spec', '?')})",
    ]
    text = "; ".join(parts) + "."
    if PAPER_MARK not in profile:
        text += " A proxy scale: not comparable with paper numbers."
    return text


def ceiling_line(group: tuple[Any, ...], board: pd.DataFrame) -> str:
    space = str(group[0]).partition(":")[0]
    refs = board[board["kind"] == REFERENCE].set_index("method")
    if space == "macro":
        value = refs[f"{KT}_mean"].get("seed-to-seed ceiling", MACRO_CEILING)
        return f"Noise ceiling: {value:.3f} (Kendall tau between the benchmark's own stand-alone trainings)."
    if space == "nb201":
        value = refs[f"{KT}_mean"].get("hp12 training", math.nan)
        if math.isfinite(value):
            return (
                f"Noise ceiling (proxy for it): the benchmark's 12-epoch training ranks at {value:.3f} against this "
                "column; NB201 publishes no per-seed 200-epoch columns to give a seed-to-seed ceiling."
            )
    return "Noise ceiling: not known for this space."


def board_flags(runs: RunSet, group: tuple[Any, ...], board: pd.DataFrame, current_sha: str) -> list[str]:
    """PARTIAL / STALE / POOLED flags of one group (empty when none applies)."""
    flags = []
    space, dataset, _, profile = group
    methods = board[board["kind"] == METHOD]
    if len(methods) and methods["n_seeds"].nunique() > 1:
        most = int(methods["n_seeds"].max())
        short = [f"{r.method} ({int(r.n_seeds)})" for r in methods.itertuples() if int(r.n_seeds) < most]
        flags.append(f"PARTIAL: fewer seeds than the others ({most}): {', '.join(short)}")
    if runs.incomplete:
        flags.append(f"PARTIAL: {len(runs.incomplete)} incomplete run(s) under the results root are left out")
    # one entry per commit (a dirty tree counts with its commit), with how many runs it made
    commits = Counter(
        m.get("versions", {}).get("git_sha", "unknown").removesuffix("-dirty") for m in _group_manifests(runs, group)
    )
    if current_sha != "unknown" and any(c != current_sha.removesuffix("-dirty") for c in commits):
        listed = ", ".join(f"{c[:10]} ({n} runs)" for c, n in sorted(commits.items()))
        flags.append(f"STALE?: runs made at code version(s) {listed}; this checkout is {current_sha[:10]}")
    prefix = f"{space}/{dataset}/profile {profile}"
    flags += [f"POOLED: {n}" for n in runs.notes if n.startswith(prefix) or f" on {prefix}" in n]
    return flags


def board_caveats(
    runs: RunSet,
    group: tuple[Any, ...],
    board: pd.DataFrame,
    signal: pd.DataFrame,
    current_sha: str,
) -> tuple[list[str], list[str]]:
    """(caveat lines, flag lines) for one leaderboard group; board: the whole leaderboard."""
    g = select_group(board, group)
    space, dataset, gt_column, profile = group
    lines = [scale_line(_group_manifests(runs, group), profile)]
    n_archs = int(g["n_archs"].max()) if "n_archs" in g and g["n_archs"].notna().any() else 0
    sig = select_group(signal, group) if not signal.empty else signal
    null = kendall_null_std(n_archs) if n_archs else math.nan
    lines.append(
        f"Signal: {verdict(sig)}. Kendall tau null std for {n_archs} architectures: "
        f"{null:.3f} (differences below about twice this are noise)." if n_archs else f"Signal: {verdict(sig)}."
    )
    lines.append(ceiling_line(group, g))
    best = best_free(g)
    if best is not None:
        below = int(g["below_free"].fillna(False).astype(bool).sum())
        n = int((g["kind"] == METHOD).sum())
        lines.append(
            f"Best free reference: {best['method']} at {best[f'{KT}_mean']:.3f}; {below} of {n} methods' intervals "
            "lie below it (marked ▼)."
        )
    return lines, board_flags(runs, group, g, current_sha)
