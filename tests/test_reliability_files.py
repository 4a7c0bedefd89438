"""Files and memory on untrusted input: generator states that would crash numpy,
writes that must not destroy the old file, FIFOs that would hang, and small files that
declare gigabytes. See RELIABILITY.md."""

from __future__ import annotations

import errno
import io
import json
import os
import subprocess
import sys
import threading
import tracemalloc
import zipfile
from pathlib import Path

import numpy as np
import pytest

import glassnet as gn
from glassnet.cli import main
from glassnet.data.errors import DataError
from glassnet.data.tables import read_table
from glassnet.io import atomic, container
from glassnet.io.architecture import BIT_GENERATORS, check_rng_state
from glassnet.io.checkpoint import checkpoint_bytes, load_checkpoint
from glassnet.io.errors import ModelFormatError
from glassnet.training.history import History

TIMEOUT = 60  # seconds; only a hang or a crash loop reaches it


def run_python(code: str, *args: str, stdin: bytes | None = None):
    """``code`` in a fresh interpreter: a segfault there is a return code, not the
    end of the test run."""
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        input=stdin,
        capture_output=True,
        timeout=TIMEOUT,
    )


def resigned(data: bytes, edit) -> bytes:
    """``data`` (a glassnet file) with its architecture JSON edited by ``edit`` and
    the checksum recomputed, so that the edit reaches the deep checks."""
    header, tensors = container.decode(data)
    meta = dict(header.metadata)
    arch = json.loads(meta["architecture"])
    edit(arch)
    meta["architecture"] = json.dumps(arch)
    return container.encode(tensors, meta)


def philox_net(seed: int = 0) -> gn.Sequential:
    rng = np.random.Generator(np.random.Philox(seed))
    return gn.Sequential(
        gn.Dense(3, 4, "relu"), gn.Dropout(0.5), gn.Dense(4, 1), seed=rng
    )


# -- 1. generator states --------------------------------------------------------------
_LOAD_AND_DRAW = """
import sys, glassnet as gn
for path in sys.argv[1:]:
    try:
        net = gn.load(path)
    except gn.ModelFormatError as error:
        print("refused:", error, flush=True)
    else:
        print("drew", net.rng.random(4).tolist(), flush=True)
"""


def test_philox_buffer_pos_out_of_range_is_refused_not_a_crash(tmp_path):
    """A saved Philox state with buffer_pos = -2**31 loaded and then segfaulted on the
    first draw; -5 read adjacent memory. Now the file is refused, naming the field."""
    data = gn.io.to_bytes(philox_net())
    positions = [-(2**31), -5, 5, 2**31]
    paths = []
    for buffer_pos in positions:
        path = tmp_path / f"m{len(paths)}.safetensors"
        edit = lambda a, p=buffer_pos: a["rng"].update(buffer_pos=p)  # noqa: E731
        path.write_bytes(resigned(data, edit))
        paths.append(str(path))
    result = run_python(_LOAD_AND_DRAW, *paths)
    assert result.returncode == 0, result.stderr.decode()[-500:]
    lines = result.stdout.decode().splitlines()
    assert len(lines) == len(positions)
    for buffer_pos, line in zip(positions, lines, strict=True):
        assert line.startswith("refused:"), line
        assert "buffer_pos must be an integer in [0, 4]" in line
        assert f"got {buffer_pos}" in line


_EDGE_SWEEP = """
import json, sys
import numpy as np
from glassnet.io.architecture import check_rng_state, rng_state_to_json
from glassnet.io.errors import ModelFormatError

results = []
for case in json.loads(sys.stdin.read()):
    try:
        bit_generator = check_rng_state(case["state"], "rng")
    except ModelFormatError as error:
        results.append(["refused", str(error)])
        continue
    draws = bit_generator.random_raw(12).tolist()
    generator = np.random.Generator(bit_generator)
    generator.random(3), generator.integers(0, 10, 3)  # a full draw path too
    results.append(["accepted", draws])
print(json.dumps(results))
"""

_U = {"u32": 2**32, "u64": 2**64, "u128": 2**128}
#: generator -> (path to the field, its bound, list length or None)
_FIELDS = {
    "PCG64": [(("state", "state"), "u128", None), (("state", "inc"), "u128", None),
              (("has_uint32",), 2, None), (("uinteger",), "u32", None)],
    "PCG64DXSM": [(("state", "state"), "u128", None), (("state", "inc"), "u128", None),
                  (("has_uint32",), 2, None), (("uinteger",), "u32", None)],
    "MT19937": [(("state", "key"), "u32", 624), (("state", "pos"), 625, None)],
    "Philox": [(("state", "counter"), "u64", 4), (("state", "key"), "u64", 2),
               (("buffer",), "u64", 4), (("buffer_pos",), 5, None),
               (("has_uint32",), 2, None), (("uinteger",), "u32", None)],
    "SFC64": [(("state", "state"), "u64", 4), (("has_uint32",), 2, None),
              (("uinteger",), "u32", None)],
}  # fmt: skip


def _with(state: dict, path: tuple, value) -> dict:
    state = json.loads(json.dumps(state))
    target = state
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return state


def _edge_cases():
    """(generator, field, value, valid) for each field's edges, and the states."""
    cases = []
    for name, fields in _FIELDS.items():
        base = json.loads(json.dumps(_plain(BIT_GENERATORS[name](7).state)))
        for path, bound, length in fields:
            bound = _U.get(bound, bound)
            field = ".".join(path)
            numbers = [0, bound - 1, -1, bound, -(2**31), 2**64 + 5]
            values = [(v, 0 <= v < bound) for v in numbers]
            values += [(True, False), (1.0, False), ("1", False), (None, False)]
            for value, valid in values:
                if length is None:
                    cases.append((name, field, value, valid, _with(base, path, value)))
                else:  # one item at an edge; then the list's own length
                    items = [1] * length
                    items[-1] = value
                    cases.append((name, field, value, valid, _with(base, path, items)))
            if length is not None:
                for n in (0, length - 1, length + 1):
                    cases.append((name, field, f"len {n}", False,
                                  _with(base, path, [1] * n)))  # fmt: skip
            missing = json.loads(json.dumps(base))
            holder = missing
            for key in path[:-1]:
                holder = holder[key]
            del holder[path[-1]]
            cases.append((name, field, "missing", False, missing))
        cases.append((name, "extra key", "extra", False, {**base, "extra": 1}))
    return cases


def _plain(state):
    from glassnet.io.architecture import rng_state_to_json

    return rng_state_to_json(state)


def test_every_generator_field_edge_is_checked_in_a_subprocess():
    """Each field of each bit generator at its edges: valid edges load and draw what
    numpy draws from the same state; every invalid value is refused, naming the
    field; nothing crashes (the sweep runs in a child process)."""
    cases = _edge_cases()
    payload = json.dumps([{"state": c[4]} for c in cases]).encode()
    result = run_python(_EDGE_SWEEP, stdin=payload)
    assert result.returncode == 0, result.stderr.decode()[-800:]
    outcomes = json.loads(result.stdout)
    assert len(outcomes) == len(cases) > 150
    for (name, field, value, valid, state), (kind, detail) in zip(
        cases, outcomes, strict=True
    ):
        where = f"{name} {field}={value!r}"
        if not valid:
            assert kind == "refused", where
            assert f"not a valid {name} state" in detail, (where, detail)
            leaf = field.split(".")[-1]
            assert leaf in detail or "extra" in detail, (where, detail)
            continue
        assert kind == "accepted", (where, detail)
        reference = BIT_GENERATORS[name]()
        reference.state = state  # a valid state: numpy's own setter is safe here
        assert detail == reference.random_raw(12).tolist(), where


def test_saved_generator_states_round_trip_through_the_checks():
    """Every registered generator, mid-stream (buffered words, a spare uint32), comes
    back from a file drawing the same numbers as the original."""
    for name, cls in BIT_GENERATORS.items():
        bit_generator = cls(11)
        generator = np.random.Generator(bit_generator)
        generator.integers(0, 2**31, 3, dtype=np.uint32)  # leaves a spare uint32
        net = gn.Sequential(gn.Dense(2, 2), seed=generator)
        loaded = gn.io.from_bytes(gn.io.to_bytes(net))
        assert type(loaded.rng.bit_generator).__name__ == name
        np.testing.assert_array_equal(
            loaded.rng.random(5), net.rng.random(5), err_msg=name
        )


def test_checkpoint_with_a_crashing_generator_state_is_refused(tmp_path):
    """The training record's rng_state goes through the same checks."""
    net = philox_net(1)
    state = net.rng.bit_generator.state
    data = checkpoint_bytes(net, None, None, state, 1, 1)
    header, tensors = container.decode(data)
    meta = dict(header.metadata)
    training = json.loads(meta["training"])
    training["rng_state"]["buffer_pos"] = -(2**31)
    meta["training"] = json.dumps(training)
    path = tmp_path / "c.safetensors"
    path.write_bytes(container.encode(tensors, meta))
    code = (
        "import sys\nfrom glassnet.io.checkpoint import load_checkpoint\n"
        "import glassnet as gn\n"
        "try:\n    c = load_checkpoint(sys.argv[1])\n"
        "except gn.ModelFormatError as e:\n    print('refused:', e)\n"
        "else:\n    print('drew', c.net.rng.random(3))\n"
    )
    result = run_python(code, str(path))
    assert result.returncode == 0, result.stderr.decode()[-500:]
    out = result.stdout.decode()
    assert out.startswith("refused:") and "training rng_state" in out, out
    assert "buffer_pos" in out


def test_check_rng_state_returns_a_state_numpy_can_take_as_is():
    """The checked state is rebuilt from checked parts: arrays of the generator's own
    dtype, Python ints; nothing of the input object reaches numpy."""
    state = _plain(np.random.MT19937(3).state)
    bit_generator = check_rng_state(state, "rng")
    key = bit_generator.state["state"]["key"]
    assert key.dtype == np.uint32 and key.shape == (624,)
    reference = np.random.MT19937(3)
    np.testing.assert_array_equal(bit_generator.random_raw(4), reference.random_raw(4))


# -- 4. writes survive a full disk ----------------------------------------------------
class _FullDisk:
    """A temporary file whose writes fail with ENOSPC after a few bytes."""

    def __init__(self, path, mode):
        self._file = open(path, mode)  # noqa: SIM115 - closed in __exit__

    def write(self, data):
        self._file.write(bytes(data)[:3])
        raise OSError(errno.ENOSPC, "No space left on device")

    def __getattr__(self, name):
        return getattr(self._file, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._file.close()


@pytest.fixture
def full_disk(monkeypatch):
    """Call it to make the disk full from then on."""
    return lambda: monkeypatch.setattr(atomic, "_open_file", _FullDisk)


def _leftovers(folder: Path) -> list[str]:
    return [p.name for p in folder.iterdir() if p.name.endswith(atomic.TEMP_SUFFIX)]


def test_attack_json_on_a_full_disk_keeps_the_old_report(tmp_path, full_disk, capsys):
    net = gn.Sequential(gn.Dense(2, 2, "softmax"), dtype="float64", seed=0)
    gn.save(net, tmp_path / "m.safetensors")
    (tmp_path / "d.csv").write_text("p,q,y\n0.1,0.2,1\n0.9,-0.3,0\n-0.5,0.4,1\n")
    report = tmp_path / "report.json"
    report.write_text('{"old": true}')
    full_disk()
    code = main(["attack", str(tmp_path / "m.safetensors"), str(tmp_path / "d.csv"),
                 "--target", "y", "--eps", "0.1", "--method", "fgsm",
                 "--json", str(report)])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 1 and "No space left on device" in err
    # one error line (after the warning that this bare model takes columns by position)
    lines = [
        line for line in err.strip().splitlines() if not line.startswith("warning:")
    ]
    assert len(lines) == 1 and "file order (p, q)" in err
    assert report.read_text() == '{"old": true}'
    assert _leftovers(tmp_path) == []


def test_history_to_json_on_a_full_disk_keeps_the_old_file(tmp_path, full_disk):
    history = History({"epochs": 1})
    history.append(0, {"loss": 0.5})
    path = tmp_path / "history.json"
    path.write_text("old history")
    full_disk()
    with pytest.raises(OSError, match="No space left"):
        history.to_json(path)
    assert path.read_text() == "old history"
    assert _leftovers(tmp_path) == []


def test_history_to_json_writes_what_it_returns(tmp_path):
    history = History({"epochs": 1})
    history.append(0, {"loss": 0.25})
    path = tmp_path / "history.json"
    text = history.to_json(path)
    assert path.read_text() == text
    assert History.from_json(path).to_dict() == history.to_dict()


# -- 7. FIFOs -------------------------------------------------------------------------
def _finishes(target, seconds: float = 20.0):
    """Runs ``target`` in a daemon thread; its result or exception, or fails the
    test (instead of hanging it) when it has not finished in time."""
    outcome = {}

    def work():
        try:
            outcome["value"] = target()
        except BaseException as error:  # handed to the test thread
            outcome["error"] = error

    thread = threading.Thread(target=work, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), "hung: still blocked after the timeout"
    if "error" in outcome:
        raise outcome["error"]
    return outcome.get("value")


@pytest.fixture
def fifo(tmp_path):
    if not hasattr(os, "mkfifo"):
        pytest.skip("this platform has no FIFOs")
    path = tmp_path / "m.safetensors"
    os.mkfifo(path)
    return path


def test_fifo_as_model_file_is_refused_not_a_hang(fifo, capsys):
    with pytest.raises(ModelFormatError, match="is a FIFO .*not a regular file"):
        _finishes(lambda: gn.load(fifo))
    with pytest.raises(ModelFormatError, match="is a FIFO"):
        _finishes(lambda: load_checkpoint(fifo))
    with pytest.raises(ModelFormatError, match="is a FIFO"):
        _finishes(lambda: container.read_header_of_file(fifo))
    for argv in (["info", str(fifo)], ["predict", str(fifo), "data.csv"]):
        assert _finishes(lambda argv=argv: main(argv)) == 1
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and "is a FIFO" in err[0], err


def _csv_rows():
    return "a,b\n1.5,2\n-3,4.25\n0,1\n"


def test_fifo_as_data_file_is_read_whole(tmp_path):
    """Reported "empty (0 bytes)" before; now read once from the pipe."""
    path = tmp_path / "d.csv"
    os.mkfifo(path)

    def feed():
        with open(path, "w") as pipe:
            pipe.write(_csv_rows())

    writer = threading.Thread(target=feed, daemon=True)
    writer.start()
    table = _finishes(lambda: read_table(path))
    writer.join(5)
    np.testing.assert_array_equal(table.columns["a"], [1.5, -3.0, 0.0])
    np.testing.assert_array_equal(table.columns["b"], [2.0, 4.25, 1.0])


def test_fifo_with_nothing_written_says_so(tmp_path):
    path = tmp_path / "d.npy"
    os.mkfifo(path)
    writer = threading.Thread(target=lambda: open(path, "wb").close(), daemon=True)
    writer.start()
    with pytest.raises(DataError, match="is empty: nothing was written to it"):
        _finishes(lambda: read_table(path))


def test_predict_reads_csv_from_standard_input(tmp_path, capsys):
    net = gn.Sequential(gn.Dense(2, 1), dtype="float64", seed=0)
    model = tmp_path / "m.safetensors"
    gn.save(net, model)
    (tmp_path / "d.csv").write_text(_csv_rows())
    assert main(["predict", str(model), str(tmp_path / "d.csv")]) == 0
    from_file = capsys.readouterr().out
    command = "import sys\nfrom glassnet.cli import main\nsys.exit(main(sys.argv[1:]))"
    from_stdin = run_python(
        command, "predict", str(model), "-", stdin=_csv_rows().encode()
    )
    assert from_stdin.returncode == 0, from_stdin.stderr.decode()
    assert from_stdin.stdout.decode() == from_file
    X = np.array([[1.5, 2.0], [-3.0, 4.25], [0.0, 1.0]])
    printed = [
        float(line.split(",")[-1])
        for line in from_stdin.stdout.decode().splitlines()[1:]
    ]
    np.testing.assert_allclose(printed, net.forward(X)[:, 0], rtol=1e-6)


# -- 8. small files that declare gigabytes --------------------------------------------
def _npy_header(shape, descr="<f8") -> bytes:
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        buffer, {"descr": descr, "fortran_order": False, "shape": shape}
    )
    return buffer.getvalue()


def _peak_while(target) -> int:
    tracemalloc.start()
    try:
        target()
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return peak


def test_npy_header_claiming_1e12_values_is_refused_before_allocating(tmp_path):
    """A 128-byte header claiming (10**11, 10) float64 ended in a traceback from
    numpy's allocator."""
    path = tmp_path / "x.npy"
    path.write_bytes(_npy_header((10**11, 10)))

    def attempt():
        with pytest.raises(DataError, match=r"shape \(100000000000, 10\).*over the"):
            read_table(path)

    assert _peak_while(attempt) < 4 * 2**20


def test_npy_shorter_than_its_header_says_is_refused(tmp_path):
    path = tmp_path / "x.npy"
    path.write_bytes(_npy_header((1000, 10)) + bytes(800))
    with pytest.raises(DataError, match="80,000 bytes, but holds only 800 bytes"):
        read_table(path)


def test_deflated_npz_bomb_is_refused_from_its_headers(tmp_path):
    """A ~100 kB deflated .npz whose member expands to 128 MiB and whose header
    claims 50 GiB: refused from the declared sizes without inflating it."""
    path = tmp_path / "bomb.npz"
    zeros = bytes(1 << 24)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        with archive.open("X.npy", "w", force_zip64=True) as member:
            member.write(_npy_header((2**26, 100)))
            for _ in range(8):
                member.write(zeros)
    assert path.stat().st_size < 1 << 20

    def attempt():
        with pytest.raises(DataError, match=r"bomb.npz\['X'\] declares an array"):
            read_table(path)

    assert _peak_while(attempt) < 4 * 2**20


def test_npz_whose_declared_size_is_over_the_limit(tmp_path, monkeypatch):
    path = tmp_path / "d.npz"
    np.savez(path, X=np.zeros((100, 3)), y=np.zeros(100))
    assert len(read_table(path).columns) == 4
    monkeypatch.setenv("GLASSNET_MAX_DATA_BYTES", "1000")
    with pytest.raises(DataError, match="expands to .* over the limit of 1,000 bytes"):
        read_table(path)
    monkeypatch.setenv("GLASSNET_MAX_DATA_BYTES", "lots")
    with pytest.raises(DataError, match="GLASSNET_MAX_DATA_BYTES must be"):
        read_table(path)


def _sparse_model(path: Path, rows: int, cols: int, *, valid: bool) -> int:
    """A model file of one Dense(cols, rows) layer whose weights are zeros left as a
    hole in the file (os.truncate): hundreds of MB on disk at the cost of a header.
    Returns its size."""
    small = gn.io.to_bytes(gn.Sequential(gn.Dense(1, 1, use_bias=False), seed=0))
    header = container.parse_header(small, len(small))
    meta = dict(header.metadata)
    arch = json.loads(meta["architecture"])
    arch["layers"][0]["config"].update(in_features=cols, out_features=rows)
    meta["architecture"] = json.dumps(arch)
    nbytes = rows * cols * 4
    table = {"layers.0.W": {"dtype": "F32", "shape": [rows, cols],
                            "data_offsets": [0, nbytes]}}  # fmt: skip
    entries = {"layers.0.W": container.Entry("F32", (rows, cols), 0, nbytes)}
    if valid:
        digest = container._checksum_start(meta, entries)
        chunk = bytes(container.CHUNK_BYTES)
        for _ in range(nbytes // len(chunk)):
            digest.update(chunk)
        digest.update(bytes(nbytes % len(chunk)))
        meta["checksum"] = digest.hexdigest()
    else:
        meta["checksum"] = "0" * 64
    text = json.dumps({"__metadata__": meta, **table}).encode()
    with open(path, "wb") as f:
        f.write(len(text).to_bytes(8, "little") + text)
    size = 8 + len(text) + nbytes
    try:
        os.truncate(path, size)
    except OSError as error:
        pytest.skip(f"cannot make a sparse file here: {error}")
    if os.stat(path).st_blocks * 512 > 64 * 2**20:
        pytest.skip("this filesystem does not keep holes: the file would be real")
    return size


def test_sparse_model_with_a_bad_checksum_is_refused_before_allocating(tmp_path):
    """A sparse 1 GB model with a bad checksum was read whole (2.2 GB) before the
    refusal; the checksum is now verified on the stream first."""
    path = tmp_path / "big.safetensors"
    _sparse_model(path, 8192, 8192, valid=False)  # 256 MiB of float32

    def attempt():
        with pytest.raises(ModelFormatError, match="checksum mismatch"):
            gn.load(path)

    assert _peak_while(attempt) < 8 * 2**20


_PEAK = """
import resource, sys
import glassnet as gn
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
net = gn.load(sys.argv[1])
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print((after - before) * 1024, float(abs(net.flat_params).max()))
"""


@pytest.mark.skipif(sys.platform != "linux", reason="ru_maxrss in kB is Linux's")
def test_loading_a_model_takes_about_its_size_once(tmp_path):
    """A valid model peaked at 3.9x its size; now the parameters are read straight
    into the network's buffer: the peak grows by at most 1.5x the file's size."""
    path = tmp_path / "big.safetensors"
    size = _sparse_model(path, 4096, 8192, valid=True)  # 128 MiB of float32
    result = run_python(_PEAK, str(path))
    assert result.returncode == 0, result.stderr.decode()[-800:]
    grew, largest = result.stdout.split()
    assert float(largest) == 0.0  # the zeros of the hole, read back
    assert int(grew) <= 1.5 * size, f"peak grew by {int(grew) / size:.2f}x the size"
