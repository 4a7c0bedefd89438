"""``glassnet verify``: prove a property of a model, or find the input that breaks it.

    glassnet verify MODEL PROP.vnnlib [--timeout S] [--out RESULT]
    glassnet verify MODEL --input X --eps E [--label C] [--clip LO,HI]
    ... [--save-property FILE.vnnlib]   the property checked, for another verifier

MODEL is a glassnet model file (``gn.save``; a stored standardisation is folded into
the first layer, so the property speaks of the raw features) or an ONNX file
(``gn.from_onnx``). A counterexample found on an ONNX model is run again in
onnxruntime (when installed) before it is reported, and the output written is
onnxruntime's.

The result file is the competition's: its first line ``unsat`` (the property holds),
``sat`` (violated; then the counterexample ``((X_0 v) ... (Y_0 v))``, every number as
Python's repr, which reads back to the same double), ``unknown`` or ``timeout``.

Exit codes: 0 holds, 10 violated, 20 unknown or timeout, 1 bad input (one line), 2
usage. The answers get codes of their own, apart from 1 and 2, so that a script can
tell "the network is not robust here" from "the command could not run".
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from ..errors import InputError
from ..io.atomic import atomic_write
from ..verification.verify import METHODS
from ..verification.vnnlib import read_vnnlib, write_vnnlib
from . import CliError

#: Exit codes of the answers (1 and 2 are the CLI's errors and usage errors).
EXIT_HOLDS = 0
EXIT_VIOLATED = 10
EXIT_UNKNOWN = 20

#: The competition's tolerance when it re-runs a counterexample in onnxruntime.
ORT_ATOL, ORT_RTOL = 1e-4, 1e-3

_RESULT_WORD = {"holds": "unsat", "violated": "sat", "unknown": "unknown",
                "timeout": "timeout"}  # fmt: skip
_EXIT = {"holds": EXIT_HOLDS, "violated": EXIT_VIOLATED, "unknown": EXIT_UNKNOWN,
         "timeout": EXIT_UNKNOWN}  # fmt: skip


def _clip(text: str) -> tuple[float, float]:
    try:
        values = [float(part) for part in text.split(",")]
    except ValueError:
        values = []
    if len(values) != 2 or not values[0] <= values[1]:
        raise argparse.ArgumentTypeError(
            f"expected LO,HI (two numbers, LO <= HI), got {text!r}"
        )
    return values[0], values[1]


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "verify",
        help="prove that no input in a region breaks a model, or find one that does",
        description=(
            "Checks a property of a model over a whole input region: either it holds\n"
            "for every input (a proof), or an input that violates it is found and\n"
            "checked by a plain forward pass. The property is a VNNLIB file (the\n"
            "verification competition's format) or, with --input and --eps, the\n"
            "L-infinity ball of radius eps around one input: the prediction must\n"
            "stay --label (default: the model's prediction at the input).\n\n"
            "MODEL: a glassnet model file or an .onnx file. The result file (--out)\n"
            "starts with unsat (holds), sat (violated, then the counterexample as\n"
            "((X_0 v) ... (Y_0 v))), unknown or timeout.\n\n"
            "exit codes: 0 holds, 10 violated, 20 unknown or timeout,\n"
            "1 bad input, 2 usage error."
        ),
        epilog="example: glassnet verify acas.onnx prop_1.vnnlib --timeout 116 "
        "--out result.txt",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("model", metavar="MODEL", help="a glassnet model or .onnx file")
    parser.add_argument(
        "property", metavar="PROP", nargs="?", help="a VNNLIB property file"
    )
    parser.add_argument(
        "--input",
        metavar="X",
        help="the centre of an L-infinity ball: comma-separated numbers, or a .npy "
        "or text file of them (with --eps)",
    )
    parser.add_argument("--eps", type=float, help="the ball's radius (with --input)")
    parser.add_argument(
        "--label", type=int, help="the class that must stay the prediction"
    )
    parser.add_argument(
        "--clip", type=_clip, metavar="LO,HI", help="cut the ball to LO <= x <= HI"
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=60.0,
        metavar="S",
        help="seconds before giving up with 'timeout' (default 60)",
    )
    parser.add_argument(
        "--method",
        default="auto",
        choices=METHODS,
        help="the verification method: auto (falsify, then bounds cheapest first, "
        "then input or ReLU splitting), interval, linear (CROWN), alpha "
        "(α-CROWN), input_split, relu_split, bab (default auto)",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the falsifiers")
    parser.add_argument(
        "--workers",
        type=int,
        default=None,
        metavar="N",
        help="processes for ReLU-split branch and bound (default: automatic)",
    )
    parser.add_argument("--out", metavar="RESULT", help="write the result file here")
    parser.add_argument(
        "--save-property",
        metavar="FILE",
        help="also write the property checked as a VNNLIB file (with --input/--eps: "
        "the ball and the classes that must not win), to put the same question to "
        "another verifier",
    )
    parser.set_defaults(run=run)


def run(args) -> int:
    ball = args.input is not None or args.eps is not None
    if ball and args.property is not None:
        raise CliError("give either a VNNLIB file or --input with --eps, not both")
    if not ball and args.property is None:
        raise CliError("give a VNNLIB property file, or --input X with --eps E")
    if ball and (args.input is None or args.eps is None):
        raise CliError("--input and --eps go together")
    if not args.timeout > 0:
        raise CliError(f"--timeout must be > 0 seconds, got {args.timeout}")
    net, onnx_path = _model(Path(args.model))
    if ball:
        x = _vector(args.input, net.in_features)
    else:
        prop = read_vnnlib(
            args.property, n_inputs=net.in_features, n_outputs=net.out_features
        )
        _check_softmax_property(net, prop)
    try:
        from ..verification.verify import verify, verify_robust
    except ImportError as error:  # scipy, the verify extra
        raise CliError(f"{error}; install the verify extra") from None

    start = time.perf_counter()
    if ball:
        result = verify_robust(
            net, x, args.eps, label=args.label, clip=args.clip,
            timeout=args.timeout, method=args.method, seed=args.seed,
            workers=args.workers,
        )  # fmt: skip
    else:
        result = verify(
            net, prop, timeout=args.timeout, method=args.method, seed=args.seed,
            workers=args.workers,
        )  # fmt: skip
    elapsed = time.perf_counter() - start

    prop = result.property  # for --input/--eps: the ball and the label's sets
    status = str(result.status)
    counterexample = getattr(result, "counterexample", None)
    note = None
    if status == "violated" and onnx_path is not None:
        status, counterexample, note = _recheck_in_onnxruntime(
            onnx_path, net, counterexample, prop
        )
    elif status == "violated":
        status, counterexample, note = _recheck_in_glassnet(net, counterexample, prop)
    _print_summary(result, status, counterexample, elapsed, note)
    if args.out:
        atomic_write(args.out, result_text(status, counterexample).encode())
        print(f"wrote {args.out}")
    if args.save_property:
        write_vnnlib(prop, args.save_property)
        print(f"wrote {args.save_property}")
    return _EXIT.get(status, EXIT_UNKNOWN)


def result_text(status: str, counterexample=None) -> str:
    """The competition's result file: unsat/sat/unknown/timeout, and for sat the
    counterexample ((X_0 v) ... (Y_0 v)) with every number as its repr.

    >>> print(result_text("violated", ([0.5, -1.0], [0.25])), end="")
    sat
    ((X_0 0.5)
     (X_1 -1.0)
     (Y_0 0.25))
    >>> result_text("holds")
    'unsat\\n'
    """
    word = _RESULT_WORD.get(status, "unknown")
    if word != "sat":
        return word + "\n"
    x, y = (np.asarray(v, dtype=np.float64).ravel() for v in counterexample)
    pairs = [f"(X_{i} {float(v)!r})" for i, v in enumerate(x)]
    pairs += [f"(Y_{j} {float(v)!r})" for j, v in enumerate(y)]
    return "sat\n(" + "\n ".join(pairs) + ")\n"


def _model(path: Path):
    """(net, path of the ONNX file or None)."""
    if path.suffix.lower() == ".onnx":
        from ..interop.onnx_import import from_onnx

        if not path.is_file():
            raise CliError(f"no such model file: {path}")
        try:
            return from_onnx(path), path
        except ImportError as error:
            raise CliError(str(error)) from None
    from .tabular import fold_standardization, load_model

    net, record, _ = load_model(path)
    if record is not None:  # the property speaks of the raw features
        net = fold_standardization(net, record)
    return net, None


def _vector(text: str, n: int) -> np.ndarray:
    path = Path(text)
    try:
        if path.suffix == ".npy" and path.is_file():
            x = np.load(path, allow_pickle=False)
        elif path.is_file():
            x = np.loadtxt(path, delimiter=None if "," not in path.read_text() else ",")
        else:
            x = np.array([float(part) for part in text.split(",")])
    except ValueError as error:
        raise CliError(
            f"--input {text!r}: expected comma-separated numbers or a .npy or text "
            f"file of them ({error})"
        ) from None
    x = np.asarray(x, dtype=np.float64).ravel()
    if x.size != n:
        raise CliError(f"--input has {x.size} numbers, the model takes {n}")
    if not np.all(np.isfinite(x)):
        raise CliError("--input must be finite numbers")
    return x


def _check_softmax_property(net, prop) -> None:
    """A model ending in softmax is verified on its logits z (the engine drops the
    softmax), which answers the same question only for comparisons y_i <= y_j:
    softmax keeps the order of the entries, not their values."""
    activations = [layer.output_activation for layer in net.layers]
    last = [a for a in activations if a is not None][-1:]
    if not last or last[0].name != "softmax":
        return
    from ..verification.verify import check_softmax_property

    try:
        check_softmax_property(prop)
    except InputError as error:
        raise CliError(str(error)) from None


def _recheck_in_glassnet(net, counterexample, prop):
    """The model's own output at x, in its dtype (the probabilities after a final
    softmax, not the logits the engine bounds), must lie in an unsafe set."""
    x = np.asarray(counterexample[0], dtype=np.float64).ravel()
    y = net.predict(x[None, :].astype(net.dtype)).astype(np.float64).ravel()
    if not prop.violated_by(y[None, :])[0]:
        return (
            "unknown",
            None,
            "the counterexample found did not violate the property in the model's "
            "own forward pass",
        )
    return "violated", (x, y), None


def _recheck_in_onnxruntime(path: Path, net, counterexample, prop):
    """Run the counterexample through onnxruntime, as the competition does: its
    output must match glassnet's (atol 1e-4, rtol 1e-3) and lie in an unsafe set."""
    try:
        import onnxruntime
    except ImportError:
        return "violated", counterexample, "not re-run in onnxruntime (not installed)"
    x = np.asarray(counterexample[0], dtype=np.float64).ravel()
    # the model's own output (after a final softmax, not the logits the engine bounds)
    y = net.predict(x[None, :].astype(net.dtype)).astype(np.float64).ravel()
    session = onnxruntime.InferenceSession(
        str(path), providers=["CPUExecutionProvider"]
    )
    feed = session.get_inputs()[0]
    shape = [d if isinstance(d, int) and d > 0 else 1 for d in feed.shape]
    (y_ort,) = session.run(None, {feed.name: x.astype(net.dtype).reshape(shape)})
    y_ort = np.asarray(y_ort, dtype=np.float64).ravel()
    agrees = np.allclose(y_ort, y, atol=ORT_ATOL, rtol=ORT_RTOL)
    if not agrees or not prop.violated_by(y_ort[None, :])[0]:
        return (
            "unknown",
            None,
            "the counterexample found did not violate the property when re-run "
            "in onnxruntime",
        )
    return "violated", (x, y_ort), "re-checked in onnxruntime"


def _print_summary(result, status, counterexample, elapsed, note):
    word = _RESULT_WORD.get(status, "unknown")
    print(
        f"status: {status} ({word})   method: {result.method}   time: {elapsed:.2f} s"
    )
    if result.bounds is not None and status != "violated":
        # per unsafe set, a certified lower bound of max_i (C y - d)_i: > 0 excludes it
        bounds = np.array2string(np.asarray(result.bounds), precision=6, threshold=10)
        print(f"margin bounds (> 0 proves each unsafe set empty): {bounds}")
    if status == "holds" and result.proof is not None:
        print(f"proof: {len(result.proof.leaves)} box(es) closed")
    if status in ("unknown", "timeout") and result.reason:
        print(f"reason: {result.reason}")
    if status == "violated" and counterexample is not None:
        x, y = (np.asarray(v, dtype=np.float64).ravel() for v in counterexample)
        print(f"counterexample x: {np.array2string(x, precision=6, threshold=20)}")
        print(f"output y:         {np.array2string(y, precision=6, threshold=20)}")
    if note:
        print(note, file=sys.stderr if status == "unknown" else sys.stdout)
