"""``glassnet export MODEL --format onnx``: a saved model as an ONNX file.

PyTorch interchange is a Python API (``gn.to_torch`` / ``gn.from_torch``), not a file
format here: torch's own files are pickles, which run code when loaded.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from ..interop.onnx_export import DEFAULT_OPSET, INPUT_NAME, OUTPUT_NAME, export_onnx
from ..interop.onnx_preprocessing import numeric_only, raw_inputs
from . import CliError
from .tabular import load_model

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
            "A model trained by glassnet train keeps its preprocessing record,\n"
            "and the graph applies it, so it takes the raw columns: one input per\n"
            "column, named by it, shape (batch, 1): numbers as double (NaN where\n"
            "missing), text as string ('' where missing), booleans as bool and\n"
            "integer categories as int64 (double with NaN when training had\n"
            "missing cells). The graph fills missing cells, standardises, one-hot\n"
            "encodes (unknown categories: zeros) or indexes embedded columns, as\n"
            "glassnet predict does. The metadata_props 'glassnet.preprocessing',\n"
            "'glassnet.features' and 'glassnet.classes' hold the record, the\n"
            "network's inputs and the class labels. Older model files (record\n"
            "version 1, numeric features) keep the single input: Sub(input, mean)\n"
            "and Div(., scale) on the raw features in the training order.\n\n"
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
    model_path = Path(args.model)
    out = Path(args.out) if args.out else model_path.with_suffix(".onnx")
    if out.resolve() == model_path.resolve():
        raise CliError(
            f"--out {out} is the model file itself; choose another name "
            "(e.g. model.onnx)"
        )
    net, record, _ = load_model(model_path)
    props = None
    raw_columns = (
        record is not None
        and getattr(record, "version", 1) != 1
        and not numeric_only(record.to_metadata())
    )
    if record is not None:
        props = {
            "glassnet.features": json.dumps(record.features),
            "glassnet.task": record.task,
        }
        if record.classes is not None:
            props["glassnet.classes"] = json.dumps(record.classes)
    try:
        model = export_onnx(
            net, out, opset=args.opset, preprocessing=record, metadata_props=props
        )
    except ImportError as error:
        raise CliError(str(error)) from None
    inputs = (
        f"{len(model.graph.input)} raw columns (batch, 1)"
        if raw_columns
        else f"input '{INPUT_NAME}' (batch, {net.in_features})"
    )
    print(
        f"wrote {out}: {inputs} -> output "
        f"'{OUTPUT_NAME}' (batch, {net.out_features}), {net.dtype.name}, "
        f"opset {model.opset_import[0].version}, {len(model.graph.node)} nodes"
    )
    if raw_columns:
        for raw in raw_inputs(record.to_metadata()):
            print(f"  input {raw.name!r}: {raw.kind}, {raw.description}")
        print(
            "  the graph fills missing cells, standardises and encodes categories as "
            "glassnet does (unknown categories: no warning in the graph)"
        )
    elif record is not None:
        print(
            f"  the input is the raw features ({', '.join(record.features[:8])}"
            f"{', ...' if len(record.features) > 8 else ''}): the stored "
            "standardisation (x - mean) / scale is in the graph (Sub, Div)"
        )
        if getattr(record, "version", 1) != 1:
            print(
                "  a missing cell (NaN) is filled with the training rows' median "
                "before, as glassnet does (IsNaN, Where)"
            )
    if args.check and raw_columns:
        difference = _check_raw_columns(net, out, record)
        print(
            f"onnxruntime check: largest |difference| from glassnet on 64 random rows "
            f"of raw columns (5% missing, some unknown categories) = {difference:.2e}"
        )
    elif args.check:
        difference = _check_with_onnxruntime(net, out, record)
        print(
            f"onnxruntime check: largest |difference| from glassnet on 64 random rows "
            f"= {difference:.2e}"
        )
    return 0


def _check_with_onnxruntime(net, path: Path, record=None) -> float:
    try:
        import onnxruntime
    except ImportError:
        raise CliError(
            "--check needs onnxruntime: pip install 'glassnet[onnx]'"
        ) from None
    X = np.random.default_rng(0).normal(size=(64, net.in_features))
    if record is not None:  # raw rows around the training data: x = mean + scale u
        X = record.mean + record.scale * X
    X = X.astype(net.dtype)
    session = onnxruntime.InferenceSession(
        str(path), providers=["CPUExecutionProvider"]
    )
    (output,) = session.run(None, {INPUT_NAME: X})
    if record is not None:
        X, _ = record.transform(X)
    expected = net.predict(X)
    return float(np.abs(output - expected).max())


def _check_raw_columns(net, path: Path, record) -> float:
    """onnxruntime on random raw columns against glassnet's transform and predict."""
    try:
        import onnxruntime
    except ImportError:
        raise CliError(
            "--check needs onnxruntime: pip install 'glassnet[onnx]'"
        ) from None
    from ..interop.onnx_preprocessing import example_columns, feeds

    columns = example_columns(record.to_metadata(), 64, seed=0)
    session = onnxruntime.InferenceSession(
        str(path), providers=["CPUExecutionProvider"]
    )
    (output,) = session.run(None, feeds(record.to_metadata(), columns))
    X, _ = record.transform(columns)
    return float(np.abs(output - net.predict(X)).max())
