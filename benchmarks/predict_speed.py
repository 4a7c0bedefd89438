"""Prediction speed: glassnet's ``net.predict`` against PyTorch under inference_mode.

An MLP 784-256-128-10 (ReLU, softmax, float32), the same weights in both, on random
MNIST-shaped rows x ~ N(0, 1). Each batch size is one call: 1 row, 32, 256, 4096,
and 60,000 rows (glassnet batching internally, at ``DEFAULT_BATCH`` rows unless
``--block`` says otherwise; PyTorch takes all rows in one forward pass).

glassnet runs with its own thread rule (the default users get); PyTorch with 1 and
2 threads, the better of which the table shows. Every contender runs in this one
process, interleaved in a new random order each repeat, each timed sample being
enough calls to last a few milliseconds; the table reports the median per call and
the ratio PyTorch / glassnet (>= 1: glassnet at least as fast). On a machine that
other processes share, timings are noisy: read the medians of many repeats, and
repeat the run on a quiet machine before trusting a difference of a few percent.

    python benchmarks/predict_speed.py                  # the full table
    python benchmarks/predict_speed.py --json out.json  # and a JSON record
    python benchmarks/predict_speed.py --block 4096     # glassnet's internal block
    python benchmarks/predict_speed.py --quick          # tiny sizes: a smoke test
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from train_speed import _shuffled, glassnet_net, machine  # noqa: E402

LAYERS = (784, 256, 128, 10)
ROWS = (1, 32, 256, 4096, 60_000)
#: Seconds each timed sample lasts at least (small batches: many calls per sample).
SAMPLE_SECONDS = 0.005


def torch_model(net):
    """The PyTorch twin of ``net`` (Dense + ReLU ..., Dense + softmax), same weights."""
    import torch

    modules = []
    for layer in net.layers:
        linear = torch.nn.Linear(layer.in_features, layer.out_features)
        with torch.no_grad():
            linear.weight.copy_(torch.from_numpy(np.array(layer.W)))
            linear.bias.copy_(torch.from_numpy(np.array(layer.b)))
        modules.append(linear)
        name = layer.activation.name
        modules.append(torch.nn.ReLU() if name == "relu" else torch.nn.Softmax(dim=1))
    return torch.nn.Sequential(*modules).eval()


def contenders(net, model, X, block, threads):
    """{name: function running one prediction on X}."""
    import torch

    Xt = torch.from_numpy(X)

    def ours():
        net.predict(X, batch_size=block)

    def theirs(n_threads):
        def run():
            torch.set_num_threads(n_threads)
            with torch.inference_mode():
                model(Xt)

        return run

    return {"glassnet": ours, **{f"torch/{t}": theirs(t) for t in threads}}


def calls_per_sample(fns, seconds: float = SAMPLE_SECONDS) -> int:
    """Calls of the slowest contender that last ``seconds``, at least 1."""
    slowest = 0.0
    for fn in fns:
        start = time.perf_counter()
        fn()
        slowest = max(slowest, time.perf_counter() - start)
    return max(1, int(seconds / max(slowest, 1e-7)))


def seconds_per_call(fn, calls: int) -> float:
    start = time.perf_counter()
    for _ in range(calls):
        fn()
    return (time.perf_counter() - start) / calls


def agreement(net, model, X) -> float:
    """Largest |glassnet - PyTorch| over the outputs (both float32: rounding only)."""
    import torch

    with torch.inference_mode():
        theirs = model(torch.from_numpy(X)).numpy()
    return float(np.max(np.abs(net.predict(X) - theirs)))


def run(args) -> dict:
    """{rows: {contender: [seconds per call, ...]}} over interleaved repeats."""
    net = glassnet_net(LAYERS)
    model = torch_model(net)
    X_all = (
        np.random.default_rng(0)
        .standard_normal((max(args.rows), LAYERS[0]))
        .astype(np.float32)
    )
    results, largest_difference = {}, 0.0
    for rows in args.rows:
        X = X_all[:rows]
        largest_difference = max(largest_difference, agreement(net, model, X))
        fns = contenders(net, model, X, args.block, args.threads)
        calls = calls_per_sample(fns.values(), args.sample_seconds)
        times = {name: [] for name in fns}
        for repeat in range(args.repeats):
            for name in _shuffled(list(fns), repeat):
                times[name].append(seconds_per_call(fns[name], calls))
        results[rows] = times
    return {"seconds": results, "largest_difference": largest_difference}


def summary(seconds: dict) -> dict:
    """{rows: {"glassnet": median, "torch": best median over threads, "ratio": ...}}"""
    table = {}
    for rows, times in seconds.items():
        medians = {name: statistics.median(v) for name, v in times.items()}
        torch_best = min(v for k, v in medians.items() if k.startswith("torch/"))
        table[rows] = {
            **medians,
            "torch": torch_best,
            "ratio": torch_best / medians["glassnet"],
        }
    return table


def show(seconds: float) -> str:
    if seconds < 1e-3:
        return f"{seconds * 1e6:.1f} us"
    return f"{seconds * 1e3:.2f} ms"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=list(ROWS))
    parser.add_argument("--repeats", type=int, default=21)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument(
        "--block", type=int, default=None, help="glassnet's rows per forward pass"
    )
    parser.add_argument("--json", metavar="FILE", help="write the results as JSON")
    parser.add_argument("--quick", action="store_true", help="tiny sizes (smoke)")
    args = parser.parse_args(argv)
    args.sample_seconds = SAMPLE_SECONDS
    if args.quick:
        args.rows, args.repeats, args.sample_seconds = [1, 40], 2, 0.0
    line = machine()
    print("machine:", json.dumps(line))
    record = run(args)
    table = summary(record["seconds"])
    threads = [f"torch/{t}" for t in args.threads]
    print(f"median per call of {args.repeats} interleaved repeats")
    print("| rows | glassnet | " + " | ".join(threads) + " | PyTorch / glassnet |")
    print("|---:|---:|" + "---:|" * len(threads) + "---:|")
    for rows, entry in table.items():
        cells = " | ".join(show(entry[t]) for t in threads)
        print(
            f"| {rows} | {show(entry['glassnet'])} | {cells} | {entry['ratio']:.2f}x |"
        )
    print(f"largest |glassnet - PyTorch| output: {record['largest_difference']:.2e}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(
                {
                    "machine": line,
                    "repeats": args.repeats,
                    "block": args.block,
                    "seconds_per_call": {
                        str(k): v for k, v in record["seconds"].items()
                    },
                    "summary": {str(k): v for k, v in table.items()},
                    "largest_difference": record["largest_difference"],
                },
                f,
                indent=2,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
