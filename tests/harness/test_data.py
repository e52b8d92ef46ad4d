"""Tests for harness.data: official-format loaders on tiny self-written files, splits, batch
augmentation and the resumable batch stream; plus the real CIFAR-10 subset when available."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
from supernet_bench.core.errors import BenchError, DataError, UnknownNameError
from supernet_bench.core.ground_truth import sha256_file
from supernet_bench.data import (
    CIFAR10_MEAN,
    DATA_ENV,
    DATASETS,
    IMAGENET16_MEAN,
    BatchStream,
    ImageDataset,
    augment,
    eval_batches,
    fixed_batches,
    load_dataset,
    normalize,
    resize,
    resolve_data_dir,
    split_dataset,
)

# ---------------------------------------------------------------------------------------------
# helpers: write tiny files in the official formats
# ---------------------------------------------------------------------------------------------


def _pixels(n: int, side: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, size=(n, 3 * side * side), dtype=np.uint8)


def _dump(path: Path, obj: dict, protocol: int = 2) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        pickle.dump(obj, f, protocol=protocol)


def write_cifar10(root: Path, sizes=(7, 5, 7, 5, 7), test_size=5) -> Path:
    folder = root / "cifar-10-batches-py"
    for i, n in enumerate(sizes, 1):
        labels = [(i + j) % 10 for j in range(n)]
        _dump(
            folder / f"data_batch_{i}", {b"batch_label": b"x", b"labels": labels, b"data": _pixels(n, 32, i)}
        )
    _dump(folder / "test_batch", {b"labels": list(range(test_size)), b"data": _pixels(test_size, 32, 99)})
    return folder


def write_cifar100(root: Path) -> Path:
    folder = root / "cifar-100-python"
    for split, n in (("train", 6), ("test", 4)):
        obj = {
            b"data": _pixels(n, 32, n),
            b"fine_labels": [99 - j for j in range(n)],
            b"coarse_labels": [0] * n,
        }
        _dump(folder / split, obj)
    return folder


IN16_TRAIN_LABELS = [1, 120, 121, 1000, 5]  # 1-based; 121 and 1000 are outside ImageNet16-120


def write_imagenet16(root: Path) -> Path:
    folder = root / "ImageNet16"
    for i in range(1, 11):  # python-3 style pickles: str keys, protocol 4
        _dump(folder / f"train_data_batch_{i}", {"data": _pixels(5, 16, i), "labels": IN16_TRAIN_LABELS}, 4)
    _dump(folder / "val_data", {"data": _pixels(3, 16, 0), "labels": [120, 200, 2]}, 4)
    return folder


def tiny_ds(n: int = 10, side: int = 8, seed: int = 0) -> ImageDataset:
    """Labels are the row ids, so batches can be traced back to rows."""
    images = torch.from_numpy(_pixels(n, side, seed)).reshape(n, 3, side, side)
    return ImageDataset("tiny", images, torch.arange(n), n, (0.5, 0.5, 0.5), (0.25, 0.25, 0.25), {})


# ---------------------------------------------------------------------------------------------
# resolve_data_dir
# ---------------------------------------------------------------------------------------------


def test_resolve_data_dir_explicit_beats_env(tmp_path, monkeypatch):
    other = tmp_path / "other"
    other.mkdir()
    monkeypatch.setenv(DATA_ENV, str(other))
    assert resolve_data_dir(tmp_path) == tmp_path
    assert resolve_data_dir() == other


def test_resolve_data_dir_missing(tmp_path, monkeypatch):
    monkeypatch.delenv(DATA_ENV, raising=False)
    with pytest.raises(DataError, match="--data-dir or set SUPERNET_BENCH_DATA"):
        resolve_data_dir()
    with pytest.raises(DataError, match="nowhere"):
        resolve_data_dir(tmp_path / "nowhere")
    monkeypatch.setenv(DATA_ENV, str(tmp_path / "gone"))
    with pytest.raises(DataError, match="gone"):
        resolve_data_dir()


# ---------------------------------------------------------------------------------------------
# loaders
# ---------------------------------------------------------------------------------------------


def test_cifar10_odd_batch_sizes(tmp_path):
    folder = write_cifar10(tmp_path)
    tr = load_dataset("cifar10", tmp_path, "train")
    te = load_dataset("cifar10", tmp_path, "test")
    assert len(tr) == 31 and len(te) == 5
    assert tr.images.shape == (31, 3, 32, 32) and tr.images.dtype == torch.uint8 and tr.images.is_contiguous()
    assert tr.labels.dtype == torch.int64 and 0 <= tr.labels.min() and tr.labels.max() < 10
    assert tr.num_classes == 10 and tr.mean == pytest.approx(CIFAR10_MEAN)
    # rows keep file order: first rows come from data_batch_1
    assert tr.labels[:7].tolist() == [(1 + j) % 10 for j in range(7)]
    assert tr.files == {
        f"cifar-10-batches-py/data_batch_{i}": sha256_file(folder / f"data_batch_{i}") for i in range(1, 6)
    }
    assert te.files == {"cifar-10-batches-py/test_batch": sha256_file(folder / "test_batch")}


def test_cifar10_channel_major_layout(tmp_path):
    write_cifar10(tmp_path)
    data = np.zeros((2, 3072), np.uint8)
    data[1, 2 * 1024 + 5 * 32 + 7] = 200  # channel 2 (blue), row 5, column 7 of image 1
    data[0, 0 * 1024 + 31 * 32 + 0] = 17  # channel 0, row 31, column 0 of image 0
    _dump(tmp_path / "cifar-10-batches-py" / "test_batch", {b"data": data, b"labels": [0, 1]})
    te = load_dataset("cifar10", tmp_path, "test")
    assert te.images[1, 2, 5, 7] == 200 and te.images[0, 0, 31, 0] == 17
    assert int(te.images.sum()) == 217


def test_cifar10_found_one_level_down(tmp_path):
    write_cifar10(tmp_path / "cifar-10-subset")
    assert len(load_dataset("cifar10", tmp_path, "test")) == 5
    # pointing straight at the folder works too
    assert len(load_dataset("cifar10", tmp_path / "cifar-10-subset" / "cifar-10-batches-py", "test")) == 5


def test_cifar10_ambiguous_folder(tmp_path):
    write_cifar10(tmp_path / "a")
    write_cifar10(tmp_path / "b")
    with pytest.raises(DataError, match="several"):
        load_dataset("cifar10", tmp_path, "test")


def test_cifar100(tmp_path):
    write_cifar100(tmp_path)
    tr = load_dataset("cifar100", tmp_path, "train")
    te = load_dataset("cifar100", tmp_path, "test")
    assert (len(tr), len(te)) == (6, 4) and tr.num_classes == 100
    assert tr.labels.tolist() == [99, 98, 97, 96, 95, 94]
    assert list(tr.files) == ["cifar-100-python/train"]


def test_imagenet16_120_filters_and_shifts(tmp_path):
    write_imagenet16(tmp_path)
    tr = load_dataset("imagenet16-120", tmp_path, "train")
    te = load_dataset("imagenet16-120", tmp_path, "test")
    assert tr.images.shape == (30, 3, 16, 16) and tr.num_classes == 120
    assert tr.labels[:3].tolist() == [0, 119, 4]  # 121 and 1000 dropped, 1-based -> 0-based
    assert te.labels.tolist() == [119, 1]
    assert te.mean == pytest.approx(IMAGENET16_MEAN)
    # the kept rows are the right images (rows 0, 1, 4 of the first file)
    first = torch.from_numpy(_pixels(5, 16, 1)).reshape(5, 3, 16, 16)
    assert torch.equal(tr.images[:3], first[[0, 1, 4]])
    assert len(tr.files) == 10 and "ImageNet16/val_data" in te.files


def test_truncated_pickle(tmp_path):
    folder = write_cifar10(tmp_path)
    raw = (folder / "data_batch_3").read_bytes()
    (folder / "data_batch_3").write_bytes(raw[: len(raw) // 2])
    with pytest.raises(DataError, match="data_batch_3"):
        load_dataset("cifar10", tmp_path, "train")


@pytest.mark.parametrize(
    "obj, problem",
    [
        ({b"labels": [0]}, "missing key 'data'"),
        ({b"data": np.zeros((2, 100), np.uint8), b"labels": [0, 1]}, "shape"),
        ({b"data": np.zeros((2, 3072), np.uint8), b"labels": [0]}, "labels"),
        ({b"data": np.zeros((1, 3072), np.uint8), b"labels": [10]}, "labels span"),
        ([1, 2, 3], "expected a dict"),
    ],
)
def test_malformed_batches(tmp_path, obj, problem):
    write_cifar10(tmp_path)
    _dump(tmp_path / "cifar-10-batches-py" / "test_batch", obj)
    with pytest.raises(DataError, match=problem) as info:
        load_dataset("cifar10", tmp_path, "test")
    assert "test_batch" in str(info.value)


def test_foreign_pickle_refused(tmp_path):
    write_cifar10(tmp_path)
    _dump(tmp_path / "cifar-10-batches-py" / "test_batch", {b"data": Path("x"), b"labels": []})
    with pytest.raises(DataError, match="refusing"):
        load_dataset("cifar10", tmp_path, "test")


def test_missing_files_and_folders(tmp_path):
    with pytest.raises(DataError, match="cifar-100-python"):
        load_dataset("cifar100", tmp_path, "train")
    with pytest.raises(DataError, match="does not exist"):
        load_dataset("cifar10", tmp_path / "nope", "train")
    folder = write_cifar10(tmp_path)
    (folder / "data_batch_4").unlink()
    with pytest.raises(DataError, match="data_batch_4"):
        load_dataset("cifar10", tmp_path, "train")


def test_unknown_dataset_and_split(tmp_path):
    assert set(DATASETS.names()) == {"cifar10", "cifar100", "imagenet16-120", "demo-shapes"}
    with pytest.raises(UnknownNameError, match="Did you mean: cifar10"):
        load_dataset("cifar-10", tmp_path, "train")
    with pytest.raises(BenchError, match="split"):
        load_dataset("cifar10", tmp_path, "valid")


def test_resize_area_and_noop():
    ds = tiny_ds(4, side=8)
    assert resize(ds, 8) is ds
    small = resize(ds, 4)
    assert small.images.shape == (4, 3, 4, 4) and small.images.dtype == torch.uint8
    expect = ds.images.float().reshape(4, 3, 4, 2, 4, 2).mean(dim=(3, 5)).round().to(torch.uint8)
    assert torch.equal(small.images, expect)
    assert torch.equal(small.labels, ds.labels)
    with pytest.raises(BenchError):
        resize(ds, 16)


def test_subset():
    ds = tiny_ds(10)
    sub = ds.subset(torch.tensor([7, 2]), name="part")
    assert sub.name == "part" and len(sub) == 2 and sub.labels.tolist() == [7, 2]
    assert torch.equal(sub.images[0], ds.images[7])


# ---------------------------------------------------------------------------------------------
# splits
# ---------------------------------------------------------------------------------------------


def test_holdout_split():
    ds = tiny_ds(21)
    tr, ev, rec = split_dataset(ds, None, "holdout:0.5", seed=3)
    # round(10.5) == 10: Python rounds half to even
    assert (len(tr), len(ev)) == (11, 10) == (rec["n_train"], rec["n_eval"])
    ids_tr, ids_ev = set(tr.labels.tolist()), set(ev.labels.tolist())
    assert not ids_tr & ids_ev and ids_tr | ids_ev == set(range(21))
    assert rec["scheme"] == "holdout:0.5" and rec["seed"] == 3
    tr2, ev2, rec2 = split_dataset(ds, None, "holdout:0.5", seed=3)
    assert rec2 == rec and torch.equal(ev2.labels, ev.labels)
    _, _, rec3 = split_dataset(ds, None, "holdout:0.5", seed=4)
    assert rec3["eval_index_sha256"] != rec["eval_index_sha256"]
    assert split_dataset(ds, None, "holdout:0.2", seed=0)[2]["n_eval"] == 4


def test_train_test_split():
    tr_in, te_in = tiny_ds(6), tiny_ds(4, seed=1)
    tr, ev, rec = split_dataset(tr_in, te_in, "train/test", seed=0)
    assert tr is tr_in and ev is te_in and (rec["n_train"], rec["n_eval"]) == (6, 4)
    with pytest.raises(BenchError, match="test set"):
        split_dataset(tr_in, None, "train/test", seed=0)


@pytest.mark.parametrize("scheme", ["holdout:0", "holdout:1.5", "holdout:x", "valid", "holdout:0.01"])
def test_bad_split_scheme(scheme):
    with pytest.raises(BenchError):
        split_dataset(tiny_ds(10), None, scheme, seed=0)


# ---------------------------------------------------------------------------------------------
# augmentation
# ---------------------------------------------------------------------------------------------


def test_augment_is_crop_of_padded_maybe_flipped():
    pad = 2
    x = torch.randint(1, 256, (64, 3, 6, 6), dtype=torch.uint8)  # no zeros, so padding is visible
    out = augment(x, torch.Generator().manual_seed(0), pad=pad)
    assert out.shape == x.shape and out.dtype == torch.uint8
    padded = torch.nn.functional.pad(x, (pad,) * 4)
    flips = []
    for i in range(len(x)):
        matches = [
            (oy, ox, fl)
            for oy in range(2 * pad + 1)
            for ox in range(2 * pad + 1)
            for fl in (False, True)
            if torch.equal(
                out[i],
                (lambda c: c.flip(-1) if fl else c)(padded[i, :, oy : oy + 6, ox : ox + 6]),
            )
        ]
        assert matches, f"sample {i} is not a (flipped) crop of its padded input"
        flips.append(matches[0][2])
    assert any(flips) and not all(flips)


def test_augment_deterministic():
    x = torch.randint(0, 256, (16, 3, 8, 8), dtype=torch.uint8)
    a = augment(x, torch.Generator().manual_seed(5))
    b = augment(x, torch.Generator().manual_seed(5))
    c = augment(x, torch.Generator().manual_seed(6))
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_normalize():
    x = torch.full((2, 3, 2, 2), 255, dtype=torch.uint8)
    y = normalize(x, (0.5, 0.0, 1.0), (0.5, 1.0, 2.0))
    assert y.dtype == torch.float32
    assert y[:, 0].unique().tolist() == [1.0] and y[:, 1].unique().tolist() == [1.0]
    assert y[:, 2].unique().tolist() == [0.0]


# ---------------------------------------------------------------------------------------------
# batch streams
# ---------------------------------------------------------------------------------------------


def _take(stream: BatchStream, n: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
    return [stream.next() for _ in range(n)]


def _same(a, b) -> bool:
    return len(a) == len(b) and all(
        torch.equal(x1, x2) and torch.equal(y1, y2) for (x1, y1), (x2, y2) in zip(a, b, strict=True)
    )


@pytest.mark.parametrize("stop_after", [1, 3, 4])  # mid-epoch, exactly at the boundary, into epoch 2
def test_batch_stream_resume(stop_after):
    ds = tiny_ds(13)  # 3 batches of 4 per epoch with drop_last
    reference = _take(BatchStream(ds, 4, seed=7), 8)
    first = BatchStream(ds, 4, seed=7)
    head = _take(first, stop_after)
    state = first.state_dict()
    resumed = BatchStream(ds, 4, seed=123)  # different seed: everything must come from the state
    resumed.load_state_dict(state)
    assert resumed.epoch == first.epoch and resumed.images_seen == first.images_seen
    assert _same(head + _take(resumed, 8 - stop_after), reference)


def test_batch_stream_epochs_are_permutations():
    ds = tiny_ds(10)
    stream = BatchStream(ds, 4, seed=0, augment=False, drop_last=False)
    orders = []
    for epoch in range(3):
        assert stream.epoch == epoch
        ys = torch.cat([stream.next()[1] for _ in range(stream.batches_per_epoch)])
        assert sorted(ys.tolist()) == list(range(10))
        orders.append(ys.tolist())
    assert stream.epoch == 3 and stream.images_seen == 30
    assert orders[0] != orders[1]  # reshuffled


def test_batch_stream_drop_last_and_values():
    ds = tiny_ds(10)
    stream = BatchStream(ds, 4, seed=1, augment=False)
    x, y = stream.next()
    assert x.shape == (4, 3, 8, 8) and x.dtype == torch.float32 and y.dtype == torch.int64
    assert torch.allclose(x, normalize(ds.images[y], ds.mean, ds.std))
    stream.next()
    assert stream.epoch == 1 and stream.images_seen == 8  # 2 leftover images dropped


def test_batch_stream_batch_too_large():
    with pytest.raises(BenchError, match="larger"):
        BatchStream(tiny_ds(5), 6, seed=0)


def test_fixed_batches_reproducible():
    ds = tiny_ds(12)
    a = fixed_batches(ds, 5, 4, seed=2, augment=True)
    b = fixed_batches(ds, 5, 4, seed=2, augment=True)
    assert len(a) == 5 and _same(a, b)
    assert not _same(a, fixed_batches(ds, 5, 4, seed=3, augment=True))


def test_eval_batches_in_order():
    ds = tiny_ds(10)
    batches = list(eval_batches(ds, 4))
    assert [len(y) for _, y in batches] == [4, 4, 2]
    assert torch.cat([y for _, y in batches]).tolist() == list(range(10))
    assert torch.equal(torch.cat([x for x, _ in batches]), normalize(ds.images, ds.mean, ds.std))


# ---------------------------------------------------------------------------------------------
# real data
# ---------------------------------------------------------------------------------------------


@pytest.mark.data
def test_real_cifar10_subset(data_dir):
    tr = load_dataset("cifar10", data_dir, "train")
    te = load_dataset("cifar10", data_dir, "test")
    assert (len(tr), len(te)) == (5085, 1017)
    assert tr.num_classes == 10 and tr.images.shape[1:] == (3, 32, 32)
    assert (tr.labels.bincount(minlength=10) > 0).all() and (te.labels.bincount(minlength=10) > 0).all()
    assert len(tr.files) == 5 and all(len(h) == 64 for h in tr.files.values())
    # the images are real photos, not noise: neighbouring pixels are strongly correlated
    f = tr.images[:100].float()
    assert torch.corrcoef(torch.stack([f[..., :-1].flatten(), f[..., 1:].flatten()]))[0, 1] > 0.8
    small = resize(tr, 16)
    assert small.images.shape == (5085, 3, 16, 16)
