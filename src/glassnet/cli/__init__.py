"""The ``glassnet`` command: a thin layer over the library.

Each subcommand is a module in this package with ``add_parser(subparsers)`` and
``run(args) -> int``; ``COMMANDS`` lists them. Exit codes: 0 success, 2 usage error,
1 data or training error (one line on stderr, no traceback), 130 interrupted, and
70 (sysexits' EX_SOFTWARE) for a bug in glassnet itself: its traceback, then a line
saying so and where to report it.

What counts as the user's error: glassnet's own exceptions (``GlassnetError``: a bad
argument caught by validation, a bad model file, a data file that cannot be used, a
diverged training run, ``CliError``), any ``ValueError`` (Python's conventional bad-input
error, which the library raises at its boundaries) and ``OSError`` (a missing or
unwritable file). Everything else (``TypeError``, ``AttributeError``, a bare
``RuntimeError``, ...) means glassnet's own code went wrong, and hiding its traceback
would hide the bug.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import traceback
from importlib import metadata

from .._version import __version__
from ..errors import GlassnetError

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


#: Exit code for a bug in glassnet (sysexits.h EX_SOFTWARE: internal software error).
EXIT_BUG = 70
#: The errors that are the user's to fix: reported as one line, exit 1.
USER_ERRORS = (GlassnetError, ValueError, OSError)


class CliError(GlassnetError):
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
    except USER_ERRORS as error:
        print(f"glassnet {args.command}: error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"glassnet {args.command}: interrupted", file=sys.stderr)
        return 130
    except Exception:
        traceback.print_exc()
        print(
            f"glassnet {args.command}: this is a bug in glassnet {__version__}, not a "
            f"problem with your data or options; please report it to {_report_to()}, "
            "with the traceback above, the command you ran and the output of "
            "`glassnet system`",
            file=sys.stderr,
        )
        return EXIT_BUG


def _report_to() -> str:
    """Where bugs go: the package's issue tracker if its metadata names one."""
    try:
        urls = metadata.metadata("glassnet").get_all("Project-URL") or []
    except metadata.PackageNotFoundError:  # running from a source tree
        urls = []
    for entry in urls:  # "Label, https://..."
        label, _, url = entry.partition(",")
        if label.strip().lower() in ("issues", "bug tracker", "bugs") and url.strip():
            return url.strip()
    return "the glassnet maintainers"


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
