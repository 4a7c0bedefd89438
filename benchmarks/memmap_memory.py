"""Memory check: one epoch on a 4 GiB float32 np.memmap stays under 256 MiB of
anonymous memory.

fit must never copy the whole dataset (no float64 or shuffled copy of X): it reads
each batch's rows from the memmap into arrays kept for the batch size. Pages of the
file that the kernel caches count as file-backed memory (RssFile), not as the
process's own (RssAnon), so RssAnon measures what training itself allocates.

The file is written to a temporary directory, the epoch runs in a fresh subprocess
(so nothing this parent allocated counts) that samples RssAnon from
/proc/self/status every 10 ms, and the file is deleted afterwards.

    python benchmarks/memmap_memory.py            # 4 GiB, MLP 784-256-128-10, batch 512
    python benchmarks/memmap_memory.py --quick    # 64 MiB: a smoke test
    python benchmarks/memmap_memory.py --json out.json
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time

import numpy as np

LIMIT_MIB = 256
N_FEATURES, N_CLASSES = 784, 10


def rss_anon_mib() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("RssAnon:"):
                return int(line.split()[1]) / 1024  # kB -> MiB
    raise RuntimeError("no RssAnon in /proc/self/status (Linux only)")


def child(path: str, rows: int, batch: int) -> dict:
    """Runs in the subprocess: one epoch over the memmap, peak RssAnon sampled."""
    import glassnet as gn

    peak = [rss_anon_mib()]
    at_start = peak[0]
    stop = threading.Event()

    def sample():
        while not stop.is_set():
            peak[0] = max(peak[0], rss_anon_mib())
            time.sleep(0.01)

    X = np.memmap(path, dtype=np.float32, mode="r", shape=(rows, N_FEATURES))
    y = np.random.default_rng(0).integers(0, N_CLASSES, rows).astype(np.int8)
    net = gn.Sequential(
        gn.Dense(N_FEATURES, 256, "relu"),
        gn.Dense(256, 128, "relu"),
        gn.Dense(128, N_CLASSES, "softmax"),
        seed=0,
    )
    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    started = time.perf_counter()
    history = net.fit(X, y, epochs=1, batch_size=batch, verbose=0)
    seconds = time.perf_counter() - started
    stop.set()
    sampler.join()
    peak[0] = max(peak[0], rss_anon_mib())
    return {
        "rows": rows,
        "file_gib": rows * N_FEATURES * 4 / 2**30,
        "rss_anon_before_fit_mib": at_start,
        "peak_rss_anon_mib": peak[0],
        "epoch_seconds": seconds,
        "loss": history.history["loss"][0],
    }


def write_memmap(path: str, rows: int, seed: int = 0) -> None:
    """Random float32 rows, written in chunks of 64 MiB (never all in memory)."""
    X = np.memmap(path, dtype=np.float32, mode="w+", shape=(rows, N_FEATURES))
    rng = np.random.default_rng(seed)
    chunk = (64 * 2**20) // (4 * N_FEATURES)
    for lo in range(0, rows, chunk):
        hi = min(rows, lo + chunk)
        X[lo:hi] = rng.random((hi - lo, N_FEATURES), dtype=np.float32)
    X.flush()
    del X


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gib", type=float, default=4.0, help="size of the memmap")
    parser.add_argument("--batch", type=int, default=512)
    parser.add_argument("--quick", action="store_true", help="64 MiB (smoke test)")
    parser.add_argument("--json", metavar="FILE")
    parser.add_argument(
        "--dir",
        help="where to make the temporary directory (default: "
        "the system's temporary directory)",
    )
    parser.add_argument(
        "--child", nargs=3, metavar=("PATH", "ROWS", "BATCH"), help=argparse.SUPPRESS
    )
    args = parser.parse_args(argv)
    if args.child:
        path, rows, batch = args.child
        print(json.dumps(child(path, int(rows), int(batch))))
        return 0
    gib = 1 / 16 if args.quick else args.gib
    rows = int(gib * 2**30) // (4 * N_FEATURES)
    with tempfile.TemporaryDirectory(prefix="glassnet-memmap-", dir=args.dir) as tmp:
        path = os.path.join(tmp, "X.f32")
        try:
            started = time.perf_counter()
            write_memmap(path, rows)
            print(
                f"wrote {rows:,} x {N_FEATURES} float32 rows "
                f"({os.path.getsize(path) / 2**30:.2f} GiB) in "
                f"{time.perf_counter() - started:.1f} s",
                flush=True,
            )
            done = subprocess.run(
                [sys.executable, __file__, "--child", path, str(rows), str(args.batch)],
                capture_output=True,
                text=True,
                check=True,
            )
        finally:
            if os.path.exists(path):
                os.remove(path)  # the TemporaryDirectory would too; be explicit
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result["limit_mib"] = LIMIT_MIB
    result["met"] = result["peak_rss_anon_mib"] < LIMIT_MIB
    print(
        f"one epoch (batch {args.batch}) over a {result['file_gib']:.2f} GiB float32 "
        f"memmap: {result['epoch_seconds']:.1f} s, peak RssAnon "
        f"{result['peak_rss_anon_mib']:.0f} MiB (before fit "
        f"{result['rss_anon_before_fit_mib']:.0f} MiB; target < {LIMIT_MIB} MiB): "
        f"{'met' if result['met'] else 'NOT met'}"
    )
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
