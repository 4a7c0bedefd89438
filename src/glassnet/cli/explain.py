"""``glassnet explain``: the math of a network, step by step, with the numbers in it."""

from __future__ import annotations

import argparse
import csv
import html
import os
import sys
import textwrap

import numpy as np

from ..explaining import explain, explain_perceptron
from ..explaining.perceptron import GATES, gate
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
  glassnet explain --model iris.safetensors --input "5.1,3.5,1.4,0.2" --target setosa
  glassnet explain --model pg.safetensors --input "Biscoe,39.1,18.7,181,,female,2007"
                                            raw cells of a table, one per column
  glassnet explain --format html --out walk.html        a page for the browser
  glassnet explain --attack fgsm --eps 0.5 --clip 0,2   the attack step (FGSM)
  glassnet explain --perceptron AND         the perceptron rule, epoch by epoch
  glassnet explain --model net.safetensors --verify prop.vnnlib   a proof, step by step
  glassnet explain --model net.safetensors --input "0.5,1" --verify-eps 0.1
  glassnet explain --perceptron data.csv --target label --epochs 20
  glassnet explain --optimizer adam --lr 0.1 --steps 3   three Adam steps, m and v
  glassnet explain --optimizer rmsprop --centered --clip-norm 0.1 --steps 2
"""

# The seed text's own slips, set against the numbers above them (the text, Markdown and
# HTML renderings of the seed walk end with it).
SEED_SLIPS = (
    "it finds z2 = 3.18 but then uses 2.73 (2.73 is right), and calls the "
    "prediction 0.96 after computing 0.938 (it is 0.938774). Rounding to 0.938 puts "
    "its L = 0.064, ∂L/∂a2 = −1.066 and ∂a2/∂z2 = 0.0582 slightly off (0.0631807, "
    "−1.06522, 0.0574775), and its ∂L/∂z2 = −0.062 (it is −0.0612262). Its "
    "∂L/∂W2 = [−0.0806, −0.1116] is written as a column; it is the row "
    "[−0.079594, −0.110207], the shape of W2. It then backpropagates "
    "∂L/∂z2 = −0.039936 instead of −0.0612262, so its ∂L/∂a1 = [−0.02796, −0.03594] "
    "should be [−0.0428583, −0.0551035], and its ∂L/∂W1, which also mixes up entries, "
    "should be [[−0.0428583, −0.0857166], [−0.0551035, −0.110207]]."
)
SEED_HEADING = "Compared with the seed 003 text"
SEED_FOOTER = "\n" + textwrap.fill(f"{SEED_HEADING}: {SEED_SLIPS}", 88) + "\n"


def seed_footer(fmt: str) -> str:
    """The comparison with the seed 003 text, in the rendering ``fmt``."""
    if fmt == "text":
        return SEED_FOOTER
    if fmt == "markdown":
        return f"\n## {SEED_HEADING}\n\nThe seed text: {SEED_SLIPS}\n"
    paragraph = html.escape(f"The seed text: {SEED_SLIPS}")
    return (
        f'<section class="seed"><h2>{SEED_HEADING}</h2><p>{paragraph}</p></section>\n'
    )


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
        'semicolons, "1,2;3,4" (default with the seed network: "1,2"). For a model '
        "trained on a table (glassnet train): one raw cell per column it reads, in "
        'order, as a CSV row: text as it is, "a, b" in double quotes when it holds a '
        "comma, an empty cell for a missing value (glassnet info lists the columns)",
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
        "--attack",
        choices=("fgsm",),
        help="carry backpropagation on to the input and show the attack step: "
        "x_adv = clip(x + eps sign(dL/dx)), and the prediction before and after",
    )
    parser.add_argument(
        "--eps",
        type=float,
        help="the attack's step size (--attack), or the optimizer's ε (--optimizer)",
    )
    add_optimizer_arguments(parser)
    parser.add_argument(
        "--verify",
        metavar="PROP.vnnlib",
        help="with --model: show how the VNNLIB property is decided, step by step: "
        "interval and linear bounds, each unstable ReLU's relaxation, the verdict "
        "and its split tree or counterexample (small ReLU networks)",
    )
    parser.add_argument(
        "--verify-eps",
        type=float,
        metavar="E",
        help="with --model and --input: the same for the L-infinity ball of radius E "
        "around the input (the prediction must not change; --clip cuts the ball)",
    )
    parser.add_argument(
        "--perceptron",
        metavar="GATE|FILE",
        help="instead of a network, the perceptron learning rule on a logic gate "
        "(AND, OR, NAND or XOR) or on a data file (CSV, Parquet) with --target "
        "COLUMN, a column of two classes (η from --lr, default 1)",
    )
    parser.add_argument(
        "--features",
        metavar="COLS",
        help="with --perceptron FILE: the feature columns, comma-separated (default: "
        "every column but --target)",
    )
    parser.add_argument(
        "--epochs",
        type=int,
        metavar="N",
        help="with --perceptron: the most epochs walked (default 100)",
    )
    parser.add_argument(
        "--clip",
        metavar="LO,HI",
        help='the valid input range for --attack, like "0,1" (write --clip=-1,1 '
        "when LO is negative)",
    )
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
    parser.add_argument(
        "--max-rows",
        type=int,
        default=8,
        metavar="N",
        help="rows of a matrix shown before it is cut, with its shape stated "
        "(default 8; JSON always has every number)",
    )
    parser.add_argument(
        "--max-cols",
        type=int,
        default=6,
        metavar="N",
        help="columns of a matrix shown before it is cut (default 6)",
    )
    parser.add_argument(
        "--summaries",
        action="store_true",
        help="also write each matrix's norm, min and max",
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


def parse_cells(text: str, record) -> dict:
    """ "Dream,39.1,;Biscoe,40,male" -> the record's columns of raw cells: samples by
    ";", each a CSV row (the csv module: a cell with a comma in double quotes), an
    empty cell missing; a numeric column's cells as numbers, booleans as the CSV
    reader reads them (true, True, TRUE)."""
    rows = [next(csv.reader([sample], skipinitialspace=True), [""])
            for sample in _samples(text)]  # fmt: skip
    names = record.names
    for row in rows:
        if len(row) != len(names):
            raise CliError(
                f"--input has {len(row)} value(s) per sample but the model reads "
                f"{len(names)} columns: {', '.join(names)} (empty for a missing cell)"
            )
    return {
        spec.name: _cells_of(spec, [row[j].strip() or None for row in rows])
        for j, spec in enumerate(record.columns)
    }


def _samples(text: str) -> list[str]:
    """``text`` split at each ";" outside double quotes."""
    samples, start, quoted = [], 0, False
    for at, char in enumerate(text):
        if char == '"':
            quoted = not quoted
        elif char == ";" and not quoted:
            samples.append(text[start:at])
            start = at + 1
    return [*samples, text[start:]]


def _empty_cell(text: str | None, record) -> bool:
    """Whether --input leaves a cell empty for a model that can fill it (a record of
    version 2: every numeric column stores its fill)."""
    if text is None or record.version < 2:
        return False
    rows = [next(csv.reader([s], skipinitialspace=True), [""]) for s in _samples(text)]
    return any(cell.strip() == "" for row in rows for cell in row)


#: The texts pandas' CSV reader takes as booleans (its default true/false values).
BOOLEANS = {"True": True, "TRUE": True, "true": True,
            "False": False, "FALSE": False, "false": False}  # fmt: skip


def _cells_of(spec, cells: list) -> np.ndarray:
    """One column's cells (None: missing) as ``transform`` takes them: float64 with
    NaN for a numeric column, else objects, booleans parsed when it has them."""
    if spec.kind == "numeric":
        x = np.full(len(cells), np.nan)
        for i, cell in enumerate(cells):
            if cell is None:
                continue
            try:
                x[i] = float(cell)
            except ValueError:
                x[i] = np.nan
            if not np.isfinite(x[i]):
                raise CliError(
                    f"--input: column {spec.name!r} takes a number, got {cell!r} "
                    "(leave the cell empty for a missing value)"
                )
        return x
    if any(isinstance(c, bool) for c in spec.categories):
        cells = [BOOLEANS.get(c, c) if c is not None else None for c in cells]
    return np.array(cells, dtype=object)


def parse_clip(text: str) -> tuple[float, float]:
    """ "0,1" -> (0.0, 1.0)."""
    values = parse_matrix(text, "--clip")
    if values.shape != (1, 2):
        raise CliError(f'--clip must be two numbers "LO,HI", like "0,1", got {text!r}')
    return float(values[0, 0]), float(values[0, 1])


def load_model(path: str):
    try:
        from ..io import load
    except ImportError as error:
        raise CliError(
            f"--model needs glassnet's model files (glassnet.io), which this "
            f"installation does not have ({error})"
        ) from None
    return load(path)


def parse_target(text: str, record) -> np.ndarray:
    """--target as numbers, or as class names when the model file stores them."""
    classes = None if record is None else record.classes
    if classes is None:
        return parse_matrix(text, "--target")
    names = [str(c) for c in classes]
    tokens = [t.strip() for t in text.split(";")]
    if all(t in names for t in tokens):
        return np.array([[float(names.index(t))] for t in tokens])
    try:
        return parse_matrix(text, "--target")
    except CliError:
        unknown = next(t for t in tokens if t not in names)
        raise CliError(
            f"--target {unknown!r} is not a class of this model; its classes are "
            f"{', '.join(names)} (or their numbers 0 to {len(names) - 1})"
        ) from None


def run(args) -> int:
    if args.perceptron is not None:
        return write_trace(perceptron_trace(args), args)
    if args.verify is not None or args.verify_eps is not None:
        return write_trace(verification_trace(args), args)
    if args.epochs is not None:
        raise CliError("--epochs goes with --perceptron")
    if args.features is not None:
        raise CliError("--features goes with --perceptron FILE")
    record = None
    if args.model is not None:
        from .tabular import load_model as load_with_record

        net, record, _ = load_with_record(args.model)
        if args.input is None and record is not None and not record.plain:
            raise CliError(
                f"--input is required with --model: one value per column it reads, "
                f"comma-separated ({', '.join(record.names[:8])}); empty for a "
                "missing cell"
            )
        if args.input is None:
            raise CliError(
                f"--input is required with --model: {net.in_features} number(s), "
                'comma-separated, like "' + ",".join(["0.5"] * net.in_features) + '"'
            )
        y = None
    else:
        net, X, y = seed003_example()
    if record is not None and (not record.plain or _empty_cell(args.input, record)):
        # raw cells: text, empty cells (filled as in training)
        X = parse_cells(args.input, record)
        n_samples = len(X[record.names[0]])
    else:
        X = parse_matrix(args.input, "--input") if args.input is not None else X
        n_samples = X.shape[0]
    if not isinstance(X, dict) and X.shape[1] != net.in_features:
        raise CliError(
            f"--input has {X.shape[1]} number(s) per sample but the network takes "
            f"{net.in_features}"
        )
    if args.target is not None:
        Y = parse_target(args.target, record)
        y = Y[:, 0] if Y.shape[1] == 1 else Y
        if len(y) != n_samples:
            raise CliError(
                f"--target has {len(y)} sample(s) but --input has {n_samples}"
            )
    elif args.model is None and args.input is not None and X.shape[0] != 1:
        raise CliError("--target is required for a batch of several inputs")
    if args.lr is not None and y is None:
        raise CliError("--lr needs --target: the update follows the loss's gradient")
    clip = None if args.clip is None else parse_clip(args.clip)
    optimizer = optimizer_from_args(args)
    if optimizer is not None and y is None:
        raise CliError(
            "--optimizer needs --target: its steps follow the loss's gradient"
        )
    trace = explain(
        net,
        X,
        y,
        loss=args.loss,
        lr=None if optimizer is not None else args.lr,
        attack=args.attack,
        eps=None if optimizer is not None else args.eps,
        clip=clip,
        preprocessing=record,
        optimizer=optimizer,
        steps=args.steps,
    )
    return write_trace(trace, args)


# The optimizer's own options: (option, type, help); None for a flag.
OPTIMIZER_OPTIONS = (
    ("--momentum", float, "momentum μ (sgd, rmsprop)"),
    ("--nesterov", None, "Nesterov momentum (sgd)"),
    ("--beta1", float, "β1, the first moment's decay (adam, adamw)"),
    ("--beta2", float, "β2, the second moment's decay (adam, adamw)"),
    ("--alpha", float, "α, the mean square's decay (rmsprop)"),
    ("--weight-decay", float, "weight decay λ (L2 penalty; decoupled in adamw)"),
    ("--amsgrad", None, "divide by the largest second moment so far (adam, adamw)"),
    (
        "--centered",
        None,
        "divide by the gradient's variance, not its mean square (rmsprop)",
    ),
    (
        "--clip-norm",
        float,
        "scale the gradient down to this global norm before each "
        "step (every optimizer)",
    ),
)


def add_optimizer_arguments(parser) -> None:
    """--optimizer, --steps and the optimizer's own options."""
    parser.add_argument(
        "--optimizer",
        metavar="NAME",
        type=str.lower,
        choices=("sgd", "adam", "adamw", "rmsprop"),
        help="show optimizer steps instead of the plain one: sgd, adam, adamw or "
        "rmsprop, with --lr, --steps and its own options (--momentum, --nesterov, "
        "--beta1, --beta2, --eps, --alpha, --weight-decay, --amsgrad, --centered, "
        "--clip-norm)",
    )
    parser.add_argument(
        "--steps",
        type=int,
        metavar="K",
        help="with --optimizer: the full-batch steps shown (default 1)",
    )
    for option, kind, text in OPTIMIZER_OPTIONS:
        if kind is None:
            parser.add_argument(option, action="store_true", default=None, help=text)
        else:
            parser.add_argument(option, type=kind, help=text)


def optimizer_from_args(args):
    """The optimizer --optimizer names, built with --lr and its own options."""
    given = {
        option.lstrip("-").replace("-", "_"): getattr(
            args, option.lstrip("-").replace("-", "_")
        )
        for option, _, _ in OPTIMIZER_OPTIONS
    }
    given = {name: value for name, value in given.items() if value is not None}
    if args.optimizer is None:
        unused = [f"--{n.replace('_', '-')}" for n in given]
        if args.steps is not None:
            unused.append("--steps")
        if unused:
            raise CliError(f"{', '.join(unused)}: only used with --optimizer")
        return None
    if args.attack is not None:
        raise CliError("--optimizer and --attack: explain shows one or the other")
    if args.eps is not None:
        given["eps"] = args.eps
    if args.lr is not None:
        given["lr"] = args.lr
    import inspect

    from ..optim import OPTIMIZERS, get_optimizer

    cls = OPTIMIZERS.get(args.optimizer.lower())
    if cls is not None:
        takes = set(inspect.signature(cls).parameters)
        foreign = [f"--{n.replace('_', '-')}" for n in given if n not in takes]
        if foreign:
            raise CliError(
                f"{', '.join(foreign)}: not an option of {cls.name} (it takes "
                f"{', '.join(sorted(takes))})"
            )
    try:
        return get_optimizer(args.optimizer, **given)
    except (TypeError, ValueError) as error:
        raise CliError(f"--optimizer {args.optimizer}: {error}") from None


def verification_trace(args):
    """The trace of ``gn.explain_verification`` for --verify or --verify-eps."""
    from ..explaining.verification import explain_verification
    from ..verification import verify_robust
    from ..verification.vnnlib import read_vnnlib

    if args.verify is not None and args.verify_eps is not None:
        raise CliError("give either --verify PROP.vnnlib or --verify-eps E, not both")
    if args.model is None:
        raise CliError("--verify and --verify-eps need --model FILE")
    for option, value in (
        ("--target", args.target),
        ("--lr", args.lr),
        ("--attack", args.attack),
        ("--optimizer", args.optimizer),
    ):
        if value is not None:
            raise CliError(f"{option} does not go with --verify or --verify-eps")
    from .tabular import load_model as load_with_record

    net, _, _ = load_with_record(args.model)
    if args.verify is not None:
        if args.input is not None:
            raise CliError(
                "--input goes with --verify-eps; the VNNLIB file has the box"
            )
        prop = read_vnnlib(
            args.verify, n_inputs=net.in_features, n_outputs=net.out_features
        )
    else:
        if args.input is None:
            raise CliError("--verify-eps needs --input, the centre of the ball")
        X = parse_matrix(args.input, "--input")
        if X.shape != (1, net.in_features):
            raise CliError(
                f"--input must be one sample of {net.in_features} number(s), got "
                f"{X.shape[0]} sample(s) of {X.shape[1]}"
            )
        clip = None if args.clip is None else parse_clip(args.clip)
        prop = verify_robust(net, X[0], args.verify_eps, clip=clip).property
    return explain_verification(net, prop)


def perceptron_trace(args):
    """The perceptron rule on the gate ``--perceptron`` names, or on a data file."""
    source = args.perceptron
    is_gate = source.upper() in GATES
    given = [
        option
        for option, value in (
            ("--model", args.model),
            ("--input", args.input),
            ("--target", args.target if is_gate else None),
            ("--features", args.features if is_gate else None),
            ("--loss", args.loss),
            ("--attack", args.attack),
            ("--optimizer", args.optimizer),
            ("--steps", args.steps),
            ("--verify", args.verify),
            ("--verify-eps", args.verify_eps),
        )
        if value is not None
    ]
    if given:
        what = "a logic gate" if is_gate else "the data file with --target"
        raise CliError(f"{', '.join(given)}: not used with --perceptron ({what})")
    note = None
    if is_gate:
        X, y = gate(source)
    elif os.path.splitext(source)[1] or os.path.exists(source):
        features = None if args.features is None else args.features.split(",")
        X, y, note = perceptron_table(source, args.target, features)
    else:
        raise CliError(
            f"--perceptron: gate must be one of AND, OR, NAND, XOR, or a data file "
            f"(CSV, Parquet) with --target COLUMN; got {source!r}"
        )
    trace = explain_perceptron(
        X,
        y,
        lr=1.0 if args.lr is None else args.lr,
        epochs=100 if args.epochs is None else args.epochs,
    )
    if note is not None:
        trace.notes.insert(0, note)
    return trace


def perceptron_table(path: str, target: str | None, features=None):
    """(X, y, note) from a data file: numeric feature columns, a two-class target
    mapped to 0 and 1 (classes sorted, as glassnet train orders them), and a note
    stating the file, the features and the mapping."""
    from ..data.tabular import (
        DataError,
        check_rows,
        encode_labels,
        fit_classes,
        read_table,
        select,
    )

    if target is None:
        raise CliError(
            f"--perceptron {path} needs --target COLUMN: the column of two classes "
            "to learn"
        )
    table = read_table(path)
    check_rows(table, 1, "the perceptron rule")
    X, y_raw, features = select(table, target, features)
    classes = fit_classes(y_raw)
    if len(classes) != 2:
        shown = ", ".join(repr(c) for c in classes[:6])
        more = ", ..." if len(classes) > 6 else ""
        raise DataError(
            f"{path}: target column {target!r} holds {len(classes)} distinct "
            f"value{'s' * (len(classes) != 1)} ({shown}{more}); the perceptron "
            "separates exactly two classes (learned as 0 and 1): choose a column "
            "with two values, or train a network (glassnet train) for more classes"
        )
    y = encode_labels(y_raw, classes, f"{path} column {target!r}").astype(np.float64)
    note = (
        f"Data: {path}, {table.n_rows} row{'s' * (table.n_rows != 1)}; "
        f"x = ({', '.join(features)}); target {target!r}: {classes[0]!r} → 0, "
        f"{classes[1]!r} → 1 (the two classes sorted, as glassnet train orders them)."
    )
    return X, y, note


def write_trace(trace, args) -> int:
    """Render ``trace`` as --format asks and write it to --out or stdout."""
    fmt = args.format or _format_from_path(args.out)
    for option, value in (("--max-rows", args.max_rows), ("--max-cols", args.max_cols)):
        if value < 1:
            raise CliError(f"{option} must be at least 1, got {value}")
    shown = {
        "precision": args.precision,
        "max_rows": args.max_rows,
        "max_cols": args.max_cols,
        "summaries": args.summaries,
    }
    if fmt == "text":
        document = trace.to_text(**shown)
        if _is_seed_walk(args):
            document += seed_footer("text")
    elif fmt == "markdown":
        document = trace.to_markdown(**shown)
        if _is_seed_walk(args):
            document += seed_footer("markdown")
    elif fmt == "html":
        document = trace.to_html(**shown)
        if _is_seed_walk(args):
            end = document.rindex("<footer>")
            document = document[:end] + seed_footer("html") + document[end:]
    else:
        document = trace.to_json()
    if args.out is None:
        sys.stdout.write(document)
        return 0
    from ..io.atomic import atomic_write

    atomic_write(args.out, document.encode("utf-8"))
    print(f"wrote the {fmt} walk of {trace.title} to {args.out}")
    return 0


def _is_seed_walk(args) -> bool:
    return (
        args.model is None
        and args.perceptron is None
        and args.input is None
        and args.target is None
        and (args.loss in (None, "binary_crossentropy", "bce"))
    )


def _format_from_path(path: str | None) -> str:
    if path is None:
        return "text"
    return _BY_EXTENSION.get(os.path.splitext(path)[1].lower(), "text")
