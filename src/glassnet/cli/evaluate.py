"""``glassnet evaluate MODEL DATA --target COLUMN``: how well a saved model does on a
labelled data file: the loss and metrics, per-class scores and the confusion matrix
(classification), or MSE, RMSE, MAE and R^2 (regression)."""

from __future__ import annotations

import argparse
import json
import math
import sys

import numpy as np

from ..nn.losses import default_loss
from ..training import metrics
from . import CliError, UsageError
from .heldout import ROWS, rows_of, subset
from .predict import (
    class_names,
    is_classifier,
    labels_of,
    model_inputs,
    outputs,
    read_data,
)
from .tabular import (
    DataError,
    check_rows,
    encode_labels,
    load_model,
    target_column,
)
from .train_data import DATASETS, builtin_table

DESCRIPTION = """\
Loads a model saved by glassnet train (or gn.save), reads DATA with the same feature
columns and its target column, applies the stored standardisation and prints:

  classification: the loss (the training loss: cross-entropy), accuracy, macro
    precision, recall and F1, each class's precision, recall, F1 and support, and the
    confusion matrix (rows: true class, columns: predicted);
  regression: the loss (mean squared error), MSE, RMSE, MAE and R^2.

DATA is a data file, or --dataset NAME a built-in dataset. --rows test scores only
the rows glassnet train --test-split held out (drawn again from the split the model
file stores; refused when it stores none, or when the data are not those it was
trained on), --rows train the others, --rows all (the default) every row.

Labels in DATA that the model never saw in training are an error. --plot FILE saves
the confusion matrix (or, for regression, predicted against true values) as a
picture (PNG, SVG or PDF by the extension; needs the plot extra).
"""


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "evaluate",
        help="loss, metrics and confusion matrix of a saved model on a data file",
        description=DESCRIPTION,
        epilog="example: glassnet evaluate model.safetensors test.csv --target species "
        "--plot confusion.png\n"
        "         glassnet evaluate pg.safetensors --dataset penguins --rows test",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("model", metavar="MODEL", help="a model file (glassnet train)")
    parser.add_argument(
        "data", metavar="DATA", nargs="?", help="CSV, Parquet, .npy or .npz"
    )
    parser.add_argument(
        "--dataset", choices=DATASETS, help="a built-in dataset instead of DATA"
    )
    parser.add_argument(
        "--rows",
        choices=ROWS,
        default="all",
        help="all (default), test: the rows glassnet train --test-split held out, "
        "or train: the others",
    )
    parser.add_argument(
        "--target",
        metavar="COLUMN",
        help="the label column of DATA (default: the column the model was trained on)",
    )
    parser.add_argument("--plot", metavar="FILE", help="save a picture of the results")
    parser.add_argument(
        "--json",
        action="store_true",
        help="print one JSON object (metrics, rows, task, per-class figures) instead",
    )
    parser.add_argument(
        "--quiet",
        action="store_true",
        help="no progress output on large files, no note on filled empty cells",
    )
    parser.set_defaults(run=run)


def loss_name(net) -> str:
    """The loss glassnet train pairs with the output activation."""
    return default_loss(net.layers[-1].output_activation).name


def run(args) -> int:
    net, record, metadata = load_model(args.model)
    target = args.target or (record.target if record is not None else None)
    if target is None:
        raise CliError(
            "--target COLUMN is needed: the model file does not say which column it "
            "predicts"
        )
    table = _table(args, metadata)
    check_rows(table, 1, "evaluation")
    y_raw = target_column(table, target)
    Z = model_inputs(table, net, record, exclude=target, quiet=args.quiet)
    classifier = is_classifier(net, record)
    where = f"{table.path} column {target!r}"
    if not args.json:
        print(
            f"model {args.model} on {table.path} ({table.n_rows} "
            + ("" if args.rows == "all" else f"{args.rows} ")
            + f"rows), target {target!r}"
        )
    if classifier:
        classes = class_names(net, record)
        y = _labels(y_raw, classes, record, where)
        P = outputs(net, Z, True, args.quiet)
        predicted = labels_of(P, net)
        loss = net.evaluate(Z, y, loss=loss_name(net), metrics=[])["loss"]
        C = metrics.confusion_matrix(y, predicted, len(classes))
        if args.json:
            report = classification_json(loss, y, predicted, C, classes)
            print(json.dumps({"loss_function": loss_name(net), **report}))
        else:
            print(classification_report(loss, loss_name(net), y, predicted, C, classes))
        if args.plot:
            _save(confusion_figure(C, classes, args.model), args.plot)
    else:
        if y_raw.dtype.kind not in "biuf":
            raise DataError(f"{where} holds text; this model predicts numbers")
        y = y_raw.astype(np.float64)
        A = outputs(net, Z, False, args.quiet)
        if A.shape[1] != 1:
            raise CliError(
                f"this model has {A.shape[1]} outputs; evaluate compares one target "
                "column (use net.evaluate in Python)"
            )
        predicted = A[:, 0].astype(np.float64)
        if args.json:
            print(json.dumps({"loss_function": "mse", **regression_json(y, predicted)}))
        else:
            print(regression_report(y, predicted))
        if args.plot:
            _save(regression_figure(y, predicted, args.model), args.plot)
    if args.plot:  # with --json on stderr, so that stdout stays one JSON object
        print(f"figure written to {args.plot}", file=sys.stderr if args.json else None)
    return 0


def _table(args, metadata):
    """DATA or the built-in dataset, only the rows --rows names."""
    if (args.data is None) == (args.dataset is None):
        raise UsageError(
            "give either DATA (a data file) or --dataset NAME (a built-in dataset)"
        )
    if args.dataset is not None:
        table = builtin_table(args.dataset)
    else:
        table = read_data(args.data, args.quiet)
    return subset(table, rows_of(table, metadata, args.rows, args.model))


def _labels(y_raw, classes, record, where) -> np.ndarray:
    if record is not None:
        return encode_labels(y_raw, classes, where)
    # no record: the labels must already be the class indices 0..C-1
    if y_raw.dtype.kind not in "biuf" or not np.array_equal(y_raw, np.floor(y_raw)):
        raise DataError(
            f"{where} must hold class indices 0..{len(classes) - 1}: the model has no "
            "stored class labels"
        )
    y = y_raw.astype(np.int64)
    bad = (y < 0) | (y >= len(classes))
    if bad.any():
        raise DataError(
            f"{where} holds label {y[bad][0]}, outside the model's classes "
            f"0..{len(classes) - 1}"
        )
    return y


# -- reports ----------------------------------------------------------------------------
def per_class(C: np.ndarray) -> list[tuple[float, float, float, int]]:
    """(precision, recall, F1, support) of each class from the confusion matrix C
    (C[t, p] = samples of true class t predicted p); 0 where undefined."""
    rows = []
    for c in range(C.shape[0]):
        tp = int(C[c, c])
        predicted, actual = int(C[:, c].sum()), int(C[c, :].sum())
        precision = tp / predicted if predicted else 0.0
        recall = tp / actual if actual else 0.0
        f1 = (
            2 * precision * recall / (precision + recall) if precision + recall else 0.0
        )
        rows.append((precision, recall, f1, actual))
    return rows


def classification_report(loss, loss_label, y, predicted, C, classes) -> str:
    n = len(y)
    correct = int((predicted == y).sum())
    names = [str(c) for c in classes]
    lines = [
        f"  loss ({loss_label})  {loss:.4f}",
        f"  accuracy           {correct / n:.4f}  ({correct}/{n})",
        f"  precision (macro)  {metrics.precision(y, predicted):.4f}",
        f"  recall (macro)     {metrics.recall(y, predicted):.4f}",
        f"  f1 (macro)         {metrics.f1(y, predicted):.4f}",
        "",
    ]
    width = max(5, *(len(s) for s in names))
    lines.append(f"  {'class'.ljust(width)}  precision  recall      f1  support")
    for name, (p, r, f, support) in zip(names, per_class(C), strict=True):
        lines.append(
            f"  {name.ljust(width)}  {p:9.4f}  {r:6.4f}  {f:6.4f}  {support:7d}"
        )
    lines += ["", "confusion matrix (rows: true class, columns: predicted):"]
    cell = max(3, len(str(int(C.max()))), *(len(s) for s in names))
    lines.append("  " + " " * (width + 2) + " ".join(s.rjust(cell) for s in names))
    for name, row in zip(names, C, strict=True):
        lines.append(
            f"  {name.rjust(width)} |" + " ".join(str(int(v)).rjust(cell) for v in row)
        )
    return "\n".join(lines)


def regression_report(y: np.ndarray, predicted: np.ndarray) -> str:
    mse = metrics.mean_squared_error(y, predicted)
    lines = [
        f"  loss (mse)  {mse:.6g}",
        f"  mse         {mse:.6g}",
        f"  rmse        {math.sqrt(mse):.6g}",
        f"  mae         {metrics.mean_absolute_error(y, predicted):.6g}",
    ]
    if len(y) > 1 and np.ptp(y) > 0:
        lines.append(f"  r2          {metrics.r2_score(y, predicted):.4f}")
    else:
        lines.append("  r2          undefined (the target is constant)")
    return "\n".join(lines)


# -- JSON (--json): the same figures as the reports, unrounded ------------------------
def classification_json(loss, y, predicted, C, classes) -> dict:
    n = len(y)
    return {
        "task": "classification",
        "n_rows": n,
        "loss": _finite(loss),
        "metrics": {
            "accuracy": int((predicted == y).sum()) / n,
            "precision_macro": metrics.precision(y, predicted),
            "recall_macro": metrics.recall(y, predicted),
            "f1_macro": metrics.f1(y, predicted),
        },
        "per_class": [
            {"class": _plain(c), "precision": p, "recall": r, "f1": f, "support": s}
            for c, (p, r, f, s) in zip(classes, per_class(C), strict=True)
        ],
        "classes": [_plain(c) for c in classes],
        "confusion_matrix": C.astype(int).tolist(),
    }


def regression_json(y: np.ndarray, predicted: np.ndarray) -> dict:
    mse = metrics.mean_squared_error(y, predicted)
    r2 = None  # undefined for a constant target (JSON null)
    if len(y) > 1 and np.ptp(y) > 0:
        r2 = _finite(metrics.r2_score(y, predicted))
    return {
        "task": "regression",
        "n_rows": len(y),
        "loss": _finite(mse),
        "metrics": {
            "mse": _finite(mse),
            "rmse": _finite(math.sqrt(mse)),
            "mae": _finite(metrics.mean_absolute_error(y, predicted)),
            "r2": r2,
        },
    }


def _finite(value) -> float | None:
    """A float for JSON, None (null) for inf or NaN, which JSON cannot hold."""
    value = float(value)
    return value if math.isfinite(value) else None


def _plain(label):
    """A class label as a JSON value (numpy scalars as Python ones)."""
    return label.item() if isinstance(label, np.generic) else label


# -- pictures -----------------------------------------------------------------------------
def _figure(width: float, height: float):
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        raise CliError(
            "--plot needs matplotlib, which is not installed: pip install "
            "'glassnet[plot]'"
        ) from None
    fig = Figure(figsize=(width, height), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _save(fig, path: str) -> None:
    from ..plot import figures as plot

    plot.save(fig, path)  # atomic, format from the extension


def confusion_figure(C: np.ndarray, classes, title: str):
    """The confusion matrix as a heat map with the counts written in."""
    k = len(classes)
    size = min(12.0, 2.5 + 0.6 * k)
    fig = _figure(size + 1.0, size)
    ax = fig.subplots()
    image = ax.imshow(C, cmap="Blues")
    fig.colorbar(image, ax=ax, shrink=0.8, label="rows")
    ax.set_xticks(range(k), [str(c) for c in classes], rotation=45, ha="right")
    ax.set_yticks(range(k), [str(c) for c in classes])
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    if k <= 30:
        top = C.max() if C.size else 0
        for t in range(k):
            for p in range(k):
                dark = top and C[t, p] > top / 2
                ax.text(p, t, str(int(C[t, p])), ha="center", va="center",
                        color="white" if dark else "black", fontsize=8)  # fmt: skip
    accuracy = np.trace(C) / max(1, C.sum())
    ax.set_title(f"{title} · accuracy {100 * accuracy:.1f}%")
    return fig


def regression_figure(y: np.ndarray, predicted: np.ndarray, title: str):
    """Predicted against true values, with the line predicted = true."""
    fig = _figure(5.5, 5.0)
    ax = fig.subplots()
    ax.scatter(y, predicted, s=12, alpha=0.6, color="#2166ac")
    lo, hi = float(min(y.min(), predicted.min())), float(max(y.max(), predicted.max()))
    ax.plot([lo, hi], [lo, hi], color="k", lw=1)
    ax.set_xlabel("true value")
    ax.set_ylabel("predicted value")
    ax.set_title(title)
    return fig
