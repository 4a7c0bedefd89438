"""``glassnet predict MODEL DATA [--out preds.csv] [--proba]``: a model's predictions for
every row of a data file, as CSV.

Also the helpers the data-file commands share (evaluate, attack): reading DATA,
loading a model with its preprocessing record, and turning DATA's columns into the
network's inputs.
"""

from __future__ import annotations

import argparse
import csv
import io
import sys

import numpy as np

from ..io import atomic_write
from . import CliError
from .tabular import (
    DataError,
    Progress,
    Table,
    check_rows,
    features_matrix,
    format_of,
    load_model,
    read_table,
)

#: Rows per forward pass; above LARGE_PREDICT_ROWS rows a progress line is shown.
PREDICT_CHUNK = 65536
LARGE_PREDICT_ROWS = 200_000

DESCRIPTION = """\
Loads a model saved by glassnet train (or gn.save) and writes one CSV row per row of
DATA (same order): the column "prediction" (the class label, as in the training data,
or the predicted number), and with --proba one probability column per class,
"proba_<label>". DATA's columns are matched to the model's features by name (other
columns, such as the target, are ignored), encoded, filled and standardised as in
training (a category not seen in training is counted in a warning on stderr, the
empty cells filled in a note, which --quiet leaves out). A model
saved without a preprocessing record (gn.save in Python) takes every column of DATA,
in order, as it is.
"""


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "predict",
        help="predict every row of a data file with a saved model",
        description=DESCRIPTION,
        epilog="example: glassnet predict model.safetensors new_rows.csv --out "
        "predictions.csv --proba",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("model", metavar="MODEL", help="a model file (glassnet train)")
    parser.add_argument("data", metavar="DATA", help="CSV, Parquet, .npy or .npz")
    parser.add_argument(
        "--out", metavar="FILE", help="write the CSV here (default: standard output)"
    )
    parser.add_argument(
        "--proba", action="store_true", help="add each class's probability"
    )
    parser.add_argument(
        "--quiet",
        action="store_true",
        help="no progress output on large files, no note on filled empty cells",
    )
    parser.set_defaults(run=run)


# -- shared by the data commands -----------------------------------------------------------
def read_data(path: str, quiet: bool) -> Table:
    try:
        return read_table(path, progress=not quiet)
    except ImportError as error:
        raise CliError(str(error)) from None


def raw_features(table: Table, net, record, exclude: str | None = None) -> np.ndarray:
    """DATA's feature columns as the model expects them, before standardisation:
    the record's columns by name (empty cells filled, categories encoded), or (no
    record) every column but ``exclude``."""
    if record is not None:
        return _encoded(table, record, standardize=False)
    names = [n for n in table.names if n != exclude]
    if len(names) != net.in_features:
        raise DataError(
            f"{table.path} has {len(names)} feature column{'s' * (len(names) != 1)} "
            f"but the model takes {net.in_features} (it was saved without a "
            "preprocessing record, so DATA's columns are used as they are, in order)"
        )
    if _has_header(table.path):  # named columns, not used by name
        shown = ", ".join(names[:6]) + (", ..." if len(names) > 6 else "")
        print(
            f"warning: the model file has no column names (no preprocessing record): "
            f"{table.path}'s columns are taken in file order ({shown}); a model from "
            "glassnet train or glassnet.sklearn.save reads them by name",
            file=sys.stderr,
        )
    return features_matrix(table, names)


def _has_header(path: str) -> bool:
    """True for a CSV or Parquet file: its columns have names a user chose."""
    try:
        return format_of(path) in ("csv", "parquet")
    except DataError:  # standard input, or a name without a known suffix
        return False


def _encoded(table: Table, record, standardize: bool, quiet=False) -> np.ndarray:
    """The record applied to DATA's columns, found by name; on stderr, a warning
    counting the categories not seen in training (the model knows nothing of them)
    and a note counting the empty cells filled as in training (``quiet``: no note)."""
    missing = [f for f in record.names if f not in table.columns]
    if missing:
        shown = ", ".join(repr(f) for f in missing[:6]) + (
            ", ..." if len(missing) > 6 else ""
        )
        have = ", ".join(repr(n) for n in table.names[:8]) + (
            ", ..." if len(table.names) > 8 else ""
        )
        raise DataError(
            f"{table.path} lacks {len(missing)} of the model's "
            f"{len(record.names)} feature columns: {shown} (DATA has {have}); "
            "the model was trained on "
            + ", ".join(record.names[:8])
            + (", ..." if len(record.names) > 8 else "")
        )
    X, report = record.transform(table.columns, table.path, standardize)
    if report.unknown_line():
        print(f"warning: {table.path}: {report.unknown_line()}", file=sys.stderr)
    if report.filled_line() and not quiet:
        print(f"note: {table.path}: {report.filled_line()}", file=sys.stderr)
    return X


def model_inputs(
    table: Table, net, record, exclude: str | None = None, quiet: bool = False
) -> np.ndarray:
    """The network's inputs for every row: encoded, filled and standardised as in
    training (``quiet``: no note on the filled cells)."""
    if record is None:
        return raw_features(table, net, record, exclude)
    return _encoded(table, record, standardize=True, quiet=quiet)


def is_classifier(net, record) -> bool:
    if record is not None:
        return record.task == "classification"
    return net.layers[-1].output_activation.name in ("softmax", "sigmoid")


def class_names(net, record) -> list:
    if record is not None and record.classes is not None:
        return list(record.classes)
    return list(range(max(2, net.out_features)))


def outputs(net, Z: np.ndarray, classifier: bool, quiet: bool) -> np.ndarray:
    """Probabilities (n, C) for a classifier, else the outputs (n, k), in chunks
    (with a progress line for large inputs)."""
    n = Z.shape[0]
    width = net.out_features
    if classifier and width == 1:
        width = 2  # one sigmoid output: columns P(class 0), P(class 1)
    result = np.empty((n, width), dtype=net.dtype)
    progress = Progress("predicting", n, enabled=not quiet and n > LARGE_PREDICT_ROWS)
    for lo in range(0, n, PREDICT_CHUNK):
        chunk = Z[lo : lo + PREDICT_CHUNK]
        result[lo : lo + PREDICT_CHUNK] = (
            net.predict_proba(chunk) if classifier else net.predict(chunk)
        )
        progress.update(min(n, lo + PREDICT_CHUNK))
    progress.close()
    return result


def labels_of(P: np.ndarray, net) -> np.ndarray:
    """Class indices from probabilities: P(1) >= 0.5 for one sigmoid output (as
    predict_classes), else the most probable class."""
    if net.out_features == 1:
        return (P[:, 1] >= 0.5).astype(np.int64)
    return P.argmax(axis=1)


def _number(value) -> str:
    return str(value)  # numpy's shortest text that reads back to the same value


# -- run ---------------------------------------------------------------------------------
def run(args) -> int:
    net, record, _ = load_model(args.model)
    table = read_data(args.data, args.quiet)
    check_rows(table, 1, "prediction")
    Z = model_inputs(table, net, record, quiet=args.quiet)
    classifier = is_classifier(net, record)
    if args.proba and not classifier:
        raise CliError(
            "--proba needs a classifier; this model predicts numbers (regression)"
        )
    if classifier and record is None and net.out_features > 1:
        if net.layers[-1].output_activation.name == "sigmoid":
            raise CliError(
                "this model has several independent sigmoid outputs (multilabel) and "
                "no preprocessing record; use net.predict_proba in Python"
            )
    A = outputs(net, Z, classifier, args.quiet)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    if classifier:
        classes = class_names(net, record)
        header = ["prediction"]
        if args.proba:
            header += [f"proba_{c}" for c in classes]
        writer.writerow(header)
        predicted = labels_of(A, net)
        for i in range(A.shape[0]):
            row = [classes[predicted[i]]]
            if args.proba:
                row += [_number(p) for p in A[i]]
            writer.writerow(row)
    else:
        k = A.shape[1]
        writer.writerow(
            ["prediction"] if k == 1 else [f"prediction_{j}" for j in range(k)]
        )
        for row in A:
            writer.writerow([_number(v) for v in row])
    text = buffer.getvalue()
    if args.out and args.out != "-":  # "-": standard output, as without --out
        atomic_write(args.out, text.encode("utf-8"))
        if not args.quiet:
            print(f"{A.shape[0]} predictions written to {args.out}")
    else:
        sys.stdout.write(text)
    return 0
