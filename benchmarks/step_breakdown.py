"""Where one training step's time goes: a per-step budget in microseconds.

For each batch size, the real code paths of a ``fit`` step (MLP 784-256-128-10, ReLU,
softmax cross-entropy, Adam) are timed piece by piece in one process:

- products: the bound's matrix products (Z = A W^T, dW = dZ^T A, dA = dZ W) on the
  network's own arrays, through ``glassnet._fast.ops.matmul`` under the thread rule
  (what ``fit`` runs);
- activations and loss: the compiled loops and numpy calls of the layers' math around
  the products (bias + ReLU, ReLU backward with db, the output bias, softmax,
  cross-entropy and its gradient, the last layer's db), called directly;
- layers' Python: ``net._forward`` + ``net._backward`` minus the two rows above (the
  calls through the layers, ``ops`` and the work arrays);
- optimizer: ``optimizer.step(flat_params, flat_grads)`` (the fused Adam loop),
  keeping the weights of before it for the guard in the same pass, as in ``fit``;
- gather: the data's batch generator (sort the shuffled indices, ``np.take`` into
  the kept arrays; the epoch's permutation amortised over its steps);
- guard: ``Trainer._check_finite`` (the update's own finiteness flag read; the
  copy of the weights is in the optimizer's pass);
- fit's own: one ``fit`` epoch per step minus every row above (the loop, callbacks,
  history, and the per-call setup such as the NaN check of X, amortised). The rows
  above time the pieces one after the other; a step that runs some of them at the
  same time (the update on one core while the products run on the other) takes less
  than their sum, and this row then comes out smaller, or below zero. The pieces
  also repeat on one batch, whose rows stay in the cache, where a real step reads a
  new batch: that cost lands in this row too.

Each piece runs in blocks of several steps; the blocks of all pieces are interleaved
in a new seeded random order each repeat. Two tables: the medians per step, and each
piece's fastest block (on a shared machine, the piece at its quietest moment). The
bound is the same products on contiguous rows with raw ``np.matmul`` at the best of
1 and 2 fixed BLAS threads, as in ``train_speed.py``.

    python benchmarks/step_breakdown.py                  # batch 32, 128, 512
    python benchmarks/step_breakdown.py --batch-sizes 32 --repeats 60 --json out.json
    python benchmarks/train_speed.py --breakdown         # the same, from there
    python benchmarks/step_breakdown.py --blas-threads 1 --clock cpu   # shared machine

On a machine other processes load, wall times of every piece stretch by whatever
share of the cores the others take, and the subtractions above turn to noise. With
one BLAS thread all the work runs on the calling thread, and ``--clock cpu`` times
that thread's CPU time: the budget of a one-core step, steadier under load.

Timings on a machine shared with other processes move by 2x or more; read the rows
of one run against each other (and against that run's bound), never across runs.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time

import numpy as np
from threadpoolctl import ThreadpoolController

import glassnet as gn
from glassnet._fast import fused, kernels, ops, threads

LAYERS = (784, 256, 128, 10)
CONTROLLER = ThreadpoolController()


# -- the machine ---------------------------------------------------------------------------
def machine_line() -> str:
    """The fields of ``glassnet system`` a speed figure depends on, in one line."""
    from glassnet.cli.system import one_line, report

    return one_line(report())


# -- setup ---------------------------------------------------------------------------------
def make_data(n, n_features, n_classes, seed=0):
    """Standardised x ~ N(0, 1), labels from a random linear teacher (learnable)."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, n_features), dtype=np.float32)
    teacher = rng.standard_normal((n_features, n_classes), dtype=np.float32)
    return X, np.argmax(X @ teacher, axis=1)


def make_net(sizes):
    layers = [
        gn.Dense(i, o, "relu") for i, o in zip(sizes[:-2], sizes[1:-1], strict=True)
    ]
    layers.append(gn.Dense(sizes[-2], sizes[-1], "softmax"))
    return gn.Sequential(*layers, seed=0)


class _Capture(gn.Callback):
    """Keeps the Trainer of a fit call (its data, loss, optimizer and guard)."""


def fit_kwargs(batch, optimizer):
    return dict(
        loss="cross_entropy",
        optimizer=optimizer,
        epochs=1,
        batch_size=batch,
        shuffle=True,
        seed=0,
        verbose=0,
    )


class Step:
    """One batch size's pieces, each a method running ``steps`` steps of it."""

    def __init__(self, X, y, batch, sizes, fit_rows):
        self.batch = batch
        self.net = net = make_net(sizes)
        self.optimizer = gn.Adam(lr=1e-3)
        self.X, self.y = X, y
        self.X_fit, self.y_fit = X[:fit_rows], y[:fit_rows]
        capture = _Capture()
        net.fit(
            self.X_fit,
            self.y_fit,
            callbacks=[capture],
            **fit_kwargs(batch, self.optimizer),
        )
        trainer = capture.trainer
        self.trainer, self.data, self.loss = trainer, trainer.data, trainer.loss
        self.steps_per_epoch = self.data.steps
        self._epoch = 0
        self._batches = iter(())
        self.Xb, self.Yb, _, _ = self._next_batch()
        self._fwd_bwd()  # the layers' work arrays hold a real step's values
        self._prepare_products()
        self._prepare_loops()
        self._prepare_bound()

    def _next_batch(self):
        """The data's next batch; a new epoch (and permutation) when one runs out."""
        try:
            return next(self._batches)
        except StopIteration:
            self._epoch += 1
            self._batches = self.data.batches(0, self._epoch)
            return next(self._batches)

    def _fwd_bwd(self):
        A = self.net._forward(self.Xb, training=True, reuse=True)
        return self.net._backward(self.loss, A, self.Yb, None, reuse=True)

    # -- products: the bound's products on the network's arrays --------------------------
    def _prepare_products(self):
        n, layers = self.batch, self.net.layers
        self._prod = []
        for k, layer in enumerate(layers):
            work = layer._work[n]
            A_prev = self.Xb if k == 0 else layers[k - 1]._work[n].A
            W = layer.params["W"]
            dZ = work.dZ if k < len(layers) - 1 else self.net._loss_work[n].dA
            dA = None if k == 0 else np.empty_like(A_prev)
            self._prod.append(
                (A_prev, W, np.empty_like(work.Z), dZ, np.empty_like(W), dA)
            )

    def products(self, steps):
        matmul = ops.matmul
        for _ in range(steps):
            for A_prev, W, Z, _, _, _ in self._prod:
                matmul(A_prev, W.T, out=Z)  # Z = A W^T
            for A_prev, W, _, dZ, dW, dA in reversed(self._prod):
                matmul(dZ.T, A_prev, out=dW)  # dW = dZ^T A
                if dA is not None:
                    matmul(dZ, W, out=dA)  # dA = dZ W

    # -- activations and loss: the loops and numpy math around the products --------------
    def _prepare_loops(self):
        n, net = self.batch, self.net
        self._loops = kernels.get()
        layers = net.layers
        self._hidden = [  # (layer, its work arrays, dL/dA from the layer above)
            (layer, layer._work[n], layers[k + 1]._work[n].dA_prev)
            for k, layer in enumerate(layers[:-1])
        ]
        self._last = net.layers[-1]
        self._last_work = self._last._work[n]
        self._dZ_out = net._loss_work[n].dA

    def activations_and_loss(self, steps):
        loops, loss, Y = self._loops, self.loss, self.Yb
        lw, dZ_out = self._last_work, self._dZ_out
        b_out, db_out = self._last.params["b"], self._last.grads["b"]
        hidden = self._hidden
        for _ in range(steps):
            for layer, work, _ in hidden:
                fused.bias_relu(loops, layer, work.Z, work.A)  # Z += b; A = max(Z, 0)
            lw.Z += b_out  # the output layer's bias
            fused.softmax(loops, lw.Z, lw.A)  # A = softmax(Z)
            loss.value_from_logits(lw.Z, Y)  # L from the logits
            loss.grad_from_logits(lw.A, Y, None, out=dZ_out)  # dL/dZ = (A - Y)/n
            dZ_out.sum(axis=0, out=db_out)  # db of the output layer
            for layer, work, dA in reversed(hidden):
                fused.relu_backward(loops, layer, dA, work.dZ)  # dZ, db

    def forward_backward(self, steps):
        for _ in range(steps):
            self._fwd_bwd()

    # -- the optimizer, the gather, the guard ---------------------------------------------
    def optimizer_step(self, steps):
        params, grads = self.net.flat_params, self.net.flat_grads
        self.trainer._keep_by_update(True)  # as in fit: the backup in the same pass
        for _ in range(steps):
            self.optimizer.step(params, grads)

    def gather(self, steps):
        for _ in range(steps):
            self._next_batch()

    def guard(self, steps):
        trainer = self.trainer
        trainer._keep_by_update(True)
        for _ in range(steps):
            trainer._check_finite(1.0, 0, 0, True)

    # -- a real fit epoch (on fit_rows rows) ---------------------------------------------
    def fit_epoch(self):
        self.net.fit(self.X_fit, self.y_fit, **fit_kwargs(self.batch, self.optimizer))

    # -- the bound: raw products on contiguous rows, fixed threads ------------------------
    def _prepare_bound(self):
        n = self.batch
        self._bound = [
            (
                layer.params["W"].copy(),
                np.zeros((n, layer.out_features), np.float32),
                np.zeros_like(layer.params["W"]),
                np.zeros((n, layer.in_features), np.float32),
                np.zeros((layer.out_features, n), np.float32),
            )
            for layer in self.net.layers
        ]
        self._bound_start = 0

    def bound(self, steps):
        n, X, layers = self.batch, self.X, self._bound
        for _ in range(steps):
            start = self._bound_start
            if start + n > X.shape[0]:
                start = 0
            self._bound_start = start + n
            A0 = A = X[start : start + n]
            for W, Z, _, _, Z_T in layers:
                bound_forward(A, W, Z, Z_T)  # Z = A W^T
                A = Z
            dZ = layers[-1][1]
            for k in range(len(layers) - 1, -1, -1):
                W, _, dW, dA, _ = layers[k]
                A_prev = A0 if k == 0 else layers[k - 1][1]
                np.matmul(dZ.T, A_prev, out=dW)  # dW = dZ^T A
                if k > 0:
                    np.matmul(dZ, W, out=dA)  # dA = dZ W
                    dZ = dA


def bound_forward(A, W, Z, Z_T):
    """The bound's Z = A W^T into Z; for few rows by a large W, into Z_T as
    Z^T = W A^T, W as stored, which OpenBLAS computes faster there (glassnet's
    ``ops.matmul`` takes it so, then copies it into Z's layout: the bound does not
    pay that copy). The values are not used, only the time."""
    if len(A) <= ops.FEW_ROWS and W.size >= ops.FEW_ROWS_SIZE:
        np.matmul(W, A.T, out=Z_T)
    else:
        np.matmul(A, W.T, out=Z)


# -- timing --------------------------------------------------------------------------------
PIECES = (
    "products",
    "activations_and_loss",
    "forward_backward",
    "optimizer_step",
    "gather",
    "guard",
)


#: The clocks: wall time, or the CPU time of the calling thread, which leaves out
#: the time other processes hold the core (valid when all the work runs on the
#: calling thread: one BLAS thread, and the compiled loops, which run on it).
CLOCKS = {"wall": time.perf_counter, "cpu": time.thread_time}


def measure(
    step: Step, repeats: int, block_rows: int, thread_counts=(1, 2), clock="wall"
) -> dict:
    """{"median" or "fastest": {piece: microseconds per step}} for one batch size."""
    now = CLOCKS[clock]
    steps = max(4, block_rows // step.batch)
    saved_params = step.net.flat_params.copy()
    saved_state = step.optimizer.state_dict()
    jobs = [(name, None) for name in (*PIECES, "fit")]
    jobs += [("bound", t) for t in thread_counts]
    times = {job: [] for job in jobs}

    def timed(job):
        name, count = job
        if name == "bound":
            with CONTROLLER.limit(limits=count, user_api="blas"):
                start = now()
                step.bound(steps)
                return (now() - start) / steps
        if name == "fit":
            start = now()
            step.fit_epoch()
            return (now() - start) / step.steps_per_epoch
        with threads.managed():
            start = now()
            getattr(step, name)(steps)
            elapsed = now() - start
        if name == "optimizer_step":  # put back the weights of the real run
            step.net.flat_params[...] = saved_params
            step.optimizer.load_state_dict(saved_state)
        return elapsed / steps

    for job in jobs:  # warm up: first-call costs are not per-step costs
        timed(job)
    for repeat in range(repeats):
        order = np.random.default_rng([11, step.batch, repeat]).permutation(len(jobs))
        for i in order:
            times[jobs[i]].append(timed(jobs[i]))
    result = {}
    for label, statistic in (("median", statistics.median), ("fastest", min)):
        us = {name: 1e6 * statistic(times[(name, None)]) for name in (*PIECES, "fit")}
        us["bound"] = min(1e6 * statistic(times[("bound", t)]) for t in thread_counts)
        result[label] = us
    return result


def budget(us: dict) -> list[tuple[str, float]]:
    """The rows of the table: pieces that add up to the fit step, then the bound."""
    layers_python = us["forward_backward"] - us["products"] - us["activations_and_loss"]
    known = us["forward_backward"] + us["optimizer_step"] + us["gather"] + us["guard"]
    return [
        ("products (the bound's products, thread rule)", us["products"]),
        ("activations and loss loops", us["activations_and_loss"]),
        ("layers' Python (forward/backward dispatch)", layers_python),
        ("optimizer (Adam)", us["optimizer_step"]),
        ("gather of the shuffled batch", us["gather"]),
        ("finiteness guard (the update's flag)", us["guard"]),
        ("fit's own (loop, callbacks, per-call setup)", us["fit"] - known),
        ("one step of fit", us["fit"]),
        ("the bound (raw products, contiguous rows)", us["bound"]),
    ]


def table(results: dict, statistic: str = "median") -> str:
    """The budgets of every batch size (``results[batch][statistic]``) side by side."""
    batches = list(results)
    rows = [
        "| per step, us | " + " | ".join(f"batch {b}" for b in batches) + " |",
        "|---|" + "---|" * len(batches),
    ]
    budgets = {b: budget(results[b][statistic]) for b in batches}
    for i, (label, _) in enumerate(budgets[batches[0]]):
        cells = " | ".join(f"{budgets[b][i][1]:,.1f}" for b in batches)
        rows.append(f"| {label} | {cells} |")
    ratios = " | ".join(
        f"{results[b][statistic]['fit'] / results[b][statistic]['bound']:.2f}x"
        for b in batches
    )
    rows.append(f"| fit step / bound | {ratios} |")
    return "\n".join(rows)


def report(results: dict, repeats: int, blas_threads=None, clock="wall") -> str:
    threads_used = (
        "the thread rule" if blas_threads is None else f"{blas_threads} BLAS thread(s)"
    )
    return (
        f"{threads_used}, {clock} clock\n"
        f"per-step budget, microseconds, median of {repeats} interleaved blocks:\n"
        f"{table(results, 'median')}\n\n"
        "the same from each piece's fastest block (steadier on a shared machine):\n"
        f"{table(results, 'fastest')}"
    )


def breakdown(
    batch_sizes,
    repeats=30,
    samples=60_000,
    fit_rows=16_384,
    block_rows=4096,
    blas_threads=None,
    clock="wall",
):
    """{batch: {"median"/"fastest": {piece: us per step}}}. With ``blas_threads``
    every piece, fit and the bound run on that many BLAS threads (else the thread
    rule, and the bound at the best of 1 and 2); ``clock="cpu"`` needs 1."""
    if clock == "cpu" and blas_threads != 1:
        raise ValueError("--clock cpu times the calling thread: give --blas-threads 1")
    X, y = make_data(samples, LAYERS[0], LAYERS[-1])
    counts = (1, 2) if blas_threads is None else (blas_threads,)
    gn.set_num_threads(blas_threads)
    try:
        return {
            batch: measure(
                Step(X, y, batch, LAYERS, min(fit_rows, samples)),
                repeats,
                block_rows,
                counts,
                clock,
            )
            for batch in batch_sizes
        }
    finally:
        gn.set_num_threads(None)


def add_arguments(parser):
    """The options this script shares with ``train_speed.py --breakdown``."""
    parser.add_argument(
        "--fit-rows",
        type=int,
        default=16_384,
        help="rows of each timed fit epoch (its per-call costs, such as the NaN "
        "check of X, grow with the rows, so per step they amortise as on all rows)",
    )
    parser.add_argument(
        "--block-rows",
        type=int,
        default=4096,
        help="rows per timed block of each piece (steps per block = rows / batch)",
    )
    parser.add_argument(
        "--blas-threads",
        type=int,
        default=None,
        help="run every piece, fit and the bound on this many BLAS threads (default: "
        "the thread rule; the bound at the best of 1 and 2)",
    )
    parser.add_argument(
        "--clock",
        choices=tuple(CLOCKS),
        default="wall",
        help="cpu: the calling thread's CPU time, which leaves out the time other "
        "processes take the core (with --blas-threads 1; for a shared machine)",
    )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--batch-sizes",
        type=lambda s: [int(v) for v in s.split(",")],
        default=[32, 128, 512],
    )
    parser.add_argument("--samples", type=int, default=60_000)
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--json", metavar="FILE", help="write the results as JSON")
    add_arguments(parser)
    args = parser.parse_args(argv)
    if args.clock == "cpu" and args.blas_threads != 1:
        parser.error("--clock cpu times the calling thread: give --blas-threads 1")
    line = machine_line()
    print(line)
    results = breakdown(
        args.batch_sizes,
        args.repeats,
        args.samples,
        args.fit_rows,
        args.block_rows,
        args.blas_threads,
        args.clock,
    )
    print(report(results, args.repeats, args.blas_threads, args.clock))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"machine": line, "us_per_step": results}, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
