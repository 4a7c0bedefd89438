"""Streaming a data file chunk by chunk (glassnet.data.streaming) and training on it.

The in-memory side of each comparison is built from the generated arrays themselves,
not from a reader, so a parsing or bookkeeping error of the stream shows up.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import zlib

import numpy as np
import pytest

import glassnet as gn
from glassnet.data import streaming
from glassnet.data.column_stats import ColumnStats
from glassnet.data.errors import DataError
from glassnet.data.preprocessing import Preprocessing

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")
pcsv = pytest.importorskip("pyarrow.csv")


def _columns(n: int, seed: int):
    """Numeric columns (one with empty cells), a text column, a text target."""
    rng = np.random.default_rng(seed)
    X = np.round(rng.normal(size=(n, 3)), 3)
    x2 = X[:, 2].copy()
    x2[rng.random(n) < 0.05] = np.nan
    city = rng.choice(np.array(["Paris", "Rome", "Oslo"], dtype=object), n)
    y = np.where(X[:, 0] - X[:, 1] + (city == "Rome") > 0, "yes", "no").astype(object)
    return {"x0": X[:, 0], "x1": X[:, 1], "x2": x2, "city": city, "y": y}


def _write(path, columns, row_group=None):
    table = pa.table({k: pa.array(v, from_pandas=True) for k, v in columns.items()})
    if str(path).endswith(".parquet"):
        pq.write_table(table, path, row_group_size=row_group)
    else:
        pcsv.write_csv(table, path)
    return str(path)


FEATURES = ["x0", "x1", "x2", "city"]


def _source(path, columns, split=None, chunk_bytes=streaming.CHUNK_BYTES,
            buffer_rows=streaming.BUFFER_ROWS, role="train"):  # fmt: skip
    """A StreamedRows over ``path`` whose record is fitted on the generated
    training rows (the independent side)."""
    stream = streaming.open_stream(path, chunk_bytes)
    found = streaming.survey(stream, "y", FEATURES, split)
    keep = np.ones(len(columns["y"]), dtype=bool)
    if split is not None:
        keep = ~split.validation(0, len(keep))
    record = Preprocessing.fit(
        {f: columns[f][keep] for f in FEATURES}, FEATURES, "classification", "y"
    )

    def encode(cols):
        y = (cols["y"] == "yes").astype(np.int64)
        return record.transform({f: cols[f] for f in FEATURES})[0], y

    n = found.n_train if role == "train" else found.n_val
    source = streaming.StreamedRows(
        stream, encode, n, split=split, role=role, buffer_rows=buffer_rows,
        dtype=np.float32,
    )  # fmt: skip
    return source, record, keep, found


def _net(n_inputs, seed=0):
    return gn.Sequential(
        gn.Dense(n_inputs, 8, "tanh"), gn.Dense(8, 1, "sigmoid"), seed=seed
    )


# -- training -------------------------------------------------------------------------
@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_one_chunk_and_a_whole_buffer_train_as_fit_on_arrays_bit_for_bit(
    tmp_path, suffix
):
    """With the file in one chunk and the buffer holding every row, the streamed
    epochs are fit's own shuffle: the weights equal fit on the arrays exactly."""
    columns = _columns(600, seed=1)
    path = _write(tmp_path / f"d{suffix}", columns)
    split = streaming.RowSplit(0.2, seed=5)
    source, record, keep, _ = _source(path, columns, split)
    assert len(source.stream.chunks) == 1
    X, _ = record.transform({f: columns[f][keep] for f in FEATURES})
    y = (columns["y"][keep] == "yes").astype(np.int64)

    a, b = _net(record.n_inputs), _net(record.n_inputs)
    ha = a.fit(X, y, epochs=3, batch_size=32, seed=7, verbose=0)
    hb = b.fit(source, epochs=3, batch_size=32, seed=7, verbose=0)
    assert np.array_equal(a.flat_params, b.flat_params)
    assert ha.history["loss"] == hb.history["loss"]
    assert hb.params["steps"] == -(-int(keep.sum()) // 32)


def test_many_chunks_visit_every_training_row_once_per_epoch(tmp_path):
    n = 3000
    columns = _columns(n, seed=2)
    columns["x0"] = np.arange(n, dtype=np.float64)  # the row number, to track rows
    path = _write(tmp_path / "d.csv", columns)
    split = streaming.RowSplit(0.25, seed=3)
    stream = streaming.open_stream(path, chunk_bytes=4096)
    assert len(stream.chunks) > 10
    found = streaming.survey(stream, "y", FEATURES, split)
    held = split.validation(0, n)
    assert (found.n_train, found.n_val) == (int((~held).sum()), int(held.sum()))

    def rows_of(cols):
        return cols["x0"][:, None], cols["x0"]

    train = streaming.StreamedRows(stream, rows_of, found.n_train, split=split,
                                   buffer_rows=500)  # fmt: skip
    val = streaming.StreamedRows(stream, rows_of, found.n_val, split=split,
                                 role="validation")  # fmt: skip
    orders = []
    for epoch in (0, 1):
        batches = list(train.batches(64, seed=11, epoch=epoch))
        assert all(len(b[1]) == 64 for b in batches[:-1])
        seen = np.concatenate([b[1] for b in batches])
        assert np.array_equal(np.sort(seen), np.flatnonzero(~held))
        orders.append(seen)
    assert not np.array_equal(orders[0], orders[1])  # a new order each epoch
    again = np.concatenate([b[1] for b in train.batches(64, seed=11, epoch=1)])
    assert np.array_equal(again, orders[1])  # a function of (seed, epoch)
    val_rows = np.concatenate([b[1] for b in val.batches(100)])
    assert np.array_equal(val_rows, np.flatnonzero(held))  # same rows, file order


def test_same_seed_same_weights_and_learns(tmp_path):
    columns = _columns(4000, seed=4)
    path = _write(tmp_path / "d.csv", columns)
    split = streaming.RowSplit(0.2, seed=0)
    weights = []
    for _ in range(2):
        source, record, _, _ = _source(path, columns, split, chunk_bytes=8192,
                                       buffer_rows=700)  # fmt: skip
        val, *_ = _source(path, columns, split, role="validation")
        net = _net(record.n_inputs)
        history = net.fit(source, epochs=4, batch_size=32, seed=3, verbose=0,
                          validation_data=val, metrics=["accuracy"])  # fmt: skip
        weights.append(net.flat_params.copy())
    assert np.array_equal(weights[0], weights[1])
    # y is a noiseless function of the inputs: well above the majority class.
    assert history.history["val_accuracy"][-1] > 0.9


def test_resume_inside_an_epoch_gives_the_uninterrupted_weights(tmp_path):
    columns = _columns(1500, seed=6)
    path = _write(tmp_path / "d.csv", columns)
    source, record, _, _ = _source(path, columns, chunk_bytes=4096, buffer_rows=300)
    whole = _net(record.n_inputs)
    opt = gn.Adam(lr=0.01)
    whole.fit(source, epochs=2, batch_size=50, seed=1, verbose=0, optimizer=opt)

    stops = []

    class StopAt(gn.training.Callback):
        def on_batch_end(self, step, logs=None):
            if self.trainer.epoch == 1 and step == 9:
                stops.append(self.trainer.position())
                self.trainer.stop_training = True

    part = _net(record.n_inputs)
    opt2 = gn.Adam(lr=0.01)
    h = part.fit(source, epochs=2, batch_size=50, seed=1, verbose=0, optimizer=opt2,
                 callbacks=[StopAt()])  # fmt: skip
    assert (h.next_epoch, h.next_step) == (1, 10) == stops[0]
    part.fit(source, epochs=2, batch_size=50, seed=1, verbose=0, optimizer=opt2,
             initial_epoch=1, initial_step=10)  # fmt: skip
    assert np.array_equal(whole.flat_params, part.flat_params)


# -- statistics and types ----------------------------------------------------------------
def test_statistics_from_chunks_equal_one_pass(tmp_path):
    columns = _columns(5000, seed=8)
    path = _write(tmp_path / "d.csv", columns)
    split = streaming.RowSplit(0.1, seed=2)
    stream = streaming.open_stream(path, chunk_bytes=2048)
    assert len(stream.chunks) > 20
    found = streaming.survey(stream, "y", FEATURES, split)
    keep = ~split.validation(0, 5000)
    whole = ColumnStats().update({f: columns[f][keep] for f in FEATURES})
    for name in FEATURES:
        a, b = found.stats.columns[name], whole.columns[name]
        assert (a.n_rows, a.n_missing, a.count) == (b.n_rows, b.n_missing, b.count)
        assert a.counts == b.counts
        assert a.mean == pytest.approx(b.mean, rel=1e-12, abs=1e-15)
        assert a.m2 == pytest.approx(b.m2, rel=1e-12)
        assert a.median() == b.median() or (
            np.isnan(a.median()) and np.isnan(b.median())
        )
    # Against numpy directly: the filled, standardised column of the record.
    x2 = columns["x2"][keep]
    assert found.stats.columns["x2"].mean == pytest.approx(np.nanmean(x2), rel=1e-12)
    assert found.stats.columns["x2"].median() == np.nanmedian(x2)
    assert found.distinct == ["no", "yes"] and found.target_kind == "text"


@pytest.mark.parametrize("words_from", [800, 1500])
def test_a_column_of_numbers_then_text_is_typed_from_all_chunks(tmp_path, words_from):
    """Numbers in the first chunks, words later: the scan restarts with the column
    as text, so every chunk counts its cells the same way. Mostly words: a text
    column, whose numbers are categories too; mostly numbers: the record's clear
    error naming the first word (numbers held as text are not silently categories)."""
    n = 2000
    rng = np.random.default_rng(zlib.crc32(b"mixed"))
    numbers = rng.integers(0, 3, n).astype(str)
    mixed = np.where(np.arange(n) < words_from, numbers, "word")
    path = tmp_path / "m.csv"
    rows = "\n".join(f"{m},{i % 2}" for i, m in enumerate(mixed))
    path.write_text("m,y\n" + rows + "\n")
    stream = streaming.open_stream(str(path), chunk_bytes=1024)
    found = streaming.survey(stream, "y", ["m"], None)
    assert str(stream.types["m"]) == "string"
    counts = found.stats.columns["m"].category_counts()
    expected = {v: int((mixed == v).sum()) for v in np.unique(mixed)}
    assert counts == expected  # "0", "1", "2" from the first chunks as text too
    first_part = next(stream.read(stream.chunks[0]))[1]["m"]
    assert first_part.dtype == object and isinstance(first_part[0], str)
    if words_from == 1500:
        with pytest.raises(
            DataError, match=r"'m' holds numbers, but row 1501 .*'word'"
        ):
            Preprocessing.from_stats(found.stats, ["m"], "classification", "y")
        return
    record = Preprocessing.from_stats(found.stats, ["m"], "classification", "y")
    assert record.columns[0].kind == "categorical"
    assert list(record.columns[0].categories) == ["0", "1", "2", "word"]


def test_a_numeric_column_with_a_word_in_a_later_chunk_is_a_clear_error(tmp_path):
    n = 2000
    cells = [f"{i * 0.5}" for i in range(n)]
    cells[1800] = "?"
    path = tmp_path / "q.csv"
    path.write_text("x,y\n" + "\n".join(f"{c},{i % 2}" for i, c in enumerate(cells)))
    stream = streaming.open_stream(str(path), chunk_bytes=1024)
    found = streaming.survey(stream, "y", ["x"], None)
    with pytest.raises(DataError, match=r"column 'x' holds numbers.*'\?'"):
        Preprocessing.from_stats(found.stats, ["x"], "classification", "y")


def test_int_column_widened_to_float_keeps_counting(tmp_path):
    path = tmp_path / "w.csv"
    values = [str(i) for i in range(1000)] + ["2.5"] + [str(i) for i in range(500)]
    path.write_text("x,y\n" + "\n".join(f"{v},{i % 2}" for i, v in enumerate(values)))
    stream = streaming.open_stream(str(path), chunk_bytes=512)
    found = streaming.survey(stream, "y", ["x"], None)
    x = np.array(values, dtype=float)
    assert str(stream.types["x"]) == "double"
    assert found.stats.columns["x"].count == len(x)
    assert found.stats.columns["x"].mean == pytest.approx(x.mean(), rel=1e-12)


def test_quoted_line_breaks_never_split_a_row(tmp_path):
    path = tmp_path / "q.csv"
    rows = [f'{i},"line one\nline ""{i}"" two",{i % 2}' for i in range(300)]
    path.write_text("a,t,y\n" + "\n".join(rows) + "\n")
    stream = streaming.open_stream(str(path), chunk_bytes=100)
    assert len(stream.chunks) > 30
    parts = [cols for _, cols in stream.scan()]
    assert np.array_equal(np.concatenate([p["a"] for p in parts]), np.arange(300))
    texts = np.concatenate([p["t"] for p in parts])
    assert texts[7] == 'line one\nline "7" two'


@pytest.mark.parametrize(
    "nested",
    [
        pa.array([[1, 2], [3]] * 5),
        pa.array([{"a": 1, "b": "x"}, {"a": 2, "b": "y"}] * 5),
    ],
)
def test_nested_parquet_columns_are_refused_by_name(tmp_path, nested):
    table = pa.table({"x": np.arange(10.0), "deep": nested, "y": np.arange(10) % 2})
    pq.write_table(table, tmp_path / "n.parquet")
    with pytest.raises(DataError, match=r"column 'deep' is nested"):
        streaming.open_stream(str(tmp_path / "n.parquet"))


def test_row_split_is_a_seeded_hash_of_the_row_number():
    split = streaming.RowSplit(0.3, seed=9)
    mask = split.validation(0, 200_000)
    assert abs(mask.mean() - 0.3) < 0.005  # binomial sd 0.001
    assert np.array_equal(split.validation(1234, 77), mask[1234 : 1234 + 77])
    other = streaming.RowSplit(0.3, seed=10).validation(0, 200_000)
    # independent masks agree on 0.3^2 + 0.7^2 = 0.58 of the rows (sd 0.0011)
    assert abs((mask == other).mean() - 0.58) < 0.01
    assert not streaming.RowSplit(0.0, seed=9).validation(0, 100).any()


def test_splitmix64_matches_the_reference_values():
    # SplitMix64 seeded with 0: its first outputs (state advanced by the golden
    # gamma each time), as printed by the reference C implementation.
    x = np.array([0, 0x9E3779B97F4A7C15], dtype=np.uint64)
    assert [hex(v) for v in streaming.splitmix64(x)] == [
        "0xe220a8397b1dcdaf",
        "0x6e789e6aa1b965f4",
    ]


# -- the command line ---------------------------------------------------------------------
def test_cli_stream_says_so_and_writes_a_model_that_predicts(tmp_path, capsys):
    from glassnet.cli import main

    columns = _columns(800, seed=12)
    path = _write(tmp_path / "d.parquet", columns, row_group=200)
    out = tmp_path / "m.safetensors"
    code = main(["train", path, "--target", "y", "--stream", "--epochs", "3",
                 "--hidden", "8", "--out", str(out)])  # fmt: skip
    text = capsys.readouterr().out
    assert code == 0
    assert "data streamed in 4 chunks (--stream)" in text
    code = main(["train", path, "--target", "y", "--no-stream", "--epochs", "1",
                 "--hidden", "8", "--out", str(tmp_path / "n.safetensors")])  # fmt: skip
    assert code == 0 and "data read in memory (--no-stream)" in capsys.readouterr().out
    assert main(["predict", str(out), path, "--out", str(tmp_path / "p.csv")]) == 0


def test_cli_stream_refuses_what_it_cannot_stream(tmp_path, capsys):
    from glassnet.cli import main

    np.save(tmp_path / "a.npy", np.zeros((20, 3)))
    code = main(["train", str(tmp_path / "a.npy"), "--target", "2", "--stream"])
    assert code == 1
    assert "--stream: npy files are read whole" in capsys.readouterr().err


_MEASURE = textwrap.dedent(
    """
    import json, sys
    from glassnet.data import column_stats, streaming
    from glassnet.cli import main
    # Bounded parts of the path, shrunk so that none is as large as the test file:
    # the median's reservoir (up to 1M values a column), the chunk and the buffer.
    column_stats.RESERVOIR = 10_000
    streaming.CHUNK_BYTES = 1 << 20
    streaming.BUFFER_ROWS = 20_000
    code = main(["train", sys.argv[1], "--target", "y", "--epochs", "1", "--quiet",
                 "--batch-size", "2048", "--hidden", "8", "--out", sys.argv[2],
                 sys.argv[3]])
    peak = [l for l in open("/proc/self/status") if l.startswith("VmHWM")]
    print(json.dumps({"code": code, "peak_kb": int(peak[0].split()[1])}))
    """
)


@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="needs /proc")
def test_streamed_training_memory_does_not_grow_with_the_file(tmp_path):
    """Peak RSS of a streamed run on 200k rows x 20 numbers stays within 60 MB of
    the same run on 1000 rows.

    Why 60 MB: the 200k x 20 values take 32 MB as float64. Reading the file whole
    holds at least three copies of them at once (the parsed columns, the matrix,
    its standardised copy: >= 96 MB above the small run; 139 MB measured with
    --no-stream), so the bound fails if the file is loaded. Streamed, what grows is
    bounded: one 1 MB chunk's parsing (~14 MB), the 20k-row buffer (2 MB), the
    10k-value reservoirs (2 MB) and the per-row outputs kept for the epoch's
    metrics (200k x 4 bytes x 2 = 2 MB); 23 MB was measured.
    """
    rng = np.random.default_rng(zlib.crc32(b"memory"))

    def file_of(n):
        X = np.round(rng.normal(size=(n, 20)), 3)
        cols = {f"x{j}": X[:, j] for j in range(20)}
        cols["y"] = (X[:, 0] > 0).astype(np.int64)
        return _write(tmp_path / f"f{n}.csv", cols)

    def peak(path, how):
        out = subprocess.run(
            [sys.executable, "-c", _MEASURE, path, str(tmp_path / "m.st"), how],
            capture_output=True, text=True, timeout=300, check=True,
        )  # fmt: skip
        got = json.loads(out.stdout.strip().splitlines()[-1])
        assert got["code"] == 0, out.stderr
        return got["peak_kb"] * 1024

    small, big = file_of(1000), file_of(200_000)
    grown = peak(big, "--stream") - peak(small, "--stream")
    assert grown < 60 * 2**20, f"streamed peak grew by {grown / 2**20:.0f} MB"


def test_ctrl_c_in_a_streamed_epoch_stops_with_the_position(tmp_path):
    """KeyboardInterrupt outside a step (as the Ctrl-C handler's flag or a
    callback) stops after the step with the weights kept, as for arrays."""
    columns = _columns(1000, seed=13)
    path = _write(tmp_path / "d.csv", columns)
    source, record, _, _ = _source(path, columns, chunk_bytes=4096, buffer_rows=200)

    class Interrupt(gn.training.Callback):
        def on_batch_end(self, step, logs=None):
            if step == 4:
                raise KeyboardInterrupt

    net = _net(record.n_inputs)
    history = net.fit(source, epochs=2, batch_size=40, seed=0, verbose=0,
                      callbacks=[Interrupt()])  # fmt: skip
    assert history.stop_reason == "interrupted"
    assert (history.next_epoch, history.next_step) == (0, 5)
    assert np.isfinite(net.flat_params).all()


def test_cli_streamed_resume_equals_an_uninterrupted_run(tmp_path, capsys):
    from glassnet.cli import main
    from glassnet.io import load

    columns = _columns(600, seed=14)
    path = _write(tmp_path / "d.csv", columns)
    common = ["train", path, "--target", "y", "--stream", "--hidden", "6", "--quiet"]
    assert main([*common, "--epochs", "3", "--out", str(tmp_path / "a.st")]) == 0
    ckpt = str(tmp_path / "ckpt")
    out_b = str(tmp_path / "b.st")
    assert (
        main([*common, "--epochs", "2", "--checkpoint-dir", ckpt, "--out", out_b]) == 0
    )
    resume = ["train", "--checkpoint-dir", ckpt, "--resume", "--epochs", "3", "--quiet"]
    assert main([*resume, "--out", out_b]) == 0
    capsys.readouterr()
    a, b = load(str(tmp_path / "a.st")), load(out_b)
    assert np.array_equal(a.flat_params, b.flat_params)


def test_cli_streams_by_itself_when_the_file_would_not_fit(tmp_path, capsys,
                                                           monkeypatch):  # fmt: skip
    from glassnet.cli import main, train_stream

    columns = _columns(300, seed=15)
    path = _write(tmp_path / "d.csv", columns)
    size = os.path.getsize(path)
    # Reading it whole is estimated at 5x its size, streamed beyond half of what is
    # available: 12x available reads it whole, 8x streams.
    monkeypatch.setattr(train_stream, "available_memory", lambda: 12 * size)
    common = ["train", path, "--target", "y", "--epochs", "1", "--hidden", "4"]
    assert main([*common, "--out", str(tmp_path / "a.st")]) == 0
    assert "data read in memory (it fits in memory)" in capsys.readouterr().out
    monkeypatch.setattr(train_stream, "available_memory", lambda: 8 * size)
    assert main([*common, "--out", str(tmp_path / "b.st")]) == 0
    assert "data streamed in 1 chunk (reading it whole would take" in (
        capsys.readouterr().out
    )


def test_a_file_that_is_not_utf8_is_a_clear_error_not_a_retry_loop(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_bytes(b"a,b\n1,x\n2,\xff\xfe\n")
    stream = streaming.open_stream(str(path))
    with pytest.raises(DataError, match=r"bad.csv is not a valid CSV file.*UTF8"):
        list(stream.scan())
