"""Device resolution, the run keys harness/device.py reads, and where every method keeps its tensors.

Device-generic tests run on the CPU here and again on CUDA as their `gpu`-marked copy (tests/helpers.py DEVICES).
"""

from __future__ import annotations

import dataclasses
import io
import os

import numpy as np
import pytest
import torch
from supernet_bench import device as DV
from supernet_bench.core.errors import BenchError
from supernet_bench.evaluation import score_architecture
from supernet_bench.methods import create_method, method_names
from supernet_bench.methods.base import TrainContext

from tests.helpers import DEVICES, tiny_context

STEPS = 3  # enough for Few-Shot's split and GM-NAS's first gradient-matching batches at 6 passes


def no_cuda(monkeypatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 0)


def fake_gpus(monkeypatch, n: int) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: n > 0)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: n)


# --- resolution ----------------------------------------------------------------------------------------------
def test_auto_is_cpu_without_cuda(monkeypatch):
    no_cuda(monkeypatch)
    assert DV.resolve_device("auto") == torch.device("cpu")
    assert DV.resolve_device(None) == torch.device("cpu")
    assert DV.settings_from_run({}).device == torch.device("cpu")


def test_auto_is_cuda_where_available(monkeypatch):
    fake_gpus(monkeypatch, 2)
    assert DV.resolve_device("auto") == torch.device("cuda")
    assert DV.resolve_device("cuda") == torch.device("cuda", 0)
    assert DV.resolve_device("CUDA:1") == torch.device("cuda", 1)


def test_cuda_without_cuda_is_one_clear_error(monkeypatch):
    no_cuda(monkeypatch)
    with pytest.raises(DV.DeviceError, match="CUDA is not available on this machine"):
        DV.resolve_device("cuda")
    with pytest.raises(DV.DeviceError, match="CUDA is not available"):
        DV.resolve_device("cuda:0")


def test_missing_gpu_index_and_unknown_names_are_rejected(monkeypatch):
    fake_gpus(monkeypatch, 2)
    with pytest.raises(DV.DeviceError, match="has 2 CUDA device"):
        DV.resolve_device("cuda:2")
    for bad in ("tpu", "gpu", "cuda:x", "cpu:1", ""):
        with pytest.raises(DV.DeviceError, match="unknown device"):
            DV.resolve_device(bad)


def test_run_keys_are_checked():
    assert DV.settings_from_run({"precision": "bf16"}).precision == "bf16"
    with pytest.raises(BenchError, match="run.precision"):
        DV.settings_from_run({"precision": "fp16"})
    with pytest.raises(BenchError, match="run.deterministic"):
        DV.settings_from_run({"deterministic": "yes"})
    s = DV.settings_from_run({"channels_last": False, "device": "cpu"})
    assert s.memory_format == torch.contiguous_format and not s.is_cuda and s.forward_cache


def test_cuda_settings_turn_cpu_speedups_off(monkeypatch):
    s = DV.DeviceSettings(torch.device("cuda", 0))
    assert s.is_cuda and not s.forward_cache  # the forward cache is measured on CPUs only


def test_deterministic_sets_the_documented_flags(monkeypatch):
    monkeypatch.delenv("CUBLAS_WORKSPACE_CONFIG", raising=False)
    try:
        DV.apply(DV.DeviceSettings(torch.device("cpu"), deterministic=True))
        assert torch.are_deterministic_algorithms_enabled()
        assert torch.backends.cudnn.deterministic and not torch.backends.cudnn.benchmark
        assert os.environ["CUBLAS_WORKSPACE_CONFIG"] == DV.CUBLAS_WORKSPACE
    finally:
        DV.apply(DV.DeviceSettings(torch.device("cpu")))
    assert not torch.are_deterministic_algorithms_enabled() and not torch.backends.cudnn.deterministic


def test_bf16_autocast_only_when_asked():
    x = torch.randn(4, 8)
    lin = torch.nn.Linear(8, 3)
    with DV.DeviceSettings(torch.device("cpu")).autocast():
        assert lin(x).dtype == torch.float32
    with DV.DeviceSettings(torch.device("cpu"), precision="bf16").autocast():
        assert lin(x).dtype == torch.bfloat16


# --- versions and resume state -------------------------------------------------------------------------------
def test_cpu_versions_say_cpu_and_gpu_versions_name_the_gpu(monkeypatch):
    from supernet_bench.protocol import versions

    assert versions()["device_type"] == "cpu" and "gpu_name" not in versions()
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda d=None: "NVIDIA H100 80GB HBM3")
    monkeypatch.setattr(torch.version, "cuda", "12.4")
    monkeypatch.setattr(torch.backends.cudnn, "is_available", lambda: True)
    monkeypatch.setattr(torch.backends.cudnn, "version", lambda: 90100)
    monkeypatch.setattr(DV, "_nvidia_driver", lambda: "550.54.15")
    v = versions(torch.device("cuda", 0))
    assert (v["device_type"], v["gpu_name"], v["cuda"], v["cudnn"], v["gpu_driver"]) == (
        "cuda", "NVIDIA H100 80GB HBM3", "12.4", "90100", "550.54.15",
    )  # fmt: skip
    assert v["cpu_capability"] == torch.backends.cpu.get_cpu_capability()


def test_from_manifest_warns_about_another_gpu(monkeypatch, capsys):
    from supernet_bench import cli
    from supernet_bench.protocol import versions

    current = versions()
    monkeypatch.setattr("supernet_bench.protocol.versions", lambda device=None: {**current, "gpu_name": "A100"})
    cli.warn_version_drift({**current, "gpu_name": "H100"}, {"device": "cpu"})
    err = capsys.readouterr().err
    assert "gpu_name: H100 -> A100" in err and "cuDNN" in err
    cli.warn_version_drift({**current, "gpu_name": "A100"}, {"device": "cpu"})
    assert capsys.readouterr().err == ""


def test_resume_rng_state_loads_with_weights_only(tmp_path):
    from supernet_bench.protocol import _rng_state, _set_rng_state

    rng = np.random.default_rng(3)
    state = _rng_state(rng)
    assert "cuda" in state
    torch.save(state, tmp_path / "s.pt")
    loaded = torch.load(tmp_path / "s.pt", weights_only=True)
    a = rng.random(3)
    torch_a = torch.rand(3)
    _set_rng_state(rng, loaded)
    assert np.array_equal(rng.random(3), a) and torch.equal(torch.rand(3), torch_a)


# --- data and scoring ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("device", DEVICES)
def test_batch_stream_cuts_and_augments_where_the_data_lives(device):
    from supernet_bench import data as D

    g = torch.Generator().manual_seed(0)
    ds = D.ImageDataset("t", torch.randint(0, 256, (40, 3, 8, 8), generator=g, dtype=torch.uint8),
                        torch.randint(0, 10, (40,), generator=g), 10, (0.5,) * 3, (0.25,) * 3)  # fmt: skip
    on = ds.to(device)
    assert on.images.dtype == torch.uint8 and on.images.device.type == device
    stream = D.BatchStream(on, 8, seed=1, memory_format=torch.contiguous_format)
    x, y = stream.next()
    assert x.device.type == device and y.device.type == device and x.is_contiguous()
    state = stream.state_dict()
    following = [stream.next() for _ in range(6)]  # crosses an epoch
    resumed = D.BatchStream(on, 8, seed=1, memory_format=torch.contiguous_format)
    resumed.load_state_dict(state)
    for (a, b), (c, d) in zip(following, [resumed.next() for _ in range(6)]):
        assert torch.equal(a, c) and torch.equal(b, d)


def test_cpu_dataset_to_cpu_is_itself():
    from supernet_bench import data as D

    ds = D.ImageDataset("t", torch.zeros(2, 3, 4, 4, dtype=torch.uint8), torch.zeros(2, dtype=torch.int64), 10,
                        (0.5,) * 3, (0.25,) * 3)  # fmt: skip
    assert ds.to("cpu") is ds


def test_scoring_reads_the_device_once_per_architecture(monkeypatch):
    """Per-batch sums stay on the device: one read-back for the loss and one for the correct count per arch,
    however many evaluation batches there are (on a GPU each read is a sync)."""
    ctx = tiny_context()
    method = create_method("spos")
    method.setup(ctx)
    sm = method.scoring_model((1, 2, 3, 1, 2, 3))
    g = torch.Generator().manual_seed(0)
    evals = [(torch.randn(8, 3, 8, 8, generator=g), torch.randint(0, 10, (8,), generator=g)) for _ in range(6)]
    reads = {"n": 0}
    for name in ("item", "tolist"):
        real = getattr(torch.Tensor, name)

        def counted(self, _real=real):
            reads["n"] += 1
            return _real(self)

        monkeypatch.setattr(torch.Tensor, name, counted)
    acc, loss = score_architecture(sm.forward, sm.module, evals, evals[:1], "recalibrate")
    assert reads["n"] == 2 and 0 <= acc <= 100 and loss > 0


# --- every method's tensors live on ctx.device -------------------------------------------------------------------
def _tensors(obj, where: str, seen: set[int]):
    """(path, tensor) of every tensor reachable from a method: modules' parameters and buffers, optimizer
    states, and tensors held in attributes, lists and dicts."""
    if id(obj) in seen:
        return
    seen.add(id(obj))
    if isinstance(obj, torch.Tensor):
        yield where, obj
    elif isinstance(obj, torch.nn.Module):
        for name, t in [*obj.named_parameters(), *obj.named_buffers()]:
            yield f"{where}.{name}", t
        for name, value in vars(obj).items():
            if not name.startswith("_"):
                yield from _tensors(value, f"{where}.{name}", seen)
    elif isinstance(obj, torch.optim.Optimizer):
        for i, state in enumerate(obj.state.values()):
            yield from _tensors(state, f"{where}.state[{i}]", seen)
    elif isinstance(obj, dict):
        for k, v in obj.items():
            yield from _tensors(v, f"{where}[{k!r}]", seen)
    elif isinstance(obj, (list, tuple)):
        for i, v in enumerate(obj):
            yield from _tensors(v, f"{where}[{i}]", seen)
    elif hasattr(obj, "__dict__") and type(obj).__module__.startswith("supernet_bench"):
        for name, value in vars(obj).items():
            if name != "ctx":
                yield from _tensors(value, f"{where}.{name}", seen)


# a 6-pass budget cannot pay for GM-NAS's full gradient matching (the paper's 100 batches)
SMALL_BUDGET_PARAMS = {"gmnas": {"gm_budget_fraction": 0.06}}


def _method_on(name: str, device: str, space: str = "nb201"):
    if space == "nb201":
        ctx = tiny_context(total_passes=6, device=device)
    else:
        ctx = dataclasses.replace(
            tiny_context(total_passes=6, device=device),
            space=__import__("supernet_bench.spaces", fromlist=["get_space"]).get_space(space),
            supernet_kwargs={"width_mult": 0.125},
        )
    method = create_method(name, SMALL_BUDGET_PARAMS)
    method.setup(ctx)
    return method, ctx


def _assert_on(method, device: str, when: str) -> int:
    found = list(_tensors(method, method.name, set()))
    wrong = [(w, str(t.device)) for w, t in found if t.device.type != device]
    assert not wrong, f"{when}: tensors off {device}: {wrong[:5]}"
    return len(found)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("name", method_names())
def test_every_tensor_of_every_method_lives_on_the_device(name, device):
    method, ctx = _method_on(name, device)
    assert isinstance(ctx, TrainContext) and ctx.device.type == device
    _assert_on(method, device, "after setup")
    for _ in range(STEPS):
        method.step()
    n = _assert_on(method, device, f"after {STEPS} steps")
    assert n > 0
    sm = method.scoring_model(ctx.space.sample(np.random.default_rng(0), ctx.space.allowed))
    x, y = ctx.next_batch()
    acc, _ = score_architecture(sm.forward, sm.module, [(x, y)], [(x, y)], "recalibrate")
    assert 0 <= acc <= 100


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("name", ["spos", "close", "cond-weights"])
def test_macro_methods_live_on_the_device(name, device):
    method, ctx = _method_on(name, device, space="macro")
    for _ in range(STEPS):
        method.step()
    assert _assert_on(method, device, "macro") > 0


def test_state_dict_of_a_method_round_trips_weights_only():
    """Resume state holds tensors and plain types only (torch.load(weights_only=True) reads it)."""
    method, _ = _method_on("gmnas", "cpu")
    for _ in range(STEPS):
        method.step()
    buf = io.BytesIO()
    torch.save(method.state_dict(), buf)
    buf.seek(0)
    torch.load(buf, weights_only=True)


# --- the command line and the protocol ----------------------------------------------------------------------
@pytest.mark.parametrize("command", [["run", "--method", "spos"], ["suite", "smoke"], ["demo"]])
def test_device_cuda_without_cuda_fails_before_any_work(command, tmp_path, monkeypatch, capsys):
    from supernet_bench.cli import main

    no_cuda(monkeypatch)
    out = tmp_path / "out"
    assert main([*command, "--out", str(out), "--device", "cuda"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: device 'cuda' requested, but CUDA is not available") and err.count("\n") == 1
    assert not out.exists()


def test_unknown_device_name_is_rejected_by_every_executor(tmp_path, capsys):
    from supernet_bench.cli import main

    assert main(["suite", "smoke", "--out", str(tmp_path), "--executor", "ray", "--device", "gpu0"]) == 2
    assert "unknown device 'gpu0'" in capsys.readouterr().err


def test_suite_asks_for_more_gpus_than_there_are(tmp_path, monkeypatch, capsys):
    from supernet_bench.cli import main

    fake_gpus(monkeypatch, 2)
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    assert main(["suite", "smoke", "--out", str(tmp_path), "--workers", "3", "--gpus-per-run", "1"]) == 2
    err = capsys.readouterr().err
    assert "needs 3 GPU(s), this machine has 2: use --workers 2 or fewer" in err and err.count("\n") == 1


@pytest.mark.data
def test_device_cpu_run_equals_the_default_run(tmp_path, data_dir):
    import pyarrow.parquet as pq
    from supernet_bench import protocol
    from supernet_bench.config import resolve_config

    from tests.helpers import TINY_OVERRIDES

    roots = {}
    for label, extra in (("default", []), ("cpu", ['run.device="cpu"'])):
        config = resolve_config("spos", profile="smoke", overrides=[*TINY_OVERRIDES, *extra])
        roots[label] = protocol.run(config, tmp_path / label, data_dir=data_dir, progress=False)
    a, b = (pq.read_table(roots[k] / "predictions.parquet").to_pandas() for k in ("default", "cpu"))
    a["run_id"] = b["run_id"] = ""
    assert a.equals(b) and len(a) > 0


def test_fp32_means_no_tf32_and_bf16_allows_it():
    try:
        DV.apply(DV.DeviceSettings(torch.device("cpu"), precision="bf16"))
        assert torch.backends.cudnn.allow_tf32 and torch.backends.cuda.matmul.allow_tf32
        DV.apply(DV.DeviceSettings(torch.device("cpu")))
        assert not torch.backends.cudnn.allow_tf32 and not torch.backends.cuda.matmul.allow_tf32
    finally:
        DV.apply(DV.DeviceSettings(torch.device("cpu")))


@pytest.mark.data
@pytest.mark.slow
@pytest.mark.parametrize("method", ["close", "gmnas"])
def test_bf16_and_deterministic_runs_complete(method, tmp_path, data_dir):
    """The run keys reach a real run: bf16 autocast around steps and scoring, deterministic kernels on."""
    from supernet_bench import protocol
    from supernet_bench.config import resolve_config
    from supernet_bench.store import RunStore

    from tests.helpers import TINY_OVERRIDES

    extra = ['run.precision="bf16"', "run.deterministic=true", 'run.device="cpu"']
    config = resolve_config(method, profile="smoke", overrides=[*TINY_OVERRIDES, *extra])
    try:
        root = protocol.run(config, tmp_path / "r", data_dir=data_dir, progress=False)
    finally:
        DV.apply(DV.DeviceSettings(torch.device("cpu")))
    store = RunStore(root)
    assert store.is_complete() and np.isfinite(store.read_predictions().to_pandas()["score"]).all()
    assert store.manifest()["config"]["run"]["precision"] == "bf16"
