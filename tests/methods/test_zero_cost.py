"""Zero-cost proxies and the FLOP counter on tiny NB201 supernets (methods/zero_cost.py)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from supernet_bench.methods import zero_cost as Z
from supernet_bench.spaces import get_space
from supernet_bench.spaces.nb201.space import OPS

SPACE = get_space("nb201")
SKIP, CONV3, NONE = OPS.index("skip_connect"), OPS.index("nor_conv_3x3"), OPS.index("none")


def tiny(seed: int = 0):
    torch.manual_seed(seed)
    return SPACE.build_supernet(10, C=4, N=1, bn_affine=True)


def batch(n: int = 8, res: int = 8):
    g = torch.Generator().manual_seed(0)
    return torch.randn(n, 3, res, res, generator=g), torch.randint(0, 10, (n,), generator=g)


def test_flops_count_the_path_convolutions():
    """A 3x3 conv on one edge adds C*C*9*H*W per cell: 4*4*9*64 + 8*8*9*16 + 16*16*9*4 over the 3 stages."""
    model = tiny()
    skip = Z.flops(model, (SKIP,) * 6, (3, 8, 8))
    conv = Z.flops(model, (CONV3, SKIP, SKIP, SKIP, SKIP, SKIP), (3, 8, 8))
    assert conv - skip == 3 * 9216


def test_proxies_leave_the_model_as_it_was():
    model = tiny()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    x, y = batch()
    scores = Z.zero_cost_scores(model, (CONV3, SKIP, CONV3, SKIP, CONV3, SKIP), x, y)
    assert list(scores) == list(Z.PROXIES) and all(math.isfinite(v) for v in scores.values())
    after = model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert next(model.parameters()).dtype == torch.float32 and all(p.grad is None for p in model.parameters())


def test_synflow_is_data_free_and_grows_with_the_path():
    model = tiny()
    x, y = batch()
    small = Z.synflow(model, (SKIP,) * 6, x, y)
    assert small == Z.synflow(model, (SKIP,) * 6, torch.randn_like(x), y)  # only the input shape matters
    assert Z.synflow(model, (CONV3,) * 6, x, y) > small > 0


def test_disconnected_cells_rank_last():
    model = tiny()
    x, y = batch()
    scores = Z.jacob_cov_and_naswot(model, (NONE,) * 6, x, y)
    assert scores["jacob_cov"] == Z.FLOOR


def test_jacob_cov_score_of_identical_jacobians():
    """All rows equal: the correlation matrix is all ones, eigenvalues B and 0 (B-1 times)."""
    b, k = 4, Z.JACOB_K
    expected = -((b - 1) * (math.log(k) + 1 / k) + math.log(b + k) + 1 / (b + k))
    assert Z.jacob_cov_score(np.tile(np.arange(5.0), (b, 1))) == pytest.approx(expected, rel=1e-6)


def test_naswot_kernel_counts_matching_units():
    codes = [torch.tensor([[1.0, 0.0, 1.0], [1.0, 1.0, 0.0]], dtype=torch.float64)]
    # K = [[3, 1], [1, 3]] (agreements between the two codes): log det = log 8
    assert Z.naswot_score(codes, 2) == pytest.approx(math.log(8.0))


def test_unknown_proxy_is_one_clear_error():
    with pytest.raises(ValueError, match="unknown zero-cost proxy: synflo"):
        Z.zero_cost_scores(tiny(), (SKIP,) * 6, *batch(), proxies=("synflo",))


@pytest.mark.data
def test_zero_cost_check_measures_every_proxy_on_every_arch_by_default(data_dir, tmp_path, capsys):
    """The paper check (harness/zero_cost_check.py) on 4 architectures: batch proxies on all of them unless
    --n-batch lowers it, one printed line per proxy with its Spearman and the paper's."""
    import pandas as pd
    from supernet_bench import zero_cost_check as C

    out = tmp_path / "zc.parquet"
    assert C.main(["--n", "4", "--batch-proxies", "jacob_cov", "--batch-size", "8", "--out", str(out)]) == 0
    table = pd.read_parquet(out)
    assert len(table) == 4 and table["synflow"].notna().all() and table["jacob_cov"].notna().all()
    printed = capsys.readouterr().out
    assert "jacob_cov  n=    4" in printed and "(paper spearman 0.73)" in printed
    C.main(["--n", "4", "--n-batch", "2", "--batch-proxies", "jacob_cov", "--batch-size", "8", "--out", str(out)])
    assert pd.read_parquet(out)["jacob_cov"].notna().sum() == 2
