"""Which kernels the BLAS under numpy runs, and the fix for CPUs OpenBLAS does not
recognise.

Every matrix product of a network (Z = A W^T, dW = dZ^T A, dA = dZ W) runs in the
OpenBLAS that numpy ships (and scipy ships another). It is built for every x86
generation at once (DYNAMIC_ARCH): when the library loads, it reads the CPU's vendor
and family and picks one set of kernels. The environment variable
``OPENBLAS_CORETYPE`` overrides that choice, and is read once, at that moment: at
``import numpy`` for numpy's copy, at the first scipy import for scipy's.

OpenBLAS before 0.3.32 has no entry for AMD family 26 (Zen 5, Zen 6) in its table
(OpenBLAS issue #6029, fixed by PR #6033); those CPUs then get whatever its
feature-based fallback picks, which is usually the AVX-512 kernels but not on every
system. ``apply_coretype_fix``, called by ``import glassnet`` before anything imports
numpy, names the AVX-512 kernels explicitly on such a CPU, unless the variable is
already set (a user's choice wins) or ``GLASSNET_BLAS_FIX=0``. Child processes
inherit the variable, so they run the same kernels (and give the same bits).

Measured on a 2-core Zen 5: one epoch of the matrix products of a 784-256-128-10
MLP takes 0.17 s with the AVX-512 (SkylakeX) kernels and 0.27 s with the AVX2
(Haswell) ones at batch 128 (1.6x), 1.2x at batch 32.

This module must not import numpy: it runs before numpy is loaded.

Examples
--------
>>> from glassnet import blas
>>> blas.recommended_coretype("vendor_id : GenuineIntel\\ncpu family : 6\\n") is None
True
"""

from __future__ import annotations

import os
import sys

_VARIABLE = "OPENBLAS_CORETYPE"
_OPT_OUT = "GLASSNET_BLAS_FIX"  # "0": leave the choice to OpenBLAS

#: What the kernels of SkylakeX need: AVX-512 Foundation plus the byte/word,
#: doubleword/quadword, vector-length and conflict-detection extensions.
_SKYLAKEX_FLAGS = frozenset({"avx512f", "avx512bw", "avx512dq", "avx512vl", "avx512cd"})

#: OpenBLAS core names (as threadpoolctl reports them, lower-cased) whose sgemm and
#: dgemm are the AVX-512 kernels; and the widest vectors of some older ones.
_AVX512_CORES = frozenset({"skylakex", "cooperlake", "sapphirerapids"})
_OLDER_CORES = {"haswell": "AVX2", "zen": "AVX2", "sandybridge": "AVX"}

_applied: str | None = None  # what apply_coretype_fix put in os.environ, if anything


def recommended_coretype(cpuinfo: str) -> str | None:
    """The ``OPENBLAS_CORETYPE`` to set for this CPU, from the text of /proc/cpuinfo:
    ``"SkylakeX"`` for an AMD CPU of family 26 or later with AVX-512 (F, BW, DQ, VL,
    CD), else None (OpenBLAS < 0.3.32 recognises Zen 4 = family 25 and Intel's CPUs
    by itself).

    Family 26 (Zen 5, Zen 6) is missing from the CPU table of OpenBLAS < 0.3.32
    (OpenBLAS issue #6029; fixed by PR #6033, in 0.3.32). SkylakeX, because its
    AVX-512 sgemm/dgemm kernels are the ones OpenBLAS selects for AMD's AVX-512 CPUs
    (for Zen 4: Cooperlake, which is SkylakeX's sgemm/dgemm plus bfloat16 products,
    when the CPU has AVX512-BF16, else SkylakeX; numpy's OpenBLAS reports both as
    SkylakeX).

    Examples
    --------
    >>> zen5 = ("vendor_id : AuthenticAMD\\ncpu family : 26\\n"
    ...         "flags : avx2 avx512f avx512bw avx512dq avx512vl avx512cd\\n")
    >>> recommended_coretype(zen5)
    'SkylakeX'
    >>> recommended_coretype(zen5.replace("26", "25")) is None   # Zen 4
    True
    """
    cpu = _first_cpu(cpuinfo)
    if cpu["vendor"] != "AuthenticAMD" or cpu["family"] is None:
        return None
    if cpu["family"] >= 26 and _SKYLAKEX_FLAGS <= cpu["flags"]:
        return "SkylakeX"
    return None


def apply_coretype_fix(
    environ=os.environ, modules=sys.modules, cpuinfo_path: str = "/proc/cpuinfo"
) -> str | None:
    """Set ``environ["OPENBLAS_CORETYPE"]`` to ``recommended_coretype`` of this CPU,
    and return it; or return None and change nothing when numpy is already imported
    (OpenBLAS has read the variable), the variable is already set (the user's choice,
    e.g. ``Haswell`` to keep the AVX2 kernels), ``GLASSNET_BLAS_FIX=0``, the CPU
    needs nothing, or ``cpuinfo_path`` cannot be read (not Linux). Never raises.

    Examples
    --------
    >>> apply_coretype_fix(environ={}, modules={"numpy": None}) is None   # too late
    True
    """
    global _applied
    if "numpy" in modules or _VARIABLE in environ or environ.get(_OPT_OUT) == "0":
        return None
    try:
        coretype = recommended_coretype(_read_cpuinfo(cpuinfo_path))
        if coretype is None:
            return None
        # os.environ's assignment also calls putenv, so the C library's getenv in
        # OpenBLAS, loaded later in this process, sees it.
        environ[_VARIABLE] = coretype
    except (OSError, ValueError, TypeError):
        return None
    if environ is os.environ:
        _applied = coretype
    return coretype


def status(cpuinfo_path: str = "/proc/cpuinfo") -> dict:
    """The BLAS libraries loaded in this process and the kernels they run, this CPU's
    recommended ``OPENBLAS_CORETYPE``, whether the variable is set and by whom
    (``"glassnet"`` or ``"user"``), and one line of ``advice`` when an OpenBLAS runs
    older kernels than this CPU could (else None).

    Examples
    --------
    >>> import glassnet as gn
    >>> sorted(gn.blas.status())
    ['advice', 'coretype_set_by', 'cpu', 'libraries', 'openblas_coretype', 'recommended_coretype']
    """
    from threadpoolctl import threadpool_info

    keys = ("internal_api", "version", "architecture", "num_threads", "filepath")
    found = sorted(threadpool_info(), key=lambda info: str(info.get("filepath")))
    libraries = [
        {key: info.get(key) for key in keys}
        for info in found
        if info.get("user_api") == "blas"
    ]
    try:
        cpuinfo = _read_cpuinfo(cpuinfo_path)
    except (OSError, ValueError):
        cpuinfo = ""
    cpu = _first_cpu(cpuinfo)
    recommended = recommended_coretype(cpuinfo)
    value = os.environ.get(_VARIABLE)
    set_by = None if value is None else "glassnet" if value == _applied else "user"
    return {
        "libraries": libraries,
        "cpu": {key: cpu[key] for key in ("model_name", "vendor", "family")},
        "recommended_coretype": recommended,
        "openblas_coretype": value,
        "coretype_set_by": set_by,
        "advice": _advice(libraries, cpu, recommended, value),
    }


def _advice(libraries, cpu, recommended, value) -> str | None:
    if recommended is None:
        return None
    slow = [
        lib["architecture"]
        for lib in libraries
        if lib["internal_api"] == "openblas"
        and str(lib["architecture"]).lower() not in _AVX512_CORES
    ]
    if not slow:
        return None
    core = slow[0]
    width = _OLDER_CORES.get(str(core).lower(), "pre-AVX-512")
    gain = "about 1.2-1.6x faster" if width == "AVX2" else "faster"
    if value is not None and value.lower() == str(core).lower():
        return (
            f"{_VARIABLE}={value} in the environment makes OpenBLAS run its {width} "
            f"({core}) kernels on this AVX-512 CPU: set {_VARIABLE}={recommended} "
            f"before starting Python (or unset it and import glassnet before numpy); "
            f"matrix products then run {gain}."
        )
    return (
        f"OpenBLAS runs its {width} ({core}) kernels on this AVX-512 CPU (AMD family "
        f"{cpu['family']} is not recognised by OpenBLAS < 0.3.32): import glassnet "
        f"before numpy, or set {_VARIABLE}={recommended} before starting Python; "
        f"matrix products then run {gain}."
    )


def _read_cpuinfo(path: str) -> str:
    """The first processor's block of /proc/cpuinfo: every CPU repeats it, and on a
    machine of hundreds of cores the whole file takes milliseconds to generate."""
    lines = []
    with open(path, encoding="utf-8", errors="replace") as file:
        for line in file:
            if not line.strip() and lines:
                break
            lines.append(line)
    return "".join(lines)


def _first_cpu(cpuinfo: str) -> dict:
    """vendor, family (int or None), model name and the set of flags of the first
    processor described in ``cpuinfo``; missing or odd fields come back empty."""
    fields: dict[str, str] = {}
    for line in str(cpuinfo).splitlines():
        key, colon, value = line.partition(":")
        key = key.strip()
        if colon and key not in fields:
            fields[key] = value.strip()
    try:
        family = int(fields.get("cpu family", ""))
    except ValueError:
        family = None
    return {
        "vendor": fields.get("vendor_id", ""),
        "family": family,
        "model_name": fields.get("model name", ""),
        "flags": frozenset(fields.get("flags", "").split()),
    }
