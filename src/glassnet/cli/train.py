"""``glassnet train``: a network trained on a data file or a built-in dataset.

    glassnet train DATA --target COLUMN [--features a,b] --hidden 64,32 --epochs 50
                   --out model.safetensors [--checkpoint-dir DIR [--every N] --resume]
    glassnet train --dataset iris
    glassnet train                       (the digits, as `glassnet demo` trains them)

The model file keeps, in its metadata, the preprocessing record (feature names, the
standardisation fitted on the training rows, the task and class labels) that predict,
evaluate, attack and export apply, and the run's settings, which ``--resume`` reuses.
"""

from __future__ import annotations

import argparse
import math
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..data import datasets
from ..io import latest_checkpoint, save
from ..nn.activations import get_activation
from ..nn.layers import Dense
from ..nn.network import Sequential
from ..optim import OPTIMIZERS, get_optimizer
from ..training import ModelCheckpoint
from ..training.checkpoint import load_checkpoint, save_checkpoint
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
LOSSES = ("auto", "cross_entropy", "binary_crossentropy", "mse")
TASKS = ("auto", "classification", "regression")
#: Fewest rows ``train`` accepts: below this a split and a standardisation mean little.
MIN_TRAIN_ROWS = 10
#: The run settings kept in the model file (metadata key) and what --resume compares.
SETTINGS_KEY = "train"
DEFAULTS = {
    "hidden": [64, 32],
    "activation": ["relu"],
    "loss": "auto",
    "optimizer": "adam",
    "lr": None,  # the optimizer's own default (Adam: 0.001)
    "epochs": 50,
    "batch_size": 32,
    "val_split": 0.1,
    "seed": 0,
    "dtype": "float32",
    "task": "auto",
    "target": None,
    "features": None,
}
#: Settings that must not change when resuming (--epochs may: to train longer).
FIXED_ON_RESUME = [k for k in DEFAULTS if k != "epochs"]
CHECKPOINT_INTERRUPTED = "interrupted-epoch-{epoch:04d}-step-{step:06d}.safetensors"

DESCRIPTION = """\
Trains a feed-forward network on the columns of DATA (CSV with a header row, Parquet,
.npy or .npz; CSV and Parquet need the data extra: pip install 'glassnet[data]') or on
a built-in dataset, and saves it with everything needed to use it on new rows.

Task: classification when the target column holds text or booleans, or at most 20
distinct whole numbers; regression otherwise (--task overrides). Class labels are
encoded as 0..k-1 in sorted order and stored with the model, so predictions come back
as the original labels. Two classes: one sigmoid output with binary cross-entropy;
more: softmax with cross-entropy; regression: identity output with mean squared error.

Features (every column but the target unless --features names them) are standardised,
z = (x - mean) / std, with the mean and std of the training rows only (not the
validation rows); the model file keeps them and predict, evaluate, attack and export
apply them, so those commands take raw data.

--val-split holds out that fraction of the rows (stratified by class) for the
validation loss and metrics printed each epoch. With --checkpoint-dir a checkpoint
(weights, optimizer state, position) is written every --every epochs, and on Ctrl-C;
--resume continues from the newest good one exactly as if training had not stopped
(same settings and data; --epochs may be raised to train longer).
"""

EPILOG = """\
example: glassnet train penguins.csv --target species --hidden 64,32 --epochs 100 \
--out penguins.safetensors --checkpoint-dir ckpt/
examples:
  glassnet train penguins.csv --target species --checkpoint-dir ckpt/ --resume
  glassnet train houses.parquet --target price --features area,rooms --task regression
  glassnet train --dataset iris --epochs 200 --out iris.safetensors
  glassnet train                 (no data: the built-in digits)
"""


def _int_list(text: str) -> list[int]:
    if text.strip().lower() in ("", "none", "0"):
        return []  # no hidden layer: a linear model with the output activation
    try:
        widths = [int(part) for part in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated layer widths such as 64,32, got {text!r}"
        ) from None
    if any(w < 1 for w in widths):
        raise argparse.ArgumentTypeError(f"layer widths must be positive, got {text!r}")
    return widths


def _name_list(text: str) -> list[str]:
    names = [part.strip() for part in text.split(",") if part.strip()]
    if not names:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated names, got {text!r}"
        )
    return names


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "train",
        help="train a network on a CSV/Parquet/.npy/.npz file or a built-in dataset",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "data", metavar="DATA", nargs="?", help="the data file (default: --dataset)"
    )
    parser.add_argument(
        "--dataset",
        choices=DATASETS,
        help="a built-in dataset instead of DATA (default digits when no DATA)",
    )
    parser.add_argument("--target", metavar="COLUMN", help="the column to predict")
    parser.add_argument(
        "--features",
        type=_name_list,
        metavar="A,B,...",
        help="the input columns (default: every column but the target)",
    )
    parser.add_argument(
        "--task",
        choices=TASKS,
        help="classification or regression (default auto: see above)",
    )
    parser.add_argument(
        "--hidden",
        type=_int_list,
        metavar="W1,W2,...",
        help="hidden layer widths (default 64,32; 'none' for no hidden layer)",
    )
    parser.add_argument(
        "--activation",
        type=_name_list,
        metavar="NAME[,NAME...]",
        help="hidden activation(s), one for all or one per layer (default relu)",
    )
    parser.add_argument(
        "--loss", choices=LOSSES, help="loss (default auto: from the task, see above)"
    )
    parser.add_argument(
        "--optimizer", choices=sorted(OPTIMIZERS), help="optimizer (default adam)"
    )
    parser.add_argument(
        "--lr", type=float, help="learning rate (default: the optimizer's, adam 0.001)"
    )
    parser.add_argument(
        "--epochs", type=int, help="number of epochs to train to (default 50)"
    )
    parser.add_argument(
        "--batch-size", type=int, dest="batch_size", help="rows per step (default 32)"
    )
    parser.add_argument(
        "--val-split",
        type=float,
        dest="val_split",
        help="fraction held out for validation, 0 for none (default 0.1)",
    )
    parser.add_argument(
        "--seed",
        type=int,
        help="seed of the weights, split and batch order (default 0)",
    )
    parser.add_argument(
        "--dtype", choices=("float32", "float64"), help="precision (default float32)"
    )
    parser.add_argument(
        "--out",
        metavar="FILE",
        default="model.safetensors",
        help="where to save the model (default model.safetensors)",
    )
    parser.add_argument(
        "--checkpoint-dir",
        dest="checkpoint_dir",
        metavar="DIR",
        help="write training checkpoints into DIR",
    )
    parser.add_argument(
        "--every",
        type=int,
        metavar="N",
        help="checkpoint every N epochs (default 1; needs --checkpoint-dir)",
    )
    parser.add_argument(
        "--resume",
        action="store_true",
        help="continue from the newest good checkpoint in --checkpoint-dir",
    )
    parser.add_argument(
        "--quiet", action="store_true", help="no progress output, only the result"
    )
    parser.set_defaults(run=run)


# -- settings --------------------------------------------------------------------------
def _given(args) -> dict:
    """The settings given on the command line (None = not given)."""
    return {key: getattr(args, key) for key in DEFAULTS}


def _check_args(args) -> None:
    """The options' own checks, before any file is read (argparse checked the types)."""
    _check_checkpoint_options(args)
    _check_data_options(args)
    _check_numbers(args)
    _check_activations(args)


def _check_checkpoint_options(args) -> None:
    if args.every is not None and not args.checkpoint_dir:
        raise CliError("--every needs --checkpoint-dir DIR")
    if args.resume and not args.checkpoint_dir:
        raise CliError(
            "--resume needs --checkpoint-dir DIR, the folder of the run's checkpoints"
        )
    if args.every is not None and args.every < 1:
        raise CliError(f"--every must be a positive integer, got {args.every}")


def _check_data_options(args) -> None:
    if args.data and args.dataset:
        raise CliError("give either DATA or --dataset, not both")
    if args.data and not args.target and not args.resume:
        raise CliError(
            f"DATA ({args.data}) needs --target COLUMN, the column to predict"
        )


def _check_numbers(args) -> None:
    for key in ("epochs", "batch_size"):
        value = getattr(args, key)
        if value is not None and value < 1:
            raise CliError(
                f"--{key.replace('_', '-')} must be a positive integer, got {value}"
            )
    if args.seed is not None and args.seed < 0:
        raise CliError(f"--seed must be a non-negative integer, got {args.seed}")
    if args.val_split is not None and not 0.0 <= args.val_split < 1.0:
        raise CliError(f"--val-split must be in [0, 1), got {args.val_split}")
    if args.lr is not None and not (math.isfinite(args.lr) and args.lr > 0):
        raise CliError(f"--lr must be a positive number, got {args.lr}")


def _check_activations(args) -> None:
    for name in args.activation or ():
        try:
            get_activation(name)
        except (ValueError, KeyError, TypeError) as error:
            raise CliError(f"--activation: {error}") from None


def _resolve(args, stored: dict | None) -> dict:
    """The run's settings: the checkpoint's when resuming (an explicitly given
    setting must agree with it), else the command line's over the defaults."""
    given = _given(args)
    if stored is None:
        settings = {k: (DEFAULTS[k] if v is None else v) for k, v in given.items()}
        settings["data"] = args.data
        settings["dataset"] = args.dataset or (None if args.data else "digits")
        return settings
    settings = {k: stored.get(k, DEFAULTS[k]) for k in DEFAULTS}
    for key in FIXED_ON_RESUME:
        if given[key] is not None and given[key] != settings[key]:
            option = "--" + key.replace("_", "-")
            raise CliError(
                f"{option} {_show(given[key])} differs from the checkpoint's "
                f"{_show(settings[key])}; --resume continues the same run (leave "
                f"{option} out, or start a new run in another --checkpoint-dir)"
            )
    if given["epochs"] is not None:
        settings["epochs"] = given["epochs"]
    settings["data"] = args.data or (None if args.dataset else stored.get("data"))
    settings["dataset"] = args.dataset or (None if args.data else stored.get("dataset"))
    return settings


def _show(value) -> str:
    if isinstance(value, list):
        return ",".join(map(str, value)) if value else "none"
    return str(value)


# -- data ------------------------------------------------------------------------------
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


def build_network(settings: dict, in_features: int, outputs: int, activation: str):
    hidden = settings["hidden"]
    acts = settings["activation"]
    if len(acts) not in (1, len(hidden)) and hidden:
        raise CliError(
            f"--activation gives {len(acts)} names for {len(hidden)} hidden layers; "
            "give one for all or one per layer"
        )
    layers, width = [], in_features
    for i, h in enumerate(hidden):
        layers.append(Dense(width, h, acts[i] if len(acts) > 1 else acts[0]))
        width = h
    layers.append(Dense(width, outputs, activation))
    return Sequential(*layers, dtype=settings["dtype"], seed=settings["seed"])


def build_optimizer(settings: dict):
    kwargs = {} if settings["lr"] is None else {"lr": settings["lr"]}
    return get_optimizer(settings["optimizer"], **kwargs)


def starting_point(
    settings: dict, n_features: int, outputs: int, activation: str, ckpt
):
    """(net, optimizer, (epoch, step)) to train from: new ones at (0, 0), or the
    checkpoint's where it stopped."""
    if ckpt is None:
        net = build_network(settings, n_features, outputs, activation)
        return net, build_optimizer(settings), (0, 0)
    if ckpt.history is not None and ckpt.history.seed != settings["seed"]:
        raise CliError(
            f"the checkpoint's batch order came from seed {ckpt.history.seed}, its "
            f"settings say {settings['seed']}: the checkpoint is inconsistent"
        )
    return ckpt.net, ckpt.optimizer, (ckpt.epoch, ckpt.step)


# -- checkpoints -------------------------------------------------------------------------
def open_checkpoints(args, say):
    """(checkpoint, its run settings) to resume from, or (None, None) for a new run;
    the --checkpoint-dir folder exists afterwards."""
    if not args.checkpoint_dir:
        return None, None
    folder = Path(args.checkpoint_dir)
    if args.resume:
        ckpt, stored = _newest_checkpoint(folder, say)
    else:
        _check_no_checkpoints(folder)
        ckpt = stored = None
    folder.mkdir(parents=True, exist_ok=True)
    return ckpt, stored


def _newest_checkpoint(folder: Path, say):
    path = latest_checkpoint(folder)
    if path is None:
        print(
            f"glassnet train: no checkpoint in {folder}; starting a new run",
            file=sys.stderr,
        )
        return None, None
    ckpt = load_checkpoint(path)
    stored = ckpt.metadata.get(SETTINGS_KEY)
    if not isinstance(stored, dict):
        raise CliError(
            f"{path} was not written by glassnet train (no run settings "
            "in its metadata), so it cannot be resumed from the command line"
        )
    say(f"resuming from {path} (epoch {ckpt.epoch}, step {ckpt.step})")
    return ckpt, stored


def _check_no_checkpoints(folder: Path) -> None:
    newest = latest_checkpoint(folder)
    if newest is not None:
        raise CliError(
            f"{folder} already holds checkpoints (newest: {newest.name}); pass "
            "--resume to continue that run, or choose an empty --checkpoint-dir"
        )


def _checkpoint_saver(metadata: dict):
    """save_fn for ModelCheckpoint: gn.save_checkpoint with the run's metadata."""

    def save_fn(path, net, optimizer, history, rng_state, epoch, step):
        save_checkpoint(path, net, optimizer, history, rng_state, epoch, step, metadata)

    return save_fn


# -- training and saving -----------------------------------------------------------------
def fit(args, settings, net, optimizer, data: TrainingData, loss, metadata, start):
    """net.fit from ``start`` = (epoch, step) up to --epochs; None when a resumed
    checkpoint had already finished them."""
    initial_epoch, initial_step = start
    epochs = settings["epochs"]
    if initial_epoch >= epochs and initial_step == 0:
        return None
    if initial_epoch >= epochs:
        raise CliError(
            f"the checkpoint is inside epoch {initial_epoch + 1}, past --epochs "
            f"{epochs}; resume with --epochs {initial_epoch + 1} or more"
        )
    callbacks = []
    if args.checkpoint_dir:
        callbacks.append(
            ModelCheckpoint(
                args.checkpoint_dir,
                every_n_epochs=args.every or 1,
                save_fn=_checkpoint_saver(metadata),
            )
        )
    return net.fit(
        data.Z_train,
        data.y_train,
        loss=loss,
        optimizer=optimizer,
        epochs=epochs,
        batch_size=settings["batch_size"],
        seed=settings["seed"],
        validation_data=data.validation,
        metrics=["accuracy"] if data.task == "classification" else ["mae"],
        callbacks=callbacks,
        initial_epoch=initial_epoch,
        initial_step=initial_step,
        verbose=0 if args.quiet else 1,
    )


def save_model(args, settings, net, history, metadata, say) -> None:
    """The model file, with the last epoch's loss and metrics in its metadata."""
    last = {} if history is None else history.last()
    metadata["result"] = {
        k: v for k, v in last.items() if k != "epoch_time" and v is not None
    }
    save(net, args.out, metadata)
    shown = "  ".join(
        f"{k} {v:.4f}" for k, v in metadata["result"].items() if k != "lr"
    )
    print(f"model written to {args.out}" + (f"  ({shown})" if shown else ""))
    data_hint = settings["data"] or "DATA"
    say(f"next: glassnet predict {args.out} {data_hint} --out predictions.csv")


# -- run ---------------------------------------------------------------------------------
def run(args) -> int:
    _check_args(args)
    say = (lambda *a: None) if args.quiet else print
    ckpt, stored = open_checkpoints(args, say)
    settings = _resolve(args, stored)
    if settings["dataset"] and args.target not in (None, "label"):
        raise CliError(
            "--target goes with DATA; a built-in dataset's target is 'label'"
        )
    data = read_data(settings, args.quiet)
    settings["data_sha256"] = data.sha256
    if stored is not None:
        _check_same_data(stored, settings, data.record, ckpt)
    outputs, out_activation, loss = output_for(
        data.task, len(data.classes or ()), settings["loss"]
    )
    say(_describe_data(data, settings))
    net, optimizer, start = starting_point(
        settings, len(data.features), outputs, out_activation, ckpt
    )
    say(net.summary())

    metadata = {
        "preprocessing": data.record.to_metadata(),
        SETTINGS_KEY: {k: settings[k] for k in sorted(settings)},
    }
    history = fit(args, settings, net, optimizer, data, loss, metadata, start)
    if history is None:
        say(
            f"the checkpoint already completed {settings['epochs']} epochs: nothing "
            "left to train"
        )
        history = ckpt.history
    elif history.stop_reason == "interrupted":
        return _interrupted(args, net, optimizer, history, metadata)
    save_model(args, settings, net, history, metadata, say)
    return 0


def _check_same_data(stored: dict, settings: dict, record, ckpt) -> None:
    if stored.get("data_sha256") != settings["data_sha256"]:
        source = settings["data"] or f"--dataset {settings['dataset']}"
        raise CliError(
            f"{source} is not the data the checkpoint's run trained on (its rows, "
            "features or labels differ); resume with the same data, or start a new run "
            "in another --checkpoint-dir"
        )
    saved = Preprocessing.from_metadata(ckpt.metadata, ckpt.net)
    if saved is None or (
        saved.mean.tobytes() != record.mean.tobytes()
        or saved.scale.tobytes() != record.scale.tobytes()
    ):
        raise CliError(
            "the checkpoint's standardisation differs from the one refitted on the "
            "same data; the checkpoint is inconsistent"
        )


def _interrupted(args, net, optimizer, history, metadata) -> int:
    epoch, step = history.next_epoch, history.next_step
    if args.checkpoint_dir:
        path = Path(args.checkpoint_dir) / CHECKPOINT_INTERRUPTED.format(
            epoch=epoch, step=step
        )
        save_checkpoint(
            path,
            net,
            optimizer,
            history,
            net.rng.bit_generator.state,
            epoch,
            step,
            metadata,
        )
        print(
            f"glassnet train: interrupted at epoch {epoch + 1}, step {step}; checkpoint "
            f"written to {path}; continue with the same command and --resume",
            file=sys.stderr,
        )
    else:
        print(
            f"glassnet train: interrupted at epoch {epoch + 1}, step {step}; no model "
            "written (train with --checkpoint-dir DIR to be able to --resume)",
            file=sys.stderr,
        )
    return 130


def _describe_data(data: TrainingData, settings: dict) -> str:
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
