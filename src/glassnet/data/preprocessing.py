"""The preprocessing record a model trained on a data file keeps, to read new rows.

``Preprocessing`` holds the feature names, the standardisation z = (x - mean) / scale
fitted on the training rows, the task, the target and the class labels. It is stored
as the ``"preprocessing"`` entry (``METADATA_KEY``) of the model file's metadata, so
that predict, evaluate, attack and export apply the same steps.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .datasets import Standardizer
from .errors import DataError

#: The key of the preprocessing record in a model file's metadata.
METADATA_KEY = "preprocessing"
RECORD_VERSION = 1


@dataclass
class Preprocessing:
    """What a model trained on a data file needs to read new rows of that file.

    z = (x - mean) / scale per feature, with mean and scale (the population standard
    deviation; 1 where it is 0) fitted on the training rows only. ``classes[i]`` is
    the label of output class i (None for regression).
    """

    features: list[str]
    mean: np.ndarray  # (d,) float64
    scale: np.ndarray  # (d,) float64, > 0
    task: str  # "classification" or "regression"
    target: str | None = None
    classes: list | None = None
    n_train: int = 0

    @classmethod
    def fit(cls, X_train, features, task, target=None, classes=None) -> Preprocessing:
        """The record with mean and scale fitted on ``X_train`` (n, d)."""
        scaler = Standardizer().fit(X_train)
        return cls(
            list(features),
            scaler.mean_,
            scaler.scale_,
            task,
            target,
            None if classes is None else list(classes),
            int(np.shape(X_train)[0]),
        )

    def transform(self, X) -> np.ndarray:
        """z = (x - mean) / scale, float64 (n, d)."""
        X = np.asarray(X, dtype=np.float64)
        return (X - self.mean) / self.scale

    def to_metadata(self) -> dict:
        """The record as JSON values (floats round-trip exactly)."""
        return {
            "version": RECORD_VERSION,
            "features": list(self.features),
            "mean": [float(v) for v in self.mean],
            "scale": [float(v) for v in self.scale],
            "task": self.task,
            "target": self.target,
            "classes": self.classes,
            "n_train": self.n_train,
        }

    @classmethod
    def from_metadata(cls, metadata: dict, net=None) -> Preprocessing | None:
        """The record in a model file's metadata (None if it has none), checked
        against ``net``: a malformed record raises DataError."""
        record = metadata.get(METADATA_KEY) if isinstance(metadata, dict) else None
        if record is None:
            return None

        def bad(what: str):
            raise DataError(f"the model file's preprocessing record is invalid: {what}")

        if not isinstance(record, dict) or record.get("version") != RECORD_VERSION:
            bad(f"expected an object with version {RECORD_VERSION}")
        features, mean, scale = (
            record.get("features"),
            record.get("mean"),
            record.get("scale"),
        )
        if not isinstance(features, list) or not all(
            isinstance(f, str) for f in features
        ):
            bad("'features' must be a list of column names")
        _check_names(features, "'features'", bad)
        d = len(features)
        for key, values in (("mean", mean), ("scale", scale)):
            if (
                not isinstance(values, list)
                or len(values) != d
                or not all(
                    isinstance(v, (int, float))
                    and not isinstance(v, bool)
                    and math.isfinite(v)
                    for v in values
                )
            ):
                bad(f"{key!r} must be {d} finite numbers, one per feature")
        if any(v <= 0 for v in scale):
            bad("'scale' must be positive")
        task = record.get("task")
        if task not in ("classification", "regression"):
            bad(f"'task' must be 'classification' or 'regression', got {task!r}")
        classes = record.get("classes")
        if task == "classification" and (not isinstance(classes, list) or not classes):
            bad("a classifier's record needs its list of 'classes'")
        if isinstance(classes, list):
            _check_classes(classes, bad)
        target = record.get("target")
        if target is not None and not isinstance(target, str):
            bad("'target' must be a column name")
        if target is not None:
            _check_names([target], "'target'", bad)
        n_train = record.get("n_train", 0)
        if isinstance(n_train, bool) or not isinstance(n_train, int) or n_train < 0:
            bad("'n_train' must be a non-negative integer")
        if net is not None:
            if d != net.in_features:
                bad(f"it lists {d} features but the network takes {net.in_features}")
            if task == "classification":
                k = net.out_features
                if len(classes) != (2 if k == 1 else k):
                    bad(
                        f"it lists {len(classes)} classes but the network has {k} "
                        f"output{'s' * (k > 1)}"
                    )
        return cls(
            list(features),
            np.array(mean, dtype=np.float64),
            np.array(scale, dtype=np.float64),
            task,
            target,
            None if task == "regression" else list(classes),
            n_train,
        )


def _control(text: str) -> bool:
    """True when ``text`` holds a control character (an ANSI escape begins with one):
    printed, it would rewrite the terminal instead of showing a name."""
    return any(ord(c) < 32 or 127 <= ord(c) < 160 for c in text)


def _check_names(names: list[str], what: str, bad) -> None:
    for i, name in enumerate(names):
        if _control(name):
            bad(f"{what} entry {i} {name!r} holds control characters")
        if name in names[:i]:
            bad(f"{what} lists {name!r} twice")


def _check_classes(classes: list, bad) -> None:
    """Labels must be distinct numbers or strings (JSON lists and objects are not
    labels: they cannot be told apart by hashing)."""
    seen = set()
    for i, label in enumerate(classes):
        if label is not None and not isinstance(label, (str, int, float)):
            bad(f"'classes' entry {i} is a {type(label).__name__}, not a label")
        if isinstance(label, str) and _control(label):
            bad(f"'classes' entry {i} {label!r} holds control characters")
        key = (type(label) is str, label)
        if key in seen:
            bad(f"'classes' lists {label!r} twice")
        seen.add(key)
