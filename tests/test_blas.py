"""glassnet.blas: which CPUs can run OpenBLAS's AVX-512 kernels, what status() reports
and advises (from fake cpuinfo files and fake BLAS libraries, so the rule is tested
the same on any machine), and ``glassnet system``."""

from __future__ import annotations

import functools
import json

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
NO_AVX512 = cpuinfo(family=25, flags="fpu sse2 avx avx2")  # e.g. Zen 3


# -- avx512_coretype ---------------------------------------------------------------------
@pytest.mark.parametrize(
    "text",
    [
        ZEN5,
        cpuinfo(family=25),
        cpuinfo(vendor="GenuineIntel", family=6),
        cpuinfo(family="9" * 5000),  # too long for int(): ValueError inside
    ],
    ids=["zen5", "zen4", "intel", "huge-family"],
)
def test_any_cpu_with_the_avx512_flags_can_run_skylakex(text):
    assert blas.avx512_coretype(text) == "SkylakeX"


@pytest.mark.parametrize(
    "text",
    [
        cpuinfo(flags="avx2 " + AVX512.replace("avx512bw", "")),
        NO_AVX512,
        "",
        "no colons here\n\x00\x01",
    ],
    ids=["no-avx512bw", "avx2-only", "empty", "garbage"],
)
def test_cpus_without_all_five_avx512_extensions_and_odd_texts_get_nothing(text):
    assert blas.avx512_coretype(text) is None


def test_the_first_processor_decides():
    assert blas.avx512_coretype(ZEN5 + "\n" + NO_AVX512) == "SkylakeX"
    assert blas.avx512_coretype(NO_AVX512 + "\n" + ZEN5) is None


# -- status() and its advice -------------------------------------------------------------
@pytest.fixture
def cpu_file(tmp_path):
    """Write a fake /proc/cpuinfo and return its path."""

    def write(text: str) -> str:
        path = tmp_path / "cpuinfo"
        path.write_text(text)
        return str(path)

    return write


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


@pytest.mark.parametrize("value", ["Haswell", "haswell"])
def test_status_names_a_preset_coretype_as_the_cause(value, cpu_file, monkeypatch):
    fake_libraries(monkeypatch, "Haswell")
    monkeypatch.setenv("OPENBLAS_CORETYPE", value)
    report = blas.status(cpu_file(ZEN5))
    assert report["openblas_coretype"] == value
    assert report["avx512_coretype"] == "SkylakeX"
    assert report["advice"] == (
        f"OPENBLAS_CORETYPE={value} in the environment makes OpenBLAS run its AVX2 "
        "(Haswell) kernels on this AVX-512 CPU; unset it (OpenBLAS then chooses its "
        "own, normally AVX-512 ones here) or set OPENBLAS_CORETYPE=SkylakeX before "
        "starting Python: matrix products run about 1.2-1.6x faster."
    )


@pytest.mark.parametrize("vendor", ["AuthenticAMD", "GenuineIntel"])
def test_status_says_openblas_did_not_recognise_an_avx512_cpu(
    vendor, cpu_file, monkeypatch
):
    fake_libraries(monkeypatch, "SkylakeX", "Haswell")
    monkeypatch.delenv("OPENBLAS_CORETYPE", raising=False)
    report = blas.status(cpu_file(cpuinfo(vendor=vendor)))
    assert [lib["architecture"] for lib in report["libraries"]] == [
        "SkylakeX",
        "Haswell",
    ]  # BLAS libraries only
    assert report["openblas_coretype"] is None
    assert report["cpu"] == {"model_name": "AMD EPYC", "vendor": vendor, "family": 26}
    assert report["advice"] == (
        "OpenBLAS runs its AVX2 (Haswell) kernels on this AVX-512 CPU: it did not "
        "recognise the CPU. Set OPENBLAS_CORETYPE=SkylakeX before starting Python "
        "(OpenBLAS reads it when numpy loads it): matrix products run about 1.2-1.6x "
        "faster."
    )


def test_status_promises_no_measured_gain_for_the_avx_kernels(cpu_file, monkeypatch):
    fake_libraries(monkeypatch, "Sandybridge")
    monkeypatch.delenv("OPENBLAS_CORETYPE", raising=False)
    advice = blas.status(cpu_file(ZEN5))["advice"]
    assert advice.startswith("OpenBLAS runs its AVX (Sandybridge) kernels")
    assert advice.endswith("matrix products run faster.")


@pytest.mark.parametrize("value", [None, "SkylakeX"])
@pytest.mark.parametrize("core", ["SkylakeX", "Cooperlake", "SapphireRapids"])
def test_status_gives_no_advice_when_openblas_runs_avx512_kernels(
    core, value, cpu_file, monkeypatch
):
    fake_libraries(monkeypatch, core)
    if value is None:
        monkeypatch.delenv("OPENBLAS_CORETYPE", raising=False)
    else:
        monkeypatch.setenv("OPENBLAS_CORETYPE", value)
    assert blas.status(cpu_file(ZEN5))["advice"] is None


def test_status_gives_no_advice_on_a_cpu_without_avx512(cpu_file, monkeypatch):
    fake_libraries(monkeypatch, "Haswell")
    monkeypatch.setenv("OPENBLAS_CORETYPE", "Haswell")
    report = blas.status(cpu_file(NO_AVX512))
    assert report["avx512_coretype"] is None and report["advice"] is None


def test_status_never_raises_on_an_unreadable_cpuinfo(tmp_path, monkeypatch):
    fake_libraries(monkeypatch, "Haswell")
    binary = tmp_path / "binary"
    binary.write_bytes(b"\xff\xfe\x00vendor_id : \x80\x81\n")
    for path in (tmp_path / "missing", tmp_path, binary):  # none; a folder; bytes
        report = blas.status(str(path))
        assert report["avx512_coretype"] is None and report["advice"] is None


# -- glassnet system ---------------------------------------------------------------------
def test_system_command_prints_the_blas_kernels(capsys):
    assert main(["system"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("glassnet ") and "numpy " in out
    for lib in blas.status()["libraries"]:
        assert f"{lib['architecture']} kernels, {lib['num_threads']} threads" in out
    assert "OPENBLAS_CORETYPE: " in out and "AVX-512 kernels for this CPU: " in out
    assert "Compiled loops: " in out and "BLAS threads: " in out


def test_one_line_names_what_a_figure_depends_on(monkeypatch):
    from glassnet.cli.system import one_line, report

    monkeypatch.setenv("OPENBLAS_CORETYPE", "Haswell")
    info = report()
    line = one_line(info)
    assert "\n" not in line and f"family {info['cpu']['family']}" in line
    for lib in info["libraries"]:
        assert f"{lib['architecture']} kernels ({lib['num_threads']} threads)" in line
    assert "OPENBLAS_CORETYPE Haswell" in line
    assert f"compiled loops {info['compiled_loops']}" in line


def test_system_command_json(capsys):
    assert main(["system", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["libraries"] == blas.status()["libraries"]
    assert {"glassnet", "python", "numpy", "compiled_loops", "blas_threads"} <= set(
        report
    )
    loops = report["compiled_loops"]
    assert (loops == "on") if kernels.enabled() else loops.startswith("off")


def test_system_command_shows_a_preset_coretype_and_the_advice(
    capsys, cpu_file, monkeypatch
):
    fake_libraries(monkeypatch, "Haswell")
    monkeypatch.setenv("OPENBLAS_CORETYPE", "Haswell")
    monkeypatch.setattr(blas, "status", functools.partial(blas.status, cpu_file(ZEN5)))
    assert main(["system"]) == 0
    out = capsys.readouterr().out
    assert "AVX-512 kernels for this CPU: SkylakeX" in out
    assert "OPENBLAS_CORETYPE: Haswell (set in the environment" in out
    assert "Advice: OPENBLAS_CORETYPE=Haswell in the environment" in out


def test_system_command_without_cpuinfo_or_blas(capsys, monkeypatch):
    monkeypatch.setattr(threadpoolctl, "threadpool_info", lambda: [])
    monkeypatch.setattr(
        blas, "_read_cpuinfo", lambda path: (_ for _ in ()).throw(OSError(path))
    )
    monkeypatch.delenv("OPENBLAS_CORETYPE", raising=False)
    assert main(["system"]) == 0
    out = capsys.readouterr().out
    assert "CPU: unknown (unknown vendor, family unknown)" in out
    assert "BLAS libraries: none found" in out
    assert "AVX-512 kernels for this CPU: none" in out
    assert "OPENBLAS_CORETYPE: not set" in out


def test_system_command_reports_compiled_loops_off_without_numba(capsys, monkeypatch):
    monkeypatch.setattr(kernels, "enabled", lambda: False)
    monkeypatch.setattr(system, "_numba_installed", lambda: False)
    assert main(["system", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["compiled_loops"].startswith("off (numba not installed")
