"""NB201 space: encodings, subsets, liveness, index, sampling, #params and ground-truth loading."""

from __future__ import annotations

import sys
import types
from itertools import product

import numpy as np
import pandas as pd
import pytest
import torch
import torch.nn as nn
from scipy.stats import chisquare
from supernet_bench.core.errors import BenchError, DataError, UnknownNameError
from supernet_bench.core.ground_truth import GroundTruth, sha256_file
from supernet_bench.spaces import get_space
from supernet_bench.spaces.nb201 import EDGES, OPS, NB201Space
from supernet_bench.spaces.nb201.ground_truth import load_nb201_ground_truth
from supernet_bench.spaces.nb201.space import nb201_param_count

N, S, C1, C3, P = range(5)  # none, skip, conv1x1, conv3x3, pool
KNOWN = (C3, C3, P, S, C3, S)
KNOWN_STR = "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|"
ALL_NONE = (N,) * 6
ALL_NONE_STR = "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|"


@pytest.fixture(scope="module")
def space() -> NB201Space:
    return NB201Space()


# --- registry, slots, subsets ------------------------------------------------------------------------
def test_registry_and_slots():
    sp = get_space("nb201")
    assert isinstance(sp, NB201Space) and sp.label == "nb201"
    assert OPS == ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
    assert EDGES == ((1, 0), (2, 0), (2, 1), (3, 0), (3, 1), (3, 2))
    assert [s.name for s in sp.slots] == ["1<-0", "2<-0", "2<-1", "3<-0", "3<-1", "3<-2"]
    assert all(s.ops == OPS for s in sp.slots)
    assert get_space("nb201:only-conv").label == "nb201:only-conv"


def test_unknown_subset_lists_names():
    with pytest.raises(UnknownNameError, match=r"no-zero.*only-conv|full, no-zero, only-conv") as e:
        NB201Space("no-zeros")
    assert "Did you mean 'no-zero'" in str(e.value)


@pytest.mark.parametrize(
    ("subset", "size", "ops"),
    [("full", 15625, {0, 1, 2, 3, 4}), ("no-zero", 4096, {1, 2, 3, 4}), ("only-conv", 64, {2, 3})],
)
def test_subset_size_membership_and_round_trip(subset, size, ops):
    sp = NB201Space(subset)
    assert sp.size() == size
    assert all(m == frozenset(ops) for m in sp.allowed)
    archs = list(sp.enumerate())
    assert len(archs) == len(set(archs)) == size
    assert archs == sorted(archs)  # lexicographic
    strings = [sp.encode(a) for a in archs]
    assert len(set(strings)) == size
    assert [sp.decode(s) for s in strings] == archs
    full = NB201Space()
    outside = [a for a in product(range(5), repeat=6) if not set(a) <= ops]
    assert len(outside) == 15625 - size
    assert not any(sp.contains(a) for a in outside)
    if outside:
        with pytest.raises(BenchError, match=f"not in space nb201:{subset}"):
            sp.decode(full.encode(outside[0]))


def test_full_round_trip_and_index(space):
    archs = list(space.enumerate())
    assert len(archs) == 15625
    for i, a in enumerate(archs):
        assert space.index_of(a) == i
        assert space.arch_at(i) == a
        assert space.decode(space.encode(a)) == a
    assert space.index_of((C3,) * 6) == 11718  # DYNAS all-conv3x3 index (spec section 0)
    with pytest.raises(BenchError, match="0..15624"):
        space.arch_at(15625)
    with pytest.raises(BenchError, match="not in space nb201:only-conv"):
        NB201Space("only-conv").arch_at(0)


def test_known_official_strings(space):
    assert space.encode(KNOWN) == KNOWN_STR
    assert space.decode(KNOWN_STR) == KNOWN
    assert space.encode(ALL_NONE) == ALL_NONE_STR
    # edge order 1<-0, 2<-0, 2<-1, 3<-0, 3<-1, 3<-2
    assert space.encode((1, 2, 3, 4, 0, 1)) == (
        "|skip_connect~0|+|nor_conv_1x1~0|nor_conv_3x3~1|+|avg_pool_3x3~0|none~1|skip_connect~2|"
    )
    assert space.decode("  " + KNOWN_STR + "\n") == KNOWN  # surrounding whitespace tolerated


@pytest.mark.parametrize(
    ("text", "pattern"),
    [
        ("", "wrong number of nodes"),
        ("hello", "wrong number of nodes"),
        ("|none~0|+|none~0|none~1|", "wrong number of nodes.*got 2"),
        (ALL_NONE_STR + "+|none~0|none~1|none~2|none~3|", "wrong number of nodes.*got 4"),
        ("none~0|+|none~0|none~1|+|none~0|none~1|none~2|", "syntax error in node 1"),
        ("|none~0|+|none~0|none~1+|none~0|none~1|none~2|", "syntax error in node 2"),
        ("|none~0|+||+|none~0|none~1|none~2|", "syntax error in node 2"),
        ("|none0|+|none~0|none~1|+|none~0|none~1|none~2|", "syntax error in edge token 'none0'"),
        ("|none~0|+|none~0||none~1|+|none~0|none~1|none~2|", "syntax error in node 2.*empty edge token"),
        ("|none~0|+|none~0|+|none~0|none~1|none~2|", "wrong number of edges into node 2: expected 2, got 1"),
        ("|none~0|+|none~0|none~1|+|none~0|none~1|", "wrong number of edges into node 3"),
        ("|none~1|+|none~0|none~1|+|none~0|none~1|none~2|", r"bad source index ~1 .*node 1 \(out of range"),
        ("|none~0|+|none~0|none~1|+|none~0|none~1|none~7|", r"bad source index ~7"),
        ("|none~0|+|none~1|none~0|+|none~0|none~1|none~2|", r"bad source index ~1 .*expected ~0"),
        ("|none~0|+|none~0|conv_3x3~1|+|none~0|none~1|none~2|", "unknown op 'conv_3x3'.*nor_conv_3x3"),
        ("|max_pool_3x3~0|+|none~0|none~1|+|none~0|none~1|none~2|", "unknown op 'max_pool_3x3'"),
    ],
)
def test_decode_errors(space, text, pattern):
    with pytest.raises(BenchError, match=pattern):
        space.decode(text)


def test_decode_rejects_non_strings(space):
    with pytest.raises(BenchError, match="must be a string"):
        space.decode(None)
    with pytest.raises(BenchError, match="not in space nb201:no-zero.*1<-0=none"):
        NB201Space("no-zero").decode(ALL_NONE_STR)


def test_check_accepts_sequences(space):
    assert space.check((3, 3, 4, 1, 3, 1)) == KNOWN
    assert space.check([3, 3, 4, 1, 3, 1]) == KNOWN
    assert space.check(np.array(KNOWN)) == KNOWN
    assert space.check(KNOWN_STR) == KNOWN
    for bad in [(0,) * 5, (0,) * 7, (0, 0, 0, 0, 0, 5), (0, 0, 0, 0, 0, -1), (0.5,) * 6, 3, ("a",) * 6]:
        with pytest.raises(BenchError):
            space.check(bad)
    with pytest.raises(BenchError, match="not in space nb201:only-conv"):
        NB201Space("only-conv").check(KNOWN)
    with pytest.raises(BenchError):
        space.encode((0, 0, 0, 0, 0, 9))


# --- liveness ----------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("arch", "live"),
    [
        (ALL_NONE, (0, 0, 0, 0, 0, 0)),
        ((N, N, N, C3, N, N), (0, 0, 0, 1, 0, 0)),  # only 3<-0
        ((C3, N, N, N, N, N), (0, 0, 0, 0, 0, 0)),  # 1<-0 conv, node 1 never reaches the output
        ((N, N, N, N, C3, N), (0, 0, 0, 0, 0, 0)),  # 3<-1 conv, node 1 unreachable from the input
        ((C3, N, N, N, C3, N), (1, 0, 0, 0, 1, 0)),  # 0 -> 1 -> 3
        ((C3, N, C1, S, N, N), (0, 0, 0, 1, 0, 0)),  # node 2 is a dead end: 1<-0 and 2<-1 are dead
        ((N, P, N, N, N, C1), (0, 1, 0, 0, 0, 1)),  # 0 -> 2 -> 3
        ((S, N, S, N, N, S), (1, 0, 1, 0, 0, 1)),  # chain 0 -> 1 -> 2 -> 3
        ((C3, C3, C3, C3, C3, C3), (1, 1, 1, 1, 1, 1)),
        ((C3, N, C3, N, N, N), (0, 0, 0, 0, 0, 0)),  # 0 -> 1 -> 2, nothing into 3
    ],
)
def test_live_edges(space, arch, live):
    assert space.live_edges(arch) == tuple(bool(x) for x in live)
    assert space.is_connected(arch) == any(live)


def test_live_edges_brute_force(space):
    """Against path enumeration: an edge is live iff it lies on some 0 -> 3 path of non-none edges."""
    paths = [[(1, 0), (3, 1)], [(2, 0), (3, 2)], [(3, 0)], [(1, 0), (2, 1), (3, 2)]]
    for arch in space.enumerate():
        on = {e for e, op in zip(EDGES, arch, strict=True) if op != N}
        live = set().union(*([set(p) for p in paths if set(p) <= on] or [set()]))
        assert space.live_edges(arch) == tuple(e in live for e in EDGES)


# --- sampling ----------------------------------------------------------------------------------------
def test_sampling_reproducible_and_uniform(space):
    a = [space.sample(np.random.default_rng(123)) for _ in range(3)]
    assert a[0] == a[1] == a[2]
    rng1, rng2 = np.random.default_rng(7), np.random.default_rng(7)
    s1 = [space.sample(rng1) for _ in range(5000)]
    s2 = [space.sample(rng2) for _ in range(5000)]
    assert s1 == s2
    arr = np.array(s1)
    for k in range(6):
        counts = np.bincount(arr[:, k], minlength=5)
        assert chisquare(counts).pvalue > 1e-3, (k, counts)
    sub = NB201Space("only-conv")
    arr = np.array([sub.sample(rng1) for _ in range(2000)])
    assert set(np.unique(arr)) == {C1, C3}


def test_sample_distinct(space):
    rng = np.random.default_rng(0)
    archs = space.sample_distinct(rng, 500)
    assert len(archs) == len(set(archs)) == 500 and all(space.contains(a) for a in archs)
    assert space.sample_distinct(np.random.default_rng(0), 500) == archs
    sub = NB201Space("only-conv")
    assert sorted(sub.sample_distinct(rng, 100)) == list(sub.enumerate())  # n >= size: all of them
    few = sub.sample_distinct(rng, 10)
    assert len(set(few)) == 10 and all(sub.contains(a) for a in few)


# --- complexity --------------------------------------------------------------------------------------
def _reference_param_count(arch, C=16, N_cells=5, num_classes=10) -> int:
    """Independent restatement of the AutoDL TinyNetwork/InferCell module tree, counted by torch."""

    def rcb(cin, cout, k, stride):
        return nn.Sequential(
            nn.ReLU(), nn.Conv2d(cin, cout, k, stride, k // 2, bias=False), nn.BatchNorm2d(cout)
        )

    def cell(c):
        table = {N: nn.Identity, S: nn.Identity, P: lambda: nn.AvgPool2d(3, 1, 1)}
        return nn.ModuleList(
            [rcb(c, c, 1, 1) if op == C1 else rcb(c, c, 3, 1) if op == C3 else table[op]() for op in arch]
        )

    with torch.device("meta"):
        mods = [nn.Conv2d(3, C, 3, padding=1, bias=False), nn.BatchNorm2d(C)]
        for stage, c in enumerate([C, 2 * C, 4 * C]):
            if stage:
                cin = c // 2
                shortcut = nn.Sequential(nn.AvgPool2d(2, 2), nn.Conv2d(cin, c, 1, bias=False))
                mods.append(nn.ModuleList([rcb(cin, c, 3, 2), rcb(c, c, 3, 1), shortcut]))
            mods += [cell(c) for _ in range(N_cells)]
        mods += [nn.BatchNorm2d(4 * C), nn.Linear(4 * C, num_classes)]
        return sum(p.numel() for p in nn.ModuleList(mods).parameters())


def test_complexity_formula(space):
    assert space.complexity(ALL_NONE) == 73306
    assert space.complexity((C3,) * 6) == 73306 + 6 * 243040 == 1531546
    assert space.complexity((C1,) * 6) == 73306 + 6 * 28000
    assert space.complexity(KNOWN) == 802426
    for arch in [ALL_NONE, (C3,) * 6, (C1,) * 6, KNOWN, (S, P, C1, N, C3, C1)]:
        assert space.complexity(arch) == _reference_param_count(arch)
    assert nb201_param_count(1, 1, C=8, N=2, num_classes=100) == _reference_param_count(
        (C1, C3, N, N, N, N), C=8, N_cells=2, num_classes=100
    )
    archs = list(space.enumerate())
    vec = space.complexities(archs)
    assert vec.shape == (15625,) and vec.dtype == np.float64
    assert np.array_equal(vec[::97], [space.complexity(a) for a in archs[::97]])
    assert np.array_equal(space.complexities(np.array(archs[:10])), vec[:10])
    assert space.complexities([]).shape == (0,)
    with pytest.raises(BenchError):
        space.complexities([(0, 0, 0)])
    # dead edges still count (the infer network instantiates every op of the genotype)
    assert space.complexity((C3, N, N, N, N, N)) == space.complexity((N, N, N, C3, N, N))


@pytest.fixture(scope="module")
def nb201_table(nb201_csv):
    return pd.read_csv(nb201_csv)


@pytest.mark.data
def test_complexity_matches_params_mb(space, nb201_table):
    """params_mb is 3-decimal millions. 98.7% of rows match exactly; the rest are NB201's own seed means.

    In the benchmark, `params` is averaged over the trials of an arch; for ~1.3% of archs (204) one
    or two trials report the parameter count of a different cell (an NB201 data quirk, not a formula
    offset): each of those values is the mean of 3 (one row: 2) valid NB201 parameter counts.
    """
    archs = [space.decode(s) for s in nb201_table["arch"]]
    pred_mb = space.complexities(archs) / 1e6
    table = nb201_table["params_mb"].to_numpy()
    diff = np.abs(pred_mb - table)
    tol = 0.0005 + 1e-9
    # hand-picked rows: all-none, all-conv3x3, mixed
    by_arch = dict(zip(nb201_table["arch"], table, strict=True))
    assert by_arch[ALL_NONE_STR] == 0.073 and round(space.complexity(ALL_NONE) / 1e6, 3) == 0.073
    assert by_arch[space.encode((C3,) * 6)] == 1.532
    assert by_arch[KNOWN_STR] == 0.802
    for arch in [(C1,) * 6, (S, P, C1, N, C3, C1), (C3, C1, C3, C1, C3, C1), (P, C1, S, C1, S, S)]:
        assert abs(space.complexity(arch) / 1e6 - by_arch[space.encode(arch)]) <= tol
    ok = diff <= tol
    assert ok.sum() >= 15400, ok.sum()
    assert diff[ok].max() <= tol
    # every mismatch is a mean of k in {2, 3} valid NB201 counts: k*params = k*fixed + 28000*a + 243040*b
    fixed, c1, c3 = nb201_param_count(0, 0), nb201_param_count(1, 0) - nb201_param_count(0, 0), 243040
    for value in table[~ok]:
        explained = False
        for k in (2, 3):
            rest = value * 1e6 * k - k * fixed
            grid = rest - c1 * np.arange(6 * k + 1)[:, None] - c3 * np.arange(6 * k + 1)[None, :]
            explained |= bool((np.abs(grid) <= 500 * k + 1).any())
        assert explained, value


# --- ground truth: real table ------------------------------------------------------------------------
@pytest.mark.data
def test_gt_real_table(space, data_dir, nb201_csv):
    gt = space.ground_truth("cifar10_ori-test_hp200", data_dir)
    assert isinstance(gt, GroundTruth) and len(gt) == 15625
    assert gt.space == "nb201" and gt.column == "cifar10_ori-test_hp200" and gt.higher_is_better
    assert gt.source == str(nb201_csv) and gt.source_sha256 == sha256_file(nb201_csv)
    assert max(gt.values.values()) == pytest.approx(94.37)
    assert gt.value(ALL_NONE_STR) == pytest.approx(10.0)
    assert gt.value(KNOWN_STR) == pytest.approx(93.66)
    assert set(gt.values) == {space.encode(a) for a in space.enumerate()}
    valid = load_nb201_ground_truth("cifar10-valid_x-valid_hp200", data_dir)
    assert max(valid.values.values()) == pytest.approx(91.61)
    hp12 = space.ground_truth("cifar10_ori-test_hp12", data_dir)
    assert len(hp12) == 15625 and max(hp12.values.values()) == pytest.approx(89.16)
    assert set(space.gt_columns()) <= set(pd.read_csv(nb201_csv, nrows=0).columns)


@pytest.mark.data
def test_gt_subset_space(data_dir):
    for subset, size in [("only-conv", 64), ("no-zero", 4096)]:
        sp = NB201Space(subset)
        gt = sp.ground_truth("cifar100_x-test_hp200", data_dir)
        assert len(gt) == size and gt.space == f"nb201:{subset}"
        assert all(sp.contains(sp.decode(a)) for a in gt.values)


@pytest.mark.data
def test_kt_subset_327(space, data_dir):
    assert space.named_subsets() == ("kt-subset-327",)
    archs = space.load_named_subset("kt-subset-327", data_dir)
    assert len(archs) == len(set(archs)) == 327 and archs[0] == ALL_NONE
    gt = space.ground_truth("cifar10_ori-test_hp200", data_dir)
    assert len(gt.lookup([space.encode(a) for a in archs])) == 327
    conv = NB201Space("only-conv").load_named_subset("kt-subset-327", data_dir)
    assert all(set(a) <= {C1, C3} for a in conv) and len(conv) < 327


def test_named_subset_errors(space, tmp_path):
    with pytest.raises(UnknownNameError, match="Did you mean 'kt-subset-327'"):
        space.load_named_subset("kt-subset-32", tmp_path)
    with pytest.raises(DataError, match="not found"):
        space.load_named_subset("kt-subset-327", tmp_path)
    (tmp_path / "nas-bench-201").mkdir()
    (tmp_path / "nas-bench-201" / "kt-subset-327.csv").write_text(f"arch\n{KNOWN_STR}\n|bad|\n")
    with pytest.raises(DataError, match="row 1 .*line 3"):
        space.load_named_subset("kt-subset-327", tmp_path)


# --- ground truth: small synthetic tables ------------------------------------------------------------
def _write(tmp_path, rows, columns=("arch", "cifar10_ori-test_hp200"), name="nb201.csv"):
    d = tmp_path / "nas-bench-201"
    d.mkdir(exist_ok=True)
    path = d / name
    df = pd.DataFrame(rows, columns=list(columns))
    if name.endswith(".parquet"):
        df.to_parquet(path)
    else:
        df.to_csv(path, index=False)
    return path


def test_gt_small_table(space, tmp_path):
    path = _write(tmp_path, [(KNOWN_STR, 93.66), (ALL_NONE_STR, 10.0), (space.encode((C1,) * 6), 80.0)])
    gt = load_nb201_ground_truth("cifar10_ori-test_hp200", tmp_path)
    assert gt.values == {KNOWN_STR: 93.66, ALL_NONE_STR: 10.0, space.encode((C1,) * 6): 80.0}
    assert gt.source == str(path) and gt.source_sha256 == sha256_file(path)
    sub = NB201Space("only-conv").ground_truth("cifar10_ori-test_hp200", tmp_path)
    assert sub.values == {space.encode((C1,) * 6): 80.0}
    pq = _write(tmp_path, [(KNOWN_STR, 93.66)], name="t.parquet")
    assert load_nb201_ground_truth("cifar10_ori-test_hp200", tmp_path, source=pq).values == {KNOWN_STR: 93.66}
    out = tmp_path / "gt.parquet"
    gt.to_parquet(out)
    assert GroundTruth.from_parquet(out).values == gt.values


def test_gt_errors(tmp_path):
    col = "cifar10_ori-test_hp200"
    with pytest.raises(DataError, match="not found"):
        load_nb201_ground_truth(col, tmp_path)
    _write(tmp_path, [(KNOWN_STR, 1.0)], columns=("architecture", col))
    with pytest.raises(DataError, match="no 'arch' column.*architecture"):
        load_nb201_ground_truth(col, tmp_path)
    _write(tmp_path, [(KNOWN_STR, 1.0)])
    with pytest.raises(
        UnknownNameError, match=r"'cifar10_ori-tset_hp200'.*Did you mean: cifar10_ori-test_hp200"
    ):
        load_nb201_ground_truth("cifar10_ori-tset_hp200", tmp_path)
    with pytest.raises(UnknownNameError, match="Available: cifar10_ori-test_hp200"):
        load_nb201_ground_truth("arch", tmp_path)
    _write(tmp_path, [(KNOWN_STR, 1.0), (ALL_NONE_STR, 2.0), (" " + KNOWN_STR, 3.0)])
    with pytest.raises(DataError, match="duplicate arch .*rows 0 and 2"):
        load_nb201_ground_truth(col, tmp_path)
    _write(tmp_path, [(KNOWN_STR, 1.0), (ALL_NONE_STR, float("nan"))])
    with pytest.raises(DataError, match=r"1 missing/NaN value\(s\), first at row 1"):
        load_nb201_ground_truth(col, tmp_path)
    _write(
        tmp_path,
        [(KNOWN_STR, 1.0), (ALL_NONE_STR, 2.0), ("|none~0|+|bogus~0|none~1|+|none~0|none~1|none~2|", 3.0)],
    )
    with pytest.raises(DataError, match="row 2 \\(line 4\\).*unknown op 'bogus'"):
        load_nb201_ground_truth(col, tmp_path)
    _write(tmp_path, [(KNOWN_STR, "high")])
    with pytest.raises(DataError, match="not numeric"):
        load_nb201_ground_truth(col, tmp_path)
    other = tmp_path / "gt.json"
    other.write_text("{}")
    with pytest.raises(DataError, match="unsupported"):
        load_nb201_ground_truth(col, tmp_path, source=other)


@pytest.mark.parametrize(
    ("name", "package"),
    [("NAS-Bench-201-v1_0-e61699.pth", "nas_201_api"), ("NATS-tss-v1_0-3ffb9-simple", "nats_bench")],
)
def test_gt_api_file_needs_package(tmp_path, monkeypatch, name, package):
    path = tmp_path / name
    if name.endswith(".pth"):
        path.write_bytes(b"not really a benchmark")
    else:
        path.mkdir()
    monkeypatch.setitem(sys.modules, package, None)  # import fails even if the package is installed
    with pytest.raises(BenchError, match=rf"'{package}' package: pip install supernet-bench\[nb201-api\]"):
        load_nb201_ground_truth("cifar10_ori-test_hp200", tmp_path, source=path)
    with pytest.raises(UnknownNameError, match="Expected <dataset>_<split>_hp<epochs>"):
        load_nb201_ground_truth("cifar10_test", tmp_path, source=path)


def test_gt_api_path_with_fake_package(tmp_path, monkeypatch, space):
    """The API path (queried per index, mean over seeds) produces the same GroundTruth shape."""
    calls = []

    class FakeInfo:
        def __init__(self, acc):
            self.acc = acc

        def get_metrics(self, dataset, setname, iepoch=None, is_random=False):
            calls.append((dataset, setname, iepoch, is_random))
            return {"accuracy": self.acc, "loss": 0.0}

    class FakeAPI:
        def __init__(self, path, verbose=True):
            self.meta_archs = [KNOWN_STR, ALL_NONE_STR]

        def query_meta_info_by_index(self, index, hp="12"):
            assert hp == "200"
            return FakeInfo([93.5, 10.0][index])

    monkeypatch.setitem(sys.modules, "nas_201_api", types.SimpleNamespace(NASBench201API=FakeAPI))
    path = tmp_path / "NAS-Bench-201-v1_1-096897.pth"
    path.write_bytes(b"x")
    gt = load_nb201_ground_truth("cifar10-valid_x-valid_hp200", tmp_path, source=path)
    assert gt.values == {KNOWN_STR: 93.5, ALL_NONE_STR: 10.0} and gt.source_sha256 == sha256_file(path)
    assert calls == [("cifar10-valid", "x-valid", None, False)] * 2


# --- supernet hook -----------------------------------------------------------------------------------
def test_build_supernet_passes_arguments(space):
    seen = []

    def factory(op_factory, num_layers, num_slots, ops):
        seen.append((num_layers, num_slots, ops))
        from supernet_bench.spaces.weights import EdgeWeights

        return EdgeWeights(op_factory, num_layers, num_slots, ops)

    net = space.build_supernet(7, weights_factory=factory, C=4, N=2)
    assert (net.C, net.N, net.classifier.out_features) == (4, 2, 7)
    assert seen == [(6, 6, 5)]
