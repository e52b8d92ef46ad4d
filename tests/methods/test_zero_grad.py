"""zero_grad semantics of the single-path trainer: "zeros" (torch 1.x, the reference codes) keeps giving an op
off the sampled path momentum and weight-decay updates once it has a gradient buffer; "none" leaves it untouched."""

from __future__ import annotations

import pytest
import torch
from supernet_bench.core.errors import BenchError
from supernet_bench.methods import create_method

from tests.helpers import tiny_context

CONV3 = 3  # nor_conv_3x3 on NB201
ON = (CONV3,) * 6
OFF = (1,) * 6  # skip_connect everywhere: no conv on the path


def conv_weights(method) -> list[torch.Tensor]:
    w = method.trainer.supernet.weights
    return [p.detach().clone() for p in w.module(0, 0, CONV3).parameters()]


def train_off_path(mode: str, name: str = "spos", **params) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """One step on a path through conv3x3, then the conv3x3 weights before and after a step that skips it."""
    method = create_method(name, {name: {"zero_grad": mode, **params}})
    method.setup(tiny_context(total_passes=10))
    trainer = method.trainer
    paths = iter([ON, OFF])
    trainer.sample_step = lambda: (0, [next(paths)])
    method.step()
    before = conv_weights(method)
    method.step()
    return before, conv_weights(method)


@pytest.mark.parametrize("params", [{}, {"momentum": 0.0, "nesterov": False}, {"weight_decay": 0.0}])
def test_zeros_moves_an_unsampled_op_by_momentum_or_weight_decay(params):
    before, after = train_off_path("zeros", **params)
    assert any(not torch.equal(a, b) for a, b in zip(before, after))


def test_none_leaves_an_unsampled_op_alone():
    before, after = train_off_path("none")
    assert all(torch.equal(a, b) for a, b in zip(before, after))


def test_zeros_is_the_default_and_reaches_every_trainer_method():
    for name in ("spos", "fairnas", "fewshot", "gmnas", "close", "close-s", "cond-weights"):
        assert create_method(name).zero_grad == "zeros"
    method = create_method("spos", {"all": {"zero_grad": "none"}})
    method.setup(tiny_context())
    assert method.trainer.set_to_none


def test_unknown_mode_is_refused():
    method = create_method("spos", {"spos": {"zero_grad": "never"}})
    with pytest.raises(BenchError, match="zero_grad must be one of"):
        method.setup(tiny_context())
