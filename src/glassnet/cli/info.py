"""``glassnet info FILE``: what a model or checkpoint file holds."""

from __future__ import annotations

import argparse

from ..io import describe
from . import CliError


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
        print(describe(args.file))
    except FileNotFoundError:
        raise CliError(f"no such file: {args.file}") from None
    except IsADirectoryError:
        raise CliError(f"{args.file} is a folder, not a model file") from None
    return 0
