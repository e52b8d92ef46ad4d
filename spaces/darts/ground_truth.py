"""NAS-Bench-301 ground truth: predictions of the official XGBoost performance surrogate (v1.0 ensemble).

NB301 has no finite table, so the ground truth of a run is the surrogate's prediction for the run's architecture
sample: `load_nb301_ground_truth` returns an `NB301GroundTruth` whose `lookup(arch strings)` predicts (and
memoises) the ensemble mean; `snapshot()` freezes what was predicted into a canonical `GroundTruth` (parquet
via `to_parquet`), and a cache parquet given as `cache=` is read first and rewritten after new predictions.

Surrogate layout (automl/nasbench301 `api.load_ensemble`): a directory (default
`<data>/nb301/nb_models/xgb_v1.0`, or `$SUPERNET_BENCH_NB301_MODEL`) holding ensemble members, each a
folder with `surrogate_model.model` (a pickled `xgboost.Booster`; an XGBoost JSON/UBJ model file also works)
and `model_config.json` (`"model": "xgb"`) / `data_config.json`. Only the XGB performance model is supported.
The pickle is loaded as the official API does: only point this at surrogate files you trust.

Feature vector (as `XGBModel.query`: ConfigSpace `Configuration.get_array()`, NaN -> -1): the 56 hyperparameters
of nasbench301/configspace.json in ConfigSpace 0.4.x order (topological level, then name, i.e. the 32
unconditional ones alphabetically, then the 24 conditional edges `edge_*_2..13` alphabetically); architecture
values from the genotype, training hyperparameters fixed to `api.fixed_hyperparameters`; categorical -> choice
index, constant -> 0, uniform int/float -> (value - lower) / (upper - lower) on the (log) scale with ints'
bounds widened by 0.49999, normal float -> value (log value if log), inactive edges -> -1. The fidelity
hyperparameters (layers, init_channels, T_max, eta_min) use the widened 1..10000 / 0..10000 ranges that
nasbench301's `ConfigLoader.load_config_space` installs. The training-hyperparameter columns are the same for
every architecture.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import pickle
from pathlib import Path

import numpy as np
from supernet_bench.core.errors import BenchError, DataError, UnknownNameError
from supernet_bench.core.ground_truth import GroundTruth, sha256_file
from supernet_bench.spaces.darts.space import CONFIG_PREFIX, EDGES_PER_CELL, GT_COLUMNS, OPS, DartsSpace, arch_to_config

DEFAULT_SOURCE = Path("nb301") / "nb_models" / "xgb_v1.0"
MODEL_ENV = "SUPERNET_BENCH_NB301_MODEL"
MEMBER_FILE = "surrogate_model.model"
_INSTALL_HINT = "pip install supernet-bench[nb301]"

_OP_CHOICES = list(OPS[1:])  # NB301 categorical order: max_pool, avg_pool, skip, sep3, sep5, dil3, dil5
_PAIRS = {to: [f"{a}_{b}" for a in range(to) for b in range(a + 1, to)] for to in (3, 4, 5)}


def _uniform(value: float, lower: float, upper: float, log: bool = False) -> float:
    if log:
        value, lower, upper = math.log(value), math.log(lower), math.log(upper)
    return (value - lower) / (upper - lower)


def _int(value: int, lower: int, upper: int, log: bool = False) -> float:
    return _uniform(value, lower - 0.49999, upper + 0.49999, log)


# Training hyperparameters (nasbench301 api.fixed_hyperparameters) as ConfigSpace vector values.
_FIXED_VECTOR: dict[str, float] = {
    "CreateImageDataLoader:batch_size": _int(96, 64, 128, log=True),
    "ImageAugmentation:augment": 0.0,  # choices [True]
    "ImageAugmentation:autoaugment": 0.0,  # choices [False, True], value False
    "ImageAugmentation:cutout": 0.0,
    "ImageAugmentation:cutout_holes": _int(1, 1, 3),
    "ImageAugmentation:cutout_length": _int(16, 1, 50),
    "ImageAugmentation:fastautoaugment": 0.0,
    "LossModuleSelectorIndices:loss_module": 0.0,
    f"{CONFIG_PREFIX}auxiliary": 0.0,
    f"{CONFIG_PREFIX}drop_path_prob": 0.0,  # constant
    f"{CONFIG_PREFIX}init_channels": _int(32, 1, 10000),
    f"{CONFIG_PREFIX}layers": _int(8, 1, 10000),
    "NetworkSelectorDatasetInfo:network": 0.0,
    "OptimizerSelector:optimizer": 0.0,
    "OptimizerSelector:sgd:learning_rate": math.log(0.025),  # normal float, log
    "OptimizerSelector:sgd:momentum": _uniform(0.9, 0.1, 0.99),
    "OptimizerSelector:sgd:weight_decay": math.log(0.0003),  # normal float, log
    "SimpleLearningrateSchedulerSelector:cosine_annealing:T_max": _int(100, 1, 10000),
    "SimpleLearningrateSchedulerSelector:cosine_annealing:eta_min": _uniform(1e-8, 0.0, 10000.0),
    "SimpleLearningrateSchedulerSelector:lr_scheduler": 0.0,
    "SimpleTrainNode:batch_loss_computation_technique": 0.0,
    "SimpleTrainNode:mixup:alpha": _uniform(0.2, 0.01, 0.7, log=True),
}


def _feature_names() -> list[str]:
    level0 = list(_FIXED_VECTOR)
    level1 = []
    for cell in ("normal", "reduce"):
        level0 += [f"{CONFIG_PREFIX}edge_{cell}_{k}" for k in (0, 1)]
        level0 += [f"{CONFIG_PREFIX}inputs_node_{cell}_{to}" for to in (3, 4, 5)]
        level1 += [f"{CONFIG_PREFIX}edge_{cell}_{k}" for k in range(2, EDGES_PER_CELL)]
    return sorted(level0) + sorted(level1)


FEATURE_NAMES: tuple[str, ...] = tuple(_feature_names())  # 56, the surrogate's input columns in order
_UNCONDITIONAL = frozenset(FEATURE_NAMES[:32]) - set(_FIXED_VECTOR)


def config_vector(config: dict[str, str]) -> np.ndarray:
    """The surrogate's feature vector of an NB301 architecture config dict (inactive edges -> -1)."""
    out = np.full(len(FEATURE_NAMES), -1.0)
    for i, name in enumerate(FEATURE_NAMES):
        if name in _FIXED_VECTOR:
            out[i] = _FIXED_VECTOR[name]
        elif name in config:
            value = config[name]
            if ":inputs_node_" in name:
                out[i] = _PAIRS[int(name.rsplit("_", 1)[1])].index(value)
            else:
                out[i] = _OP_CHOICES.index(value)
        elif name in _UNCONDITIONAL:
            raise BenchError(f"NB301 config lacks the unconditional hyperparameter {name}")
    return out


def feature_matrix(archs) -> np.ndarray:
    """(n, 56) surrogate inputs of valid DARTS archs (op-index tuples)."""
    if not archs:
        return np.zeros((0, len(FEATURE_NAMES)))
    return np.stack([config_vector(arch_to_config(a)) for a in archs])


# --- the surrogate ensemble ---------------------------------------------------------------------------------
def _import_xgboost():
    try:
        import xgboost
    except ImportError:
        raise BenchError(
            f"NAS-Bench-301 ground truth needs the 'xgboost' package to run the surrogate: {_INSTALL_HINT}"
        ) from None
    return xgboost


def _load_booster(xgb, path: Path):
    try:
        with open(path, "rb") as f:
            obj = pickle.load(f)  # the official members are pickled Boosters (trusted files only)
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, ImportError):
        obj = None
    except OSError as e:
        raise DataError(f"cannot read NB301 surrogate member {path}: {e}") from None
    if isinstance(obj, xgb.Booster):
        return obj
    if obj is not None and hasattr(obj, "get_booster"):  # an sklearn-API XGBRegressor
        return obj.get_booster()
    try:
        booster = xgb.Booster()
        booster.load_model(bytearray(path.read_bytes()))  # raw JSON / UBJSON model bytes
        return booster
    except Exception as e:  # xgboost raises XGBoostError for files it cannot parse
        raise DataError(
            f"NB301 surrogate member {path} is neither a pickled xgboost Booster nor a model file: {e}"
        ) from None


class NB301Surrogate:
    """The XGB surrogate ensemble under `root` (members found like nasbench301's load_ensemble)."""

    def __init__(self, root: str | Path):
        self.root = Path(root)
        if not self.root.is_dir():
            raise DataError(
                f"NAS-Bench-301 surrogate directory not found: {self.root} (expected the official "
                f"nb_models/xgb_v1.0 folder; set ${MODEL_ENV} or put it at <data>/{DEFAULT_SOURCE})"
            )
        self.member_dirs = sorted(p.parent for p in self.root.rglob(f"*{MEMBER_FILE}"))
        if not self.member_dirs:
            raise DataError(f"no ensemble member ({MEMBER_FILE}) under NB301 surrogate directory {self.root}")
        config_path = self.member_dirs[0] / "model_config.json"
        try:
            self.model_config = json.loads(config_path.read_text())
        except (OSError, ValueError) as e:
            raise DataError(f"cannot read NB301 surrogate model config {config_path}: {e}") from None
        model = self.model_config.get("model")
        if model != "xgb":
            raise DataError(
                f"NB301 surrogate {self.root}: model {model!r} is not supported (only the XGBoost performance "
                "model 'xgb', nb_models/xgb_v1.0)"
            )
        if self.model_config.get("param:bananas_enc"):
            raise DataError(f"NB301 surrogate {self.root}: the BANANAS path encoding is not supported")
        self._boosters = None

    def sha256(self) -> str:
        h = hashlib.sha256()
        for f in sorted(p for p in self.root.rglob("*") if p.is_file()):
            h.update(str(f.relative_to(self.root)).encode() + b"\0" + sha256_file(f).encode())
        return h.hexdigest()

    def boosters(self):
        if self._boosters is None:
            xgb = _import_xgboost()
            self._boosters = [_load_booster(xgb, d / MEMBER_FILE) for d in self.member_dirs]
        return self._boosters

    def predict_members(self, archs) -> np.ndarray:
        """(members, n) predictions for valid DARTS archs."""
        xgb = _import_xgboost()
        boosters = self.boosters()
        if not archs:
            return np.zeros((len(boosters), 0))
        dm = xgb.DMatrix(feature_matrix(list(archs)))
        return np.stack([np.asarray(b.predict(dm), dtype=np.float64) for b in boosters])

    def predict_mean(self, archs) -> np.ndarray:
        """Ensemble mean (nasbench301 `predict(..., with_noise=False)`)."""
        return self.predict_members(archs).mean(axis=0)


# --- the lazily evaluated ground truth ----------------------------------------------------------------------
class NB301GroundTruth:
    """GroundTruth-like: `lookup`, `value`, `provenance`, `column`; values are predicted on first request."""

    higher_is_better = True

    def __init__(
        self,
        surrogate: NB301Surrogate,
        column: str = GT_COLUMNS[0],
        space: DartsSpace | None = None,
        cache: str | Path | None = None,
    ):
        self.surrogate = surrogate
        self.column = column
        self.space_obj = space or DartsSpace()
        self.space = self.space_obj.label
        self.source = str(surrogate.root)
        self.source_sha256 = surrogate.sha256()
        self.values: dict[str, float] = {}
        self.cache = Path(cache) if cache is not None else None
        if self.cache is not None and self.cache.is_file():
            cached = GroundTruth.from_parquet(self.cache)
            if cached.source_sha256 == self.source_sha256 and cached.column == column:
                self.values.update(cached.values)

    def __len__(self) -> int:
        return len(self.values)

    def lookup(self, archs: list[str]) -> np.ndarray:
        keys, todo = [], {}
        for text in archs:
            arch = self.space_obj.check(text)
            key = self.space_obj.encode(arch)
            keys.append(key)
            if key not in self.values:
                todo[key] = arch
        if todo:
            preds = self.surrogate.predict_mean(list(todo.values()))
            self.values.update(zip(todo, (float(p) for p in preds)))
            if self.cache is not None:
                self.snapshot().to_parquet(self.cache)
        return np.array([self.values[k] for k in keys], dtype=np.float64)

    def value(self, arch: str) -> float:
        return float(self.lookup([arch])[0])

    def snapshot(self) -> GroundTruth:
        """The predictions made so far as a canonical GroundTruth (write it with `.to_parquet`)."""
        return GroundTruth(
            space=self.space,
            column=self.column,
            values=dict(self.values),
            source=self.source,
            source_sha256=self.source_sha256,
            higher_is_better=True,
        )

    def provenance(self, data_dir=None) -> dict:
        return {**self.snapshot().provenance(data_dir), "kind": "surrogate (nasbench301 xgb ensemble mean)"}


def resolve_source(data_dir, source: str | Path | None = None) -> Path:
    if source is not None:
        return Path(source)
    env = os.environ.get(MODEL_ENV, "")
    if env:
        return Path(env).expanduser()
    return Path(data_dir) / DEFAULT_SOURCE


def load_nb301_ground_truth(
    column: str,
    data_dir,
    source: str | Path | None = None,
    space: DartsSpace | None = None,
    cache: str | Path | None = None,
) -> NB301GroundTruth:
    """NB301 surrogate ground truth of `column` (`nb301-mean`), evaluated lazily per architecture."""
    if column not in GT_COLUMNS:
        raise UnknownNameError(f"Unknown NB301 ground-truth column {column!r}. Available: {', '.join(GT_COLUMNS)}")
    surrogate = NB301Surrogate(resolve_source(data_dir, source))
    _import_xgboost()  # fail early, before training, when the package is missing
    return NB301GroundTruth(surrogate, column, space, cache)


def predict_to_parquet(archs, path: str | Path, data_dir=None, source: str | Path | None = None) -> GroundTruth:
    """Predict a sample of DARTS archs (op tuples or Genotype strings) and write the canonical GT parquet."""
    space = DartsSpace()
    gt = load_nb301_ground_truth(GT_COLUMNS[0], data_dir or ".", source=source, space=space)
    gt.lookup([space.encode(space.check(a)) for a in archs])
    snap = gt.snapshot()
    snap.to_parquet(path)
    return snap
