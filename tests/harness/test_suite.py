"""harness/suite.py: suite files, the run grid, skip / resume / failure handling, and one real tiny suite."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from supernet_bench import protocol
from supernet_bench import suite as S
from supernet_bench.cli import main
from supernet_bench.core.errors import BenchError, UnknownNameError
from supernet_bench.store import RunStore

from tests.harness.test_aggregate import write_run
from tests.helpers import TINY_OVERRIDES


def write_suite(path: Path, **fields) -> Path:
    data = {"profile": "smoke", "seeds": [0, 1], "methods": ["spos"], **fields}
    lines = [f"{k} = {json.dumps(v)}" for k, v in data.items()]
    path.write_text("\n".join(lines) + "\n")
    return path


class FakeProtocol:
    """Stands in for protocol.run in this process: a synthetic complete run, a failure, or an interruption.

    ``fail``: (method, seed) pairs that always raise. ``interrupt``: pairs that leave a resume state and a
    "running" manifest and raise the first time, and complete when run again with that state.
    """

    def __init__(self, fail=(), interrupt=()):
        self.fail, self.interrupt = set(fail), set(interrupt)
        self.calls: list[tuple[str, int, bool, bool]] = []  # (method, seed, resume, had resume state)

    def __call__(self, config, out, data_dir=None, resume=False, progress=True, log=None):
        store = RunStore(out)
        store.prepare(resume)  # the real rule: a non-empty directory needs resume=True
        had_state = store.has_state()
        self.calls.append((config.method, config.seed, resume, had_state))
        key = (config.method, config.seed)
        recorded = json.loads(json.dumps(config.to_dict(), default=str))
        if key in self.fail:
            raise RuntimeError("boom\nsecond line")
        if key in self.interrupt and not had_state:
            store.write_manifest({"run_id": Path(out).name, "status": "running", "config": recorded})
            store.save_state({"next_checkpoint": 1})
            raise RuntimeError("killed after checkpoint 0")
        write_run(Path(out), out=Path(out), method=config.method, seed=config.seed, kt=(0.1, 0.2), config=recorded)
        store.clear_state()
        return Path(out)


@pytest.fixture
def fake(monkeypatch):
    """Replace protocol.run with a FakeProtocol (configure its fail / interrupt sets in the test)."""
    f = FakeProtocol()
    monkeypatch.setattr(protocol, "run", f)
    return f


# ----------------------------------------------------------------------------------------------------------
# suite files and the grid


def test_shipped_suites_load_and_plan(tmp_path: Path):
    assert {"smoke", "proxy"} <= set(S.suite_names())
    smoke = S.load_suite("smoke")
    assert smoke.profile == "smoke" and smoke.methods == ("spos", "fairnas") and smoke.seeds == (0, 1)
    tasks = S.plan(smoke, tmp_path)
    assert [t.label for t in tasks] == [
        "smoke/nb201/cifar10/spos/seed0",
        "smoke/nb201/cifar10/spos/seed1",
        "smoke/nb201/cifar10/fairnas/seed0",
        "smoke/nb201/cifar10/fairnas/seed1",
    ]
    assert tasks[0].out == tmp_path / tasks[0].label and tasks[0].config.gt == "cifar10-valid_x-valid_hp200"
    from supernet_bench.methods import method_names

    proxy = S.plan(S.load_suite("proxy"), tmp_path)  # every registered method x 3 seeds
    assert len(proxy) == 3 * len(method_names()) and {t.config.profile for t in proxy} == {"proxy"}
    assert {t.config.method for t in proxy} == set(method_names())


def test_suite_file_fields(tmp_path: Path):
    path = write_suite(
        tmp_path / "mine.toml", seeds=3, methods=["spos+ms"], spaces=["nb201:no-zero"], overrides=["run.batch_size=16"]
    )
    suite = S.load_suite(path)
    assert suite.name == "mine" and suite.seeds == (0, 1, 2) and suite.out == "runs/mine"
    tasks = S.plan(suite, tmp_path / "r", extra_overrides=["run.budget_epochs=3"])
    assert tasks[2].label == "smoke/nb201-no-zero/cifar10/spos+ms/seed2"
    assert tasks[0].config.run["batch_size"] == 16 and tasks[0].config.run["budget_epochs"] == 3


@pytest.mark.parametrize(
    ("fields", "match"),
    [
        ({"method": ["spos"]}, "unknown key"),
        ({"seeds": [0, 0]}, "repeats a seed"),
        ({"seeds": -1}, r"must be in \[1, 10000\]"),
        ({"methods": []}, "'methods' is empty"),
        ({"methods": "spos", "profile": 3}, "'profile' must be a string"),
    ],
)
def test_bad_suite_files(tmp_path: Path, fields, match):
    with pytest.raises(BenchError, match=match):
        S.load_suite(write_suite(tmp_path / "bad.toml", **fields))


def test_unknown_names_fail_before_anything_runs(tmp_path: Path):
    with pytest.raises(UnknownNameError, match="Did you mean: spos"):
        S.plan(S.load_suite(write_suite(tmp_path / "a.toml", methods=["spoz"])), tmp_path)
    with pytest.raises(UnknownNameError, match="space"):
        S.plan(S.load_suite(write_suite(tmp_path / "b.toml", spaces=["nb2001"])), tmp_path)
    with pytest.raises(BenchError):
        S.load_suite(tmp_path / "absent.toml")
    with pytest.raises(UnknownNameError, match="Unknown suite"):
        S.load_suite("smokey")


# ----------------------------------------------------------------------------------------------------------
# running (protocol.run replaced by FakeProtocol)


def test_suite_skips_complete_runs_and_resumes_an_interrupted_one(fake, tmp_path: Path):
    fake.interrupt = {("fairnas", 0)}
    tasks = S.plan(S.load_suite(write_suite(tmp_path / "s.toml", methods=["spos", "fairnas"])), tmp_path / "r")
    first = S.run_suite(tasks, data_dir=tmp_path)
    assert [o.status for o in first] == ["ran", "ran", "failed", "ran"]
    assert "killed after checkpoint 0" in first[2].error and "Traceback" in first[2].details
    assert first[0].kendall_tau == pytest.approx(0.2)
    assert RunStore(tasks[2].out).has_state() and not RunStore(tasks[2].out).is_complete()

    fake.calls.clear()
    second = S.run_suite(tasks, data_dir=tmp_path)
    assert [o.status for o in second] == ["skipped", "skipped", "resumed", "skipped"]
    assert fake.calls == [("fairnas", 0, True, True)]  # only the interrupted run, resumed from its state
    assert all(RunStore(t.out).is_complete() for t in tasks)


def test_suite_continues_past_a_failed_run_and_reports_it(fake, tmp_path: Path, capsys):
    fake.fail = {("spos", 0)}
    path = write_suite(tmp_path / "s.toml", methods=["spos", "fairnas"], seeds=[0])
    rc = main(["suite", str(path), "--out", str(tmp_path / "r"), "--data-dir", str(tmp_path)])
    captured = capsys.readouterr()
    assert rc == 1
    assert "FAILED smoke/nb201/cifar10/spos/seed0: RuntimeError: boom" in captured.err
    assert "1 of 2 run(s) failed" in captured.err
    assert "| smoke/nb201/cifar10/fairnas/seed0 | ran | 0.2000 |" in captured.out
    assert RunStore(tmp_path / "r/smoke/nb201/cifar10/fairnas/seed0").is_complete()
    fake.fail = set()
    assert main(["suite", str(path), "--out", str(tmp_path / "r"), "--data-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "[1/2] ran      smoke/nb201/cifar10/spos/seed0" in out and "skipped  smoke/nb201/cifar10/fairnas" in out


def test_a_complete_run_with_another_config_is_not_reused(fake, tmp_path: Path):
    suite = S.load_suite(write_suite(tmp_path / "s.toml", seeds=[0]))
    S.run_suite(S.plan(suite, tmp_path / "r"), data_dir=tmp_path)
    (outcome,) = S.run_suite(S.plan(suite, tmp_path / "r", ["methods.spos.lr=0.0"]), data_dir=tmp_path)
    assert outcome.status == "failed" and "different config" in outcome.error


def test_any_executor_can_run_the_grid(fake, tmp_path: Path):
    tasks = S.plan(S.load_suite(write_suite(tmp_path / "s.toml", seeds=[0, 1, 2])), tmp_path / "r")
    seen = []
    with ThreadPoolExecutor(max_workers=2) as pool:
        outcomes = S.run_suite(tasks, data_dir=tmp_path, executor=pool, on_outcome=lambda d, t, o: seen.append(d))
    assert [o.label for o in outcomes] == [t.label for t in tasks] and {o.status for o in outcomes} == {"ran"}
    assert seen == [1, 2, 3]


def test_cli_dry_run_lists_runs(tmp_path: Path, capsys):
    path = write_suite(tmp_path / "s.toml", methods=["spos", "fairnas"], seeds=[3])
    assert main(["suite", str(path), "--out", str(tmp_path / "r"), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "2 run(s)" in out and "smoke/nb201/cifar10/fairnas/seed3" in out
    assert not (tmp_path / "r").exists()


# ----------------------------------------------------------------------------------------------------------
# the real thing, tiny


@pytest.mark.data
@pytest.mark.slow
def test_real_tiny_suite_then_report_and_regress(tmp_path: Path, data_dir: Path, capsys):
    """One real SPOS run through suite -> report -> baseline -> regress, then the suite skips it."""
    path = write_suite(tmp_path / "tiny.toml", seeds=[0], overrides=TINY_OVERRIDES, out=str(tmp_path / "r"))
    args = ["suite", str(path), "--data-dir", str(data_dir)]
    assert main(args) == 0
    run = tmp_path / "r/smoke/nb201/cifar10/spos/seed0"
    assert RunStore(run).is_complete()
    assert main(args) == 0 and "skipped  smoke/nb201/cifar10/spos/seed0" in capsys.readouterr().out

    report = tmp_path / "report"
    assert main(["report", str(tmp_path / "r"), "--out", str(report), "--data-dir", str(data_dir)]) == 0
    md = (report / "leaderboard.md").read_text()
    assert "| 1 | spos | 1 |" in md and "*hp12 training*" in md
    page = (report / "index.html").read_text()
    assert all((report / src).is_file() for src in re.findall(r'<img src="(figures/[^"]+)"', page))
    assert '<img src="figures/' in page

    baseline = tmp_path / "b.parquet"
    assert main(["regress", "--write-baseline", str(baseline), str(tmp_path / "r")]) == 0
    assert main(["regress", "--against", str(baseline), str(tmp_path / "r")]) == 0


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux-only")
def test_pool_workers_die_with_the_suite_process(tmp_path: Path):
    """SIGKILL the process that owns the worker pool (as run_suite builds it): its workers must not train on."""
    script = tmp_path / "parent.py"
    script.write_text(
        "import multiprocessing, os, sys, time\n"
        "from concurrent.futures import ProcessPoolExecutor\n"
        "from supernet_bench.suite import die_with_parent\n"
        "if __name__ == '__main__':\n"
        "    ctx = multiprocessing.get_context('spawn')\n"
        "    kw = dict(mp_context=ctx, initializer=die_with_parent, initargs=(os.getpid(),))\n"
        "    with ProcessPoolExecutor(2, **kw) as pool:\n"
        "        print(pool.submit(os.getpid).result(), flush=True)\n"
        "        pool.submit(time.sleep, 120)\n"
        "        time.sleep(120)\n"
    )
    parent = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True, cwd=Path.cwd())
    try:
        worker = int(parent.stdout.readline())
        os.kill(worker, 0)  # alive
        parent.kill()
        parent.wait(10)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and Path(f"/proc/{worker}").exists():
            if Path(f"/proc/{worker}/stat").read_text().split()[2] == "Z":
                break  # killed; a zombie until reaped
            time.sleep(0.1)
        alive = Path(f"/proc/{worker}").exists() and Path(f"/proc/{worker}/stat").read_text().split()[2] != "Z"
        assert not alive, "a pool worker outlived the killed suite process"
    finally:
        parent.kill()
