"""Image data sets held in memory as uint8 tensors, read from their official files.

Why this shape: supernet training on CPU is dominated by the network, so the data path must cost
next to nothing. Every data set is decoded once into one contiguous uint8 tensor (N, 3, H, W);
batches are cut from it by index, augmented as whole batches with torch (random crop via padding +
index arithmetic, flip via ``torch.where``) and normalised to float32 only at the last moment. No
per-image Python runs on the hot path and there are no worker processes to seed or synchronise.

Reproducibility: every random choice comes from an explicit ``torch.Generator``. Splits are seeded
permutations recorded (counts + sha256 of the index arrays) in the run manifest, every file read is
recorded with its sha256, and :class:`BatchStream` can be checkpointed and resumed so that a
restored run sees exactly the batches an uninterrupted one would have seen.

Formats (see the data README): CIFAR-10/100 official python pickles, ImageNet16-120 in the
NAS-Bench-201 format (downsampled-ImageNet pickles with 1-based labels over 1000 classes). Pickles
are read with a restricted unpickler that only admits the numpy globals those files need, so a
foreign pickle cannot run code; anything missing, truncated or malformed is a :class:`DataError`
naming the file.
"""

from __future__ import annotations

import hashlib
import os
import pickle
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from supernet_bench.core.errors import BenchError, DataError
from supernet_bench.core.ground_truth import sha256_file
from supernet_bench.core.registry import Registry

DATA_ENV = "SUPERNET_BENCH_DATA"

SPLITS = ("train", "test")

# NAS-Bench-201 / xautodl normalisation constants (per channel, on the [0, 1] scale), so that our
# numbers are comparable with the benchmark's training pipeline.
CIFAR10_MEAN = tuple(x / 255 for x in (125.3, 123.0, 113.9))
CIFAR10_STD = tuple(x / 255 for x in (63.0, 62.1, 66.7))
CIFAR100_MEAN = tuple(x / 255 for x in (129.3, 124.1, 112.4))
CIFAR100_STD = tuple(x / 255 for x in (68.2, 65.4, 70.4))
IMAGENET16_MEAN = tuple(x / 255 for x in (122.68, 116.66, 104.01))
IMAGENET16_STD = tuple(x / 255 for x in (63.22, 61.26, 65.09))

IMAGENET16_CLASSES = 120  # NB201's ImageNet16-120 keeps original labels 1..120


def resolve_data_dir(explicit: str | Path | None = None) -> Path:
    """The data folder: ``explicit`` (``--data-dir``) wins over ``$SUPERNET_BENCH_DATA``.

    Data never lives in the repository, so there is no silent default: a missing setting or a
    folder that does not exist is a DataError the user can act on.
    """
    if explicit is not None and str(explicit) != "":
        path, origin = Path(explicit).expanduser(), "--data-dir"
    else:
        value = os.environ.get(DATA_ENV, "")
        if not value:
            raise DataError(f"no data folder: pass --data-dir or set {DATA_ENV}")
        path, origin = Path(value).expanduser(), DATA_ENV
    if not path.exists():
        raise DataError(f"data folder {path} (from {origin}) does not exist")
    if not path.is_dir():
        raise DataError(f"data folder {path} (from {origin}) is not a folder")
    return path


# ----------------------------------------------------------------------------------------------
# Data set container
# ----------------------------------------------------------------------------------------------


@dataclass
class ImageDataset:
    """A whole data set in memory: uint8 images (N, 3, H, W) and int64 labels (N,).

    ``files`` maps each file read to its sha256 so the run manifest pins the exact data used.
    """

    name: str
    images: torch.Tensor
    labels: torch.Tensor
    num_classes: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    files: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.images.dtype != torch.uint8 or self.images.dim() != 4 or self.images.shape[1] != 3:
            raise DataError(
                f"{self.name}: images must be uint8 (N, 3, H, W), got {self.images.dtype} "
                f"{tuple(self.images.shape)}"
            )
        if self.labels.dtype != torch.int64 or self.labels.shape != (self.images.shape[0],):
            raise DataError(
                f"{self.name}: labels must be int64 ({self.images.shape[0]},), got {self.labels.dtype} "
                f"{tuple(self.labels.shape)}"
            )
        self.images = self.images.contiguous()
        self.mean = tuple(float(m) for m in self.mean)
        self.std = tuple(float(s) for s in self.std)

    def __len__(self) -> int:
        return int(self.images.shape[0])

    @property
    def resolution(self) -> int:
        return int(self.images.shape[-1])

    def to(self, device: torch.device | str) -> ImageDataset:
        """The same data set held on `device` (itself when it is there already): uint8 stays uint8."""
        device = torch.device(device)
        if self.images.device == device:
            return self
        return replace(self, images=self.images.to(device), labels=self.labels.to(device), files=dict(self.files))

    def subset(self, index: torch.Tensor, name: str | None = None) -> ImageDataset:
        """The rows selected by ``index`` (int or bool tensor), as a new data set (copied)."""
        index = torch.as_tensor(index)
        return replace(
            self,
            name=self.name if name is None else name,
            images=self.images[index].contiguous(),
            labels=self.labels[index].clone(),
            files=dict(self.files),
        )


# ----------------------------------------------------------------------------------------------
# Official-format readers
# ----------------------------------------------------------------------------------------------

# The only globals that CIFAR / downsampled-ImageNet pickles reference (numpy arrays, written by
# python 2 or 3, numpy 1 or 2, any protocol). Anything else is refused rather than executed.
_SAFE_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"),
    ("numpy._core.multiarray", "scalar"),
    ("numpy.core.numeric", "_frombuffer"),
    ("numpy._core.numeric", "_frombuffer"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("_codecs", "encode"),
}


class _SafeUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        if (module, name) not in _SAFE_GLOBALS:
            raise pickle.UnpicklingError(f"refusing to load global {module}.{name}")
        return super().find_class(module, name)


def _read_pickle(path: Path) -> dict:
    """Load one data pickle; every failure becomes a DataError naming the file."""
    if not path.is_file():
        raise DataError(f"missing data file {path}")
    try:
        with open(path, "rb") as f:
            obj = _SafeUnpickler(f, encoding="bytes").load()
    except (OSError, MemoryError) as e:
        raise DataError(f"cannot read {path}: {e}") from None
    except Exception as e:  # pickle raises many types on damaged input
        kind = "truncated" if isinstance(e, EOFError) else "malformed"
        raise DataError(f"{kind} data file {path}: {type(e).__name__}: {e}") from None
    if not isinstance(obj, dict):
        raise DataError(f"malformed data file {path}: expected a dict, got {type(obj).__name__}")
    # python-2 pickles read with encoding="bytes" have bytes keys, python-3 ones str keys
    return {(k.decode("latin1") if isinstance(k, bytes) else k): v for k, v in obj.items()}


def _rows(path: Path, obj: dict, label_key: str, side: int) -> tuple[np.ndarray, np.ndarray]:
    """Validate one batch dict: data (n, 3*side*side) 0..255 and n integer labels."""
    for key in ("data", label_key):
        if key not in obj:
            raise DataError(f"malformed data file {path}: missing key {key!r} (has {sorted(map(str, obj))})")
    try:
        data = np.asarray(obj["data"])
        labels = np.asarray(obj[label_key])
    except Exception as e:
        raise DataError(f"malformed data file {path}: {e}") from None
    width = 3 * side * side
    if data.ndim != 2 or data.shape[1] != width:
        raise DataError(
            f"malformed data file {path}: 'data' has shape {data.shape}, expected (n, {width}) "
            f"for 3x{side}x{side} images"
        )
    if data.dtype != np.uint8:
        if not np.issubdtype(data.dtype, np.integer) or (data.size and (data.min() < 0 or data.max() > 255)):
            raise DataError(f"malformed data file {path}: 'data' must be uint8 pixels, got {data.dtype}")
        data = data.astype(np.uint8)
    if labels.ndim != 1 or labels.shape[0] != data.shape[0]:
        raise DataError(
            f"malformed data file {path}: {label_key!r} has shape {labels.shape}, expected ({data.shape[0]},)"
        )
    if labels.size and not np.issubdtype(labels.dtype, np.integer):
        raise DataError(f"malformed data file {path}: {label_key!r} must be integers, got {labels.dtype}")
    return data, labels.astype(np.int64)


def _find_folder(data_dir: Path, folder: str) -> Path:
    """``<data_dir>/<folder>``, else ``<data_dir>/*/<folder>`` (e.g. a subset folder), else DataError."""
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        raise DataError(f"data folder {data_dir} does not exist")
    if data_dir.name == folder:
        return data_dir
    direct = data_dir / folder
    if direct.is_dir():
        return direct
    found = sorted(p for p in data_dir.glob(f"*/{folder}") if p.is_dir())
    if len(found) == 1:
        return found[0]
    if len(found) > 1:
        names = ", ".join(str(p) for p in found)
        raise DataError(f"several {folder} folders under {data_dir}: {names}; point the data folder at one")
    raise DataError(f"no {folder} folder in {data_dir} or its subfolders")


def _to_dataset(
    name: str,
    parts: list[tuple[np.ndarray, np.ndarray]],
    side: int,
    num_classes: int,
    mean: tuple,
    std: tuple,
    files: dict[str, str],
) -> ImageDataset:
    data = np.concatenate([d for d, _ in parts]) if parts else np.zeros((0, 3 * side * side), np.uint8)
    labels = np.concatenate([lab for _, lab in parts]) if parts else np.zeros(0, np.int64)
    images = torch.from_numpy(np.ascontiguousarray(data)).reshape(-1, 3, side, side)
    return ImageDataset(name, images.contiguous(), torch.from_numpy(labels), num_classes, mean, std, files)


def _check_labels(path: Path, labels: np.ndarray, low: int, high: int) -> None:
    if labels.size and (labels.min() < low or labels.max() > high):
        raise DataError(
            f"malformed data file {path}: labels span {labels.min()}..{labels.max()}, expected {low}..{high}"
        )


def _load_cifar(
    name: str,
    data_dir: Path,
    folder: str,
    files: list[str],
    label_key: str,
    classes: int,
    mean: tuple,
    std: tuple,
) -> ImageDataset:
    root = _find_folder(data_dir, folder)
    parts, hashes = [], {}
    for fname in files:
        path = root / fname
        obj = _read_pickle(path)
        data, labels = _rows(path, obj, label_key, 32)
        _check_labels(path, labels, 0, classes - 1)
        parts.append((data, labels))
        hashes[f"{folder}/{fname}"] = sha256_file(path)
    return _to_dataset(name, parts, 32, classes, mean, std, hashes)


DATASETS: Registry[Callable[[Path, str], ImageDataset]] = Registry("dataset")


@DATASETS.register("cifar10")
def load_cifar10(data_dir: Path, split: str) -> ImageDataset:
    """Official CIFAR-10 python batches; any number of rows per batch (subsets are fine)."""
    files = [f"data_batch_{i}" for i in range(1, 6)] if split == "train" else ["test_batch"]
    return _load_cifar(
        "cifar10", data_dir, "cifar-10-batches-py", files, "labels", 10, CIFAR10_MEAN, CIFAR10_STD
    )


@DATASETS.register("cifar100")
def load_cifar100(data_dir: Path, split: str) -> ImageDataset:
    """Official CIFAR-100 python files (fine labels, 100 classes)."""
    return _load_cifar(
        "cifar100", data_dir, "cifar-100-python", [split], "fine_labels", 100, CIFAR100_MEAN, CIFAR100_STD
    )


@DATASETS.register("imagenet16-120")
def load_imagenet16_120(data_dir: Path, split: str) -> ImageDataset:
    """NB201's ImageNet16-120: 16x16 downsampled ImageNet, original labels 1..120 shifted to 0..119.

    Filtering happens per file so that the full 1.28M-image training set is never held at once.
    """
    folder = "ImageNet16"
    root = _find_folder(data_dir, folder)
    files = [f"train_data_batch_{i}" for i in range(1, 11)] if split == "train" else ["val_data"]
    parts, hashes = [], {}
    for fname in files:
        path = root / fname
        obj = _read_pickle(path)
        data, labels = _rows(path, obj, "labels", 16)
        _check_labels(path, labels, 1, 1000)
        keep = labels <= IMAGENET16_CLASSES
        parts.append((data[keep], labels[keep] - 1))
        hashes[f"{folder}/{fname}"] = sha256_file(path)
    return _to_dataset(
        "imagenet16-120", parts, 16, IMAGENET16_CLASSES, IMAGENET16_MEAN, IMAGENET16_STD, hashes
    )


@DATASETS.register("demo-shapes")
def load_demo_shapes(data_dir: Path, split: str) -> ImageDataset:
    """The demo's own task (harness/demo_data.py): 10 classes of 16x16 procedural patterns, generated
    deterministically in code (2,000 train / 1,000 test images); ``data_dir`` is not read."""
    from supernet_bench import demo_data

    images, labels = demo_data.generate(split)
    return ImageDataset(
        "demo-shapes",
        torch.from_numpy(images),
        torch.from_numpy(labels),
        demo_data.NUM_CLASSES,
        demo_data.MEAN,
        demo_data.STD,
        {f"generated:demo-shapes/{split}": hashlib.sha256(images.tobytes() + labels.tobytes()).hexdigest()},
    )


def load_dataset(name: str, data_dir: Path, split: str) -> ImageDataset:
    """Load split ``"train"`` or ``"test"`` of a registered data set from ``data_dir``."""
    loader = DATASETS.get(name)
    if split not in SPLITS:
        raise BenchError(f"unknown split {split!r} for {name}: expected one of {', '.join(SPLITS)}")
    return loader(Path(data_dir), split)


def resize(ds: ImageDataset, resolution: int) -> ImageDataset:
    """Downsample to ``resolution`` x ``resolution`` with area interpolation, staying uint8.

    Used by the CPU profiles (16x16 CIFAR); done once up front so training pays nothing for it.
    """
    resolution = int(resolution)
    h, w = ds.images.shape[-2:]
    if resolution == h and resolution == w:
        return ds
    if resolution <= 0 or resolution > min(h, w):
        raise BenchError(
            f"cannot resize {ds.name} from {h}x{w} to {resolution}x{resolution}: only downsampling"
        )
    out = torch.empty((len(ds), 3, resolution, resolution), dtype=torch.uint8)
    chunk = 4096  # bounds the float32 temporary
    for start in range(0, len(ds), chunk):
        block = ds.images[start : start + chunk].float()
        small = F.interpolate(block, size=(resolution, resolution), mode="area")
        out[start : start + chunk] = small.round_().clamp_(0, 255).to(torch.uint8)
    return replace(ds, images=out, labels=ds.labels.clone(), files=dict(ds.files))


# ----------------------------------------------------------------------------------------------
# Splits
# ----------------------------------------------------------------------------------------------


def _index_sha256(index: torch.Tensor) -> str:
    return hashlib.sha256(index.to(torch.int64).numpy().astype("<i8").tobytes()).hexdigest()


def split_dataset(
    train: ImageDataset, test: ImageDataset | None, scheme: str, seed: int
) -> tuple[ImageDataset, ImageDataset, dict]:
    """Split into (train, eval, manifest record) by ``scheme``.

    ``"train/test"``: train on the training set, evaluate on the official test set.
    ``"holdout:F"``: seeded permutation of the training set, the last round(N*F) (Python's round) held out for
    evaluation (``holdout:0.5`` is the cifar10-valid style 50/50 split). Index arrays are sorted, and
    their sha256 go into the record so two runs can prove they used the same split.
    """
    scheme = str(scheme).strip()
    if scheme == "train/test":
        if test is None:
            raise BenchError("split scheme 'train/test' needs the test set, but none was loaded")
        train_idx = torch.arange(len(train))
        eval_idx = torch.arange(len(test))
        tr, ev = train, test
    elif scheme.startswith("holdout:"):
        try:
            frac = float(scheme.split(":", 1)[1])
        except ValueError:
            raise BenchError(f"bad split scheme {scheme!r}: holdout fraction must be a number") from None
        if not 0.0 < frac < 1.0:
            raise BenchError(f"bad split scheme {scheme!r}: holdout fraction must be in (0, 1)")
        n = len(train)
        n_eval = round(n * frac)
        if n_eval < 1 or n_eval >= n:
            raise BenchError(f"split {scheme!r} of {n} images leaves an empty train or eval part")
        perm = torch.randperm(n, generator=torch.Generator().manual_seed(int(seed)))
        train_idx = perm[: n - n_eval].sort().values
        eval_idx = perm[n - n_eval :].sort().values
        tr = train.subset(train_idx, name=train.name)
        ev = train.subset(eval_idx, name=train.name)
    else:
        raise BenchError(f"unknown split scheme {scheme!r}: expected 'train/test' or 'holdout:F' with 0<F<1")
    record = {
        "scheme": scheme,
        "seed": int(seed),
        "n_train": len(tr),
        "n_eval": len(ev),
        "train_index_sha256": _index_sha256(train_idx),
        "eval_index_sha256": _index_sha256(eval_idx),
    }
    return tr, ev, record


# ----------------------------------------------------------------------------------------------
# Batch augmentation and normalisation
# ----------------------------------------------------------------------------------------------


def default_pad(resolution: int) -> int:
    """Crop padding scaled with image size: 4 at 32x32 (CIFAR), 2 at 16x16 (NB201's ImageNet16)."""
    return max(1, round(resolution / 8))


def augment(images: torch.Tensor, generator: torch.Generator, pad: int = 4) -> torch.Tensor:
    """Random crop (zero padding ``pad``) + random horizontal flip of a whole uint8 batch.

    One pad of the batch, then a single advanced-indexing gather with per-sample row/column
    offsets; flipping reverses the column index where chosen. Draws, in order, y offsets, x
    offsets and flips from ``generator``, so the result is fixed by the generator state.
    """
    if images.dim() != 4:
        raise BenchError(f"augment expects a (B, C, H, W) batch, got shape {tuple(images.shape)}")
    b, c, h, w = images.shape
    pad = int(pad)
    dev = images.device  # the generator lives there too (a CUDA generator on a GPU)
    oy = torch.randint(0, 2 * pad + 1, (b,), generator=generator, device=dev)
    ox = torch.randint(0, 2 * pad + 1, (b,), generator=generator, device=dev)
    flip = torch.randint(0, 2, (b,), generator=generator, device=dev).bool()
    padded = F.pad(images, (pad, pad, pad, pad)) if pad > 0 else images
    rows = oy[:, None] + torch.arange(h, device=dev)[None, :]  # (B, H)
    cols = ox[:, None] + torch.arange(w, device=dev)[None, :]  # (B, W)
    cols = torch.where(flip[:, None], cols.flip(1), cols)
    bi = torch.arange(b, device=dev)[:, None, None, None]
    ci = torch.arange(c, device=dev)[None, :, None, None]
    return padded[bi, ci, rows[:, None, :, None], cols[:, None, None, :]].contiguous()


def normalize(
    images: torch.Tensor, mean, std, memory_format: torch.memory_format = torch.channels_last
) -> torch.Tensor:
    """uint8 (B, 3, H, W) -> float32 scaled to [0, 1] then standardised per channel, on the images' device.

    The result is channels-last by default (`run.channels_last`): with channels-last supernet weights
    (TrainContext.build_supernet) CPU convolutions run 1.6x (training) to 1.7x (scoring) faster on the NB201
    proxy supernet.
    """
    m = torch.tensor(mean, dtype=torch.float32, device=images.device).view(1, -1, 1, 1)
    s = torch.tensor(std, dtype=torch.float32, device=images.device).view(1, -1, 1, 1)
    x = images.to(torch.float32).div_(255.0).sub_(m).div_(s)
    return x.contiguous(memory_format=memory_format)


# ----------------------------------------------------------------------------------------------
# Batch streams
# ----------------------------------------------------------------------------------------------


class BatchStream:
    """An endless, seeded stream of training batches that can be checkpointed and resumed.

    Each epoch is a fresh ``torch.randperm`` of the data set drawn from the stream's own generator,
    which also drives augmentation. ``state_dict`` holds the epoch, the position inside it, the
    generator state at the start of the epoch (to redraw the same permutation) and the current
    generator state, so a restored stream continues with exactly the batches an uninterrupted one
    would produce. The next epoch starts as soon as the last batch of an epoch is taken, so
    ``epoch`` counts completed epochs.
    """

    def __init__(
        self,
        ds: ImageDataset,
        batch_size: int,
        seed: int,
        augment: bool = True,
        drop_last: bool = True,
        pad: int | None = None,
        memory_format: torch.memory_format = torch.channels_last,
    ):
        batch_size = int(batch_size)
        if batch_size < 1:
            raise BenchError(f"batch size must be positive, got {batch_size}")
        if batch_size > len(ds):
            raise BenchError(
                f"batch size {batch_size} is larger than the data set {ds.name} ({len(ds)} images)"
            )
        self.ds = ds
        self.batch_size = batch_size
        self.seed = int(seed)
        self.augment = bool(augment)
        self.drop_last = bool(drop_last)
        self.pad = default_pad(ds.resolution) if pad is None else int(pad)
        self.memory_format = memory_format
        self.device = ds.images.device  # batches are cut, augmented and normalised where the data set lives
        self._gen = torch.Generator(device=self.device).manual_seed(self.seed)
        self._epoch = 0
        self._pos = 0
        self._images_seen = 0
        self._start_epoch()

    def _start_epoch(self) -> None:
        self._epoch_state = self._gen.get_state()
        self._perm = torch.randperm(len(self.ds), generator=self._gen, device=self.device)
        self._pos = 0

    @property
    def epoch(self) -> int:
        return self._epoch

    @property
    def images_seen(self) -> int:
        return self._images_seen

    @property
    def batches_per_epoch(self) -> int:
        n, b = len(self.ds), self.batch_size
        return n // b if self.drop_last else -(-n // b)

    def next(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The next batch: (float32 normalised images, int64 labels)."""
        idx = self._perm[self._pos : self._pos + self.batch_size]
        self._pos += len(idx)
        images = self.ds.images[idx]
        if self.augment:
            images = augment(images, self._gen, self.pad)
        x = normalize(images, self.ds.mean, self.ds.std, self.memory_format)
        y = self.ds.labels[idx]
        self._images_seen += len(idx)
        remaining = len(self.ds) - self._pos
        if remaining == 0 or (self.drop_last and remaining < self.batch_size):
            self._epoch += 1
            self._start_epoch()
        return x, y

    __next__ = next

    def __iter__(self) -> BatchStream:
        return self

    def state_dict(self) -> dict:
        return {
            "epoch": self._epoch,
            "position": self._pos,
            "images_seen": self._images_seen,
            "epoch_generator_state": self._epoch_state.clone(),
            "generator_state": self._gen.get_state(),
            "seed": self.seed,
            "batch_size": self.batch_size,
            "num_images": len(self.ds),
        }

    def load_state_dict(self, state: dict) -> None:
        for key in ("batch_size", "num_images"):
            mine = self.batch_size if key == "batch_size" else len(self.ds)
            if int(state[key]) != mine:
                raise BenchError(
                    f"cannot resume batch stream: saved {key}={state[key]}, this stream has {mine}"
                )
        self._gen.set_state(state["epoch_generator_state"])
        self._start_epoch()  # redraws the epoch's permutation from its saved starting state
        self._gen.set_state(state["generator_state"])
        self._epoch = int(state["epoch"])
        self._pos = int(state["position"])
        self._images_seen = int(state["images_seen"])


def fixed_batches(
    ds: ImageDataset,
    n_batches: int,
    batch_size: int,
    seed: int,
    augment: bool = False,
    pad: int | None = None,
    memory_format: torch.memory_format = torch.channels_last,
) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """A fixed, seeded list of batches (e.g. for BN recalibration), identical for every architecture."""
    stream = BatchStream(ds, batch_size, seed, augment=augment, drop_last=True, pad=pad, memory_format=memory_format)
    return [stream.next() for _ in range(int(n_batches))]


def eval_batches(
    ds: ImageDataset, batch_size: int, memory_format: torch.memory_format = torch.channels_last
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """All images in order, no augmentation; the last batch may be smaller."""
    batch_size = int(batch_size)
    if batch_size < 1:
        raise BenchError(f"batch size must be positive, got {batch_size}")
    for start in range(0, len(ds), batch_size):
        end = start + batch_size
        yield normalize(ds.images[start:end], ds.mean, ds.std, memory_format), ds.labels[start:end]


def to_device(
    batches: Iterable[tuple[torch.Tensor, torch.Tensor]], device: torch.device
) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """A list of (images, labels) batches moved to `device` once (the same tensors on the CPU)."""
    return [(x.to(device), y.to(device)) for x, y in batches]
