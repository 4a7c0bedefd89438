"""Linear scaling: epoch time for 10^4, 10^5 and 10^6 samples.

Training is one pass over the rows per epoch with a fixed cost per batch, so the time
per sample should not grow with the dataset: no step may touch all of X (no whole-
dataset copy, shuffle or conversion). This times one epoch (MLP 784-256-128-10,
batch 128, Adam, glassnet's thread rule) at each size, median of --repeats, and
reports the time per sample relative to the smallest size; linear means within 10%.

    python benchmarks/scaling.py                 # 10^4, 10^5, 10^6 (3.1 GB of data)
    python benchmarks/scaling.py --quick         # 10^3, 10^4: a smoke test
    python benchmarks/scaling.py --json out.json
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time

# The learnable data of train_speed.py (x ~ N(0, 1), labels from a linear teacher):
# on U[0, 1) rows with random labels the ReLU units die and later epochs time a dead
# network. Generated directly in float32: no float64 copy of the whole X.
from train_speed import make_data  # noqa: E402

import glassnet as gn

TOLERANCE = 0.10


def epoch_seconds(X, y, sizes, batch: int, repeats: int) -> list[float]:
    layers = [
        gn.Dense(i, o, "relu") for i, o in zip(sizes[:-2], sizes[1:-1], strict=True)
    ]
    net = gn.Sequential(*layers, gn.Dense(sizes[-2], sizes[-1], "softmax"), seed=0)
    optimizer = gn.Adam(lr=1e-3)
    net.fit(
        X[: 4 * batch], y[: 4 * batch], optimizer=optimizer, batch_size=batch, verbose=0
    )  # warm up: first-call costs are not per-sample costs
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        net.fit(X, y, optimizer=optimizer, epochs=1, batch_size=batch, verbose=0)
        times.append(time.perf_counter() - started)
    return times


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sizes",
        type=lambda s: [int(float(v)) for v in s.split(",")],
        default=[10**4, 10**5, 10**6],
    )
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="tiny sizes (smoke test)")
    parser.add_argument("--json", metavar="FILE")
    args = parser.parse_args(argv)
    layers = (784, 256, 128, 10)
    if args.quick:
        args.sizes, args.repeats, layers = [1000, 10000], 1, (32, 16, 4)
    X, y = make_data(max(args.sizes), layers[0], layers[-1])
    results = []
    for n in sorted(args.sizes):
        seconds = statistics.median(
            epoch_seconds(X[:n], y[:n], layers, args.batch, args.repeats)
        )
        results.append(
            {
                "samples": n,
                "epoch_seconds": seconds,
                "microseconds_per_sample": seconds / n * 1e6,
            }
        )
    base = results[0]["microseconds_per_sample"]
    print(
        f"one epoch, MLP {'-'.join(map(str, layers))}, batch {args.batch}, "
        f"median of {args.repeats}"
    )
    print("| samples | epoch | per sample | relative to the smallest |")
    print("|---|---|---|---|")
    for row in results:
        row["relative"] = row["microseconds_per_sample"] / base
        print(
            f"| {row['samples']:,} | {row['epoch_seconds']:.3f} s | "
            f"{row['microseconds_per_sample']:.2f} us | {row['relative']:.3f} |"
        )
    worst = max(abs(row["relative"] - 1) for row in results)
    met = worst <= TOLERANCE
    print(
        f"largest deviation from linear: {worst:.1%} (target <= {TOLERANCE:.0%}): "
        f"{'met' if met else 'NOT met'}"
    )
    if args.json:
        with open(args.json, "w") as f:
            json.dump(
                {"results": results, "max_deviation": worst, "met": met}, f, indent=2
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
