"""``glassnet export MODEL --format onnx``: a saved model as an ONNX file.

PyTorch interchange is a Python API (``gn.to_torch`` / ``gn.from_torch``), not a file
format here: torch's own files are pickles, which run code when loaded.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from ..interop.onnx_export import DEFAULT_OPSET, INPUT_NAME, OUTPUT_NAME, export_onnx
from . import CliError

FORMATS = ("onnx",)


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "export",
        help="export a saved model to ONNX",
        description=(
            "Loads a model saved with gn.save and writes it as an ONNX model of\n"
            f"standard operators: input '{INPUT_NAME}' of shape (batch, in_features),\n"
            f"output '{OUTPUT_NAME}' of shape (batch, out_features), batch dynamic,\n"
            "float32 or float64 as the model. Needs the onnx extra:\n"
            "pip install 'glassnet[onnx]'.\n\n"
            "PyTorch: there is no torch file export, because torch's files are\n"
            "pickles (loading one runs code). Use the Python API instead:\n"
            "gn.to_torch(net) gives an nn.Sequential with the same weights and\n"
            "gn.from_torch(module) the reverse."
        ),
        epilog="example: glassnet export model.safetensors --format onnx "
        "--out model.onnx --check",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("model", metavar="MODEL", help="a model file saved by gn.save")
    parser.add_argument(
        "--format",
        choices=FORMATS,
        default="onnx",
        help="output format (default onnx; the only file format, see above)",
    )
    parser.add_argument(
        "--out",
        metavar="FILE",
        help="where to write (default: MODEL with the suffix .onnx)",
    )
    parser.add_argument(
        "--opset",
        type=int,
        default=None,
        help=f"ONNX opset version, 13 or newer (default {DEFAULT_OPSET})",
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help="run the written file in onnxruntime on 64 random rows and report the "
        "largest difference from glassnet's own output",
    )
    parser.set_defaults(run=run)


def run(args) -> int:
    from ..io import load  # the model-file reader, only when a command needs it

    model_path = Path(args.model)
    out = Path(args.out) if args.out else model_path.with_suffix(".onnx")
    if out.resolve() == model_path.resolve():
        raise CliError(
            f"--out {out} is the model file itself; choose another name "
            "(e.g. model.onnx)"
        )
    try:
        net = load(model_path)
    except FileNotFoundError:
        raise CliError(f"no such model file: {model_path}") from None
    except IsADirectoryError:
        raise CliError(f"{model_path} is a folder, not a model file") from None
    try:
        model = export_onnx(net, out, opset=args.opset)
    except ImportError as error:
        raise CliError(str(error)) from None
    print(
        f"wrote {out}: input '{INPUT_NAME}' (batch, {net.in_features}) -> output "
        f"'{OUTPUT_NAME}' (batch, {net.out_features}), {net.dtype.name}, "
        f"opset {model.opset_import[0].version}, {len(model.graph.node)} nodes"
    )
    if args.check:
        difference = _check_with_onnxruntime(net, out)
        print(
            f"onnxruntime check: largest |difference| from glassnet on 64 random rows "
            f"= {difference:.2e}"
        )
    return 0


def _check_with_onnxruntime(net, path: Path) -> float:
    try:
        import onnxruntime
    except ImportError:
        raise CliError(
            "--check needs onnxruntime: pip install 'glassnet[onnx]'"
        ) from None
    X = np.random.default_rng(0).normal(size=(64, net.in_features)).astype(net.dtype)
    session = onnxruntime.InferenceSession(
        str(path), providers=["CPUExecutionProvider"]
    )
    (output,) = session.run(None, {INPUT_NAME: X})
    return float(np.abs(output - net.forward(X)).max())
