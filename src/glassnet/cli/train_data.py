"""The data ``glassnet train`` learns from: a data file or a built-in dataset, read,
checked, split into training and validation rows, and standardised on the training
rows (the preprocessing record the model file keeps)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..data import datasets
from . import CliError
from .tabular import (
    DataError,
    Preprocessing,
    Table,
    check_rows,
    encode_labels,
    fingerprint,
    fit_classes,
    infer_task,
    read_table,
    select,
)

DATASETS = ("digits", "iris", "wine", "breast_cancer", "moons", "spirals", "xor")
#: Fewest rows ``train`` accepts: below this a split and a standardisation mean little.
MIN_TRAIN_ROWS = 10


def builtin_table(name: str) -> Table:
    """A built-in dataset as a table: features x0.. (digits: pixel_<row>_<col>,
    scaled to [0, 1]) and the target column "label"."""
    loaders = {
        "digits": datasets.load_digits,
        "iris": datasets.load_iris,
        "wine": datasets.load_wine,
        "breast_cancer": datasets.load_breast_cancer,
        "moons": lambda: datasets.moons(n_samples=400, noise=0.2, seed=0),
        "spirals": lambda: datasets.spirals(
            n_samples=600, n_classes=3, noise=0.2, seed=0
        ),
        "xor": lambda: datasets.xor(n_repeats=50, noise=0.1, seed=0),
    }
    try:
        X, y = loaders[name]()
    except ImportError as error:
        raise CliError(str(error)) from None
    names = {
        "iris": ["setosa", "versicolor", "virginica"],
        "wine": ["class_0", "class_1", "class_2"],
        "breast_cancer": ["malignant", "benign"],
    }
    if name == "digits":
        X = X / 16.0  # pixels 0..16 -> [0, 1], as glassnet demo and attack use them
        features = [f"pixel_{r}_{c}" for r in range(8) for c in range(8)]
    else:
        features = [f"x{j}" for j in range(X.shape[1])]
    labels = np.array([names[name][i] for i in y], dtype=object) if name in names else y
    columns = {f: X[:, j] for j, f in enumerate(features)}
    columns["label"] = labels
    return Table(f"{name} (built-in)", columns, len(y))


def load_table(settings: dict, quiet: bool) -> Table:
    if settings["data"]:
        try:
            return read_table(settings["data"], progress=not quiet)
        except ImportError as error:
            raise CliError(str(error)) from None
    return builtin_table(settings["dataset"] or "digits")


def prepare(settings: dict, table: Table):
    """(X, y, features, task, classes): the features and the target, encoded as
    class indices (classification) or float64 (regression)."""
    if settings["dataset"] and not settings["target"]:
        settings["target"] = "label"
    target = settings["target"]
    if target is None:
        raise CliError(
            f"DATA ({table.path}) needs --target COLUMN, the column to predict"
        )
    X, y_raw, features = select(table, target, settings["features"])
    check_rows(table, MIN_TRAIN_ROWS, "training")
    task = settings["task"]
    if task == "auto":
        task = infer_task(y_raw)
    classes = None
    if task == "regression":
        if y_raw.dtype.kind not in "biuf":
            example = next(v for v in y_raw if v is not None)
            raise DataError(
                f"{table.path}: target column {target!r} holds text ({example!r}); "
                "regression needs numbers (use --task classification)"
            )
        y = y_raw.astype(np.float64)
    else:
        classes = fit_classes(y_raw)
        if len(classes) < 2:
            raise DataError(
                f"{table.path}: target column {target!r} holds a single value "
                f"({classes[0]!r}); classification needs at least 2 classes"
            )
        y = encode_labels(y_raw, classes, f"{table.path} column {target!r}")
    return X, y, features, task, classes


def split(n: int, val_split: float, labels, seed: int):
    """Row indices (train, validation) drawn from seed (its own stream [seed, 0, 2])."""
    if not val_split:
        return np.arange(n), None
    rng = np.random.default_rng([seed, 0, 2])
    try:
        return datasets.split_indices(n, val_split, labels, rng)
    except ValueError as error:
        raise CliError(f"--val-split {val_split}: {error}") from None


@dataclass
class TrainingData:
    """What one run trains on: the standardised training rows, the validation rows,
    and what the model file records about them."""

    table: Table
    features: list[str]
    task: str
    classes: list | None
    record: Preprocessing  # the standardisation fitted on the training rows
    sha256: str  # fingerprint of the rows, features and labels (checked on --resume)
    train_rows: np.ndarray
    val_rows: np.ndarray | None
    Z_train: np.ndarray  # standardised features of the training rows   (n, features)
    y_train: np.ndarray
    validation: tuple[np.ndarray, np.ndarray] | None


def read_data(settings: dict, quiet: bool) -> TrainingData:
    """The data file or built-in dataset, split, with the standardisation fitted on
    the training rows only."""
    table = load_table(settings, quiet)
    X, y, features, task, classes = prepare(settings, table)
    train_rows, val_rows = split(
        len(y), settings["val_split"], y if classes else None, settings["seed"]
    )
    record = Preprocessing.fit(
        X[train_rows], features, task, settings["target"], classes
    )
    validation = None
    if val_rows is not None:
        validation = (record.transform(X[val_rows]), y[val_rows])
    return TrainingData(
        table=table,
        features=features,
        task=task,
        classes=classes,
        record=record,
        sha256=fingerprint(X, y, features),
        train_rows=train_rows,
        val_rows=val_rows,
        Z_train=record.transform(X[train_rows]),
        y_train=y[train_rows],
        validation=validation,
    )


# -- the network and its optimizer -------------------------------------------------------
def output_for(task: str, n_classes: int, loss: str) -> tuple[int, str, str]:
    """(outputs, output activation, loss) for the task."""
    if task == "regression":
        if loss not in ("auto", "mse"):
            raise CliError(
                f"--loss {loss} is for class labels; regression uses mse (or use "
                "--task classification)"
            )
        return 1, "identity", "mse"
    if loss == "mse":
        raise CliError(
            "--loss mse is a regression loss; for class labels use cross_entropy or "
            "binary_crossentropy (or --task regression for a numeric target)"
        )
    if loss == "binary_crossentropy" or (loss == "auto" and n_classes == 2):
        if n_classes != 2:
            raise CliError(
                f"--loss binary_crossentropy needs 2 classes, the target has "
                f"{n_classes}; use cross_entropy"
            )
        return 1, "sigmoid", "binary_crossentropy"
    return n_classes, "softmax", "cross_entropy"


def describe_data(data: TrainingData, settings: dict) -> str:
    target, classes, features = settings["target"], data.classes, data.features
    if classes is not None:
        shown = ", ".join(str(c) for c in classes[:10]) + (
            ", ..." if len(classes) > 10 else ""
        )
        what = f"classification, {len(classes)} classes: {shown}"
    else:
        what = "regression"
    names = ", ".join(features[:8]) + (", ..." if len(features) > 8 else "")
    n_val = 0 if data.val_rows is None else len(data.val_rows)
    return (
        f"data: {data.table.path}, {data.table.n_rows} rows; target {target!r} -> "
        f"{what}\n"
        f"features ({len(features)}): {names}\n"
        f"standardised with the mean and std of the {len(data.train_rows)} training "
        f"rows; {n_val} validation rows"
    )
