"""``glassnet system``: what runs the math on this machine, for speed reports."""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform

from .._fast import blas, kernels, threads
from .._version import __version__


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "system",
        help="show the BLAS kernels, compiled loops and thread rule glassnet runs with",
        description="Prints the glassnet, Python and numpy versions; each BLAS library "
        "numpy and scipy loaded (its version, the CPU kernels it runs, threads and "
        "file); whether the CPU can run OpenBLAS's AVX-512 kernels; the "
        "OPENBLAS_CORETYPE in the environment, which overrides OpenBLAS's choice; "
        "whether the compiled loops (numba) are on; the BLAS thread rule; and what to "
        "change when matrix products run slower kernels than the CPU allows.",
        epilog="example: glassnet system --json",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.set_defaults(run=run)


def run(args) -> int:
    info = report()
    print(json.dumps(info, indent=2) if args.json else text(info))
    return 0


def report() -> dict:
    import numpy

    return {
        "glassnet": __version__,
        "python": platform.python_version(),
        "numpy": numpy.__version__,
        **blas.status(),
        "compiled_loops": _compiled_loops(),
        "blas_threads": threads.get_num_threads(),  # None: the per-size rule
    }


def _compiled_loops() -> str:
    if kernels.enabled():
        return "on"
    if not _numba_installed():
        return "off (numba not installed: pip install 'glassnet[fast]')"
    if os.environ.get("GLASSNET_KERNELS") == "0":
        return "off (GLASSNET_KERNELS=0)"
    return "off"


def _numba_installed() -> bool:
    return importlib.util.find_spec("numba") is not None


def one_line(info: dict) -> str:
    """The fields of ``report()`` a speed or time figure depends on, in one line (for
    benchmarks to print beside their figures)."""
    cpu = info["cpu"]
    blas = "; ".join(
        f"{lib['internal_api']} {lib['version']} {lib['architecture']} kernels "
        f"({lib['num_threads']} threads)"
        for lib in info["libraries"]
    )
    coretype = info["openblas_coretype"]
    return (
        f"machine: CPU {cpu['model_name'] or 'unknown'} ({cpu['vendor']}, family "
        f"{cpu['family']}), AVX-512 kernels for it: {info['avx512_coretype']}; "
        f"BLAS: {blas or 'none found'}; OPENBLAS_CORETYPE "
        f"{'not set' if coretype is None else coretype}; compiled loops "
        f"{info['compiled_loops']}; glassnet {info['glassnet']}, numpy {info['numpy']}, "
        f"Python {info['python']}"
    )


def text(info: dict) -> str:
    cpu = info["cpu"]
    lines = [
        f"glassnet {info['glassnet']}, Python {info['python']}, numpy {info['numpy']}",
        f"CPU: {cpu['model_name'] or 'unknown'} ({cpu['vendor'] or 'unknown vendor'}, "
        f"family {cpu['family'] if cpu['family'] is not None else 'unknown'})",
        "BLAS libraries:" if info["libraries"] else "BLAS libraries: none found",
    ]
    for lib in info["libraries"]:
        lines.append(
            f"  {lib['internal_api']} {lib['version']}: {lib['architecture']} "
            f"kernels, {lib['num_threads']} threads"
        )
        lines.append(f"    {lib['filepath']}")
    avx512 = info["avx512_coretype"]
    lines.append(
        f"AVX-512 kernels for this CPU: {avx512}"
        if avx512
        else "AVX-512 kernels for this CPU: none (no AVX-512 F/BW/DQ/VL/CD)"
    )
    value = info["openblas_coretype"]
    lines.append(
        "OPENBLAS_CORETYPE: not set (OpenBLAS's own choice)"
        if value is None
        else f"OPENBLAS_CORETYPE: {value} (set in the environment, overrides OpenBLAS)"
    )
    lines.append(f"Compiled loops: {info['compiled_loops']}")
    count = info["blas_threads"]
    lines.append(
        "BLAS threads: the per-size rule (gn.set_num_threads(n) fixes them)"
        if count is None
        else f"BLAS threads: fixed at {count}"
    )
    if info["advice"]:
        lines.append(f"Advice: {info['advice']}")
    return "\n".join(lines)
