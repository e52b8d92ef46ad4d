"""CUDA runs of the whole protocol (marker `gpu`; skipped without CUDA, run by `tox -e gpu` and scripts/gpu-check).

Every method on NB201 and Macro at smoke scale; --resume on CUDA identical to an uninterrupted CUDA run in
deterministic mode; CPU and GPU scores of the same weights agree within float tolerance. The device-generic
tests elsewhere (tests/harness/test_device.py) have their CUDA copies under the same marker.
"""

from __future__ import annotations

import numpy as np
import pyarrow.parquet as pq
import pytest
import torch
from supernet_bench import protocol
from supernet_bench.config import resolve_config
from supernet_bench.evaluation import score_architectures
from supernet_bench.methods import create_method, method_names
from supernet_bench.store import RunStore

from tests.helpers import TINY_OVERRIDES, tiny_context

pytestmark = [pytest.mark.gpu, pytest.mark.data]

MACRO_TINY = [o for o in TINY_OVERRIDES if not o.startswith("supernet.")] + ["supernet.width_mult=0.125"]
CUDA = ['run.device="cuda"']


def predictions(root):
    table = pq.read_table(root / "predictions.parquet").to_pandas()
    table["run_id"] = ""
    return table


@pytest.mark.parametrize("space", ["nb201", "macro"])
@pytest.mark.parametrize("method", method_names())
def test_every_method_runs_on_cuda(method, space, tmp_path, data_dir):
    profile, tiny = ("smoke", TINY_OVERRIDES) if space == "nb201" else ("macro-smoke", MACRO_TINY)
    config = resolve_config(method, profile=profile, space=space, overrides=[*tiny, *CUDA])
    root = protocol.run(config, tmp_path / "r", data_dir=data_dir, progress=False)
    manifest = RunStore(root).manifest()
    assert manifest["status"] == "complete" and manifest["versions"]["device_type"] == "cuda"
    assert manifest["versions"]["gpu_name"] and np.isfinite(predictions(root)["score"]).all()


class Interrupt(Exception):
    pass


@pytest.mark.parametrize("method", ["spos", "fewshot", "close"])
def test_resume_on_cuda_equals_an_uninterrupted_run(method, tmp_path, data_dir, monkeypatch):
    config = resolve_config(
        method,
        profile="smoke",
        overrides=[*TINY_OVERRIDES, *CUDA, "run.deterministic=true", "run.checkpoints=[0.5, 1.0]"],
    )
    full = protocol.run(config, tmp_path / "full", data_dir=data_dir, progress=False)
    real = RunStore.save_state

    def crash(self, state):
        real(self, state)
        raise Interrupt

    monkeypatch.setattr(RunStore, "save_state", crash)
    with pytest.raises(Interrupt):
        protocol.run(config, tmp_path / "cut", data_dir=data_dir, progress=False)
    monkeypatch.undo()
    torch.cuda.manual_seed_all(12345)  # a resumed run must restore the CUDA RNG itself
    protocol.run(config, tmp_path / "cut", data_dir=data_dir, resume=True, progress=False)
    assert predictions(full).equals(predictions(tmp_path / "cut"))


@pytest.mark.parametrize("method", ["spos", "close", "cond-weights"])
def test_cpu_and_gpu_scores_of_the_same_weights_agree(method):
    from supernet_bench import device as DV

    DV.apply(DV.DeviceSettings(torch.device("cuda")))  # as a run does: fp32 without TF32
    cpu_ctx = tiny_context(total_passes=6)
    trained = create_method(method)
    trained.setup(cpu_ctx)
    for _ in range(3):
        trained.step()
    gpu_ctx = tiny_context(total_passes=6, device="cuda")
    on_gpu = create_method(method)
    on_gpu.setup(gpu_ctx)
    on_gpu.load_state_dict(trained.state_dict())
    g = torch.Generator().manual_seed(0)
    batches = [(torch.randn(16, 3, 8, 8, generator=g), torch.randint(0, 10, (16,), generator=g)) for _ in range(3)]
    archs = [cpu_ctx.space.sample(np.random.default_rng(i), cpu_ctx.space.allowed) for i in range(8)]
    acc_c, loss_c = score_architectures(trained, archs, batches[1:], batches[:1], "recalibrate")
    on = [(x.cuda(), y.cuda()) for x, y in batches]
    acc_g, loss_g = score_architectures(on_gpu, archs, on[1:], on[:1], "recalibrate", cache=False)
    np.testing.assert_allclose(loss_g, loss_c, rtol=1e-3, atol=1e-4)  # fp32 on the GPU is true fp32 (no TF32)
    assert np.abs(acc_g - acc_c).max() <= 100.0 / 32 + 1e-9  # at most one image of 32 flips at a tie
