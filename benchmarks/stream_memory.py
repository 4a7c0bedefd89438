"""Peak memory and time of ``glassnet train`` on big CSV and Parquet files, read
whole (``--no-stream``) and chunk by chunk (``--stream``).

Generates, in a temporary folder, a file of N rows x 50 columns: 46 numeric
columns (normal numbers with 4 decimals, a few empty cells in one), 3 text columns
(a handful of categories each) and a binary target ``y`` that depends on both;
then runs ``glassnet train`` on it as a child process and reports the child's peak
resident memory (``ru_maxrss`` from ``os.wait4``) and its wall time.

    python benchmarks/stream_memory.py                     # 1M rows, both paths
    python benchmarks/stream_memory.py --rows 5000000 --paths stream
    python benchmarks/stream_memory.py --rows 300000 --formats csv --epochs 2

Memory figures are the kernel's count and hold on a shared machine; times there
are noisy.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

N_NUMERIC = 46
TEXT_COLUMNS = {
    "city": ["Paris", "Rome", "Oslo", "Lima", "Kyiv", "Accra"],
    "colour": ["red", "green", "blue"],
    "plan": ["free", "basic", "pro", "team"],
}
WRITE_ROWS = 200_000  # rows generated and written at a time


def _part(rng, n: int):
    """One block of rows as a pyarrow table."""
    import pyarrow as pa

    X = np.round(rng.normal(size=(n, N_NUMERIC)), 4)
    columns = {f"x{j}": X[:, j] for j in range(N_NUMERIC)}
    columns["x3"] = np.where(rng.random(n) < 0.01, np.nan, X[:, 3])
    text = {
        name: rng.choice(np.array(values, dtype=object), n)
        for name, values in TEXT_COLUMNS.items()
    }
    score = X[:, 0] - X[:, 1] + 0.5 * X[:, 2] + (text["city"] == "Rome")
    columns.update(text)
    columns["y"] = np.where(score + 0.3 * rng.normal(size=n) > 0, "yes", "no")
    table = pa.table(columns)
    return table.set_column(
        table.schema.get_field_index("x3"),
        "x3",
        pa.array(columns["x3"], from_pandas=True),  # NaN -> an empty cell
    )


def generate(folder: Path, rows: int, fmt: str, seed: int = 0) -> Path:
    """The file of ``rows`` rows, written block by block (bounded memory)."""
    import pyarrow.csv as csv
    import pyarrow.parquet as pq

    path = folder / f"data_{rows}.{fmt}"
    if path.exists():
        return path
    rng = np.random.default_rng(seed)
    writer = None
    try:
        for lo in range(0, rows, WRITE_ROWS):
            part = _part(rng, min(WRITE_ROWS, rows - lo))
            if writer is None:
                if fmt == "csv":
                    writer = csv.CSVWriter(str(path), part.schema)
                else:
                    writer = pq.ParquetWriter(str(path), part.schema)
            if fmt == "csv":
                writer.write_table(part)
            else:
                writer.write_table(part, row_group_size=WRITE_ROWS)
    finally:
        if writer is not None:
            writer.close()
    return path


def run_train(path: Path, stream: bool, epochs: int, batch_size: int) -> dict:
    """Peak RSS (bytes) and wall time (s) of one ``glassnet train`` child."""
    out = path.parent / "model.safetensors"
    command = [
        sys.executable, "-m", "glassnet", "train", str(path), "--target", "y",
        "--epochs", str(epochs), "--batch-size", str(batch_size), "--quiet",
        "--stream" if stream else "--no-stream", "--out", str(out),
    ]  # fmt: skip
    started = time.perf_counter()
    child = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(child.pid, 0)
    seconds = time.perf_counter() - started
    stdout, stderr = child.stdout.read().decode(), child.stderr.read().decode()
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode != 0:
        raise SystemExit(f"glassnet train failed ({child.returncode}): {stderr}")
    return {
        "peak_rss": usage.ru_maxrss * 1024,  # Linux gives kilobytes
        "seconds": seconds,
        "result": stdout.strip().splitlines()[0] if stdout.strip() else "",
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[1_000_000])
    parser.add_argument("--formats", nargs="+", default=["csv", "parquet"])
    parser.add_argument("--paths", nargs="+", default=["memory", "stream"])
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--folder", help="keep the files here (default: a temp dir)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(args.folder or scratch)
        folder.mkdir(parents=True, exist_ok=True)
        print("| rows | format | file | path | peak RSS | time |")
        print("|---:|---|---:|---|---:|---:|")
        for rows in args.rows:
            for fmt in args.formats:
                path = generate(folder, rows, fmt)
                size = path.stat().st_size / 2**20
                for how in args.paths:
                    got = run_train(path, how == "stream", args.epochs, args.batch_size)
                    print(
                        f"| {rows:,} | {fmt} | {size:,.0f} MiB | {how} | "
                        f"{got['peak_rss'] / 2**30:.2f} GiB | {got['seconds']:.0f} s |",
                        flush=True,
                    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
