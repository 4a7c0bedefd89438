"""``glassnet attack``: how a saved model holds up against FGSM and PGD.

    glassnet attack MODEL --dataset digits --eps 0.05,0.1,0.2 --method fgsm,pgd
    glassnet attack MODEL DATA --target COLUMN ...        (CSV, Parquet, .npy, .npz)

A model trained by ``glassnet train`` keeps the standardisation of its features; the
attack folds it into the first Dense layer (``tabular.fold_standardization``, or the
Dense after an Embedding), so the perturbation is applied to the raw columns of DATA
and eps is in their units. Only the numeric columns' values move: a one-hot category,
a missing-value indicator or a category index is no input anyone can change by a
small amount, so those inputs stay as given (``perturb=`` of the attacks).

Prints ``robustness_report``'s table; ``--plot DIR`` saves accuracy against eps and,
for image-like inputs, clean and adversarial inputs side by side with predictions.
"""

from __future__ import annotations

import argparse
import json
import os
from dataclasses import dataclass

import numpy as np

from ..io.atomic import atomic_write
from ..robustness.report import (
    plot_accuracy_vs_eps,
    plot_adversarial_examples,
    robustness_report,
)
from . import CliError

DATASETS = ("digits",)


def _number_list(text: str) -> list[float]:
    try:
        return [float(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated numbers such as 0.05,0.1,0.2, got {text!r}"
        ) from None


def _name_list(text: str) -> list[str]:
    return [part.strip().lower() for part in text.split(",") if part.strip()]


def _clip(text: str):
    if text.lower() == "none":
        return "none"  # no clipping, even where the dataset has a range
    values = _number_list(text)
    if len(values) != 2:
        raise argparse.ArgumentTypeError(
            f"expected LO,HI (two numbers) or 'none', got {text!r}"
        )
    return tuple(values)


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "attack",
        help="measure a model's accuracy under FGSM and PGD adversarial attacks",
        description="Loads a model saved with gn.save, attacks every sample of the data "
        "with FGSM (one signed-gradient step) and PGD (projected gradient ascent in "
        "the L-infinity ball) at each eps, and prints the accuracy, the perturbation "
        "size and a few inputs whose prediction flipped. DATA (CSV, Parquet, .npy, "
        ".npz) is read as glassnet predict reads it; for a model trained by glassnet "
        "train the stored standardisation is folded into the first layer, so the "
        "attack perturbs DATA's raw columns and eps (and --clip) are in their units. "
        "Only the numeric columns' values are perturbed; one-hot and embedded "
        "categories and missing-value indicators stay as given (the report's header "
        "says which inputs move).",
        epilog="example: glassnet attack digits.safetensors --dataset digits "
        "--eps 0.05,0.1,0.2 --method fgsm,pgd --plot figures/",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("model", metavar="MODEL", help="a model file saved by gn.save")
    parser.add_argument(
        "data", metavar="DATA", nargs="?", help="a data file (with --target)"
    )
    parser.add_argument(
        "--target",
        metavar="COLUMN",
        help="the label column of DATA (default: the model's training target)",
    )
    parser.add_argument(
        "--dataset",
        choices=DATASETS,
        help="a built-in dataset instead of DATA: digits = sklearn's 8x8 digits, "
        "pixels scaled to [0, 1] (clip defaults to 0,1)",
    )
    parser.add_argument(
        "--eps",
        type=_number_list,
        default=[0.05, 0.1, 0.2],
        metavar="E1,E2,...",
        help="L-infinity budgets (default 0.05,0.1,0.2)",
    )
    parser.add_argument(
        "--method",
        type=_name_list,
        default=["fgsm", "pgd"],
        metavar="fgsm,pgd",
        help="attacks to run (default fgsm,pgd)",
    )
    parser.add_argument(
        "--pgd-steps", type=int, default=10, help="PGD iterations (default 10)"
    )
    parser.add_argument(
        "--clip",
        type=_clip,
        metavar="LO,HI",
        help="valid input range, or 'none' (default: the dataset's range, else none)",
    )
    parser.add_argument(
        "--loss",
        help="the loss to attack (default: from the output activation, softmax -> "
        "cross_entropy, sigmoid -> binary_crossentropy, else mse)",
    )
    parser.add_argument(
        "--limit", type=int, help="attack only the first N samples (default all)"
    )
    parser.add_argument(
        "--seed", type=int, default=0, help="seed for PGD's random starts (default 0)"
    )
    parser.add_argument("--json", metavar="PATH", help="also write the report as JSON")
    parser.add_argument("--plot", metavar="DIR", help="save figures into DIR")
    parser.set_defaults(run=run)


# -- data --------------------------------------------------------------------------------
@dataclass
class AttackData:
    X: np.ndarray  # (n, in_features)
    y: np.ndarray  # (n,) labels or (n, k) targets
    clip: tuple[float, float] | None  # the inputs' valid range, if known
    image_shape: tuple[int, int] | None  # for pictures of the inputs
    name: str


def load_builtin(name: str) -> AttackData:
    if name == "digits":
        try:
            from sklearn.datasets import load_digits
        except ImportError:
            raise CliError(
                "--dataset digits needs scikit-learn: pip install 'glassnet[datasets]'"
            ) from None
        digits = load_digits()
        X = digits.data / 16.0  # pixels 0..16 -> [0, 1]
        return AttackData(X, digits.target, (0.0, 1.0), (8, 8), "digits")
    raise CliError(f"unknown dataset {name!r}; expected one of {list(DATASETS)}")


def load_data_file(path: str, target: str, net, record=None) -> AttackData:
    """DATA --target COLUMN: the model's feature columns of DATA, raw (not
    standardised), and the labels of column ``target`` (class indices, encoded with
    the record's class labels when the model has a preprocessing record)."""
    from .predict import raw_features, read_data
    from .tabular import DataError, check_rows, encode_labels, target_column

    table = read_data(path, quiet=False)
    check_rows(table, 1, "an attack")
    y_raw = target_column(table, target)
    X = raw_features(table, net, record, exclude=target)
    where = f"{table.path} column {target!r}"
    if record is not None and record.classes is not None:
        y = encode_labels(y_raw, record.classes, where)
    elif y_raw.dtype.kind in "biuf":
        y = y_raw if record is None else y_raw.astype(np.float64)
    else:
        raise DataError(
            f"{where} holds text but the model has no stored class labels; give the "
            "class indices 0..k-1"
        )
    return AttackData(X, y, None, None, os.path.basename(table.path))


def load_data(args, net=None, record=None) -> AttackData:
    if args.dataset and args.data:
        raise CliError("give either DATA --target COLUMN or --dataset, not both")
    if args.dataset:
        if args.target:
            raise CliError("--target goes with DATA, not with --dataset")
        return load_builtin(args.dataset)
    if args.data:
        target = args.target or (record.target if record is not None else None)
        if not target:
            raise CliError(
                f"DATA ({args.data}) needs --target COLUMN, the label column"
            )
        return load_data_file(args.data, target, net, record)
    raise CliError("no data: give DATA --target COLUMN or --dataset digits")


# -- what the attack moves ---------------------------------------------------------------
def numeric_inputs(record) -> np.ndarray:
    """The mask (n_inputs,) of the numeric columns' value inputs: the only inputs a
    user can change by a small amount (not indicators, one-hot or index inputs)."""
    mask = []
    for column in record.columns:
        if column.kind == "numeric":
            mask += [True] + [False] * column.indicator  # x, then "x (missing)"
        else:
            mask += [False] * column.width
    if not any(mask):
        raise CliError(
            "this model reads no numeric column (only categories: "
            + ", ".join(record.names[:8])
            + (", ..." if len(record.names) > 8 else "")
            + "); an attack moves numeric values by at most eps, so it has nothing "
            "to perturb"
        )
    return np.array(mask)


def perturbed_line(record) -> str:
    """'perturbing 2 of 7 inputs: the numeric columns ...; fixed: ...'."""
    numeric = [c.name for c in record.columns if c.kind == "numeric"]
    fixed = []
    indicators = sum(c.indicator for c in record.columns if c.kind == "numeric")
    onehot = sum(c.width for c in record.columns
                 if c.kind == "categorical" and c.encoding == "onehot")  # fmt: skip
    for count, what in ((indicators, "missing-value indicator"),
                        (onehot, "one-hot input"),
                        (len(record.embedded), "category index")):  # fmt: skip
        if count:
            fixed.append(f"{count} {what}{'s' * (count != 1)}")
    shown = ", ".join(numeric[:8]) + (", ..." if len(numeric) > 8 else "")
    line = (
        f"perturbing {len(numeric)} of {record.n_inputs} inputs: the numeric "
        f"column{'s' * (len(numeric) != 1)} {shown} (eps in their raw units)"
    )
    return line + (f"; kept as given: {', '.join(fixed)}" if fixed else "")


def fold_after_embedding(net, record):
    """A copy of ``net`` (an Embedding, then a Dense) that takes raw features.

    The Embedding passes the value inputs through first, in order, so the Dense
    after it sees z_j = (x_j - mean_j) / scale_j in its first columns and absorbs
    the standardisation there as ``fold_standardization`` does:
    W'[:, :m] = W[:, :m] / scale_other, b' = b - W'[:, :m] mean_other.
    """
    from ..nn.layers import Dense

    folded = net.copy()
    embedding, layer = folded.layers[0], folded.layers[1]
    if not isinstance(layer, Dense) or not layer.use_bias:
        raise CliError(
            "cannot fold the standardisation into this network: the layer after its "
            f"Embedding is {type(layer).__name__}, not a Dense with a bias"
        )
    other = np.array(
        [j for j in range(record.n_inputs) if j not in embedding.index_columns]
    )
    m = other.size  # the pass-through columns come first in the Embedding's output
    W = np.array(layer.W, dtype=np.float64)  # a copy: (out, m + sum(dims))
    W[:, :m] /= record.scale[other]
    b = np.asarray(layer.b, dtype=np.float64) - W[:, :m] @ record.mean[other]
    layer.W, layer.b = W, b
    return folded


# -- run ---------------------------------------------------------------------------------
def run(args) -> int:
    from .tabular import fold_standardization, load_model

    net, record, _ = load_model(args.model)
    data = load_data(args, net, record)
    perturb = None if record is None else numeric_inputs(record)
    if record is not None:  # the network then takes DATA's raw columns
        if record.embedded:
            net = fold_after_embedding(net, record)
        else:
            net = fold_standardization(net, record)
    X, y = data.X, data.y
    if args.limit is not None:
        if args.limit < 1:
            raise CliError(f"--limit must be a positive integer, got {args.limit}")
        X, y = X[: args.limit], y[: args.limit]
    clip = {None: data.clip, "none": None}.get(args.clip, args.clip)
    report = robustness_report(
        net,
        X,
        y,
        eps=args.eps,
        attacks=args.method,
        loss=args.loss,
        clip=clip,
        pgd_steps=args.pgd_steps,
        seed=args.seed,
        perturb=perturb,
    )
    print(f"model {args.model} on {data.name} ({len(X)} samples)")
    if record is not None:
        print(perturbed_line(record))
    print(report)
    if args.json:
        # atomically: a full disk or a crash leaves the old report whole
        atomic_write(args.json, json.dumps(report.to_dict(), indent=2).encode("utf-8"))
        print(f"report written to {args.json}")
    if args.plot:
        for path in save_plots(report, net, X, y, data, clip, args):
            print(f"figure written to {path}")
    return 0


def save_plots(report, net, X, y, data, clip, args) -> list[str]:
    os.makedirs(args.plot, exist_ok=True)
    paths = [os.path.join(args.plot, "robustness_accuracy.png")]
    plot_accuracy_vs_eps(report, paths[0], title=f"Accuracy under attack ({data.name})")
    if data.image_shape is not None:
        # the strongest setting asked for: the last attack at the largest eps
        attack, eps = report.attacks[-1], max(report.eps)
        result = next(r for r in report.results if (r.attack, r.eps) == (attack, eps))
        shown = [e["index"] for e in result.examples] or list(range(min(5, len(X))))
        X_adv = _rerun(net, X, y, attack, eps, args, clip, report)
        paths.append(os.path.join(args.plot, "robustness_examples.png"))
        plot_adversarial_examples(
            net, X, X_adv, y, shown, paths[1], data.image_shape, loss=args.loss,
            title=f"{attack.upper()} at eps={eps:g}: clean, adversarial, difference",
        )  # fmt: skip
    return paths


def _rerun(net, X, y, attack, eps, args, clip, report):
    """The adversarial inputs the report scored, recomputed for the picture (the
    report draws each PGD start from a fresh generator of the same seed)."""
    from ..robustness import attacks

    kwargs = {"loss": args.loss, "clip": clip, "perturb": report.perturbed}
    if attack == "fgsm":
        return attacks.fgsm(net, X, y, eps, **kwargs)
    return attacks.pgd(net, X, y, eps, steps=args.pgd_steps, seed=args.seed, **kwargs)
