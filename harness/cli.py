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
import sys
from pathlib import Path

import click

from harness.errors import BenchError


def _fmt(x: float) -> str:
    return "nan" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.4f}"


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def cli() -> None:
    """Budget-normalized benchmark of one-shot NAS supernet-training methods."""


@cli.command()
@click.option("--method", required=True, help="Registry name, e.g. spos, fairnas, spos+calr+ms.")
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
def run(method, space, dataset, profile, seed, gt, out, data_dir, overrides, resume, quiet) -> None:
    """Train one method under the protocol and score it at every checkpoint."""
    from harness.config import resolve_config
    from harness.protocol import run as run_protocol
    from harness.store import RunStore
    from methods import canonical_name

    config = resolve_config(
        canonical_name(method), profile=profile, space=space, seed=seed, overrides=overrides, dataset=dataset, gt=gt
    )
    if out is None:
        out = Path("runs") / f"{config.profile}_{space.replace(':', '-')}_{config.dataset}_{config.method}_s{seed}"
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


@cli.command(name="list")
@click.argument("what", type=click.Choice(["methods", "spaces", "profiles", "metrics", "datasets", "policies"]))
@click.option("-v", "--verbose", is_flag=True, help="Show defaults and descriptions.")
def list_(what: str, verbose: bool) -> None:
    """List registered methods, spaces, profiles, metrics, data sets or policies."""
    if what == "methods":
        from methods import METHODS, method_names

        for name in method_names():
            if verbose and "+" not in name:
                cls = METHODS.get(name)
                doc = (cls.__doc__ or "").strip().splitlines()[0]
                click.echo(f"{name}: {doc}")
                for k, v in cls.default_params().items():
                    click.echo(f"    {k} = {v!r}")
            else:
                click.echo(name)
    elif what == "policies":
        from methods.policies import POLICIES

        for name, cls in POLICIES.items():
            click.echo(f"{name}: {cls.default_params()}" if verbose else name)
    elif what == "spaces":
        from spaces import get_space, space_names

        for name in space_names():
            space = get_space(name)
            click.echo(f"{name}: {space.size()} architectures" if verbose else name)
    elif what == "profiles":
        from harness.config import load_profile, profile_names

        for name in profile_names():
            click.echo(f"{name}: {load_profile(name)[1].get('description', '')}" if verbose else name)
    elif what == "metrics":
        from harness.metrics import METRICS

        for name, m in METRICS.items():
            arrow = "higher is better" if m.higher_is_better else "lower is better"
            click.echo(f"{name} ({arrow}): {m.description}" if verbose else name)
    elif what == "datasets":
        from harness.data import DATASETS

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
    from harness.data import resolve_data_dir
    from harness.scoring import score_table

    result = score_table(table, space, gt, resolve_data_dir(data_dir))
    if as_json:
        click.echo(json.dumps(result, indent=2, sort_keys=True, default=lambda v: None))
    else:
        for k, v in result.items():
            click.echo(f"{k}: {_fmt(v) if isinstance(v, float) else v}")


def main(argv: list[str] | None = None) -> int:
    try:
        cli.main(args=argv, prog_name="supernet-bench", standalone_mode=False)
    except BenchError as e:
        click.echo(f"error: {e}", err=True)
        return 2
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        return 130
    except click.ClickException as e:
        e.show()
        return e.exit_code
    except KeyboardInterrupt:
        click.echo("interrupted; rerun with --resume to continue", err=True)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
