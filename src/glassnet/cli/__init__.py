"""The ``glassnet`` command: a thin layer over the library.

Each subcommand is a module in this package with ``add_parser(subparsers)`` and
``run(args) -> int``; ``COMMANDS`` lists them. Exit codes: 0 success, 2 usage error,
1 data or training error (one line on stderr, no traceback), 130 interrupted, 141
(128 + SIGPIPE) when the reader of the output went away (``| head``: no message), and
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
import os
import sys
import traceback
from importlib import metadata
from typing import NoReturn

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
    "verify",
    "plot",
    "system",
    "playground",
]


#: Exit code for a bug in glassnet (sysexits.h EX_SOFTWARE: internal software error).
EXIT_BUG = 70
#: Exit code when the reader of stdout went away (| head): 128 + SIGPIPE, as a
#: program killed by the signal reports it in a shell.
EXIT_BROKEN_PIPE = 141
#: The errors that are the user's to fix: reported as one line, exit 1.
USER_ERRORS = (GlassnetError, ValueError, OSError)


class CliError(GlassnetError):
    """A problem with the user's data or request: printed as one line, exit 1."""


class UsageError(CliError):
    """Options that do not go together, found after parsing: one line, exit 2 (as
    argparse's own usage errors)."""


class _Parser(argparse.ArgumentParser):
    """argparse with the house's usage error: one line on stderr, then exit 2.

    argparse prints the usage synopsis and the error on two or more lines; here the
    error names the argument and points to ``--help``, which has the synopsis.
    ``add_subparsers`` builds every subcommand's parser from this class too.
    """

    def error(self, message: str) -> NoReturn:
        message = " ".join(message.split())  # one line, whatever argparse wrapped
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
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
        args, unknown = parser.parse_known_args(argv)
        if unknown:  # named by the subcommand that was given them, not by "glassnet"
            _innermost_parser(parser, args).error(
                f"unrecognized arguments: {' '.join(unknown)}"
            )
    except SystemExit as exit_:  # argparse exits 2 on usage errors, 0 on --help
        return int(exit_.code or 0)
    if args.command is None:
        parser.print_help()
        return 2
    try:
        code = int(args.run(args) or 0)
        sys.stdout.flush()  # a closed pipe shows here, not at interpreter exit
        return code
    except BrokenPipeError:  # the reader went away (| head): stop quietly
        _quiet_stdout()
        return EXIT_BROKEN_PIPE
    except UsageError as error:
        print(
            f"glassnet {args.command}: error: {error} (see glassnet {args.command} "
            "--help)",
            file=sys.stderr,
        )
        return 2
    except USER_ERRORS as error:
        print(f"glassnet {args.command}: error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"glassnet {args.command}: interrupted", file=sys.stderr)
        return 130
    except MemoryError as error:  # what no estimate foresaw (allocator, a library)
        detail = f" ({error})" if str(error) else ""
        print(
            f"glassnet {args.command}: error: out of memory{detail}; use smaller "
            "layers, a smaller batch or less data, or free memory",
            file=sys.stderr,
        )
        return 1
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


def _quiet_stdout() -> None:
    """Point stdout at /dev/null so that the interpreter's final flush of what is
    still buffered raises no second BrokenPipeError (Python's documented recipe)."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # stdout is not a file descriptor (captured)
        pass


def _innermost_parser(
    parser: argparse.ArgumentParser, args: argparse.Namespace
) -> argparse.ArgumentParser:
    """The parser of the (sub)subcommand ``args`` was parsed by: ``glassnet plot network``."""
    while True:
        chosen = None
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                chosen = action.choices.get(getattr(args, action.dest, None))
        if chosen is None:
            return parser
        parser = chosen


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
