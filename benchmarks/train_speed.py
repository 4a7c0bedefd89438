"""Training speed: glassnet against PyTorch, scikit-learn and the matmul-only bound.

One epoch of an MLP 784-256-128-10 (ReLU, softmax cross-entropy, Adam) on random
MNIST-shaped float32 data, at several batch sizes. Every contender runs in this one
process, interleaved (in a new random order each repeat) and repeated, so that whatever
else the machine is doing affects them alike; the table reports medians and ratios.

The data (``--data normal``, the default) is standardised, x ~ N(0, 1) as
``gn.datasets.standardize`` would give, with labels from a random linear teacher,
y = argmax(x T): a network learns it (0.96 to 1.00 training accuracy after the timed
epochs, printed for every contender, so each is seen doing the same job). Each
contender keeps training one network from epoch to epoch, as in a real run.
``--data uniform`` is the benchmark's original data, x ~ U[0, 1) with random labels:
Adam kills every ReLU unit within the first epoch at batch 32 (all gradients 0), and
the epochs after it time a dead network whose Adam moments have decayed into
subnormal numbers, which slow every optimizer (PyTorch's Adam 2.3x, glassnet's 1.5x,
measured on 235k parameters): no network anyone trains.

The bound: per layer and batch, the three matrix multiplications a dense layer cannot
avoid (forward Z = A W^T, backward dW = dZ^T A and dA = dZ W, the last skipped for the
first layer), into preallocated outputs, nothing else. The forward product of few
rows by a large W is taken as Z^T = W A^T, with W as stored (OpenBLAS is faster at it
there, and glassnet takes it that way: ``glassnet._fast.ops.matmul``), without the
copy into Z's layout that glassnet then pays.

    python benchmarks/train_speed.py                 # the full table (a few minutes)
    python benchmarks/train_speed.py --json out.json
    python benchmarks/train_speed.py --contended     # again with a competing process
    python benchmarks/train_speed.py --breakdown     # per-step budget (step_breakdown.py)
    python benchmarks/train_speed.py --quick         # tiny sizes: a smoke test

glassnet runs with its own thread rule ("auto", the default users get) and with 1 and
2 BLAS threads fixed (gn.set_num_threads); PyTorch and scikit-learn with 1 and 2
threads, the best of which the table shows. PyTorch runs twice: with Adam's default
(foreach) implementation, as its tutorials train, and with ``fused=True``, its fastest
Adam on the CPU, as an expert would set it up. The first line printed is the machine
as ``glassnet system`` reports it (CPU, BLAS kernels, OPENBLAS_CORETYPE).

Prediction is timed at several batch sizes (``--predict-batches``, by default 1, 32,
256, 4096 and all 60,000 rows at once): glassnet's ``predict(X, batch_size=b)``,
glassnet called once per batch of b rows (as a server answering requests), and
PyTorch under ``inference_mode``, one forward call per batch.

The speed targets are checked at the end: glassnet / bound <= 1.5x at batch 32 and
128, <= 1.3x at 512; PyTorch (default Adam) / glassnet >= 2x at batch 32 and 128,
>= 1.3x at 512; PyTorch (fused Adam) / glassnet >= 1.5x at batch 32 and 128, >= 1x at
512; scikit-learn / glassnet >= 3x at batch 128; prediction: PyTorch / glassnet >= 1x
at every batch size measured.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import platform
import statistics
import sys
import time
import warnings

import numpy as np

# benchmarks/ is on the path when a script of it runs: the per-step budget's module
import step_breakdown
from threadpoolctl import ThreadpoolController, threadpool_info

import glassnet as gn

#: One controller, made once: making one scans the loaded libraries (milliseconds).
CONTROLLER = ThreadpoolController()


def threadpool_limits(threads):
    return CONTROLLER.limit(limits=threads, user_api="blas")


LAYERS = (784, 256, 128, 10)


def make_data(n, n_features, n_classes, seed=0, kind="normal"):
    """(X float32, y int labels): see the module docstring for the two kinds."""
    if kind == "uniform":
        rng = np.random.default_rng(seed)
        X = rng.random((n, n_features), dtype=np.float32)
        return X, rng.integers(0, n_classes, size=n)
    return step_breakdown.make_data(n, n_features, n_classes, seed)  # y = argmax(x T)


#: Rows on which each contender's training accuracy is reported (not timed).
SCORED_ROWS = 10_000


# -- contenders: each returns a function that runs one epoch ------------------------------
def matmul_bound(X, y, batch, threads, sizes):
    rng = np.random.default_rng(0)
    Ws = [
        rng.standard_normal((o, i), dtype=np.float32) * 0.05
        for i, o in zip(sizes[:-1], sizes[1:], strict=True)
    ]
    bufs = {}

    def buffers(n):
        if n not in bufs:
            bufs[n] = {
                "Z": [np.zeros((n, W.shape[0]), np.float32) for W in Ws],
                "Z_T": [np.zeros((W.shape[0], n), np.float32) for W in Ws],
                "dA": [np.zeros((n, W.shape[1]), np.float32) for W in Ws],
                "dW": [np.zeros_like(W) for W in Ws],
            }
        return bufs[n]

    def epoch():
        with threadpool_limits(threads):
            for start in range(0, X.shape[0], batch):
                A0 = X[start : start + batch]
                b = buffers(A0.shape[0])
                A = A0
                for W, Z, Z_T in zip(Ws, b["Z"], b["Z_T"], strict=True):
                    step_breakdown.bound_forward(A, W, Z, Z_T)  # Z = A W^T
                    A = Z
                dZ = b["Z"][-1]
                for k in range(len(Ws) - 1, -1, -1):
                    A_prev = A0 if k == 0 else b["Z"][k - 1]
                    np.matmul(dZ.T, A_prev, out=b["dW"][k])  # dW = dZ^T A_prev
                    if k > 0:
                        np.matmul(dZ, Ws[k], out=b["dA"][k])  # dA_prev = dZ W
                        dZ = b["dA"][k]

    return epoch


glassnet_net = step_breakdown.make_net  # ReLU layers, a softmax output, seed 0


def glassnet_epoch(X, y, batch, threads, sizes):
    net = glassnet_net(sizes)
    optimizer = gn.Adam(lr=1e-3)

    def epoch():
        gn.set_num_threads(None if threads == "auto" else threads)
        try:
            net.fit(X, y, **step_breakdown.fit_kwargs(batch, optimizer))
        finally:
            gn.set_num_threads(None)

    epoch.accuracy = lambda: float(
        np.mean(net.predict_classes(X[:SCORED_ROWS]) == y[:SCORED_ROWS])
    )
    return epoch


def torch_epoch(X, y, batch, threads, sizes, fused=False):
    """PyTorch as its tutorials train: Adam's default (foreach) implementation, or
    with ``fused=True`` its fused kernel (``torch.optim.Adam(..., fused=True)``), the
    fastest Adam PyTorch offers on the CPU."""
    import torch

    torch.manual_seed(0)
    modules = []
    for i, o in zip(sizes[:-2], sizes[1:-1], strict=True):
        modules += [torch.nn.Linear(i, o), torch.nn.ReLU()]
    modules.append(torch.nn.Linear(sizes[-2], sizes[-1]))
    model = torch.nn.Sequential(*modules)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, fused=fused)
    loss_fn = torch.nn.CrossEntropyLoss()
    Xt = torch.from_numpy(X)
    yt = torch.from_numpy(y)
    generator = torch.Generator().manual_seed(0)

    def epoch():
        torch.set_num_threads(threads)
        order = torch.randperm(Xt.shape[0], generator=generator)
        for start in range(0, Xt.shape[0], batch):
            idx = order[start : start + batch]
            optimizer.zero_grad(set_to_none=True)
            loss = loss_fn(model(Xt[idx]), yt[idx])
            loss.backward()
            optimizer.step()

    def accuracy():
        with torch.inference_mode():
            predicted = model(Xt[:SCORED_ROWS]).argmax(dim=1)
        return float((predicted == yt[:SCORED_ROWS]).float().mean())

    epoch.accuracy = accuracy
    return epoch


def sklearn_epoch(X, y, batch, threads, sizes):
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    model = MLPClassifier(
        hidden_layer_sizes=sizes[1:-1],
        batch_size=batch,
        solver="adam",
        learning_rate_init=1e-3,
        alpha=0.0,
        shuffle=True,
        random_state=0,
        tol=0.0,
    )
    classes = np.arange(sizes[-1])

    def epoch():  # partial_fit: one more epoch of the same network, Adam state kept
        with threadpool_limits(threads), warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            model.partial_fit(X, y, classes=classes)

    epoch.accuracy = lambda: float(model.score(X[:SCORED_ROWS], y[:SCORED_ROWS]))
    return epoch


def torch_fused_epoch(X, y, batch, threads, sizes):
    return torch_epoch(X, y, batch, threads, sizes, fused=True)


CONTENDERS = {
    "bound": matmul_bound,
    "glassnet": glassnet_epoch,
    "torch": torch_epoch,
    "torch_fused": torch_fused_epoch,
    "sklearn": sklearn_epoch,
}

#: Column and label of each contender in the tables.
LABELS = {
    "bound": "matmul bound",
    "glassnet": "glassnet",
    "torch": "PyTorch",
    "torch_fused": "PyTorch fused Adam",
    "sklearn": "scikit-learn",
}


def timed(fn):
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def run_training(args, X, y, sizes):
    """({(contender, batch, threads): [seconds, ...]} over interleaved repeats,
    {(contender, batch, threads): training accuracy after them})."""
    configs = []
    for batch in args.batch_sizes:
        for name in args.contenders:
            thread_options = list(args.threads)
            if name == "glassnet":
                thread_options = ["auto"] + (
                    [] if args.auto_threads else thread_options
                )
            for threads in thread_options:
                if name == "sklearn" and batch not in args.sklearn_batches:
                    continue
                configs.append((name, batch, threads))
    epochs = {c: CONTENDERS[c[0]](X, y, c[1], c[2], sizes) for c in configs}
    for fn in epochs.values():  # warm up: first-call costs are not per-epoch costs
        fn()
    times = {c: [] for c in configs}
    for repeat in range(args.repeats):
        for c in _shuffled(configs, repeat):
            times[c].append(timed(epochs[c]))
    accuracy = {c: fn.accuracy() for c, fn in epochs.items() if hasattr(fn, "accuracy")}
    return times, accuracy


def _shuffled(items, repeat):
    """``items`` in a seeded random order, a new one each repeat. In a fixed order
    (or a rotation of it) the same contender would always run right after PyTorch,
    and that epoch runs up to 30% slower while PyTorch's threads spin down; a new
    order each time spreads such effects over every contender."""
    order = np.random.default_rng([7, repeat]).permutation(len(items))
    return [items[i] for i in order]


def best_over_threads(times, name, batch, only=None, statistic=statistics.median):
    """The smallest median (or other ``statistic``) over the thread settings (or of
    setting ``only``)."""
    values = [
        statistic(v)
        for (n, b, t), v in times.items()
        if n == name and b == batch and (only is None or t == only)
    ]
    return min(values) if values else None


def fastest_line(times, batch_sizes):
    """Ratios of each contender's fastest epoch. On a VM, 2-thread epochs can be
    bimodal (here: one run in three to one in two about 1.5x slower, for every
    contender alike, as when the two virtual cores share a physical one); a median of
    5 then depends on how many slow epochs each contender drew, while the fastest
    epochs compare the contenders in the same state of the machine."""
    parts = []
    for batch in batch_sizes:
        b, g, t, f, s = (
            best_over_threads(
                times, n, batch, only="auto" if n == "glassnet" else None, statistic=min
            )
            for n in ("bound", "glassnet", "torch", "torch_fused", "sklearn")
        )
        parts.append(
            f"batch {batch}: glassnet / bound {ratio(g, b)}, PyTorch / glassnet "
            f"{ratio(t, g)}, PyTorch fused / glassnet {ratio(f, g)}, sklearn / "
            f"glassnet {ratio(s, g)}"
        )
    return "ratios of the fastest epochs: " + "; ".join(parts)


def fmt(v):
    return "-" if v is None else f"{v:.3f} s"


def ratio(a, c):
    return "-" if a is None or c is None else f"{a / c:.2f}x"


def table(times, batch_sizes):
    rows = [
        "| batch | matmul bound | glassnet (auto threads) | glassnet (best fixed) "
        "| PyTorch | PyTorch fused Adam | scikit-learn | glassnet / bound "
        "| PyTorch / glassnet | PyTorch fused / glassnet | sklearn / glassnet |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    summary = {}
    for batch in batch_sizes:
        b, t, f, s = (
            best_over_threads(times, n, batch)
            for n in ("bound", "torch", "torch_fused", "sklearn")
        )
        g = best_over_threads(times, "glassnet", batch, only="auto")
        fixed = min(
            (
                best_over_threads(times, "glassnet", batch, only=k)
                for k in (1, 2, 3, 4)
                if best_over_threads(times, "glassnet", batch, only=k)
            ),
            default=None,
        )
        rows.append(
            f"| {batch} | {fmt(b)} | {fmt(g)} | {fmt(fixed)} | {fmt(t)} | {fmt(f)} | "
            f"{fmt(s)} | {ratio(g, b)} | {ratio(t, g)} | {ratio(f, g)} | "
            f"{ratio(s, g)} |"
        )
        summary[batch] = {
            "bound": b,
            "glassnet": g,
            "glassnet_best_fixed": fixed,
            "torch": t,
            "torch_fused": f,
            "sklearn": s,
        }
    return "\n".join(rows), summary


def accuracy_line(accuracy, batch_sizes, rows):
    """Each contender's training accuracy after its timed epochs: evidence that they
    all trained a live network on the same task (glassnet: its auto-thread run;
    the others: the highest over their thread settings)."""
    parts = []
    for batch in batch_sizes:
        found = []
        for name, label in LABELS.items():
            values = [
                v
                for (n, b, t), v in accuracy.items()
                if n == name and b == batch and (name != "glassnet" or t == "auto")
            ]
            if values:
                found.append(f"{label} {max(values):.3f}")
        parts.append(f"batch {batch}: " + ", ".join(found))
    return (
        f"training accuracy after the timed epochs (first {rows} rows): "
        + "; ".join(parts)
    )


#: The speed targets of training: (contender a, contender b, {batch: limit}, op),
#: read as a / b op limit.
TRAINING_TARGETS = (
    ("glassnet", "bound", {32: 1.5, 128: 1.5, 512: 1.3}, "<="),
    ("torch", "glassnet", {32: 2.0, 128: 2.0, 512: 1.3}, ">="),
    ("torch_fused", "glassnet", {32: 1.5, 128: 1.5, 512: 1.0}, ">="),
    ("sklearn", "glassnet", {128: 3.0}, ">="),
)


def targets(summary, prediction=None):
    """[(what, value, limit, op, met)]: each training target whose contenders ran,
    then prediction, PyTorch / glassnet >= 1x at every batch size measured."""
    checks = []
    for a, b, limits, op in TRAINING_TARGETS:
        for batch, limit in limits.items():
            row = summary.get(batch)
            if row and row.get(a) and row.get(b):
                what = f"{LABELS[a]} / {LABELS[b]} at batch {batch}"
                checks.append((what, row[a] / row[b], limit, op))
    for batch, row in (prediction or {}).items():
        for how, key in (
            ("predict(X, batch_size)", "glassnet"),
            ("a call per batch", "glassnet_calls"),
        ):
            if row.get(key):
                what = f"prediction at batch {batch}, PyTorch / glassnet ({how})"
                checks.append((what, row["torch"] / row[key], 1.0, ">="))
    return [
        (what, value, limit, op, value <= limit if op == "<=" else value >= limit)
        for what, value, limit, op in checks
    ]


def prediction_rows(batch, samples):
    """Rows predicted at batch size ``batch``: all of them from 256 up, fewer for
    the smallest batches (one row at a time through 60,000 rows would take seconds
    and measure the same per-call cost many times over)."""
    return min(samples, batch * 512)


def run_prediction(args, X, sizes):
    """{batch: {contender: median seconds}} of predicting ``prediction_rows`` rows
    at each batch size of ``--predict-batches``, interleaved: glassnet's
    ``predict(X, batch_size=b)`` (its thread rule), glassnet with one ``predict``
    call per batch (as a server answering requests of b rows), and PyTorch under
    ``inference_mode``, a forward call per batch (best of the thread settings)."""
    import torch

    net = glassnet_net(sizes)
    model = torch.nn.Sequential(
        *[
            m
            for i, o in zip(sizes[:-2], sizes[1:-1], strict=True)
            for m in (torch.nn.Linear(i, o), torch.nn.ReLU())
        ],
        torch.nn.Linear(sizes[-2], sizes[-1]),
        torch.nn.Softmax(dim=1),
    )
    Xt = torch.from_numpy(X)

    def ours(rows, batch):
        def run():
            net.predict(X[:rows], batch_size=batch)

        return run

    def ours_per_call(rows, batch):
        def run():
            for start in range(0, rows, batch):
                net.predict(X[start : min(start + batch, rows)])

        return run

    def theirs(rows, batch, threads):
        def run():
            torch.set_num_threads(threads)
            with torch.inference_mode():
                for start in range(0, rows, batch):
                    model(Xt[start : min(start + batch, rows)])

        return run

    contenders = {}
    for batch in args.predict_batches:
        rows = prediction_rows(batch, X.shape[0])
        contenders[batch, "glassnet"] = ours(rows, batch)
        if rows > batch:
            contenders[batch, "glassnet_calls"] = ours_per_call(rows, batch)
        for t in args.threads:
            contenders[batch, f"torch/{t}"] = theirs(rows, batch, t)
    keys = list(contenders)
    results = {key: [] for key in keys}
    for fn in contenders.values():
        fn()
    for repeat in range(args.repeats):
        for key in _shuffled(keys, repeat):  # as in run_training
            results[key].append(timed(contenders[key]))
    out = {}
    for batch in args.predict_batches:
        medians = {
            name: statistics.median(v) for (b, name), v in results.items() if b == batch
        }
        medians["torch"] = min(v for k, v in medians.items() if k.startswith("torch/"))
        medians["rows"] = prediction_rows(batch, X.shape[0])
        out[batch] = medians
    return out


def prediction_table(prediction):
    rows = [
        "| batch | rows | glassnet predict(X, batch_size) | glassnet, a call per batch "
        "| PyTorch inference_mode | PyTorch / glassnet | PyTorch / glassnet (a call "
        "per batch) |",
        "|---|---|---|---|---|---|---|",
    ]
    for batch, m in prediction.items():
        calls = m.get("glassnet_calls")
        rows.append(
            f"| {batch} | {m['rows']} | {fmt(m['glassnet'])} | {fmt(calls)} | "
            f"{fmt(m['torch'])} | {ratio(m['torch'], m['glassnet'])} | "
            f"{ratio(m['torch'], calls)} |"
        )
    return "\n".join(rows)


def _burn(stop):
    x = 0
    while not stop.is_set():
        x = (x * 1103515245 + 12345) % 2**31


def machine():
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(
                line.split(":", 1)[1].strip()
                for line in f
                if line.startswith("model name")
            )
    except (OSError, StopIteration):
        pass
    import sklearn
    import torch

    blas = [
        f"{i.get('internal_api')} {i.get('version')} ({i.get('architecture')} kernels)"
        for i in threadpool_info()
        if i.get("user_api") == "blas"
    ]
    try:
        import numba

        from glassnet import kernels

        fused = f"numba {numba.__version__}" if kernels.enabled() else "off"
    except ImportError:
        fused = "off (no numba)"
    return {
        "fused_loops": fused,
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "glassnet": gn.__version__,
        "torch": torch.__version__,
        "sklearn": sklearn.__version__,
        "blas": blas,
        "OPENBLAS_CORETYPE": os.environ.get("OPENBLAS_CORETYPE"),
        "system": step_breakdown.machine_line(),
    }


def _ints(text):
    return [int(v) for v in text.split(",")]


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=60_000)
    parser.add_argument("--batch-sizes", type=_ints, default=[32, 128, 512])
    parser.add_argument("--sklearn-batches", type=_ints, default=[32, 128, 512])
    parser.add_argument(
        "--threads",
        type=_ints,
        default=[1, 2],
        help="BLAS/torch thread counts to try (best is kept)",
    )
    parser.add_argument(
        "--auto-threads",
        action="store_true",
        help="glassnet only with its own thread rule (not also fixed --threads)",
    )
    parser.add_argument(
        "--contenders", type=lambda s: s.split(","), default=list(CONTENDERS)
    )
    parser.add_argument(
        "--data",
        choices=("normal", "uniform"),
        default="normal",
        help="normal: standardised, learnable (default); uniform: the original "
        "data, x ~ U[0, 1), on which the networks die (see the module docstring)",
    )
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument(
        "--predict-batches",
        type=_ints,
        default=[1, 32, 256, 4096, 60_000],
        help="batch sizes of the prediction table (capped at --samples)",
    )
    parser.add_argument(
        "--contended",
        action="store_true",
        help="run with a competing CPU-bound process on one core",
    )
    parser.add_argument(
        "--breakdown",
        action="store_true",
        help="instead of the epochs: the per-step time budget of a fit step at each "
        "--batch-sizes (benchmarks/step_breakdown.py)",
    )
    parser.add_argument(
        "--breakdown-repeats", type=int, default=30, help="blocks per piece"
    )
    step_breakdown.add_arguments(parser)
    parser.add_argument("--quick", action="store_true", help="tiny sizes (smoke test)")
    parser.add_argument("--json", metavar="FILE", help="write the results as JSON")
    args = parser.parse_args(argv)
    if args.clock == "cpu" and args.blas_threads != 1:
        parser.error("--clock cpu times the calling thread: give --blas-threads 1")
    if args.quick:
        args.samples, args.batch_sizes, args.sklearn_batches = 512, [64], [64]
        args.repeats, args.predict_batches = 1, [1, 128]
        args.breakdown_repeats, args.fit_rows = 2, 512
    args.predict_batches = sorted({min(b, args.samples) for b in args.predict_batches})
    return args


def main_breakdown(args):
    line = step_breakdown.machine_line()
    print(line)
    results = step_breakdown.breakdown(
        args.batch_sizes,
        args.breakdown_repeats,
        args.samples,
        args.fit_rows,
        args.block_rows,
        args.blas_threads,
        args.clock,
    )
    print(
        step_breakdown.report(
            results, args.breakdown_repeats, args.blas_threads, args.clock
        )
    )
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"machine": line, "us_per_step": results}, f, indent=2)
    return 0


def main(argv=None):
    args = parse_args(argv)
    if args.breakdown:
        return main_breakdown(args)
    sizes = (16, 8, 8, 4) if args.quick else LAYERS
    info = machine()
    print(info["system"])
    X, y = make_data(args.samples, sizes[0], sizes[-1], kind=args.data)
    stop = multiprocessing.Event()
    competitor = None
    if args.contended:
        competitor = multiprocessing.Process(target=_burn, args=(stop,), daemon=True)
        competitor.start()
    try:
        times, accuracy = run_training(args, X, y, sizes)
        prediction = run_prediction(args, X, sizes)
    finally:
        if competitor is not None:
            stop.set()
            competitor.join()
    text, summary = table(times, args.batch_sizes)
    print(
        f"{info['cpu']}, {info['cores']} cores; numpy {info['numpy']}, torch {info['torch']}, "
        f"scikit-learn {info['sklearn']}; fused loops {info['fused_loops']}; "
        f"BLAS {', '.join(info['blas'])}"
        f"{'' if info['OPENBLAS_CORETYPE'] is None else ' set by OPENBLAS_CORETYPE'}; "
        f"{'contended' if args.contended else 'quiet'}; "
        f"{args.samples} samples ({args.data} data), MLP {'-'.join(map(str, sizes))}, "
        f"median of {args.repeats}"
    )
    print(text)
    print(fastest_line(times, args.batch_sizes))
    print(accuracy_line(accuracy, args.batch_sizes, min(args.samples, SCORED_ROWS)))
    print(f"\nprediction (median of {args.repeats}):")
    print(prediction_table(prediction))
    checks = targets(summary, prediction)
    print("\nspeed targets:")
    for what, value, limit, op, met in checks:
        print(
            f"  {what}: {value:.2f}x (target {op} {limit:g}x) {'met' if met else 'NOT met'}"
        )
    if args.json:
        record = {
            "machine": info,
            "contended": args.contended,
            "samples": args.samples,
            "layers": sizes,
            "repeats": args.repeats,
            "data": args.data,
            "training_accuracy": {
                f"{n}/batch{b}/threads{t}": v for (n, b, t), v in accuracy.items()
            },
            "epoch_seconds": {
                f"{n}/batch{b}/threads{t}": v for (n, b, t), v in times.items()
            },
            "best_medians": summary,
            "prediction_seconds": {str(b): m for b, m in prediction.items()},
            "targets": [
                {"what": w, "value": v, "limit": lim, "op": op, "met": met}
                for w, v, lim, op, met in checks
            ],
        }
        with open(args.json, "w") as f:
            json.dump(record, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
