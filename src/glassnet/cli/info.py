"""``glassnet info FILE``: what a model or checkpoint file holds."""

from __future__ import annotations

import argparse
import json

from ..io import describe, load
from . import CliError
from .tabular import DataError, Preprocessing
from .train_options import describe_settings, result_label


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "info",
        help="show the architecture, parameters and training position of a model file",
        description="Validates a glassnet model or checkpoint file (nothing in it is "
        "executed) and prints its architecture, parameter count, format and library "
        "versions, any saved metadata, and for a checkpoint the epoch, step and "
        "optimizer.",
        epilog="example: glassnet info model.safetensors",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("file", help="a .safetensors file written by glassnet")
    parser.set_defaults(run=run)


def run(args) -> int:
    try:
        text = describe(args.file)
    except FileNotFoundError:
        raise CliError(f"no such file: {args.file}") from None
    except IsADirectoryError:
        raise CliError(f"{args.file} is a folder, not a model file") from None
    print(printable(with_data_record(text, args.file)))
    return 0


def printable(text: str) -> str:
    """``text`` with every control character but the line break written as a
    Python escape (``\\x1b``), so that names from a file cannot move the cursor,
    recolour or clear the terminal.

    >>> printable("a\\x1b[2Jb\\nc")
    'a\\\\x1b[2Jb\\nc'
    """
    return "".join(
        c if c == "\n" or not (ord(c) < 32 or 127 <= ord(c) < 160) else repr(c)[1:-1]
        for c in text
    )


#: Metadata written by glassnet train, shown as a readable section.
_TRAIN_KEYS = ("preprocessing", "train", "result", "test_split")


def with_data_record(text: str, path) -> str:
    """``describe``'s text with the preprocessing record, run settings and result of
    a model trained by glassnet train shown as a section of their own (in place of
    their JSON on the "Metadata:" line)."""
    net, metadata = load(path, allow_nonfinite=True, return_metadata=True)
    if not any(key in metadata for key in _TRAIN_KEYS):
        return text
    try:
        record = Preprocessing.from_metadata(metadata, net)
    except DataError as error:
        section = [f"Preprocessing: {error}"]
    else:
        section = _record_lines(record) if record is not None else []
    settings = metadata.get("train")
    if isinstance(settings, dict):
        section.append("Training run: " + _settings_line(settings))
        options = describe_settings(settings)  # early stopping, l2, dropout, ...
        if options:
            section.append("Regularisation: " + options)
    result = metadata.get("result")
    if isinstance(result, dict) and result:
        shown = "  ".join(
            f"{k} {v:.4f}" if isinstance(v, float) else f"{k} {v}"
            for k, v in result.items()
        )
        section.append(f"{result_label(metadata)}: {shown}")
    section += _test_split_lines(metadata.get("test_split"))
    rest = {k: v for k, v in metadata.items() if k not in _TRAIN_KEYS}
    if rest:
        section.append(f"Metadata: {json.dumps(rest, sort_keys=True)}")
    lines = text.splitlines()
    at = next(
        (i for i, line in enumerate(lines) if line.startswith("Metadata: ")),
        len(lines),
    )
    return "\n".join(lines[:at] + section + lines[at + 1 :])


def _test_split_lines(split) -> list[str]:
    """The rows glassnet train --test-split held out, and their scores."""
    if not isinstance(split, dict):
        return []
    line = (
        f"Test split: {split.get('n_test')} of {split.get('n_rows')} rows held out "
        f"(fraction {split.get('fraction')}, seed {split.get('seed')}; glassnet "
        "evaluate MODEL DATA --rows test scores them again)"
    )
    result = split.get("result")
    if isinstance(result, dict) and result:
        line += ": " + "  ".join(
            f"{k} {v:.4f}" if isinstance(v, float) else f"{k} {v}"
            for k, v in result.items()
        )
    return [line]


def _record_lines(record) -> list[str]:
    lines = ["Preprocessing (applied by glassnet predict, evaluate, attack, export):"]
    if record.task == "classification":
        shown = ", ".join(repr(c) for c in record.classes[:20])
        more = (
            f", ... ({len(record.classes)} in all)" if len(record.classes) > 20 else ""
        )
        lines.append(
            f"  task: classification of {record.target!r}, "
            f"{len(record.classes)} classes: {shown}{more}"
        )
    else:
        lines.append(f"  task: regression of {record.target!r}")
    plain = all(c.kind == "numeric" and not c.indicator for c in record.columns)
    if not plain:  # categories or filled cells: one line per column
        lines.append(
            f"  columns ({len(record.columns)}), read by name and fitted on "
            f"{record.n_train} training rows; the network takes {record.n_inputs} "
            "inputs:"
        )
        lines += [f"    {line}" for line in record.describe()[:_SHOWN]]
        if len(record.columns) > _SHOWN:
            lines.append(f"    ... {len(record.columns) - _SHOWN} more")
        return lines
    lines.append(
        f"  features ({len(record.features)}), standardised z = (x - mean) / scale "
        f"with the statistics of {record.n_train} training rows:"
    )
    width = max(7, *(len(f) for f in record.features[:_SHOWN]))
    lines.append(f"    {'feature'.ljust(width)}  {'mean':>12}  {'scale':>12}")
    for name, mean, scale in list(
        zip(record.features, record.mean, record.scale, strict=True)
    )[:_SHOWN]:
        lines.append(f"    {name.ljust(width)}  {mean:12.6g}  {scale:12.6g}")
    if len(record.features) > _SHOWN:
        lines.append(f"    ... {len(record.features) - _SHOWN} more")
    return lines


_SHOWN = 20


def _settings_line(settings: dict) -> str:
    source = settings.get("data") or f"--dataset {settings.get('dataset')}"
    hidden = settings.get("hidden")
    hidden = ",".join(map(str, hidden)) if hidden else "none"
    activation = ",".join(settings.get("activation") or [])
    lr = settings.get("lr")
    return (
        f"data {source}, hidden {hidden} ({activation}), {settings.get('optimizer')}"
        f"{'' if lr is None else f' lr {lr:g}'}, {settings.get('epochs')} epochs, "
        f"batch {settings.get('batch_size')}, val split {settings.get('val_split')}, "
        f"seed {settings.get('seed')}"
    )
