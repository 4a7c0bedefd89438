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

from .._fast.work import check_memory
from ..nn.activations import get_activation
from ..nn.embedding import Embedding
from ..nn.layers import Dense
from ..nn.network import Sequential, network_memory
from ..optim import OPTIMIZERS, get_optimizer
from ..training import ModelCheckpoint
from . import CliError
from .heldout import TEST_SPLIT_KEY
from .train_checkpoints import (
    DEFAULT_KEEP,
    SETTINGS_KEY,
    check_metadata,
    check_outputs,
    check_same_data,
    checkpoint_lock,
    checkpoint_saver,
    open_checkpoints,
    report_interrupted,
    save_or_fallback,
    sigterm_as_ctrl_c,
)
from .train_data import (
    BUILTIN_TARGETS,
    DATASETS,
    TrainingData,
    describe_data,
    output_for,
)
from .train_options import (
    OPTION_DEFAULTS,
    add_arguments,
    check_options,
    class_weight,
    describe_early_stopping,
    dropout_after,
    early_stopping,
    early_stopping_record,
    optimizer_options,
    saved_epoch_logs,
)
from .train_stream import read_training_data

LOSSES = ("auto", "cross_entropy", "binary_crossentropy", "mse")
TASKS = ("auto", "classification", "regression")
DEFAULTS = {
    "hidden": [64, 32],
    "activation": ["relu"],
    "loss": "auto",
    "optimizer": "adam",
    "lr": None,  # the optimizer's own default (Adam: 0.001)
    "epochs": 50,
    "batch_size": 32,
    "val_split": 0.1,
    "test_split": 0.0,  # rows held out before everything else (evaluate --rows test)
    "seed": 0,
    "dtype": "float32",
    "task": "auto",
    "target": None,
    "features": None,
    "categorical": None,  # integer columns to treat as categories
}
DEFAULTS.update(OPTION_DEFAULTS)  # early stopping, l2, dropout, class weights
#: Settings that must not change when resuming (--epochs may: to train longer).
FIXED_ON_RESUME = [k for k in DEFAULTS if k != "epochs"]

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
apply them, so those commands take raw data. Text, boolean and --categorical columns
are categories: one-hot up to 16 of them, else a learned embedding (the network's
first layer). An empty cell of a numeric column is filled with the training median
(and an extra 0/1 input marks it); in a categorical column it is a category.

--test-split holds out that fraction of the rows first (seeded, not stratified):
neither training, the validation split nor the standardisation sees them; the test
loss and metrics are printed at the end, and the model file stores the split (fraction,
seed, rows, fingerprint of the data) so that glassnet evaluate MODEL DATA --rows test
scores exactly those rows again. --val-split holds out that fraction of the other
rows (stratified by class) for the validation loss and metrics printed each epoch. With --checkpoint-dir a checkpoint
(weights, optimizer state, position) is written every --every epochs, and on Ctrl-C
or SIGTERM; --resume continues from the newest good one exactly as if training had not
stopped (same settings and data; --epochs may be raised to train longer). --keep N
keeps the newest N checkpoints and the best one (lowest val_loss). A run locks its
--checkpoint-dir: a second run into the same folder is refused. A checkpoint that
cannot be written is a warning; --out and --checkpoint-dir are checked before
training, and if the final save still fails the model goes to a new file next to the
checkpoints (or in the current folder), named in the message.
"""

EPILOG = """\
example: glassnet train penguins.csv --target species --hidden 64,32 --epochs 100 \
--out penguins.safetensors --checkpoint-dir ckpt/
examples:
  glassnet train penguins.csv --target species --checkpoint-dir ckpt/ --resume
  glassnet train houses.parquet --target price --features area,rooms --task regression
  glassnet train --dataset iris --epochs 200 --out iris.safetensors
  glassnet train --dataset penguins --test-split 0.2 --out pg.safetensors
      then: glassnet evaluate pg.safetensors --dataset penguins --rows test
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
        raise argparse.ArgumentTypeError(
            f"every layer width must be >= 1, got {text!r} (for no hidden layer give "
            "--hidden none)"
        )
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
        "--categorical",
        type=_name_list,
        metavar="A,B,...",
        help="integer columns to treat as categories (text and boolean columns "
        "always are)",
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
        "--test-split",
        type=float,
        dest="test_split",
        metavar="F",
        help="fraction held out as test rows before anything else, scored at the "
        "end and stored for evaluate --rows test (default 0: none)",
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
        "--keep",
        type=int,
        metavar="N",
        default=DEFAULT_KEEP,
        help="keep the newest N checkpoints and the best, pruning older ones (default "
        f"{DEFAULT_KEEP or 'all'}; 0 keeps all)",
    )
    parser.add_argument(
        "--resume",
        action="store_true",
        help="continue from the newest good checkpoint in --checkpoint-dir",
    )
    parser.add_argument(
        "--quiet", action="store_true", help="no progress output, only the result"
    )
    parser.add_argument(
        "--stream",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="read a CSV or Parquet DATA chunk by chunk, each epoch again, instead "
        "of whole (default: when it would take over half the memory available; "
        "see 'Files bigger than memory' in the docs)",
    )
    add_arguments(parser)  # regularisation: train_options.py
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
    check_options(args)


def _check_checkpoint_options(args) -> None:
    if args.every is not None and not args.checkpoint_dir:
        raise CliError("--every needs --checkpoint-dir DIR")
    if args.resume and not args.checkpoint_dir:
        raise CliError(
            "--resume needs --checkpoint-dir DIR, the folder of the run's checkpoints"
        )
    if args.every is not None and args.every < 1:
        raise CliError(f"--every must be a positive integer, got {args.every}")
    if args.keep < 0:
        raise CliError(f"--keep must be 0 (keep all) or more, got {args.keep}")


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
    if args.test_split is not None and not 0.0 <= args.test_split < 1.0:
        raise CliError(f"--test-split must be in [0, 1), got {args.test_split}")
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
def build_network(
    settings: dict, in_features: int, outputs: int, activation: str, record=None
):
    """The Dense stack; first an Embedding when ``record`` embeds some columns (the
    Dense stack then takes its output width)."""
    hidden = settings["hidden"]
    acts = settings["activation"]
    if len(acts) not in (1, len(hidden)) and hidden:
        raise CliError(
            f"--activation gives {len(acts)} names for {len(hidden)} hidden layers; "
            "give one for all or one per layer"
        )
    widths = [in_features, *hidden, outputs]
    slots = 2 if str(settings["optimizer"]).lower().startswith("adam") else 1
    check_memory(  # before any array is made: refuse with the figures, not a crash
        network_memory(widths, settings["dtype"], settings["batch_size"] or 0, slots),
        f"training a network of widths {'-'.join(map(str, widths))}",
    )
    layers, width = [], in_features
    if record is not None and record.embedded:
        index = [at for at, _ in record.embedded]
        tables = [len(column.categories) for _, column in record.embedded]
        dims = [column.dim for _, column in record.embedded]
        layers.append(Embedding(index, tables, dims, in_features=in_features))
        width = in_features - len(index) + sum(dims)
    for i, h in enumerate(hidden):
        layers.append(Dense(width, h, acts[i] if len(acts) > 1 else acts[0]))
        layers.extend(dropout_after(settings, i))  # --dropout, after the activation
        width = h
    layers.append(Dense(width, outputs, activation))
    return Sequential(*layers, dtype=settings["dtype"], seed=settings["seed"])


def build_optimizer(settings: dict):
    kwargs = {} if settings["lr"] is None else {"lr": settings["lr"]}
    kwargs.update(optimizer_options(settings))  # --l2
    return get_optimizer(settings["optimizer"], **kwargs)


def starting_point(
    settings: dict, n_features: int, outputs: int, activation: str, ckpt, record=None
):
    """(net, optimizer, (epoch, step)) to train from: new ones at (0, 0), or the
    checkpoint's where it stopped."""
    if ckpt is None:
        net = build_network(settings, n_features, outputs, activation, record)
        return net, build_optimizer(settings), (0, 0)
    if ckpt.history is not None and ckpt.history.seed != settings["seed"]:
        raise CliError(
            f"the checkpoint's batch order came from seed {ckpt.history.seed}, its "
            f"settings say {settings['seed']}: the checkpoint is inconsistent"
        )
    return ckpt.net, ckpt.optimizer, (ckpt.epoch, ckpt.step)


# -- checkpoints -------------------------------------------------------------------------
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
                save_fn=checkpoint_saver(metadata, args.keep),
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
        early_stopping=early_stopping(settings),
        class_weight=class_weight(settings, data.task, data.classes),
        initial_epoch=initial_epoch,
        initial_step=initial_step,
        verbose=0 if args.quiet else 1,
    )


def save_model(args, settings, net, history, metadata, say) -> None:
    """The model file, with the last epoch's loss and metrics in its metadata."""
    last = {} if history is None else saved_epoch_logs(history)
    metadata["result"] = {
        k: v for k, v in last.items() if k != "epoch_time" and v is not None
    }
    save_or_fallback(net, args.out, metadata, args.checkpoint_dir)
    shown = "  ".join(
        f"{k} {v:.4f}" for k, v in metadata["result"].items() if k != "lr"
    )
    print(f"model written to {args.out}" + (f"  ({shown})" if shown else ""))
    data_hint = settings["data"] or "DATA"
    say(f"next: glassnet predict {args.out} {data_hint} --out predictions.csv")


# -- run ---------------------------------------------------------------------------------
def run(args) -> int:
    _check_args(args)
    check_outputs(args)  # before anything is read or trained
    with checkpoint_lock(args), sigterm_as_ctrl_c():
        return _run(args)


def _run(args) -> int:
    say = (lambda *a: None) if args.quiet else print
    ckpt, stored = open_checkpoints(args, say)
    settings = _resolve(args, stored)
    builtin_target = BUILTIN_TARGETS.get(settings["dataset"], "label")
    if settings["dataset"] and args.target not in (None, builtin_target):
        raise CliError(
            f"--target goes with DATA; a built-in dataset's target is {builtin_target!r}"
        )
    data, how = read_training_data(
        settings, args.quiet, getattr(args, "stream", None), stored
    )
    settings["data_sha256"] = data.sha256
    if settings["test_split"] and data.test is None:
        raise CliError(
            "--test-split needs the rows in memory; it does not go with a streamed "
            "file (--no-stream reads it whole)"
        )
    if stored is not None:
        check_same_data(stored, settings, data.record, ckpt)
    outputs, out_activation, loss = output_for(
        data.task, len(data.classes or ()), settings["loss"]
    )
    say(describe_data(data, settings))
    say(f"data {how}")
    net, optimizer, start = starting_point(
        settings, data.record.n_inputs, outputs, out_activation, ckpt, data.record
    )
    say(net.summary())

    metadata = {
        "preprocessing": data.record.to_metadata(),
        SETTINGS_KEY: {k: settings[k] for k in sorted(settings)},
    }
    if data.test_split is not None:
        metadata[TEST_SPLIT_KEY] = dict(data.test_split)
    check_metadata(metadata)
    history = fit(args, settings, net, optimizer, data, loss, metadata, start)
    if history is None:
        say(
            f"the checkpoint already completed {settings['epochs']} epochs: nothing "
            "left to train"
        )
        history = ckpt.history
    elif history.stop_reason == "interrupted":
        return report_interrupted(args, net, optimizer, history, metadata)
    elif early_stopping_record(history) is not None:
        metadata["early_stopping"] = early_stopping_record(history)
        print(describe_early_stopping(metadata["early_stopping"], settings["epochs"]))
    if data.test is not None:
        metadata[TEST_SPLIT_KEY]["result"] = score_test(net, data, loss)
    save_model(args, settings, net, history, metadata, say)
    if data.test is not None:
        shown = "  ".join(
            f"{k} {v:.4f}" for k, v in metadata[TEST_SPLIT_KEY]["result"].items()
        )
        print(f"test ({len(data.test[1])} held-out rows): {shown}")
    return 0


def score_test(net, data: TrainingData, loss: str) -> dict:
    """The loss and metric on the held-out test rows (never seen in training)."""
    Z, y = data.test
    metric = "accuracy" if data.task == "classification" else "mae"
    logs = net.evaluate(Z, y, loss=loss, metrics=[metric])
    return {f"test_{k}": float(v) for k, v in logs.items()}
