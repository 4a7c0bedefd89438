"""The regularisation options of ``glassnet train``: early stopping, L2, dropout and
class weights, each handed to the library feature that already does it.

    --early-stopping [--patience N] [--min-delta D]   gn.EarlyStopping on val_loss,
                                                      the best epoch's weights kept
    --l2 LAMBDA                                       the optimizer's weight_decay:
                                                      g <- g + lambda theta (coupled)
    --dropout P[,P...]                                gn.Dropout(p) after each hidden
                                                      activation (or one per layer)
    --class-weight balanced | LABEL=W,LABEL=W         fit's class_weight: the loss is
                                                      sum_i w_i L_i / sum_i w_i

They are run settings like --hidden or --lr: stored in the model file's training
settings, kept by --resume and shown by ``glassnet info``.
"""

from __future__ import annotations

import argparse
import math

from ..nn.layers import Dropout
from ..training import EarlyStopping
from . import UsageError

#: The settings these options add to ``glassnet train``'s (None = not given).
OPTION_DEFAULTS = {
    "early_stopping": False,
    "patience": 5,
    "min_delta": 0.0,
    "l2": 0.0,
    "dropout": [],  # one probability for every hidden layer, or one per layer
    "class_weight": None,  # "balanced" or {label as text: weight}
}

HELP = """\
--early-stopping stops when the validation loss has not improved by more than
--min-delta (default 0) for --patience epochs (default 5) and keeps the weights of the
best epoch (it needs --val-split > 0; after --resume it counts from the resumed
epoch). --l2 LAMBDA adds LAMBDA * theta
to every parameter's gradient (weights and biases) before the optimizer's rule, as
torch.optim's weight_decay: the L2 penalty LAMBDA/2 ||theta||^2. --dropout P zeroes
each hidden unit with probability P during training, scaling the rest by 1/(1 - P)
(one P for all hidden layers or one per layer); prediction uses every unit.
--class-weight balanced weighs each training row by n / (classes * rows of its class)
(scikit-learn's rule), LABEL=W,... by W for the named labels (1 for the others): the
training loss is sum_i w_i L_i / sum_i w_i over each batch; the validation loss is not
weighted.
"""


# -- parsing (argparse types: a bad value is a usage error, exit 2) --------------------
def _non_negative(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value >= 0):
        raise argparse.ArgumentTypeError(f"expected a number >= 0, got {text!r}")
    return value


def _probabilities(text: str) -> list[float]:
    """P or P1,P2,...: dropout probabilities, each in [0, 1)."""
    try:
        values = [float(part) for part in text.split(",")]
    except ValueError:
        values = [math.nan]
    if not all(0.0 <= p < 1.0 for p in values):
        raise argparse.ArgumentTypeError(
            f"expected a probability in [0, 1) or one per hidden layer such as "
            f"0.2,0.1, got {text!r}"
        )
    return values


def _class_weight(text: str):
    """ "balanced", or LABEL=W,LABEL=W as {label: W} (labels as text, as in the data)."""
    if text.strip() == "balanced":
        return "balanced"
    weights = {}
    for part in text.split(","):
        label, equals, weight = part.rpartition("=")
        label = label.strip()
        try:
            value = float(weight)
        except ValueError:
            value = math.nan
        if not equals or not label or not (math.isfinite(value) and value >= 0):
            raise argparse.ArgumentTypeError(
                f"expected 'balanced' or LABEL=WEIGHT pairs such as yes=3,no=1 "
                f"(weights >= 0), got {part!r}"
            )
        if label in weights:
            raise argparse.ArgumentTypeError(f"label {label!r} is given twice")
        weights[label] = value
    return weights


def add_arguments(parser) -> None:
    """The options, on ``glassnet train``'s parser (defaults None: "not given")."""
    group = parser.add_argument_group("regularisation", HELP)
    group.add_argument(
        "--early-stopping",
        dest="early_stopping",
        action="store_true",
        default=None,
        help="stop when val_loss stops improving; keep the best epoch's weights",
    )
    group.add_argument(
        "--patience",
        type=int,
        metavar="N",
        help="epochs without improvement before stopping (default 5)",
    )
    group.add_argument(
        "--min-delta",
        dest="min_delta",
        type=_non_negative,
        metavar="D",
        help="smallest decrease of val_loss that counts as improving (default 0)",
    )
    group.add_argument(
        "--l2",
        type=_non_negative,
        metavar="LAMBDA",
        help="L2 penalty (the optimizer's coupled weight_decay; default 0)",
    )
    group.add_argument(
        "--dropout",
        type=_probabilities,
        metavar="P[,P...]",
        help="dropout after each hidden activation, one P or one per layer",
    )
    group.add_argument(
        "--class-weight",
        dest="class_weight",
        type=_class_weight,
        metavar="balanced|LABEL=W,...",
        help="weigh the training rows by class (classification only)",
    )


# -- checks before anything is read ----------------------------------------------------
def check_options(args) -> None:
    """Options that do not go together (usage errors, exit 2)."""
    if args.patience is not None and args.patience < 1:
        raise UsageError(f"--patience must be a positive integer, got {args.patience}")
    stopping = args.early_stopping or args.resume  # resuming: the stored setting
    for option, value in (
        ("--patience", args.patience),
        ("--min-delta", args.min_delta),
    ):
        if value is not None and not stopping:
            raise UsageError(f"{option} goes with --early-stopping")
    if args.early_stopping and args.val_split == 0:
        raise UsageError(
            "--early-stopping watches the validation loss and needs validation rows: "
            "give --val-split > 0 (default 0.1), not 0"
        )
    if args.l2 and args.optimizer == "adamw":
        raise UsageError(
            "--l2 is the coupled L2 penalty (g + lambda theta); adamw decays the "
            "weights apart from the gradient: use --optimizer adam with --l2"
        )
    if args.class_weight is not None and getattr(args, "stream", None):
        raise UsageError(
            "--class-weight needs the whole target column; it does not go with --stream"
        )
    hidden = args.hidden
    if args.dropout and hidden is not None:
        if not hidden:
            raise UsageError("--dropout needs hidden layers (--hidden is none)")
        if len(args.dropout) not in (1, len(hidden)):
            raise UsageError(
                f"--dropout gives {len(args.dropout)} probabilities for {len(hidden)} "
                "hidden layers; give one for all or one per layer"
            )


# -- what the run builds from them -----------------------------------------------------
def dropout_after(settings: dict, layer: int) -> list:
    """[Dropout(p)] to follow hidden layer ``layer`` (0-based), or [] for none."""
    ps = settings["dropout"]
    if not ps:
        return []
    if len(ps) not in (1, len(settings["hidden"])):
        raise UsageError(
            f"--dropout gives {len(ps)} probabilities for {len(settings['hidden'])} "
            "hidden layers; give one for all or one per layer"
        )
    p = ps[layer] if len(ps) > 1 else ps[0]
    return [Dropout(p)] if p > 0 else []


def optimizer_options(settings: dict) -> dict:
    """The optimizer's keywords for --l2: weight_decay = lambda (torch's meaning)."""
    return {"weight_decay": settings["l2"]} if settings["l2"] else {}


def early_stopping(settings: dict) -> EarlyStopping | None:
    if not settings["early_stopping"]:
        return None
    return EarlyStopping(
        patience=settings["patience"],
        monitor="val_loss",
        min_delta=settings["min_delta"],
        restore_best=True,
    )


def class_weight(settings: dict, task: str, classes) -> dict | str | None:
    """fit's class_weight: {class index: weight} for the labels named, by their text
    in the data ("balanced" as it is)."""
    given = settings["class_weight"]
    if given is None:
        return None
    if task != "classification":
        raise UsageError(
            "--class-weight weighs classes; this target is a regression target "
            "(use --task classification if its values are labels)"
        )
    if given == "balanced":
        return "balanced"
    index = {str(label): i for i, label in enumerate(classes)}
    unknown = [label for label in given if label not in index]
    if unknown:
        shown = ", ".join(str(c) for c in classes[:20])
        raise UsageError(
            f"--class-weight names label {unknown[0]!r}, which is not a class of the "
            f"target (classes: {shown})"
        )
    return {index[label]: weight for label, weight in given.items()}


# -- the result ------------------------------------------------------------------------
def saved_epoch_logs(history) -> dict:
    """The logs of the epoch whose weights are saved: the best epoch's when early
    stopping put them back, else the last epoch's."""
    stop = _stopper(history)
    if stop is None or stop.best_epoch is None or stop.best_epoch not in history.epoch:
        return history.last()
    at = history.epoch.index(stop.best_epoch)
    return {k: v[at] for k, v in history.history.items() if v[at] is not None}


def early_stopping_record(history) -> dict | None:
    """What early stopping did, for the model file and the message (epochs 1-based)."""
    stop = _stopper(history)
    if stop is None or stop.best_epoch is None:
        return None
    return {
        "stopped_after_epoch": None
        if stop.stopped_epoch is None
        else stop.stopped_epoch + 1,
        "best_epoch": stop.best_epoch + 1,
        "best_val_loss": float(stop.best),
    }


def describe_early_stopping(record: dict, epochs: int) -> str:
    best = f"epoch {record['best_epoch']} (val_loss {record['best_val_loss']:.4f})"
    if record["stopped_after_epoch"] is None:
        return f"early stopping: ran all {epochs} epochs; kept the weights of {best}"
    return (
        f"early stopping: val_loss stopped improving, stopped after epoch "
        f"{record['stopped_after_epoch']} of {epochs}; kept the weights of {best}"
    )


def _stopper(history) -> EarlyStopping | None:
    config = getattr(history, "config", None)
    return None if config is None else config.early_stopping


def result_label(metadata: dict) -> str:
    """What the model file's "result" figures are of: the last epoch, or the best
    one when early stopping kept its weights."""
    stop = metadata.get("early_stopping")
    if isinstance(stop, dict) and isinstance(stop.get("best_epoch"), int):
        return f"Epoch {stop['best_epoch']} (best, kept by early stopping)"
    return "Last epoch"


def describe_settings(settings: dict) -> str | None:
    """The options as ``glassnet info`` shows them, or None when none was used."""
    parts = []
    if settings.get("early_stopping"):
        parts.append(
            f"early stopping (patience {settings.get('patience')}, min delta "
            f"{settings.get('min_delta')})"
        )
    if settings.get("l2"):
        parts.append(f"l2 {settings['l2']:g}")
    if settings.get("dropout"):
        parts.append("dropout " + ",".join(f"{p:g}" for p in settings["dropout"]))
    weights = settings.get("class_weight")
    if weights == "balanced":
        parts.append("class weight balanced")
    elif isinstance(weights, dict):
        shown = ",".join(f"{k}={v:g}" for k, v in weights.items())
        parts.append(f"class weight {shown}")
    return ", ".join(parts) if parts else None
