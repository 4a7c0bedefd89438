"""``glassnet explain``: the math of a network, step by step, with the numbers in it."""

from __future__ import annotations

import argparse
import os
import sys

import numpy as np

from ..explaining import explain
from ..explaining.worked_example import seed003_example
from . import CliError

FORMATS = ("text", "markdown", "html", "json")
_BY_EXTENSION = {".md": "markdown", ".html": "html", ".htm": "html", ".json": "json"}

EPILOG = """examples:
  glassnet explain                          the seed 003 network, x = [1, 2], y = 1
  glassnet explain --lr 0.1                 ... and the gradient-descent step
  glassnet explain --input "2,-1" --target 0
  glassnet explain --model net.safetensors --input "0.5,1.5" --target 1
  glassnet explain --input "1,2;0,1" --target "1;0"     a batch of two samples
  glassnet explain --format html --out walk.html        a page for the browser
"""

# The seed text's own slips, set against the numbers above them (text output only).
SEED_FOOTER = """
Compared with the seed 003 text: it finds z2 = 3.18 but then uses 2.73 (2.73 is
right), and calls the prediction 0.96 after computing 0.938 (it is 0.938774). Rounding
to 0.938 puts its L = 0.064, dL/da2 = -1.066 and da2/dz2 = 0.0582 slightly off
(0.0631807, -1.06522, 0.0574775). It then backpropagates dL/dz2 = -0.039936 instead
of -0.0612262, so its dL/da1 = [-0.02796, -0.03594] should be
[-0.0428583, -0.0551035], and its dL/dW1, which also mixes up entries, should be
[[-0.0428583, -0.0857166], [-0.0551035, -0.110207]].
"""


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "explain",
        help="show the math of a network step by step, with the numbers in it",
        description="Walks one sample (or a small batch) through a network and writes "
        "every step: each equation, the same equation with the numbers in it, and the "
        "result; forward pass, loss, backpropagation and (with --lr) the update. "
        "Without --model it walks the 2-2-1 network of the seed 003 text.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--model", metavar="FILE", help="a saved model (gn.save)")
    parser.add_argument(
        "--input",
        metavar="X",
        help='the input: numbers separated by commas, "1,2"; samples separated by '
        'semicolons, "1,2;3,4" (default with the seed network: "1,2")',
    )
    parser.add_argument(
        "--target",
        metavar="Y",
        help='the target: "1", a class label for cross-entropy, or "0,1,0"; one per '
        "sample, separated by semicolons (default with the seed network: 1; with "
        "--model and no target only the forward pass is shown)",
    )
    parser.add_argument(
        "--loss",
        help="mse, binary_crossentropy or cross_entropy (default: chosen from the "
        "output activation)",
    )
    parser.add_argument("--lr", type=float, help="show the gradient-descent step")
    parser.add_argument(
        "--format",
        choices=FORMATS,
        help="text (default), markdown, html or json; by default from --out's "
        "extension (.md, .html, .json)",
    )
    parser.add_argument("--out", metavar="FILE", help="write to FILE instead of stdout")
    parser.add_argument(
        "--precision",
        type=int,
        default=6,
        metavar="DIGITS",
        help="significant digits shown (default 6; JSON always has every digit)",
    )
    parser.set_defaults(run=run)


def parse_matrix(text: str, option: str) -> np.ndarray:
    """ "1,2;3,4" -> [[1, 2], [3, 4]]: samples by ";", numbers by ","."""
    rows = []
    for row in text.split(";"):
        try:
            rows.append([float(v) for v in row.split(",")])
        except ValueError:
            raise CliError(
                f'{option} must be numbers separated by commas (samples by ";"), '
                f'like "1,2", got {text!r}'
            ) from None
    if len({len(r) for r in rows}) > 1:
        raise CliError(
            f"{option}: every sample needs the same number of values, got {text!r}"
        )
    values = np.array(rows)
    if not np.isfinite(values).all():
        raise CliError(f"{option} must be finite numbers, got {text!r}")
    return values


def load_model(path: str):
    try:
        from ..io import load
    except ImportError as error:
        raise CliError(
            f"--model needs glassnet's model files (glassnet.io), which this "
            f"installation does not have ({error})"
        ) from None
    return load(path)


def run(args) -> int:
    if args.model is not None:
        net = load_model(args.model)
        if args.input is None:
            raise CliError(
                f"--input is required with --model: {net.in_features} number(s), "
                'comma-separated, like "' + ",".join(["0.5"] * net.in_features) + '"'
            )
        y = None
    else:
        net, X, y = seed003_example()
    X = parse_matrix(args.input, "--input") if args.input is not None else X
    if X.shape[1] != net.in_features:
        raise CliError(
            f"--input has {X.shape[1]} number(s) per sample but the network takes "
            f"{net.in_features}"
        )
    if args.target is not None:
        Y = parse_matrix(args.target, "--target")
        y = Y[:, 0] if Y.shape[1] == 1 else Y
        if len(y) != X.shape[0]:
            raise CliError(
                f"--target has {len(y)} sample(s) but --input has {X.shape[0]}"
            )
    elif args.model is None and args.input is not None and X.shape[0] != 1:
        raise CliError("--target is required for a batch of several inputs")
    trace = explain(net, X, y, loss=args.loss, lr=args.lr)
    fmt = args.format or _format_from_path(args.out)
    if fmt == "text":
        document = trace.to_text(precision=args.precision)
        if _is_seed_walk(args):
            document += SEED_FOOTER
    elif fmt == "markdown":
        document = trace.to_markdown(precision=args.precision)
    elif fmt == "html":
        document = trace.to_html(precision=args.precision)
    else:
        document = trace.to_json()
    if args.out is None:
        sys.stdout.write(document)
        return 0
    write_text_atomically(args.out, document)
    print(f"wrote the {fmt} walk of {trace.title} to {args.out}")
    return 0


def _is_seed_walk(args) -> bool:
    return (
        args.model is None
        and args.input is None
        and args.target is None
        and (args.loss in (None, "binary_crossentropy", "bce"))
    )


def _format_from_path(path: str | None) -> str:
    if path is None:
        return "text"
    return _BY_EXTENSION.get(os.path.splitext(path)[1].lower(), "text")


def write_text_atomically(path: str, text: str) -> None:
    """Temporary file in the same folder, fsync, then os.replace: readers never see a
    half-written file, and a failed write leaves the old one in place."""
    from ..io.atomic import atomic_write

    atomic_write(path, text.encode("utf-8"))
