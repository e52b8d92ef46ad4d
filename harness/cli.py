"""`supernet-bench` command line. Every user error prints one line and exits 2, never a traceback.

Examples:
  supernet-bench run --method spos --space nb201 --profile smoke --seed 0 --out runs/spos-s0
  supernet-bench run --method spos+calr+ms --profile proxy --set run.budget_epochs=20
  supernet-bench list methods -v
  supernet-bench score my_proxy.csv --space nb201 --gt cifar10-valid_x-valid_hp200 --json
"""

from __future__ import annotations

import json
import math
import os
import sys
import warnings
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import click
from supernet_bench.core.errors import BenchError
from supernet_bench.core.plugins import PluginWarning

DEVICE_HELP = "auto | cpu | cuda | cuda:N (default: the profile's run.device, auto = CUDA when available)."


def _device_overrides(device: str | None, available: bool = True) -> tuple[str, ...]:
    """`--device X` as the override run.device="X", after checking X is a device name and (`available`) exists
    here: one line, exit 2, before any work. None (not given) leaves the profile's run.device."""
    if device is None:
        return ()
    from supernet_bench.device import parse_device, resolve_device

    resolve_device(device) if available else parse_device(device)
    return (f'run.device="{device}"',)


def strict_json(obj) -> str:
    """JSON any strict parser reads: NaN and infinities (undefined metrics) become null, never bare NaN."""

    def clean(v):
        if isinstance(v, dict):
            return {str(k): clean(x) for k, x in v.items()}
        if isinstance(v, (list, tuple)):
            return [clean(x) for x in v]
        if hasattr(v, "item") and callable(v.item) and getattr(v, "ndim", 1) == 0:  # numpy scalars
            v = v.item()
        if isinstance(v, float) and not math.isfinite(v):
            return None
        if v is None or isinstance(v, (str, int, float, bool)):
            return v
        return str(v)

    return json.dumps(clean(obj), indent=2, sort_keys=True, allow_nan=False)


def _fmt(x: float) -> str:
    return "nan" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.4f}"


def _version() -> str:
    try:
        return version("supernet-bench")
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown (not installed)"


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(_version(), "--version", "-V", prog_name="supernet-bench", message="%(prog)s %(version)s")
def cli() -> None:
    """Budget-normalized benchmark of one-shot NAS supernet-training methods."""


@cli.command()
@click.option("--method", default=None, help="Registry name, e.g. spos, fairnas, spos+calr+ms.")
@click.option("--space", default="nb201", show_default=True, help="Space, optionally with a subset: nb201:no-zero.")
@click.option("--dataset", default=None, help="Data set (default: the profile's).")
@click.option("--profile", default="smoke", show_default=True, help="Shipped profile name or a .toml path.")
@click.option("--seed", default=0, show_default=True, type=int)
@click.option("--gt", default=None, help="Primary ground-truth column, e.g. cifar10-valid_x-valid_hp200.")
@click.option("--out", default=None, type=click.Path(path_type=Path), help="Run directory.")
@click.option("--data-dir", default=None, help="Data folder (default: $SUPERNET_BENCH_DATA).")
@click.option("--set", "overrides", multiple=True, help="Override a profile key: section.key=value.")
@click.option("--resume", is_flag=True, help="Continue an interrupted run in --out.")
@click.option("--quiet", is_flag=True, help="No progress bars.")
@click.option("--device", default=None, help=DEVICE_HELP)
@click.option(
    "--from-manifest",
    "manifest",
    default=None,
    type=click.Path(path_type=Path),
    help="Rerun exactly the config recorded in a run's manifest.json (other config options are ignored).",
)
def run(method, space, dataset, profile, seed, gt, out, data_dir, overrides, resume, quiet, device, manifest) -> None:
    """Train one method under the protocol and score it at every checkpoint."""
    import dataclasses

    from supernet_bench.config import RunConfig, resolve_config, validate
    from supernet_bench.methods import canonical_name
    from supernet_bench.protocol import run as run_protocol
    from supernet_bench.store import RunStore

    if manifest is not None:
        recorded = RunStore(manifest.parent if manifest.name == "manifest.json" else manifest).manifest()
        if recorded is None:
            raise BenchError(f"no manifest.json at {manifest}")
        config = RunConfig.from_dict(recorded.get("config"), where=f"{manifest}: ")
        if _device_overrides(device):
            config = dataclasses.replace(config, run=dataclasses.replace(config.run, device=device))
        validate(config)
        space = config.space
        warn_version_drift(recorded.get("versions", {}), config.run)
    elif method is None:
        raise BenchError("run needs --method (or --from-manifest)")
    else:
        overrides = (*overrides, *_device_overrides(device))
        config = resolve_config(
            canonical_name(method), profile=profile, space=space, seed=seed, overrides=overrides, dataset=dataset, gt=gt
        )
    if out is None:
        out = (
            Path("runs") / f"{config.profile}_{space.replace(':', '-')}_{config.dataset}_{config.method}_s{config.seed}"
        )
    _on_stop(f"the run keeps its last checkpoint; continue it with the same command plus --resume (--out {out})")
    root = run_protocol(config, out, data_dir=data_dir, resume=resume, progress=not quiet)
    table = RunStore(root).read_metrics().to_pandas()
    click.echo(f"run directory: {root}")
    for column, rows in table.groupby("gt_column", sort=False):
        click.echo(f"ground truth {column}:")
        for _, r in rows.iterrows():
            click.echo(
                f"  checkpoint {r.checkpoint} ({r.budget_fraction:.2f}, {r.passes} passes, "
                f"{r.epoch_equiv:.1f} ep): kendall_tau={_fmt(r.kendall_tau)} spearman={_fmt(r.spearman)} "
                f"p@top5%={_fmt(r.p_at_top_5pct)} top1_gt={_fmt(r.top1_gt)}"
            )
    last = table.iloc[-1]
    click.echo(f"wall time: train {last.train_wall_s:.1f}s, scoring {last.eval_wall_s:.1f}s")


COST_WORDS = ("GPU-h", " min", " core", "seconds")


def profile_cost(description: str) -> str:
    """The cost clause(s) of a profile's description (the clauses naming GPU-hours or minutes), else ""."""
    clauses = [c.strip().rstrip(".") for c in description.split(";")]
    return "; ".join(c for c in clauses if any(w in c for w in COST_WORDS))


def warn_version_drift(recorded: dict[str, str], run_table: dict | None = None) -> None:
    """Say so when a --from-manifest rerun cannot reproduce its run bit for bit (`run_table`: the rerun's
    run keys, whose device decides which GPU versions count)."""
    from supernet_bench.device import settings_from_run
    from supernet_bench.protocol import versions
    from supernet_bench.reproducibility import version_drift

    drift = version_drift(recorded, versions(settings_from_run(run_table or {}).device))
    if drift:
        click.echo(
            "warning: this run was recorded under other versions (" + "; ".join(drift) + "); training amplifies "
            "float rounding, so expect differences like a new seed. To reproduce it bit for bit, use the recorded "
            "git_sha, torch and numpy on a CPU with the recorded cpu_capability (on a GPU run: the same GPU, "
            "driver, CUDA and cuDNN, with run.deterministic).",
            err=True,
        )


@cli.command(name="list")
@click.argument("what", type=click.Choice(["methods", "spaces", "profiles", "metrics", "datasets", "policies"]))
@click.option("-v", "--verbose", is_flag=True, help="Show defaults and descriptions.")
def list_(what: str, verbose: bool) -> None:
    """List registered methods, spaces, profiles, metrics, data sets or policies."""
    if what == "methods":
        from supernet_bench.methods import METHODS, method_names
        from supernet_bench.methods.policies import POLICIES

        def summary(cls) -> str:
            return (cls.__doc__ or "").strip().splitlines()[0] if cls.__doc__ else "(no description)"

        for name in method_names():
            if not verbose:
                click.echo(name)
                continue
            base, *policies = name.split("+")
            if not policies:
                cls = METHODS.get(name)
                click.echo(f"{name}: {summary(cls)}")
                for k, v in cls.default_params().items():
                    click.echo(f"    {k} = {v!r}")
            else:  # a composition: the base method's description plus each policy's
                noun = "policies" if len(policies) > 1 else "policy"
                click.echo(f"{name}: {base} with the {' and '.join(policies)} training {noun}")
                for p in policies:
                    click.echo(f"    {p}: {summary(POLICIES.get(p))}")
    elif what == "policies":
        from supernet_bench.methods.policies import POLICIES

        for name, cls in POLICIES.items():
            click.echo(f"{name}: {cls.default_params()}" if verbose else name)
    elif what == "spaces":
        from supernet_bench.spaces import get_space, space_names

        for name in space_names():
            for subset in get_space(name).subsets:
                label = name if subset == "full" else f"{name}:{subset}"
                click.echo(f"{label}: {get_space(label).size()} architectures" if verbose else label)
    elif what == "profiles":
        from supernet_bench.config import load_profile, profile_names

        for name in profile_names():
            description = load_profile(name)[1].get("description", "")
            click.echo(f"{name}: {description}" if verbose else f"{name:<20} {profile_cost(description)}".rstrip())
    elif what == "metrics":
        from supernet_bench.metrics import METRICS

        for name, m in METRICS.items():
            if m.ideal is not None:  # a fair point, not an extreme: CB 0.5, rho_CC 0, RD 0
                arrow = f"best at {m.ideal:g}, closer is better"
            else:
                arrow = "higher is better" if m.higher_is_better else "lower is better"
            click.echo(f"{name} ({arrow}): {m.description}" if verbose else name)
    elif what == "datasets":
        from supernet_bench.data import DATASETS

        for name in DATASETS.names():
            click.echo(name)


@cli.command()
@click.argument("table", type=click.Path(path_type=Path))
@click.option("--space", default="nb201", show_default=True)
@click.option("--gt", required=True, help="Ground-truth column to rank against.")
@click.option("--data-dir", default=None, help="Data folder (default: $SUPERNET_BENCH_DATA).")
@click.option("--json", "as_json", is_flag=True, help="Print the metric bundle as JSON.")
def score(table: Path, space: str, gt: str, data_dir, as_json: bool) -> None:
    """Score any estimator's table (columns `arch`, `score`; higher = better) against the ground truth."""
    from supernet_bench.data import resolve_data_dir
    from supernet_bench.scoring import score_table

    result = score_table(table, space, gt, resolve_data_dir(data_dir))
    if as_json:  # strict JSON: an undefined metric (NaN) is null, never a bare NaN
        click.echo(strict_json(result))
    else:
        for k, v in result.items():
            click.echo(f"{k}: {_fmt(v) if isinstance(v, float) else v}")


# --- suites, leaderboards, reports and regression tracking (harness/suite.py ... harness/regress.py) ------
#   supernet-bench suite smoke --workers 1
#   supernet-bench leaderboard runs/suite-smoke
#   supernet-bench report runs/suite-smoke --out reports/smoke
#   supernet-bench regress --write-baseline results/baselines/smoke-nb201-cifar10.parquet runs/suite-smoke
#   supernet-bench regress --against results/baselines/smoke-nb201-cifar10.parquet runs/suite-smoke


class CheckFailed(click.ClickException):
    """A suite with failed runs or a regression check that failed: one line on stderr, exit status 1."""

    exit_code = 1


@cli.command()
@click.argument("suite_file")
@click.option("--out", default=None, type=click.Path(path_type=Path), help="Results root (default: the suite's out).")
@click.option("--workers", default=1, show_default=True, type=click.IntRange(min=1), help="Local processes.")
@click.option("--data-dir", default=None, help="Data folder (default: $SUPERNET_BENCH_DATA).")
@click.option("--set", "overrides", multiple=True, help="Extra override for every run, after the suite's own.")
@click.option("--dry-run", is_flag=True, help="List the run directories and exit.")
@click.option(
    "--reuse",
    multiple=True,
    type=click.Path(path_type=Path),
    help="A results root whose complete runs may be adopted where they train the same (only the checkpoints "
    "differ), after the suite's own reuse roots.",
)
@click.option("-v", "--verbose", is_flag=True, help="Print the traceback of each failed run.")
@click.option(
    "--executor",
    "engine",
    default="local",
    show_default=True,
    help="Where runs execute: local | ray | slurm | submitit-local (harness/executors.py).",
)
@click.option("--address", default=None, help="Ray cluster address, e.g. HEAD:6379 (default: a new local cluster).")
@click.option("--slurm-partition", default=None, help="Slurm partition (--executor slurm).")
@click.option("--time-limit", default=240, show_default=True, type=click.IntRange(min=1), help="Slurm job minutes.")
@click.option(
    "--cpus-per-run", default=1, show_default=True, type=click.IntRange(min=1), help="CPUs per run (ray, slurm)."
)
@click.option(
    "--gpus-per-run",
    default=0,
    show_default=True,
    type=click.IntRange(min=0),
    help="GPUs per run: local workers get their own (--workers <= GPUs / K), ray num_gpus, slurm gpus_per_node.",
)
@click.option("--device", default=None, help=DEVICE_HELP)
def suite(
    suite_file,
    out,
    workers,
    data_dir,
    overrides,
    dry_run,
    reuse,
    verbose,
    engine,
    address,
    slurm_partition,
    time_limit,
    cpus_per_run,
    gpus_per_run,
    device,
) -> None:
    """Run a suite (a TOML file, or a shipped name such as `smoke`): every method x space x dataset x seed.

    Complete runs are skipped, interrupted ones resumed; a failed run does not stop the others, and the
    failures are listed at the end (exit status 1).
    """
    import pandas as pd
    from supernet_bench.executors import EXECUTORS, ExecutorOptions, make_executor
    from supernet_bench.report import markdown_table
    from supernet_bench.suite import (
        BUSY,
        FAILED,
        INFEASIBLE,
        INFEASIBLE_RECORD,
        load_suite,
        outcome_rows,
        plan,
        run_suite,
    )

    EXECUTORS.get(engine)  # unknown -> did you mean, before anything is planned
    if engine == "local" and gpus_per_run:
        from supernet_bench.executors import gpu_groups

        gpu_groups(workers, gpus_per_run)  # too few GPUs for the workers -> one line, before anything is planned
    spec = load_suite(suite_file)
    root = out if out is not None else Path(spec.out)
    if device is not None:  # checked against this machine's GPUs only where the runs execute here
        overrides = (*overrides, *_device_overrides(device, available=engine == "local"))
    tasks = plan(spec, root, overrides, reuse=[str(r) for r in reuse])
    where = f"{workers} worker(s)" if engine == "local" else f"executor {engine}"
    click.echo(f"suite {spec.name}: {len(tasks)} run(s) under {root} (profile {spec.profile}, {where})")
    if dry_run:
        for task in tasks:
            click.echo(f"  {task.label}")
        return

    from supernet_bench.suite import Progress

    progress = Progress(len(tasks), workers if engine == "local" else 1, click.echo, kt_digits=4)

    options = ExecutorOptions(
        root=Path(root),
        workers=workers,
        address=address,
        cpus_per_run=cpus_per_run,
        slurm_partition=slurm_partition,
        time_limit_min=time_limit,
        gpus_per_run=gpus_per_run,
    )
    again = f"supernet-bench suite {suite_file}" + (f" --out {out}" if out is not None else "")
    _on_stop(f"no new run was started; resume with: {again} (complete runs are skipped, interrupted ones resumed)")
    with make_executor(engine, options) as executor:
        outcomes = run_suite(
            tasks,
            data_dir=data_dir,
            workers=workers,
            executor=executor,
            on_outcome=progress,
            gpus_per_run=gpus_per_run if engine == "local" else 0,
        )
    click.echo(markdown_table(pd.DataFrame(outcome_rows(outcomes))))
    failed = [o for o in outcomes if o.status == FAILED]
    for o in failed:
        click.echo(f"FAILED {o.label}: {o.error}", err=True)
        if verbose and o.details:
            click.echo(o.details, err=True)
    infeasible = [o for o in outcomes if o.status == INFEASIBLE]
    if infeasible:
        click.echo(
            f"{len(infeasible)} run(s) refused their budget (recorded in {INFEASIBLE_RECORD}, not failures): "
            + "; ".join(f"{o.label}: {o.error}" for o in infeasible[:3])
            + (" ..." if len(infeasible) > 3 else "")
        )
    busy = [o for o in outcomes if o.status == BUSY]
    if busy:
        click.echo(f"{len(busy)} run(s) were being written by another process; rerun the suite to confirm them")
    if failed:
        retry = sum(o.retry for o in failed)
        hint = (
            "rerun the suite to retry them"
            if retry == len(failed)
            else (f"{retry} may succeed when the suite is rerun; the others need the fix their line names")
        )
        raise CheckFailed(f"{len(failed)} of {len(outcomes)} run(s) failed; {hint}")


@cli.command(name="leaderboard")
@click.argument("root", type=click.Path(path_type=Path))
@click.option("--data-dir", default=None, help="Data folder for reference lines (default: $SUPERNET_BENCH_DATA).")
@click.option("--parquet", default=None, type=click.Path(path_type=Path), help="Also write leaderboard.parquet here.")
@click.option("--no-references", is_flag=True, help="Leave out reference estimators (stored ones, hp12, seed-to-seed).")
def leaderboard_(root: Path, data_dir, parquet, no_references: bool) -> None:
    """Print the leaderboard of the complete runs under ROOT as Markdown."""
    from supernet_bench.aggregate import load_runs, summarize
    from supernet_bench.leaderboard import all_reference_rows, leaderboard, write_leaderboard
    from supernet_bench.report import leaderboard_markdown

    runs = load_runs(root)
    refs, notes = (None, []) if no_references else all_reference_rows(runs, data_dir)
    board = leaderboard(summarize(runs.metrics), refs)
    click.echo(leaderboard_markdown(board))
    for note in [*runs.notes, *notes]:
        click.echo(f"note: {note}", err=True)
    if parquet is not None:
        write_leaderboard(board, parquet)
        click.echo(f"wrote {parquet}")


@cli.command()
@click.argument("root", type=click.Path(path_type=Path))
@click.option("--data-dir", default=None, help="Data folder (default: $SUPERNET_BENCH_DATA).")
@click.option(
    "--seeds", default="0,1,2", show_default=True, help="Init/batch seeds of the zero-cost proxies (comma-separated)."
)
@click.option("--batch-size", default=64, show_default=True, type=click.IntRange(min=2), help="Zero-cost batch.")
@click.option("--only", default=None, help="Comma-separated estimator keys (default: all; see harness/references.py).")
@click.option("--threads", default=1, show_default=True, type=click.IntRange(min=1), help="torch threads.")
def references(root: Path, data_dir, seeds: str, batch_size: int, only, threads: int) -> None:
    """Score the free reference estimators (#params, FLOPs, synflow, snip, grad_norm, jacob_cov, NASWOT, the
    untrained supernet) on the architecture sample of the runs under ROOT, stored as reference runs in
    ROOT/references/ (same parquet schemas as methods) for `leaderboard`, `report` and `regress`."""
    import torch
    from supernet_bench.aggregate import load_runs
    from supernet_bench.references import compute_references

    torch.set_num_threads(threads)
    try:
        seed_list = [int(x) for x in seeds.split(",") if x.strip()]
    except ValueError:
        raise BenchError(f"--seeds must be comma-separated integers, got {seeds!r}") from None
    keys = [k.strip() for k in only.split(",") if k.strip()] if only else None
    written = compute_references(
        load_runs(root), data_dir, seeds=seed_list, batch_size=batch_size, only=keys, log=click.echo
    )
    click.echo(f"wrote {len(written)} reference run(s) under {root / 'references'}")


@cli.command()
@click.argument("roots", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--out", required=True, type=click.Path(path_type=Path), help="Report folder, e.g. reports/smoke.")
@click.option("--data-dir", default=None, help="Data folder for reference lines (default: $SUPERNET_BENCH_DATA).")
@click.option("--title", default=None, help="Page title.")
def report(roots: tuple[Path, ...], out: Path, data_dir, title) -> None:
    """Write leaderboard.md, index.html, figures/*.png and tables/*.md for the runs under ROOT(S).

    Several roots make one pooled report: every board of each, and the cross-task ranks (and, with 5+ tasks,
    the critical-difference diagram) over all of them.
    """
    from supernet_bench.report import build_report

    if out.exists() and not out.is_dir():
        raise BenchError(f"--out {out} is a file; the report needs a folder")
    result = build_report(list(roots), out, data_dir=data_dir, title=title)
    click.echo(f"report: {out / 'index.html'} and {out / 'leaderboard.md'}")
    n_fig, n_tab = len(result.figures), len(result.tables)
    click.echo(f"  {n_fig} figure(s) in {out / 'figures'}, {n_tab} table(s) in {out / 'tables'}")
    for note in result.notes:
        click.echo(f"note: {note}", err=True)


@cli.command()
@click.argument("root", type=click.Path(path_type=Path))
@click.option("--against", default=None, type=click.Path(path_type=Path), help="Baseline parquet to check against.")
@click.option("--write-baseline", default=None, type=click.Path(path_type=Path), help="Create a baseline from ROOT.")
@click.option(
    "--tolerance",
    default=None,
    type=float,
    help="KT margin below the baseline CI low [the baseline's, else 0.05].",
)
@click.option(
    "--score-tolerance",
    default=None,
    type=float,
    help="Mean-supernet-accuracy margin, in percentage points [the baseline's, else 1.0].",
)
@click.option("--allow-missing", is_flag=True, help="Report baseline methods absent from ROOT without failing.")
def regress(root: Path, against, write_baseline, tolerance, score_tolerance, allow_missing: bool) -> None:
    """Check the runs under ROOT against a Kendall-tau baseline (exit 1 on a regression), or write one."""
    from supernet_bench import regress as R

    if (against is None) == (write_baseline is None):
        raise click.UsageError("give exactly one of --against FILE or --write-baseline FILE")
    if write_baseline is not None:
        rows = R.write_baseline(
            root,
            write_baseline,
            R.DEFAULT_TOLERANCE if tolerance is None else tolerance,
            R.DEFAULT_SCORE_TOLERANCE if score_tolerance is None else score_tolerance,
        )
        click.echo(f"wrote {write_baseline}: {len(rows)} row(s), {rows['method'].nunique()} method(s)")
        return
    result = R.regress(root, against, tolerance, score_tolerance)
    for line in result.lines():
        click.echo(line)
    if result.failed(allow_missing):
        problems = result.problem_count(allow_missing)
        raise CheckFailed(f"{problems} problem(s) against {against} ({result.describe_tolerances()})")
    tols = result.describe_tolerances()
    click.echo(f"ok: {result.checked} cell(s) checked against {against} ({tols}): no regression")


# --- data: download and check the benchmarks' official files (harness/fetch.py, harness/datasets_catalog.py) ---
#   supernet-bench data fetch macro
#   supernet-bench data check --json


@cli.group()
def data() -> None:
    """Download (`fetch`) and inspect (`check`) the benchmarks' official data files."""


@data.command(name="fetch")
@click.argument("name")
@click.option("--data-dir", default=None, help="Data folder (default: $SUPERNET_BENCH_DATA).")
@click.option(
    "--base-url", default=None, help="Mirror replacing the scheme and host of every URL ($SUPERNET_BENCH_MIRROR)."
)
@click.option("--tries", default=3, show_default=True, type=click.IntRange(1, 10), help="Attempts per file.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
def data_fetch(name: str, data_dir, base_url, tries: int, quiet: bool) -> None:
    """Download benchmark NAME (see `data check`), verify its checksum, unpack and convert it."""
    from supernet_bench.data import resolve_data_dir
    from supernet_bench.fetch import fetch

    root = resolve_data_dir(data_dir)
    records = fetch(name, root, base_url=base_url, tries=tries, progress=False if quiet else None, log=click.echo)
    for r in records:
        sha = f" (sha256 {r['sha256']})" if r["sha256"] else ""
        click.echo(f"{name}: {r['target']} {r['status']}{sha}")


@data.command(name="check")
@click.option("--data-dir", default=None, help="Data folder (default: $SUPERNET_BENCH_DATA).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def data_check(data_dir, as_json: bool) -> None:
    """For every benchmark: present/missing, its files with sha256, and its version."""
    from supernet_bench.data import resolve_data_dir
    from supernet_bench.fetch import check, format_check

    records = check(resolve_data_dir(data_dir))
    if as_json:
        click.echo(strict_json(records))
    else:
        for line in format_check(records):
            click.echo(line)


# --- demo: the whole pipeline on the harness's own tiny benchmark (harness/demo_benchmark.py) ------------
#   supernet-bench demo --out demo-output
#   supernet-bench demo build-gt --out harness/demo/nb201-demo-shapes.csv


@cli.group(invoke_without_command=True)
@click.option(
    "--out",
    default=Path("demo-output"),  # runs go to <out>/runs/demo/..., the report to <out>/report
    show_default=True,
    type=click.Path(path_type=Path),
    help="Folder for the runs (runs/) and the report (report/).",
)
@click.option(
    "--methods", default="spos,fairnas,close-s,spos+calr+ms", show_default=True, help="Comma-separated registry names."
)
@click.option("--set", "overrides", multiple=True, help="Override a demo-profile key: section.key=value.")
@click.option("--device", default=None, help=DEVICE_HELP)
@click.pass_context
def demo(ctx: click.Context, out: Path, methods: str, overrides, device) -> None:
    """Run the complete pipeline with no data folder and no network: train a few methods briefly on the
    generated demo-shapes task (NB201 conv3-pool, 64 archs), score them against the shipped stand-alone
    ground truth, write parquet, the leaderboard and figures, and print where they are."""
    if ctx.invoked_subcommand is not None:
        return
    from supernet_bench.demo_benchmark import run_demo
    from supernet_bench.methods import canonical_name

    names = tuple(canonical_name(m.strip()) for m in methods.split(",") if m.strip())
    if not names:
        raise BenchError("--methods is empty")
    _on_stop(f"no new run was started; resume with the same command (--out {out}): finished runs are kept")
    result = run_demo(out, names, (*overrides, *_device_overrides(device)), log=click.echo)
    click.echo(f"runs (parquet): {result['runs']}")
    click.echo(f"leaderboard: {result['leaderboard']}")
    click.echo(f"report: {result['index']}")
    for fig in result["figures"]:
        click.echo(f"figure: {fig}")
    click.echo(f"noise ceiling (seed-to-seed Kendall tau of the ground truth): {result['noise_ceiling']:.3f}")
    click.echo(f"demo wall time: {result['wall_s']:.0f}s")
    if result["failed"]:
        raise CheckFailed(f"{len(result['failed'])} demo run(s) failed: {result['failed'][0].error}")


@demo.command(name="build-gt")
@click.option("--out", required=True, type=click.Path(path_type=Path), help="CSV to write.")
@click.option("--epochs", default=None, type=click.IntRange(min=1), help="Training epochs per arch [recipe's].")
@click.option(
    "--workers",
    default=1,
    show_default=True,
    type=click.IntRange(min=1),
    help="Local processes (single-threaded trainings; the table does not depend on it).",
)
def demo_build_gt(out: Path, epochs, workers: int) -> None:
    """Train every NB201 conv3-pool arch stand-alone on demo-shapes (2 seeds) and write the demo GT table."""
    from supernet_bench import demo_benchmark as B

    B.build_ground_truth(out, epochs=B.EPOCHS if epochs is None else epochs, workers=workers, log=click.echo)
    click.echo(f"wrote {out}; seed-to-seed Kendall tau {B.noise_ceiling(out):.3f}")


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """A plugin that failed to load is one line on stderr, not a source excerpt."""
    if issubclass(category, PluginWarning):
        click.echo(f"warning: {message}", err=True)
    else:
        _default_show_warning(message, category, filename, lineno, file, line)


_default_show_warning = warnings.showwarning


def main(argv: list[str] | None = None) -> int:
    with warnings.catch_warnings():
        warnings.showwarning = _show_warning
        return _main(argv)


_RESUME_HINT = ["nothing more to resume"]  # set by each long command: how to continue after a stop


def _on_stop(hint: str) -> None:
    _RESUME_HINT[0] = hint


def _main(argv: list[str] | None) -> int:
    from supernet_bench import stopping

    previous = stopping.install()
    _RESUME_HINT[0] = "nothing more to resume"
    try:
        cli.main(args=argv, prog_name="supernet-bench", standalone_mode=False)
    except BenchError as e:
        click.echo(f"error: {e}", err=True)
        return 2
    except OSError as e:  # a folder or file the harness could not create, write or read
        from supernet_bench.core.errors import describe_os_error

        click.echo(f"error: {describe_os_error(e)}", err=True)
        return 2
    except (click.exceptions.Abort, KeyboardInterrupt):  # SIGINT / SIGTERM (harness/stopping.py)
        click.echo(f"stopped by {stopping.signal_name()}; {_RESUME_HINT[0]}", err=True)
        return stopping.exit_code()
    except click.ClickException as e:
        e.show()
        return e.exit_code
    finally:
        stopping.restore(previous)
    return 0


def console_main() -> None:
    """The `supernet-bench` command: `main`, and after a stop by a signal a prompt exit.

    After a SIGINT/SIGTERM stop the pool's workers are already gone and every result is on disk; exiting
    through the interpreter's shutdown (atexit joins of executor threads, multiprocessing finalizers) let a
    second Ctrl-C arriving meanwhile kill the process by the default action, exit code -2 instead of 130.
    """
    from supernet_bench import stopping

    code = main()
    if stopping.first_signal() is not None:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    sys.exit(code)


if __name__ == "__main__":
    console_main()
