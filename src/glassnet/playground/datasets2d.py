"""The playground's 2-D data sets: five to classify, two to fit, all seeded.

Every set lives in the square [-6, 6]^2 that the page draws (points within
[-5, 5], plus noise). Classification labels are 0 and 1; regression targets are in
[-1, 1]. ``noise`` is a fraction in [0, 1] of each set's own noise scale (0.5 is
the page's default), and ``ratio`` the share of points kept for training.

    circle          inside radius 2.5 (1) or a ring of radius 3.5 to 5 (0)
    xor             uniform in the square: 1 when x1 x2 > 0
    gaussians       two Gaussian clouds centred at (2, 2) (1) and (-2, -2) (0)
    spiral          two interleaved spiral arms (``glassnet.data.datasets.spirals``)
    moons           two half circles (``glassnet.data.datasets.moons``)
    plane           regression: y = (x1 + x2) / 12
    multi-gaussian  regression: the sum of six signed Gaussian bumps

Examples
--------
>>> data = make_dataset("xor", n_samples=100, noise=0.0, ratio=0.5, seed=0)
>>> data.X_train.shape, data.X_test.shape, data.task
((50, 2), (50, 2), 'classification')
>>> bool(((data.X_train[:, 0] * data.X_train[:, 1] > 0) == data.y_train).all())
True
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass, field

import numpy as np

from ..data import datasets
from ..errors import InputError
from ..validation import as_generator, check_number

#: The half-width of the square the page draws.
DOMAIN = 6.0

CLASSIFICATION = ("circle", "xor", "gaussians", "spiral", "moons")
REGRESSION = ("plane", "multi-gaussian")
DATASETS = CLASSIFICATION + REGRESSION


@dataclass
class Dataset2D:
    """Points (n, 2) and their targets (n,), split into train and test."""

    name: str
    task: str  # "classification" (labels 0, 1) or "regression"
    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray


def make_dataset(
    name: str,
    n_samples: int = 500,
    noise: float = 0.5,
    ratio: float = 0.5,
    seed=0,
    columns=None,
) -> Dataset2D:
    """The data set ``name``, with ``noise`` in [0, 1] and a train share ``ratio``.

    ``columns`` (points (n, 2), targets (n,), task) gives the user's own data
    instead of a generated set; it is split the same way.
    """
    noise = check_number(noise, "noise", low=0.0, high=1.0)
    ratio = check_number(ratio, "ratio", low=0.0, high=1.0, low_open=True)
    rng = as_generator(seed)
    if columns is not None:
        P, y, task = columns
    elif name in DATASETS:
        P, y = _GENERATORS[name](n_samples, noise, rng)
        task = "classification" if name in CLASSIFICATION else "regression"
    else:
        raise InputError(f"dataset must be one of {list(DATASETS)}, got {name!r}")
    order = rng.permutation(len(P))
    n_train = max(1, min(len(P), round(ratio * len(P))))
    train, test = order[:n_train], order[n_train:]
    return Dataset2D(name, task, P[train], y[train], P[test], y[test])


def _circle(n, noise, rng):
    radius = 5.0
    inner = rng.uniform(0.0, radius * 0.5, n // 2)
    outer = rng.uniform(radius * 0.7, radius, n - n // 2)
    r = np.concatenate([inner, outer])
    angle = rng.uniform(0.0, 2 * math.pi, n)
    P = np.stack([r * np.sin(angle), r * np.cos(angle)], axis=1)
    P += rng.uniform(-radius, radius, (n, 2)) * noise / 3  # jitter, labels kept
    y = (np.arange(n) < n // 2).astype(np.int64)
    return P, y


def _xor(n, noise, rng):
    padding = 0.3  # keeps points off the axes, where the label flips
    P = rng.uniform(-5.0, 5.0, (n, 2))
    P += np.where(P > 0, padding, -padding)
    y = (P[:, 0] * P[:, 1] > 0).astype(np.int64)
    P += rng.uniform(-5.0, 5.0, (n, 2)) * noise / 2
    return P, y


def _gaussians(n, noise, rng):
    spread = 0.5 + 3.5 * noise  # the clouds' standard deviation grows with noise
    y = (np.arange(n) < n // 2).astype(np.int64)
    centre = np.where(y[:, None] == 1, 2.0, -2.0)
    return centre + rng.normal(0.0, spread, (n, 2)), y


def _spiral(n, noise, rng):
    P, y = datasets.spirals(n, n_classes=2, noise=noise, seed=rng)
    return 5.0 * P, y


def _moons(n, noise, rng):
    P, y = datasets.moons(n, noise=0.3 * noise, seed=rng)
    return 3.0 * (P - [0.5, 0.25]), y


def _plane(n, noise, rng):
    P = rng.uniform(-6.0, 6.0, (n, 2))
    y = (P[:, 0] + P[:, 1]) / 12 + rng.uniform(-1.0, 1.0, n) * noise / 2
    return P, np.clip(y, -1.0, 1.0)


_BUMPS = np.array(
    [
        [-4, 2.5, 1],
        [0, 2.5, -1],
        [4, 2.5, 1],
        [-4, -2.5, -1],
        [0, -2.5, 1],
        [4, -2.5, -1],
    ],
    dtype=np.float64,
)  # fmt: skip  (centre x1, centre x2, sign)


def _multi_gaussian(n, noise, rng):
    P = rng.uniform(-6.0, 6.0, (n, 2))
    d2 = ((P[:, None, :] - _BUMPS[None, :, :2]) ** 2).sum(axis=2)  # (n, 6)
    y = (_BUMPS[:, 2] * np.exp(-d2 / 2)).sum(axis=1)
    y = np.clip(y + rng.uniform(-1.0, 1.0, n) * noise / 2, -1.0, 1.0)
    return P, y


_GENERATORS = {
    "circle": _circle,
    "xor": _xor,
    "gaussians": _gaussians,
    "spiral": _spiral,
    "moons": _moons,
    "plane": _plane,
    "multi-gaussian": _multi_gaussian,
}


@dataclass
class UserData:
    """The user's own table: two columns drawn as (x1, x2), the other numeric
    columns as further inputs, and the target.

    ``points`` are the two columns scaled linearly into [-5, 5] each (the drawn
    square); ``targets`` are 0/1 class indices for two classes, or the regression
    target scaled linearly into [-1, 1]. ``columns`` names the two columns and
    ``classes`` the two class values (None for regression). ``extra`` (n, e) holds
    every other numeric column, standardised ((v - mean) / std, 0 where constant),
    named by ``extra_columns``: the network takes them after the features of
    (x1, x2), and the heatmaps hold them at their mean.
    """

    name: str
    columns: list
    points: np.ndarray
    targets: np.ndarray
    task: str
    classes: list | None = None
    extra: np.ndarray | None = None
    extra_columns: list = field(default_factory=list)


#: The most rows of the user's table the playground takes.
MAX_USER_ROWS = 5000


def read_user_data(path, target: str, columns=None) -> UserData:
    """The user's data file (CSV, Parquet, .npy/.npz as ``glassnet train`` reads
    them, with the same checks) as a playground data set.

    ``columns`` names the two feature columns drawn (default: the first two
    columns besides ``target``); every other numeric column is an input too
    (``UserData.extra``). A classification target must have two classes.
    """
    from ..data.tables import read_table

    return user_data_from_table(read_table(path), target, columns, str(path))


def parse_user_csv(data: bytes, name: str, target: str, columns=None) -> UserData:
    """A CSV file's bytes (a page's upload) as a playground data set: parsed in
    memory with ``glassnet train``'s CSV checks, then as ``read_user_data``."""
    from ..data import tables
    from ..data.errors import DataError

    if not data:
        raise DataError(f"{name} is empty (0 bytes)")
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        raise DataError(
            f"{name} is not a CSV file: it is not text (UTF-8); expected a header "
            "row and comma-separated values"
        ) from None
    pd = tables._pandas("csv")
    quiet = tables.Progress(name, len(data), None, enabled=False)
    frame = tables._read_csv(pd, name, len(data), quiet, source=io.BytesIO(data))
    found = tables.columns_of_frame(pd, frame, name)
    n = len(next(iter(found.values()))) if found else 0
    return user_data_from_table(tables.Table(name, found, n), target, columns, name)


def user_data_from_table(table, target: str, columns, path: str) -> UserData:
    """A read table (``glassnet.data.tables.Table``) as a playground data set."""
    from ..data.columns import select
    from ..data.errors import DataError
    from ..data.labels import encode_labels, fit_classes, infer_task

    if table.n_rows > MAX_USER_ROWS:
        raise DataError(
            f"{path} has {table.n_rows} rows; the playground takes at most "
            f"{MAX_USER_ROWS} (sample it first)"
        )
    if columns is None:
        columns = [name for name in table.names if name != target][:2]
    if len(columns) != 2:
        raise DataError(
            f"the playground draws two feature columns; {path} has {len(columns)} "
            "besides the target"
        )
    columns = list(columns)
    extra_columns = [
        name
        for name in table.names
        if name != target
        and name not in columns
        and table.columns[name].dtype.kind in "iufb"
    ]
    P, y, _ = select(table, target, columns + extra_columns)
    if len(P) < 2:
        raise DataError(f"{path} needs at least 2 rows, has {len(P)}")
    task, classes = infer_task(y), None
    if task == "classification":
        classes = fit_classes(y)
        if len(classes) != 2:
            raise DataError(
                f"target column {target!r} has {len(classes)} classes; the playground "
                "classifies two (or give a numeric target to fit)"
            )
        y = encode_labels(y, classes, str(path))
    else:
        y = _scaled(np.asarray(y, dtype=np.float64), 1.0)
    points = np.stack([_scaled(P[:, 0], 5.0), _scaled(P[:, 1], 5.0)], axis=1)
    extra = None
    if extra_columns:
        E = P[:, 2:]
        std = E.std(axis=0)
        extra = (E - E.mean(axis=0)) / np.where(std > 0, std, 1.0)
    return UserData(path, columns, points, y, task, classes, extra, extra_columns)


def _scaled(values: np.ndarray, half_width: float) -> np.ndarray:
    """values mapped linearly onto [-half_width, half_width] (constant: 0)."""
    low, high = values.min(), values.max()
    if high == low:
        return np.zeros_like(values)
    return (2 * (values - low) / (high - low) - 1) * half_width
