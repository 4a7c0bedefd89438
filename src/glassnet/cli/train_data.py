"""The data ``glassnet train`` learns from: a data file or a built-in dataset, read,
checked, split into training and validation rows, and standardised on the training
rows (the preprocessing record the model file keeps)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

from ..data import datasets
from ..data.preprocessing import check_numbers_as_text
from . import CliError
from .heldout import held_out_rows, split_record
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
    select_columns,
)

DATASETS = (
    "digits", "iris", "wine", "breast_cancer", "moons", "spirals", "xor", "penguins",
)  # fmt: skip
#: A built-in dataset's target column: "label", but for the tables of real columns.
BUILTIN_TARGETS = {"penguins": "species"}
#: Fewest rows ``train`` accepts: below this a split and a standardisation mean little.
MIN_TRAIN_ROWS = 10


def builtin_table(name: str) -> Table:
    """A built-in dataset as a table: features x0.. (digits: pixel_<row>_<col>,
    scaled to [0, 1]) and the target column "label"; penguins: the Palmer penguins
    table as it is (text columns, empty cells), target "species"."""
    if name == "penguins":
        return penguins_table()
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


def penguins_table() -> Table:
    """The Palmer penguins (344 rows: island and sex as text, 19 empty cells), from
    the palmerpenguins package (the datasets extra)."""
    try:
        from palmerpenguins import load_penguins
    except ImportError:
        raise CliError(
            "--dataset penguins needs the palmerpenguins package: pip install "
            "'glassnet[datasets]'"
        ) from None
    frame = load_penguins()
    columns = {}
    for name in frame.columns:
        series = frame[name]
        if series.dtype.kind in "iuf":
            columns[str(name)] = series.to_numpy()
        else:  # text: the values, None where a cell is empty
            columns[str(name)] = series.to_numpy(dtype=object, na_value=None)
    return Table("penguins (built-in)", columns, len(frame))


def load_table(settings: dict, quiet: bool) -> Table:
    if settings["data"]:
        try:
            return read_table(settings["data"], progress=not quiet)
        except ImportError as error:
            raise CliError(str(error)) from None
    return builtin_table(settings["dataset"] or "digits")


def prepare(settings: dict, table: Table):
    """(columns, y, features, task, classes): the raw feature columns by name and
    the target, encoded as class indices (classification) or float64 (regression)."""
    if settings["dataset"] and not settings["target"]:
        settings["target"] = BUILTIN_TARGETS.get(settings["dataset"], "label")
    target = settings["target"]
    if target is None:
        raise CliError(
            f"DATA ({table.path}) needs --target COLUMN, the column to predict"
        )
    X, y_raw, features = select_columns(table, target, settings["features"])
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
    record: Preprocessing  # categories, fills, standardisation: of the training rows
    sha256: str  # fingerprint of the rows, features and labels (checked on --resume)
    train_rows: np.ndarray
    val_rows: np.ndarray | None
    Z_train: np.ndarray  # the network's inputs of the training rows   (n, n_inputs)
    y_train: np.ndarray
    validation: tuple[np.ndarray, np.ndarray] | None
    # --test-split: the held-out rows' inputs and targets, and the split's record
    test: tuple[np.ndarray, np.ndarray] | None = None
    test_split: dict | None = None


def read_data(settings: dict, quiet: bool) -> TrainingData:
    """The data file or built-in dataset, split, with the preprocessing record
    (categories, fills, standardisation) fitted on the training rows only."""
    table = load_table(settings, quiet)
    columns, y, features, task, classes = prepare(settings, table)
    # the test rows first: neither the validation split nor the record sees them
    fraction = settings.get("test_split") or 0.0
    test_rows, rest = held_out_rows(len(y), fraction, settings["seed"])
    train_at, val_at = split(
        len(rest), settings["val_split"], y[rest] if classes else None, settings["seed"]
    )
    train_rows = rest[train_at]
    val_rows = None if val_at is None else rest[val_at]
    check_numbers_as_text(
        columns, features, settings.get("categorical") or (), table.path
    )
    record = Preprocessing.fit(
        {name: values[train_rows] for name, values in columns.items()},
        features,
        task,
        settings["target"],
        classes,
        categorical=_categorical(settings, features, columns),
    )
    validation = None
    if val_rows is not None:
        rows = {name: values[val_rows] for name, values in columns.items()}
        validation = (record.transform(rows)[0], y[val_rows])
    test = test_split = None
    if test_rows is not None:
        rows = {name: values[test_rows] for name, values in columns.items()}
        test = (record.transform(rows)[0], y[test_rows])
        test_split = split_record(fraction, settings["seed"], table, len(test_rows))
    return TrainingData(
        table=table,
        features=features,
        task=task,
        classes=classes,
        record=record,
        sha256=_fingerprint(columns, y, features),
        train_rows=train_rows,
        val_rows=val_rows,
        Z_train=record.transform(
            {name: values[train_rows] for name, values in columns.items()}
        )[0],
        y_train=y[train_rows],
        validation=validation,
        test=test,
        test_split=test_split,
    )


def _categorical(settings: dict, features: list[str], columns: dict) -> list[str]:
    """The --categorical columns: each a feature column, named once, holding whole
    numbers (or text: categories anyway). A decimal column is no list of codes."""
    names = settings.get("categorical") or []
    for i, name in enumerate(names):
        if name not in features:
            raise CliError(
                f"--categorical names {name!r}, which is not a feature column "
                f"(features: {', '.join(features[:8])}{', ...' * (len(features) > 8)})"
            )
        if name in names[:i]:
            raise CliError(f"--categorical names {name!r} twice")
        values = columns[name]
        if values.dtype.kind == "f":  # integers with empty cells are read as floats
            cells = values[~np.isnan(values)]
            fractional = cells[cells != np.round(cells)]
            if fractional.size:
                raise CliError(
                    f"--categorical names {name!r}, which holds numbers that are not "
                    f"whole (e.g. {fractional[0]:g}); --categorical is for integer "
                    "codes of categories"
                )
    return names


def _fingerprint(columns: dict, y, features: list[str]) -> str:
    """The rows' fingerprint: of the float64 matrix when every column is numeric (as
    for a numeric table always), with the text columns' cells hashed in after."""
    numeric = [
        c if c.dtype.kind in "biuf" else np.zeros(len(c)) for c in columns.values()
    ]
    X = np.column_stack(numeric) if numeric else np.empty((len(y), 0))
    digest = fingerprint(X, y, features)
    text = [repr(c.tolist()) for c in columns.values() if c.dtype.kind not in "biuf"]
    if not text:
        return digest
    return hashlib.sha256("\x00".join([digest, *text]).encode()).hexdigest()


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
        + _encoding_line(data.record)
        + f"standardised with the mean and std of the {len(data.train_rows)} training "
        f"rows; {n_val} validation rows"
        + (f"; {len(data.test[1])} test rows held out" if data.test else "")
    )


def _encoding_line(record: Preprocessing) -> str:
    """What the record does beyond standardising: categories and filled cells."""
    categorical = [c for c in record.columns if c.kind == "categorical"]
    filled = [c.name for c in record.columns if c.kind == "numeric" and c.indicator]
    if not categorical and not filled:
        return ""
    parts = []
    for how in ("onehot", "embedding"):
        names = [c.name for c in categorical if c.encoding == how]
        if names:
            label = "one-hot" if how == "onehot" else "embedded"
            parts.append(f"{label}: {', '.join(names)}")
    if filled:
        parts.append(f"empty cells filled with the median (+ 0/1 input): "
                     f"{', '.join(filled)}")  # fmt: skip
    return f"{'; '.join(parts)}; the network takes {record.n_inputs} inputs\n"
