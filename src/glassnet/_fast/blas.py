"""Which kernels the BLAS under numpy runs on this CPU, and why.

Every matrix product of a network (Z = A W^T, dW = dZ^T A, dA = dZ W) runs in the
OpenBLAS that numpy ships (and scipy ships another). It is built for every x86
generation at once (DYNAMIC_ARCH): when the library loads, it identifies the CPU and
picks one set of kernels. The environment variable ``OPENBLAS_CORETYPE`` (e.g.
``Haswell`` for the AVX2 kernels, ``SkylakeX`` for the AVX-512 ones) overrides that
choice, and is read once, when the library loads: at ``import numpy`` for numpy's
copy, at the first scipy import for scipy's. Setting it later changes nothing in the
running process. glassnet never sets it; ``status()`` and ``glassnet system`` report
what runs.

OpenBLAS before 0.3.32 has no entry for AMD family 26 (Zen 5, Zen 6) in its CPU table
(OpenBLAS issue #6029, fixed by PR #6033), but on Linux its feature-based fallback
reads the CPU's AVX-512 flags and picks SkylakeX by itself (OpenBLAS 0.3.31 on a Zen 5
does). Measured on a 2-core Zen 5: one epoch of the matrix products of a
784-256-128-10 MLP takes 0.17 s with the AVX-512 (SkylakeX) kernels and 0.27 s with
the AVX2 (Haswell) ones at batch 128 (1.6x), 1.2x at batch 32.

Examples
--------
>>> from glassnet import blas
>>> blas.avx512_coretype("vendor_id : GenuineIntel\\nflags : sse2 avx avx2\\n") is None
True
"""

from __future__ import annotations

import os

_VARIABLE = "OPENBLAS_CORETYPE"

#: What the kernels of SkylakeX need: AVX-512 Foundation plus the byte/word,
#: doubleword/quadword, vector-length and conflict-detection extensions.
_SKYLAKEX_FLAGS = frozenset({"avx512f", "avx512bw", "avx512dq", "avx512vl", "avx512cd"})

#: OpenBLAS core names (as threadpoolctl reports them, lower-cased) of kernels older
#: than AVX-512, with the widest vectors they use.
_OLDER_CORES = {"haswell": "AVX2", "zen": "AVX2", "sandybridge": "AVX"}


def avx512_coretype(cpuinfo: str) -> str | None:
    """``"SkylakeX"``, the ``OPENBLAS_CORETYPE`` of OpenBLAS's AVX-512 kernels, when
    the first processor in ``cpuinfo`` (the text of /proc/cpuinfo) has the flags they
    need (AVX-512 F, BW, DQ, VL and CD), whatever its vendor; else None.

    OpenBLAS itself may pick Cooperlake or SapphireRapids on CPUs with further AVX-512
    extensions; those are AVX-512 kernels too.

    Examples
    --------
    >>> zen5 = ("vendor_id : AuthenticAMD\\ncpu family : 26\\n"
    ...         "flags : avx2 avx512f avx512bw avx512dq avx512vl avx512cd\\n")
    >>> avx512_coretype(zen5)
    'SkylakeX'
    >>> avx512_coretype(zen5.replace(" avx512cd", "")) is None
    True
    """
    return "SkylakeX" if _SKYLAKEX_FLAGS <= _first_cpu(cpuinfo)["flags"] else None


def status(cpuinfo_path: str = "/proc/cpuinfo") -> dict:
    """The BLAS libraries loaded in this process and the kernels they run, this CPU,
    its ``avx512_coretype``, the ``OPENBLAS_CORETYPE`` in the environment (None when
    unset), and one line of ``advice`` when an OpenBLAS runs pre-AVX-512 kernels on an
    AVX-512 CPU (else None). Never raises for an unreadable ``cpuinfo_path``.

    Examples
    --------
    >>> import glassnet as gn
    >>> sorted(gn.blas.status())
    ['advice', 'avx512_coretype', 'cpu', 'libraries', 'openblas_coretype']
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
    avx512 = avx512_coretype(cpuinfo)
    value = os.environ.get(_VARIABLE)
    return {
        "libraries": libraries,
        "cpu": {key: cpu[key] for key in ("model_name", "vendor", "family")},
        "avx512_coretype": avx512,
        "openblas_coretype": value,
        "advice": _advice(libraries, avx512, value),
    }


def _advice(libraries, avx512, value) -> str | None:
    if avx512 is None:
        return None
    older = [
        lib["architecture"]
        for lib in libraries
        if lib["internal_api"] == "openblas"
        and str(lib["architecture"]).lower() in _OLDER_CORES
    ]
    if not older:
        return None
    core = older[0]
    width = _OLDER_CORES[str(core).lower()]
    gain = "about 1.2-1.6x faster" if width == "AVX2" else "faster"
    if value is not None and value.strip().lower() == str(core).lower():
        return (
            f"{_VARIABLE}={value} in the environment makes OpenBLAS run its {width} "
            f"({core}) kernels on this AVX-512 CPU; unset it (OpenBLAS then chooses "
            f"its own, normally AVX-512 ones here) or set {_VARIABLE}={avx512} before "
            f"starting Python: matrix products run {gain}."
        )
    return (
        f"OpenBLAS runs its {width} ({core}) kernels on this AVX-512 CPU: it did not "
        f"recognise the CPU. Set {_VARIABLE}={avx512} before starting Python (OpenBLAS "
        f"reads it when numpy loads it): matrix products run {gain}."
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
