"""Memory: a network that cannot fit is refused with the figures before any array
is made; a MemoryError that still happens is one line from the CLI, exit 1."""

import os
import resource
import subprocess
import sys

import pytest

import glassnet as gn
from glassnet._fast.work import GIB, MemoryLimitError, available_memory
from glassnet.cli import main
from glassnet.nn.network import network_memory


def test_huge_hidden_layer_refused_with_the_figure_regression(capsys):
    code = main(["train", "--hidden", "1000000000", "--epochs", "1", "--quiet"])
    err = capsys.readouterr().err.strip()
    assert code == 1 and "\n" not in err and "Traceback" not in err
    # digits: 64 features, 10 classes; float32 weights 64x1e9 + 1e9x10 at least
    at_least = (64 * 10**9 + 10**9 * 10) * 4 / GIB
    needs = float(err.split(" needs ")[1].split(" GiB")[0])
    assert needs >= at_least
    assert "GiB available" in err and "64-1000000000-10" in err


def test_library_refuses_a_network_larger_than_memory():
    available = available_memory()
    width = int(available // (4 * 8 * 11)) + 1  # 4 copies of 10*w + w float64
    with pytest.raises(MemoryLimitError, match=r"needs [\d.]+ GiB, [\d.]+ GiB avail"):
        gn.Sequential(gn.Dense(10, width), dtype="float64")


def test_network_memory_counts_parameters_work_arrays_and_optimizer():
    widths, batch = [5, 7, 3], 11
    params = 5 * 7 + 7 + 7 * 3 + 3
    rows = batch * (3 * 7 + 5 + 3 * 3 + 7)
    assert network_memory(widths, "float64", batch, 2) == (params * 6 + rows) * 8
    net = gn.Sequential(gn.Dense(5, 7), gn.Dense(7, 3))
    assert net.n_params == params


def test_memory_error_in_a_command_is_one_line(monkeypatch, capsys):
    import glassnet.cli.system as system

    def no_memory(args):
        raise MemoryError

    monkeypatch.setattr(system, "run", no_memory)
    parser_main = main(["system"])
    err = capsys.readouterr().err
    assert parser_main == 1
    assert err.count("\n") == 1 and err.startswith("glassnet system: error: out of")


@pytest.mark.parametrize("limit_mib", [1100])
def test_train_under_rlimit_as_is_one_line_regression(limit_mib, tmp_path):
    limit = limit_mib * 2**20

    def cap():
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    env = dict(os.environ, OPENBLAS_NUM_THREADS="1")
    args = ["train", "--hidden", "4000,4000", "--epochs", "1", "--quiet"]
    result = subprocess.run(
        [sys.executable, "-m", "glassnet", *args, "--batch-size", "1024"],
        preexec_fn=cap, capture_output=True, text=True, timeout=120, env=env,
        cwd=tmp_path,
    )  # fmt: skip
    err = result.stderr
    assert result.returncode == 1, err
    assert "Traceback" not in err and err.count("\n") == 1, err
    assert err.startswith("glassnet train: error: ")
    assert "out of memory" in err or "GiB available" in err


def test_csv_larger_than_memory_refused_with_the_figure(tmp_path):
    # A sparse 2 GiB CSV under a 1.5 GiB address-space limit: refused before
    # pandas parses anything, with both figures.
    path = tmp_path / "big.csv"
    with open(path, "wb") as handle:
        handle.write(b"a,b\n")
        handle.truncate(2 * GIB)
    limit = 3 * GIB // 2
    code = (
        "import resource, sys\n"
        f"resource.setrlimit(resource.RLIMIT_AS, ({limit}, {limit}))\n"
        "from glassnet.data.tables import read_table\n"
        "try:\n"
        f"    read_table({str(path)!r})\n"
        "except MemoryError as error:\n"
        "    print(type(error).__name__, error)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
        env=dict(os.environ, OPENBLAS_NUM_THREADS="1"),
    )  # fmt: skip
    assert result.stdout.startswith("MemoryLimitError reading "), result
    assert "(2.0 GiB of text) needs 2.0 GiB" in result.stdout
