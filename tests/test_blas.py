"""glassnet.blas: the OPENBLAS_CORETYPE fix for CPUs OpenBLAS < 0.3.32 does not
recognise (AMD family 26, OpenBLAS issue #6029), its guards, what status() reports,
and ``glassnet system``."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys

import pytest
import threadpoolctl

from glassnet import blas, kernels
from glassnet.cli import main, system

AVX512 = "avx512f avx512dq avx512cd avx512bw avx512vl"


def cpuinfo(vendor="AuthenticAMD", family=26, flags=f"fpu sse2 avx avx2 {AVX512}"):
    """One processor's block of /proc/cpuinfo, followed by a second processor's."""
    block = (
        f"processor\t: {{n}}\nvendor_id\t: {vendor}\ncpu family\t: {family}\n"
        f"model\t\t: 2\nmodel name\t: AMD EPYC\nflags\t\t: {flags}\n"
    )
    return block.format(n=0) + "\n" + block.format(n=1)


ZEN5 = cpuinfo()


# -- recommended_coretype ----------------------------------------------------------------
def test_zen5_with_avx512_gets_the_skylakex_kernels_openblas_issue_6029():
    assert blas.recommended_coretype(ZEN5) == "SkylakeX"


def test_zen5_without_one_of_the_avx512_extensions_gets_nothing():
    no_bw = cpuinfo(flags="avx2 " + AVX512.replace("avx512bw", ""))
    assert blas.recommended_coretype(no_bw) is None


@pytest.mark.parametrize(
    "text",
    [
        cpuinfo(family=25),  # Zen 4: OpenBLAS 0.3.31 recognises it
        cpuinfo(vendor="GenuineIntel", family=6),  # Intel: recognised too
        "",
        "no colons here\n\x00\x01",
        cpuinfo(family="twenty-six"),
        cpuinfo(family="9" * 5000),  # too long for int(): ValueError inside
    ],
    ids=["zen4", "intel", "empty", "garbage", "odd-family", "huge-family"],
)
def test_other_cpus_and_odd_texts_get_nothing(text):
    assert blas.recommended_coretype(text) is None


def test_the_first_processor_decides():
    text = cpuinfo() + "\n" + cpuinfo(vendor="GenuineIntel", family=6)
    assert blas.recommended_coretype(text) == "SkylakeX"


# -- apply_coretype_fix ------------------------------------------------------------------
@pytest.fixture
def zen5_file(tmp_path):
    path = tmp_path / "cpuinfo"
    path.write_text(ZEN5)
    return str(path)


def test_fix_sets_the_variable_before_numpy_is_loaded(zen5_file):
    environ = {}
    assert blas.apply_coretype_fix(environ, {}, zen5_file) == "SkylakeX"
    assert environ == {"OPENBLAS_CORETYPE": "SkylakeX"}


def test_fix_keeps_a_users_coretype(zen5_file):
    environ = {"OPENBLAS_CORETYPE": "Haswell"}
    assert blas.apply_coretype_fix(environ, {}, zen5_file) is None
    assert environ == {"OPENBLAS_CORETYPE": "Haswell"}


def test_fix_does_nothing_once_numpy_is_loaded(zen5_file):
    environ = {}
    assert blas.apply_coretype_fix(environ, {"numpy": object()}, zen5_file) is None
    assert environ == {}


def test_fix_opt_out(zen5_file):
    environ = {"GLASSNET_BLAS_FIX": "0"}
    assert blas.apply_coretype_fix(environ, {}, zen5_file) is None
    assert environ == {"GLASSNET_BLAS_FIX": "0"}
    environ = {"GLASSNET_BLAS_FIX": "1"}  # only "0" opts out
    assert blas.apply_coretype_fix(environ, {}, zen5_file) == "SkylakeX"


def test_fix_does_nothing_for_other_cpus(tmp_path):
    path = tmp_path / "cpuinfo"
    path.write_text(cpuinfo(family=25))
    environ = {}
    assert blas.apply_coretype_fix(environ, {}, str(path)) is None
    assert environ == {}


def test_fix_never_raises_on_an_unreadable_cpuinfo(tmp_path):
    environ = {}
    for path in (tmp_path / "missing", tmp_path):  # no such file; a folder
        assert blas.apply_coretype_fix(environ, {}, str(path)) is None
    binary = tmp_path / "binary"
    binary.write_bytes(b"\xff\xfe\x00vendor_id : \x80\x81\n")
    assert blas.apply_coretype_fix(environ, {}, str(binary)) is None
    assert environ == {}


def test_fix_on_fake_mappings_is_not_recorded_as_glassnets(zen5_file, monkeypatch):
    monkeypatch.setattr(blas, "_applied", None)
    assert blas.apply_coretype_fix({}, {}, zen5_file) == "SkylakeX"
    assert blas._applied is None  # only os.environ's value is glassnet's to report


# -- status() and its advice -------------------------------------------------------------
def fake_libraries(monkeypatch, *architectures):
    infos = [
        {
            "user_api": "blas",
            "internal_api": "openblas",
            "version": "0.3.31",
            "architecture": arch,
            "num_threads": 2,
            "filepath": f"/lib{i}/libopenblas.so",
            "prefix": "libopenblas",
        }
        for i, arch in enumerate(architectures)
    ]
    infos.append({"user_api": "openmp", "internal_api": "openmp", "filepath": "/x"})
    monkeypatch.setattr(threadpoolctl, "threadpool_info", lambda: infos)


def test_status_advises_the_avx512_kernels_when_openblas_missed_the_cpu(
    zen5_file, monkeypatch
):
    fake_libraries(monkeypatch, "SkylakeX", "Haswell")
    monkeypatch.delenv("OPENBLAS_CORETYPE", raising=False)
    report = blas.status(zen5_file)
    assert [lib["architecture"] for lib in report["libraries"]] == [
        "SkylakeX",
        "Haswell",
    ]  # BLAS libraries only
    assert report["recommended_coretype"] == "SkylakeX"
    assert report["openblas_coretype"] is None and report["coretype_set_by"] is None
    assert report["cpu"] == {
        "model_name": "AMD EPYC",
        "vendor": "AuthenticAMD",
        "family": 26,
    }
    assert report["advice"].startswith(
        "OpenBLAS runs its AVX2 (Haswell) kernels on this AVX-512 CPU (AMD family 26 "
        "is not recognised by OpenBLAS < 0.3.32): import glassnet before numpy, or "
        "set OPENBLAS_CORETYPE=SkylakeX before starting Python"
    )
    assert "1.2-1.6x faster" in report["advice"]


def test_status_names_a_users_coretype_as_the_cause(zen5_file, monkeypatch):
    fake_libraries(monkeypatch, "Haswell")
    monkeypatch.setenv("OPENBLAS_CORETYPE", "Haswell")
    report = blas.status(zen5_file)
    assert report["openblas_coretype"] == "Haswell"
    assert report["coretype_set_by"] == "user"
    assert report["advice"].startswith(
        "OPENBLAS_CORETYPE=Haswell in the environment makes OpenBLAS run its AVX2 "
        "(Haswell) kernels on this AVX-512 CPU: set OPENBLAS_CORETYPE=SkylakeX"
    )


def test_status_says_when_glassnet_set_the_coretype(zen5_file, monkeypatch):
    fake_libraries(monkeypatch, "SkylakeX")
    monkeypatch.setenv("OPENBLAS_CORETYPE", "SkylakeX")
    monkeypatch.setattr(blas, "_applied", "SkylakeX")
    report = blas.status(zen5_file)
    assert report["coretype_set_by"] == "glassnet" and report["advice"] is None


@pytest.mark.parametrize("text", [cpuinfo(family=25), ""], ids=["zen4", "no-cpuinfo"])
def test_status_gives_no_advice_where_openblas_chooses_well(
    text, tmp_path, monkeypatch
):
    path = tmp_path / "cpuinfo"
    path.write_text(text)
    fake_libraries(monkeypatch, "Haswell")
    report = blas.status(str(path))
    assert report["recommended_coretype"] is None and report["advice"] is None
    assert blas.status(str(tmp_path / "missing"))["advice"] is None


# -- in fresh processes: the real OpenBLAS -----------------------------------------------
linux_only = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="reads /proc/cpuinfo"
)

PROBE = """
import json, os, sys
{imports}
import threadpoolctl
print(json.dumps({{
    "coretype": os.environ.get("OPENBLAS_CORETYPE"),
    "set_by": glassnet.blas.status()["coretype_set_by"],
    "openblas": sorted({{i["architecture"] for i in threadpoolctl.threadpool_info()
                        if i["internal_api"] == "openblas"}}),
}}))
"""


def probe(imports: str, inherit: bool = False, **variables: str) -> dict:
    """What a fresh Python sees after ``imports``: with this process's environment
    (``inherit``), or with OPENBLAS_CORETYPE and GLASSNET_BLAS_FIX taken out of it,
    then ``variables`` added."""
    env = dict(os.environ)
    if not inherit:
        env.pop("OPENBLAS_CORETYPE", None)
        env.pop("GLASSNET_BLAS_FIX", None)
    result = subprocess.run(
        [sys.executable, "-c", PROBE.format(imports=imports)],
        env={**env, **variables},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def this_cpu() -> str | None:
    with open("/proc/cpuinfo") as file:
        return blas.recommended_coretype(file.read())


@linux_only
def test_importing_glassnet_first_gives_openblas_the_kernels_for_this_cpu():
    seen = probe("import glassnet\nimport numpy")
    recommended = this_cpu()
    assert seen["coretype"] == recommended  # None: left to OpenBLAS
    if recommended is not None:
        assert seen["set_by"] == "glassnet"
        assert seen["openblas"] == [recommended]  # numpy's and scipy's copies


@linux_only
def test_importing_numpy_first_leaves_the_variable_alone():
    seen = probe("import numpy\nimport glassnet")
    assert seen["coretype"] is None and seen["set_by"] is None


@linux_only
@pytest.mark.skipif(platform.machine() not in ("x86_64", "AMD64"), reason="x86 cores")
def test_a_users_coretype_is_kept():
    seen = probe("import glassnet", OPENBLAS_CORETYPE="Haswell")
    assert seen["coretype"] == "Haswell" and seen["set_by"] == "user"
    assert seen["openblas"] in (
        [],
        ["Haswell"],
    )  # [] where numpy's BLAS is not OpenBLAS


@linux_only
def test_this_test_process_runs_the_kernels_a_fresh_glassnet_process_runs():
    # tests/conftest.py imports glassnet before numpy, so this process and every
    # `glassnet ...` subprocess it starts (which inherit its environment) run the
    # same BLAS kernels, and the tests comparing their outputs bit for bit hold.
    seen = probe("import glassnet", inherit=True)
    here = sorted(
        {
            i["architecture"]
            for i in threadpoolctl.threadpool_info()
            if i["internal_api"] == "openblas"
        }
    )
    assert here == seen["openblas"]


# -- glassnet system ---------------------------------------------------------------------
def test_system_command_prints_the_blas_kernels(capsys):
    assert main(["system"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("glassnet ") and "numpy " in out
    for lib in blas.status()["libraries"]:
        assert f"{lib['architecture']} kernels, {lib['num_threads']} threads" in out
    assert "OPENBLAS_CORETYPE: " in out and "Compiled loops: " in out
    assert "BLAS threads: " in out


def test_system_command_json(capsys):
    assert main(["system", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["libraries"] == blas.status()["libraries"]
    assert {"glassnet", "python", "numpy", "compiled_loops", "blas_threads"} <= set(
        report
    )
    loops = report["compiled_loops"]
    assert (loops == "on") if kernels.enabled() else loops.startswith("off")


def test_system_command_reports_compiled_loops_off_without_numba(capsys, monkeypatch):
    monkeypatch.setattr(kernels, "enabled", lambda: False)
    monkeypatch.setattr(system, "_numba_installed", lambda: False)
    assert main(["system", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["compiled_loops"].startswith("off (numba not installed")
