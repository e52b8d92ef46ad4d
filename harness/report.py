"""Reports: Markdown tables, PNG figures and one static HTML page (no network needed) from a results root.

``build_report(root, out)`` writes::

    out/leaderboard.md        leaderboard per group + cross-task ranks + notes
    out/leaderboard.parquet   LEADERBOARD_SCHEMA rows (harness/leaderboard.py)
    out/summary.parquet       every cell at every checkpoint (harness/aggregate.py summarize)
    out/tables/*.md           ablation, KT-all / KT-top-50, Spearman among the top 1% / 5%, signal, lineages
                              (passes and KT per sub-supernet / leaf, the selected architecture), ranks
    out/figures/*.png         curves, final KT, rank difference per complexity group, score vs GT, CD
    out/index.html            all of it on one page: sortable tables (inline JS), figures linked from figures/

Numbers come from harness.aggregate / harness.leaderboard; this module only formats and lays them out.
"""

from __future__ import annotations

import datetime as _dt
import html
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
from supernet_bench.aggregate import (
    CI_LABEL,
    GROUP_KEYS,
    KT,
    KT_AUC,
    RUN_PATH,
    WALL,
    final_rows,
    group_slug,
    groups,
    load_runs,
    protocol_notes,
    select_group,
    summarize,
)
from supernet_bench.core.atomic import atomic_write_table, atomic_write_text
from supernet_bench.leaderboard import (
    METHOD,
    REFERENCE,
    RankSummary,
    all_reference_rows,
    best_free,
    improvement_matrix,
    leaderboard,
    rank_summary,
    write_leaderboard,
)
from supernet_bench.signal import signal_rows

# ----------------------------------------------------------------------------------------------------------
# formatting


def fmt(x: Any, digits: int = 3) -> str:
    """A number for a table; NaN / None -> "n/a"."""
    if x is None:
        return "n/a"
    try:
        v = float(x)
    except (TypeError, ValueError):
        return str(x)
    if math.isnan(v):
        return "n/a"
    return f"{v:.{digits}f}"


def fmt_pm(row: pd.Series, column: str, digits: int = 3) -> str:
    """``mean ± std`` of a summarized column (just the mean when std is undefined)."""
    mean, std = row.get(f"{column}_mean", math.nan), row.get(f"{column}_std", math.nan)
    if fmt(std) == "n/a" or fmt(mean) == "n/a":
        return fmt(mean, digits)
    return f"{fmt(mean, digits)} ± {fmt(std, digits)}"


def fmt_ci(row: pd.Series, column: str, digits: int = 3) -> str:
    """``mean [ci_low, ci_high]`` of a summarized column (just the mean when the CI is undefined)."""
    mean = fmt(row.get(f"{column}_mean"), digits)
    lo, hi = row.get(f"{column}_ci_low", math.nan), row.get(f"{column}_ci_high", math.nan)
    if fmt(lo) == "n/a" or fmt(hi) == "n/a":
        return mean
    return f"{mean} [{fmt(lo, digits)}, {fmt(hi, digits)}]"


def markdown_table(df: pd.DataFrame) -> str:
    """A GitHub-flavoured Markdown table of a frame's string values (pipes escaped)."""

    def cell(v: Any) -> str:
        return str(v).replace("|", "\\|").replace("\n", " ")

    head = "| " + " | ".join(cell(c) for c in df.columns) + " |"
    rule = "| " + " | ".join("---" for _ in df.columns) + " |"
    body = ["| " + " | ".join(cell(v) for v in row) + " |" for row in df.itertuples(index=False)]
    return "\n".join([head, rule, *body]) + "\n"


def group_title(group: tuple[Any, ...]) -> str:
    space, dataset, gt_column, profile = group
    return f"{space} / {dataset} / {gt_column} / profile {profile}"


# ----------------------------------------------------------------------------------------------------------
# tables (display strings built from summary / leaderboard rows)


MIN_TOP_K = 10  # P@top-K is shown as a number only when the top K holds at least this many architectures


def top_k(n_archs: int, ratio: float = 0.05) -> int:
    return max(1, round(n_archs * ratio)) if n_archs else 0


def board_display(board: pd.DataFrame) -> pd.DataFrame:
    """Leaderboard rows of one group as display strings; column ``kind`` is kept for styling.

    ``group``: the rank group (methods that cannot be told apart from the group's leader share it); ▼ marks
    a method whose interval lies below the best free reference. P@top-5% is given with its resolution
    (1/k for the top k architectures) in the header.
    """
    n_archs = int(board["n_archs"].max()) if "n_archs" in board and len(board) else 0
    k = top_k(n_archs)
    p_label = f"P@top-5% (k={k}, steps of {1 / k:.2f})" if k else "P@top-5%"
    rows = []
    for _, r in board.iterrows():
        ref = r["kind"] == REFERENCE
        below = bool(r.get("below_free", False)) and not ref
        rows.append(
            {
                "kind": r["kind"],
                "group": ("ref (free)" if r.get("free") else "ref") if ref else fmt(r.get("rank_group"), 0),
                "method": r["method"] + (" ▼" if below else ""),
                "seeds": (str(int(r["n_seeds"])) if r["n_seeds"] else "") if ref else str(int(r["n_seeds"])),
                "epoch-eq": "" if ref else fmt(r["epoch_equiv"], 2),
                f"Kendall tau [{CI_LABEL}]": fmt_ci(r, KT),
                "KT std": fmt(r[f"{KT}_std"]),
                "KT AUC": "" if ref else fmt(r[f"{KT_AUC}_mean"]),
                "Spearman": fmt(r["spearman_mean"]),
                p_label: fmt(r["p_at_top_5pct_mean"], 2),
                "top-1 GT": fmt(r["top1_gt_mean"], 2),
                "wall s": fmt(r[f"{WALL}_mean"], 1),
                "peak RSS MB": fmt(r["peak_rss_mb_mean"], 0),
            }
        )
    return pd.DataFrame(rows)


def _board_heading(g: pd.DataFrame) -> str:
    first = g.iloc[0]
    return (
        f"Final checkpoint {int(first['checkpoint'])} (budget fraction {first['budget_fraction']:.2f}; "
        "epoch-eq: the training each method had spent when scored). Ordered by mean Kendall tau over seeds; "
        f"interval: {CI_LABEL} (Student t, valid for 3 seeds); group: rank group (a one-sided Welch t-test "
        "cannot tell a method from its group's leader at 5%); ▼: interval below the best free reference."
    )


def ordered_groups(board: pd.DataFrame) -> list[tuple[Any, ...]]:
    """Groups with each results set's primary GT column first, then the others."""
    primary = board.groupby(GROUP_KEYS, dropna=False)["primary_gt"].max().to_dict()
    return sorted(groups(board), key=lambda g: (g[0], g[1], g[3], not primary.get(g, False), g[2]))


def leaderboard_markdown(board: pd.DataFrame, caveats: dict | None = None) -> str:
    """The leaderboard as Markdown: per group (primary GT first) a heading, its caveats and flags, and a
    table, reference estimators in italics. caveats: group -> (lines, flags) from harness/caveats.py."""
    parts = []
    for group in ordered_groups(board):
        g = select_group(board, group)
        shown = board_display(g)
        shown["method"] = [f"*{m}*" if k == REFERENCE else m for k, m in zip(shown["kind"], shown["method"])]
        primary = " (primary GT column)" if g["primary_gt"].any() else ""
        parts.append(f"### {group_title(group)}{primary}\n\n{_board_heading(g)}\n")
        lines, flags = (caveats or {}).get(group, ([], []))
        if flags:
            parts.append("\n".join(f"> **{f}**" for f in flags) + "\n")
        if lines:
            parts.append("\n".join(f"- {line}" for line in lines) + "\n")
        parts.append(markdown_table(shown.drop(columns="kind")))
        notes = [f"- *{r['method']}*: {r['note']}" for _, r in g.iterrows() if r["kind"] == REFERENCE and r["note"]]
        if notes:
            parts.append("\n".join(notes) + "\n")
    return "\n".join(parts)


def rank_display(ranks: RankSummary) -> pd.DataFrame:
    return pd.DataFrame({"method": list(ranks.mean_rank.index), "mean rank": [fmt(v, 2) for v in ranks.mean_rank]})


def rank_text(ranks: RankSummary) -> list[str]:
    pooled = f" ({', '.join(ranks.tasks)})" if ranks.tasks else ""
    lines = [f"Tasks (blocks): {len(ranks.tasks)}{pooled}; mean rank of the final mean Kendall tau, 1 = best."]
    if ranks.test:
        lines.append(
            f"{ranks.test} test: p = {ranks.pvalue:.4g}; Nemenyi critical difference = "
            f"{fmt(ranks.critical_difference, 3)} ranks (alpha 0.05, autorank)."
        )
    lines.extend(f"Note: {n}" for n in ranks.notes)
    return lines


def rank_markdown(ranks: RankSummary) -> str:
    out = "\n\n".join(rank_text(ranks)) + "\n\n"
    return out + (markdown_table(rank_display(ranks)) if not ranks.mean_rank.empty else "")


def _final_by(final: pd.DataFrame, keys: list[str]) -> list[tuple[tuple[Any, ...], pd.DataFrame]]:
    return [(k if isinstance(k, tuple) else (k,), g) for k, g in final.groupby(keys, sort=True, dropna=False)]


def ablation_tables(summary: pd.DataFrame) -> list[tuple[str, pd.DataFrame]]:
    """Per (space, gt_column, profile): KT ± std and top-1 per dataset, complexity bias and rho_CC.

    The final checkpoint of each group; one row per method, best mean KT (first dataset) first.
    """
    final = final_rows(summary)
    out = []
    for (space, gt_column, profile), g in _final_by(final, ["space", "gt_column", "profile"]):
        datasets = sorted(g["dataset"].unique())
        suffix = (lambda d: f" ({d})") if len(datasets) > 1 else (lambda d: "")
        rows = []
        for method in g["method"].unique():  # summary order: best KT first
            row: dict[str, str] = {"method": method}
            for d in datasets:
                r = g[(g["method"] == method) & (g["dataset"] == d)]
                if r.empty:
                    row[f"KT ± std{suffix(d)}"] = row[f"top-1{suffix(d)}"] = "—"
                    row[f"CB{suffix(d)}"] = row[f"rho_CC{suffix(d)}"] = "—"
                    continue
                r = r.iloc[0]
                row[f"KT ± std{suffix(d)}"] = fmt_pm(r, KT)
                row[f"top-1{suffix(d)}"] = fmt_pm(r, "top1_gt", 2)
                row[f"CB{suffix(d)}"] = fmt_pm(r, "complexity_bias")
                row[f"rho_CC{suffix(d)}"] = fmt_pm(r, "complexity_convergence")
            rows.append(row)
        out.append((f"{space} / {gt_column} / profile {profile}", pd.DataFrame(rows)))
    return out


def _per_group_table(summary: pd.DataFrame, columns: dict[str, str]) -> list[tuple[str, pd.DataFrame]]:
    final = final_rows(summary)
    out = []
    for group in groups(final):
        g = select_group(final, group)
        rows = [
            {"method": r["method"], **{label: fmt_pm(r, c) for label, c in columns.items()}} for _, r in g.iterrows()
        ]
        out.append((group_title(group), pd.DataFrame(rows)))
    return out


def kt_top50_tables(summary: pd.DataFrame) -> list[tuple[str, pd.DataFrame]]:
    """KT over all sampled architectures and among the 50 best by GT (n/a when fewer than 50 were scored)."""
    return _per_group_table(summary, {"KT-all": KT, "KT-top-50": "kt_gt_top50"})


def spearman_top_tables(summary: pd.DataFrame) -> list[tuple[str, pd.DataFrame]]:
    """Spearman among the top 1% / 5% architectures by GT (n/a when that leaves fewer than 2)."""
    return _per_group_table(
        summary, {"Spearman top-1%": "spearman_gt_top_1pct", "Spearman top-5%": "spearman_gt_top_5pct"}
    )


def _pm_seeds(values: np.ndarray) -> str:
    if len(values) == 0 or np.isnan(values).all():
        return "n/a"
    mean = float(np.nanmean(values))
    if len(values) < 2:
        return f"{mean:.3f}"
    return f"{mean:.3f} ± {float(np.nanstd(values, ddof=1)):.3f}"


def signal_tables(metrics: pd.DataFrame, predictions: pd.DataFrame) -> list[tuple[str, pd.DataFrame]]:
    """Per group: the signal rows as display strings, best final Kendall tau first."""
    rows = signal_rows(metrics, predictions)
    out = []
    for group in groups(rows) if not rows.empty else []:
        g = select_group(rows, group).copy()
        g["_order"] = [-np.nanmean(v) if np.isfinite(v).any() else math.inf for v in g["kt_final"]]
        g = g.sort_values(["_order", "method"])
        shown = pd.DataFrame(
            {
                "method": g["method"],
                "seeds": g["seeds"],
                "KT @ 0%": [_pm_seeds(v) for v in g["kt_init"]],
                "KT final": [_pm_seeds(v) for v in g["kt_final"]],
                "gain per seed (min .. max)": [
                    "n/a" if np.isnan(v).all() else f"{np.nanmin(v):+.3f} .. {np.nanmax(v):+.3f}" for v in g["gain"]
                ],
                "seeds gained": [f"{k}/{n}" for k, n in zip(g["seeds_gained"], g["seeds"], strict=True)],
                "seed-to-seed KT": [fmt(v) for v in g["seed_to_seed_tau"]],
                "score spread": [fmt(v, 2) for v in g["score_spread"]],
            }
        )
        widest = g.loc[g["n_archs"].idxmax()]
        title = f"{group_title(group)} ({widest['n_archs']} architectures; KT null std {fmt(widest['kt_null_std'])})"
        out.append((title, shown))
    return out


SIGNAL_CAPTION = (
    "Signal: Kendall tau untrained (0%) and final, gain per seed, seed-to-seed Kendall tau of the final scores, "
    "score spread over architectures"
)

LINEAGE_CAPTION = (
    "Lineages: what split methods spend and how each part ranks (final checkpoint, primary GT column). A lineage "
    "is one separately trained (sub-)supernet: a Few-Shot sub-supernet or a GM-NAS leaf; methods that never "
    "split have one. Passes: own (trained in this lineage), with its ancestors' (one-shot phase + own), as a "
    "share of the run's budget. Selected GT: the ground truth of the method's pick, the best architecture of "
    "each lineage by supernet score and then the best of those (GM-NAS's own selection; the top-1 for one lineage)"
)


def _lineage_title(keys: tuple[Any, ...], gt_column: str, n_archs: int) -> str:
    space, dataset, profile = keys
    return f"{space} / {dataset} / {gt_column} / profile {profile} ({n_archs} architectures)"


def lineage_tables(lineages: pd.DataFrame, metrics: pd.DataFrame) -> list[tuple[str, pd.DataFrame]]:
    """Per board: one summary row per method (lineage count, passes, within-lineage and global KT, selected
    architecture's GT), then one row per lineage of every run that split."""
    if lineages.empty:
        return []
    primary = metrics[metrics["primary_gt"].astype(bool)].drop_duplicates(RUN_PATH)
    frame = lineages.merge(primary[[RUN_PATH, "gt_column"]], on=RUN_PATH, how="inner")
    out = []
    for keys, g in frame.groupby(["space", "dataset", "profile", "gt_column"], sort=True):
        n_archs = int(g.groupby(RUN_PATH)["n_archs"].sum().max())
        summary = []
        for method, m in g.groupby("method", sort=True):
            per_run = m.groupby(RUN_PATH)
            n_lin = per_run.size().to_numpy()
            selected = m[m["selected"]]
            summary.append(
                {
                    "method": method,
                    "seeds": str(per_run.ngroups),
                    "lineages": "..".join(sorted({str(int(n_lin.min())), str(int(n_lin.max()))}, key=int)),
                    "own passes / lineage": fmt(m["own_passes"].mean(), 0),
                    "lineage passes (% of run)": (
                        f"{m['lineage_passes'].mean():.0f} ({100 * (m['lineage_passes'] / m['passes']).mean():.0f}%)"
                    ),
                    "KT within lineage (mean, min..max)": (
                        "n/a" if m["kendall_tau"].isna().all() else
                        f"{m['kendall_tau'].mean():.3f} ({m['kendall_tau'].min():+.3f}..{m['kendall_tau'].max():+.3f})"
                    ),  # fmt: skip
                    "global KT": _pm_seeds(per_run["global_kendall_tau"].first().to_numpy(dtype=np.float64)),
                    "selected GT": _pm_seeds(selected["best_gt"].to_numpy(dtype=np.float64)),
                }
            )
        title = _lineage_title(keys[:3], keys[3], n_archs)
        out.append((f"{title}: per method", pd.DataFrame(summary)))
        split = g[g.groupby(RUN_PATH)["lineage"].transform("size") > 1].sort_values(["method", "seed", "lineage"])
        if not split.empty:
            detail = pd.DataFrame(
                {
                    "method": split["method"],
                    "seed": split["seed"].astype(str),
                    "lineage": split["lineage"],
                    "own passes": split["own_passes"].astype(str),
                    "lineage passes": split["lineage_passes"].astype(str),
                    "% of run": [f"{100 * a / b:.0f}%" for a, b in zip(split["lineage_passes"], split["passes"])],
                    "weights trained on": split["weight_passes"].astype(str),
                    "archs": split["n_archs"].astype(str),
                    "KT within": [fmt(v) for v in split["kendall_tau"]],
                    "global KT": [fmt(v) for v in split["global_kendall_tau"]],
                    "best GT": [fmt(v, 2) for v in split["best_gt"]],
                    "selected": ["yes" if v else "" for v in split["selected"]],
                }
            )
            out.append((f"{title}: per lineage of every run that split", detail))
    return out


TABLES = {
    "ablation": ("Ablation: KT ± std, top-1, complexity bias (CB, fair 0.5) and rho_CC (fair 0)", ablation_tables),
    "kt_top50": ("Kendall tau over all architectures and among the GT top 50", kt_top50_tables),
    "spearman_top": ("Spearman among the GT top 1% and 5%", spearman_top_tables),
}


# ----------------------------------------------------------------------------------------------------------
# HTML

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem auto;max-width:1200px;
padding:0 1rem;color:#222}
h1{font-size:1.6rem}h2{border-bottom:1px solid #ddd;padding-bottom:.2rem;margin-top:2rem}h3{font-size:1.05rem}
table{border-collapse:collapse;margin:.5rem 0 1rem;font-size:.85rem}
th,td{border:1px solid #ddd;padding:.25rem .5rem;text-align:right}th{background:#f3f3f3}
td:first-child,th:first-child,td.text{text-align:left}
table.sortable th{cursor:pointer;user-select:none}table.sortable th:hover{background:#e6e6e6}
th.asc::after{content:" \\25B2"}th.desc::after{content:" \\25BC"}
tr.ref td{font-style:italic;background:#fafaf0}tr.below td{color:#777}
.flag{background:#fff3cd;border-left:4px solid #e0a800;padding:.3rem .6rem;font-weight:600;font-size:.9rem;
overflow-wrap:anywhere}
ul.caveats{font-size:.88rem;color:#333;background:#f6f8fa;padding:.4rem 1.6rem;border-radius:4px}
figure{margin:1rem 0}figure img{max-width:100%;border:1px solid #eee}figcaption{font-size:.85rem;color:#555}
.note{color:#555;font-size:.9rem}code{background:#f3f3f3;padding:0 .2rem}
"""

# Click a header to sort by it (again to reverse). Cells are compared as numbers when both parse as numbers
# (text after the number, such as a CI, is ignored); "n/a" and other text sort after numbers.
_JS = """
document.querySelectorAll('table.sortable').forEach(function (table) {
  table.querySelectorAll('th').forEach(function (th, col) {
    th.addEventListener('click', function () {
      var asc = !th.classList.contains('asc');
      table.querySelectorAll('th').forEach(function (h) { h.classList.remove('asc', 'desc'); });
      th.classList.add(asc ? 'asc' : 'desc');
      var body = table.tBodies[0];
      var rows = Array.prototype.slice.call(body.rows);
      function key(row) {
        var text = row.cells[col].textContent.trim();
        var num = parseFloat(text);
        return isNaN(num) ? {n: false, v: text} : {n: true, v: num};
      }
      rows.sort(function (a, b) {
        var x = key(a), y = key(b);
        if (x.n !== y.n) { return x.n ? -1 : 1; }
        var c = x.n ? x.v - y.v : x.v.localeCompare(y.v);
        return asc ? c : -c;
      });
      rows.forEach(function (r) { body.appendChild(r); });
    });
  });
});
"""


def _td(value: Any) -> str:
    text = str(value)
    if text in ("", "n/a", "—"):
        return f"<td>{html.escape(text)}</td>"
    try:
        float(text.split(" ", 1)[0])
        return f"<td>{html.escape(text)}</td>"
    except ValueError:  # text (a method name, "n/a"): left-aligned
        return f'<td class="text">{html.escape(text)}</td>'


def html_table(df: pd.DataFrame, sortable: bool = True, row_classes: list[str] | None = None) -> str:
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in df.columns)
    body = []
    for i, row in enumerate(df.itertuples(index=False)):
        cls = f' class="{row_classes[i]}"' if row_classes and row_classes[i] else ""
        body.append(f"<tr{cls}>" + "".join(_td(v) for v in row) + "</tr>")
    klass = ' class="sortable"' if sortable else ""
    return f"<table{klass}><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _img(path: Path, caption: str) -> str:
    """A figure linked by its path relative to index.html: the PNG is stored once, in figures/."""
    src = f"figures/{html.escape(path.name)}"
    return (
        f'<figure><img src="{src}" alt="{html.escape(caption)}">'
        f"<figcaption>{html.escape(caption)} (<code>{src}</code>)</figcaption></figure>"
    )


# ----------------------------------------------------------------------------------------------------------
# the report


@dataclass
class Report:
    """What ``build_report`` computed and wrote."""

    out: Path
    summary: pd.DataFrame
    board: pd.DataFrame
    ranks: RankSummary
    figures: list[tuple[Path, str]] = field(default_factory=list)  # (png, caption)
    tables: list[Path] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    caveats: dict[tuple, tuple[list[str], list[str]]] = field(default_factory=dict)  # group -> (lines, flags)


def _write_frame(df: pd.DataFrame, path: Path) -> None:
    atomic_write_table(pa.Table.from_pandas(df, preserve_index=False), path)


def build_report(
    root: str | Path | Sequence[str | Path],
    out: str | Path,
    data_dir: str | Path | None = None,
    title: str | None = None,
) -> Report:
    """Aggregate every complete run under ``root`` (several roots: one pooled report, harness/aggregate.py
    load_runs) and write the report files into ``out``."""
    from supernet_bench import budget_sweep as B
    from supernet_bench import figures as F
    from supernet_bench.caveats import board_caveats
    from supernet_bench.protocol import git_sha

    roots = [Path(r) for r in ([root] if isinstance(root, str | Path) else root)]
    out = Path(out)
    runs = load_runs(roots)
    where = f"Results root `{roots[0]}`" if len(roots) == 1 else f"Results roots {', '.join(f'`{r}`' for r in roots)}"
    sweep = B.sweep_table(runs) if B.is_sweep(runs) else pd.DataFrame()
    infeasible = B.infeasible_table(roots) if not sweep.empty else None  # refused budgets, read once
    if not sweep.empty:  # a budget sweep: the board is each method's largest budget, the sweep its own figure
        # budgets (and the checkpoints of adopted runs) differ on purpose; any other protocol difference is flagged
        unintended = set(protocol_notes(runs.metrics, runs.manifests))
        intended = protocol_notes(runs.metrics, runs.manifests, varying=B.SWEEP_VARIES)
        runs.notes = [n for n in runs.notes if n not in unintended] + intended
        runs.notes.append(
            "budget sweep: the leaderboard and curves show each method's largest budget; the budget-sweep "
            "figure shows every budget (separate runs, each a full schedule)"
        )
        runs.metrics = B.largest_budget_runs(runs)
    summary = summarize(runs.metrics)
    references, ref_notes = all_reference_rows(runs, data_dir)
    notes = [*runs.notes, *ref_notes]
    board = leaderboard(summary, references)
    ranks = rank_summary(board)
    predictions = runs.final_predictions()
    predictions = predictions[predictions["run_path"].isin(set(runs.metrics["run_path"]))]
    if runs.incomplete:
        notes.append(f"{len(runs.incomplete)} incomplete run(s) left out: {', '.join(runs.incomplete)}")
    report = Report(out=out, summary=summary, board=board, ranks=ranks, notes=notes)
    sig = signal_rows(runs.metrics, predictions)
    sha = git_sha()
    report.caveats = {g: board_caveats(runs, g, board, sig, sha) for g in ordered_groups(board)}

    out.mkdir(parents=True, exist_ok=True)
    _write_frame(summary, out / "summary.parquet")
    write_leaderboard(board, out / "leaderboard.parquet")

    # figures, per group (primary GT column first)
    fig_dir = out / "figures"
    final = final_rows(summary)
    final_runs = final_rows(runs.metrics)
    for group in ordered_groups(board):
        slug, name = group_slug(group), group_title(group)
        cells = select_group(summary, group)
        g_board = select_group(board, group)
        refs = g_board[g_board["kind"] == REFERENCE]
        report.figures.append(
            (F.save(F.final_kt_figure(g_board, name), fig_dir / f"final_kt_{slug}.png"),
             f"{name}: final Kendall tau per method ({CI_LABEL}, rank group in brackets, hatched: below the best "
             "free reference), reference estimators as grey lines")
        )
        matrix = improvement_matrix(select_group(final_runs, group))
        if len(matrix) >= 2:
            report.figures.append(
                (F.save(F.improvement_figure(matrix, name), fig_dir / f"improvement_{slug}.png"),
                 f"{name}: probability that the row method's final KT beats the column method's, over seed pairs")
            )
        report.figures.append(
            (F.save(F.curves_figure(cells, name, refs), fig_dir / f"curves_{slug}.png"),
             f"{name}: within-run checkpoint curves, KT vs epoch-equivalents (mean, {CI_LABEL} band); the "
             "checkpoints of one cosine schedule, not shorter runs (for budgets, see the budget-sweep figure)")
        )
        g_sweep = select_group(sweep, group) if not sweep.empty else sweep
        if not g_sweep.empty:
            best = best_free(g_board)
            if best is not None:
                label = f"the best free reference, {best['method']}"
                lines = B.crossover_lines(g_sweep, float(best[f"{KT}_mean"]), label)
            else:
                lines = ["no free reference stored: run `supernet-bench references` for the crossover budgets"]
            lines += B.against_base_lines(g_sweep, base="spos")
            lines += B.lineage_matched_lines(g_sweep, base="spos")
            lines += B.infeasible_lines(infeasible, group)
            report.caveats[group][0].extend(lines)
            report.figures.append(
                (F.save(F.budget_figure(g_sweep, refs, name, lines), fig_dir / f"budget_sweep_{slug}.png"),
                 f"{name}: final KT vs training budget from separate runs (log x, {CI_LABEL} band); "
                 + "; ".join(lines))
            )
        g_final = select_group(final, group)
        report.figures.append(
            (F.save(F.rd_groups_figure(g_final, name), fig_dir / f"rd_groups_{slug}.png"),
             f"{name}: mean ranking difference per complexity group (< 0: under-estimated)")
        )
        if g_final["primary_gt"].all() and not predictions.empty:
            space, dataset, _, profile = group
            same = (predictions["space"] == space) & (predictions["dataset"] == dataset)
            p = predictions[same & (predictions["profile"] == profile)]
            if not p.empty:
                kt = dict(zip(g_final["method"], g_final[f"{KT}_mean"], strict=True))
                report.figures.append(
                    (F.save(F.score_vs_gt_figure(p, kt, name), fig_dir / f"score_vs_gt_{slug}.png"),
                     f"{name}: supernet score vs ground truth at the final checkpoint")
                )
    cd = F.critical_difference_figure(ranks)
    if cd is not None:
        report.figures.append(
            (F.save(cd, fig_dir / "critical_difference.png"),
             f"Critical-difference diagram (Friedman + Nemenyi, autorank) pooling {len(ranks.tasks)} tasks: "
             + ", ".join(ranks.tasks))
        )

    # tables
    table_dir = out / "tables"
    built: dict[str, tuple[str, list[tuple[str, pd.DataFrame]]]] = {
        name: (caption, builder(summary)) for name, (caption, builder) in TABLES.items()
    }
    built["signal"] = (SIGNAL_CAPTION, signal_tables(runs.metrics, predictions))  # per run, not per cell
    lineages = runs.final_lineages()
    lineages = lineages[lineages[RUN_PATH].isin(set(runs.metrics[RUN_PATH]))]  # a sweep: its largest budgets
    lineage_parts = lineage_tables(lineages, runs.metrics)
    if lineage_parts:
        built["lineages"] = (LINEAGE_CAPTION, lineage_parts)
    for name, (caption, parts) in built.items():
        text = f"## {caption}\n\n" + "\n".join(f"### {t}\n\n{markdown_table(df)}" for t, df in parts)
        atomic_write_text(table_dir / f"{name}.md", text)
        report.tables.append(table_dir / f"{name}.md")
    atomic_write_text(table_dir / "ranks.md", "## Cross-task ranks\n\n" + rank_markdown(ranks))
    report.tables.append(table_dir / "ranks.md")

    title = title or "supernet-bench report: " + ", ".join(r.name or str(r) for r in roots)
    stamp = _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    n_methods = int((board["kind"] == METHOD).sum())
    n_below = int(board["below_free"].fillna(False).astype(bool).sum())
    intro = (
        f"{where}: {len(runs.manifests)} complete run(s), generated {stamp}. "
        "Methods are ordered by mean Kendall tau over seeds at the final checkpoint, grouped where they "
        f"cannot be told apart; {n_below} of {n_methods} method rows lie below the best free reference "
        "estimator of their board."
    )
    md = [f"# {title}\n", intro + "\n", "## Leaderboard\n", leaderboard_markdown(board, report.caveats)]
    md += ["## Cross-task ranks\n", rank_markdown(ranks)]
    if notes:
        md += ["## Notes\n", "\n".join(f"- {n}" for n in notes) + "\n"]
    md += ["## Figures\n", "\n".join(f"![{c}](figures/{p.name})" for p, c in report.figures) + "\n"]
    md += ["## Tables\n", "\n".join(f"- [{p.stem}](tables/{p.name})" for p in report.tables) + "\n"]
    atomic_write_text(out / "leaderboard.md", "\n".join(md))
    atomic_write_text(out / "index.html", _html(report, title, intro, built, runs.manifests))
    return report


def _html(report: Report, title: str, intro: str, built, manifests: dict[str, dict]) -> str:
    esc = html.escape
    parts = [f"<h1>{esc(title)}</h1>", f"<p>{esc(intro.replace('`', ''))}</p>"]
    parts.append("<h2>Leaderboard</h2><p class=note>Click a column header to sort.</p>")
    for group in ordered_groups(report.board):
        g = select_group(report.board, group)
        shown = board_display(g)
        classes = [
            "ref" if k == REFERENCE else ("below" if b else "")
            for k, b in zip(shown["kind"], g["below_free"].fillna(False).astype(bool), strict=True)
        ]
        primary = " (primary GT column)" if g["primary_gt"].any() else ""
        parts.append(f"<h3>{esc(group_title(group))}{primary}</h3><p class=note>{esc(_board_heading(g))}</p>")
        lines, flags = report.caveats.get(group, ([], []))
        parts += [f"<p class=flag>{esc(f)}</p>" for f in flags]
        if lines:
            parts.append("<ul class=caveats>" + "".join(f"<li>{esc(x)}</li>" for x in lines) + "</ul>")
        parts.append(html_table(shown.drop(columns="kind"), row_classes=classes))
        for _, r in g.iterrows():
            if r["kind"] == REFERENCE and r["note"]:
                parts.append(f"<p class=note><i>{esc(r['method'])}</i>: {esc(r['note'])}</p>")
    parts.append("<h2>Cross-task ranks</h2>")
    parts += [f"<p class=note>{esc(line)}</p>" for line in rank_text(report.ranks)]
    if not report.ranks.mean_rank.empty:
        parts.append(html_table(rank_display(report.ranks)))
    if report.notes:
        parts.append("<h2>Notes</h2><ul>" + "".join(f"<li>{esc(n)}</li>" for n in report.notes) + "</ul>")
    parts.append("<h2>Figures</h2>")
    parts += [_img(p, c) for p, c in report.figures]
    parts.append("<h2>Tables</h2>")
    for caption, tables in built.values():
        parts.append(f"<h3>{esc(caption)}</h3>")
        for t, df in tables:
            parts.append(f"<p class=note>{esc(t)}</p>" + html_table(df))
    runs = pd.DataFrame(
        [
            {
                "run": path,
                "method": m.get("method", {}).get("name", ""),
                "seed": m.get("config", {}).get("seed", ""),
                "wall s": fmt(m.get("timing", {}).get("total_wall_s"), 1),
                "git sha": m.get("versions", {}).get("git_sha", ""),
                "cpu": m.get("versions", {}).get("cpu_capability", ""),  # kernels round per ISA
            }
            for path, m in sorted(manifests.items())
        ]
    )
    parts.append(f"<h2>Runs ({len(runs)})</h2>" + html_table(runs))
    return (
        "<!doctype html>\n<html lang=en><head><meta charset=utf-8>"
        f"<meta name=viewport content='width=device-width,initial-scale=1'><title>{esc(title)}</title>"
        f"<style>{_CSS}</style></head><body>\n" + "\n".join(parts) + f"\n<script>{_JS}</script>\n</body></html>\n"
    )
