"""The ``glassnet`` command: a thin layer over the library.

Each subcommand is a module in this package with ``add_parser(subparsers)`` and
``run(args) -> int``; ``COMMANDS`` lists them. Exit codes: 0 success, 2 usage error,
1 data or training error (one line on stderr, no traceback).
"""

from __future__ import annotations

import argparse
import importlib
import sys

from .. import __version__

#: Subcommand modules, in the order ``glassnet --help`` lists them.
COMMANDS = [
    "demo",
    "gradcheck",
    "train",
    "predict",
    "evaluate",
    "attack",
    "info",
    "export",
    "explain",
    "plot",
    "system",
]


class CliError(Exception):
    """A problem with the user's data or request: printed as one line, exit 1."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="glassnet",
        description="Build, train, inspect and explain neural networks from their math.",
    )
    parser.add_argument(
        "--version", action="version", version=f"glassnet {__version__}"
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(f"{__name__}.{name}").add_parser(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:  # argparse exits 2 on usage errors, 0 on --help
        return int(exit_.code or 0)
    if args.command is None:
        parser.print_help()
        return 2
    try:
        return int(args.run(args) or 0)
    except (
        CliError,
        ValueError,
        TypeError,
        RuntimeError,
        OSError,
        FloatingPointError,
    ) as error:
        print(f"glassnet {args.command}: error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"glassnet {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
