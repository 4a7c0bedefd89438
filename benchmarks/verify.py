"""Verification: decided, holds, violated, unknown and time per instance, per method.

Two families of the shapes the verification competition (VNN-COMP 2021) uses, on
networks trained here:

- ACAS Xu-like: 5 inputs, 6 hidden layers of 50 ReLUs, 5 outputs (300 ReLUs),
  trained (MSE, seeded) to five smooth "advisory cost" functions of the inputs; the
  advisory is the argmin, as in ACAS Xu. Properties of the ACAS Xu kinds, written as
  VNNLIB files and read back with ``read_vnnlib``: "output 0 stays below a bound",
  "output 0 is not minimal", "the advisory stays the same in a box" (small boxes and
  boxes across a decision boundary), and a bound over two input boxes.
- MNIST-like: a 784-256-256-10 ReLU network trained on scikit-learn's digits
  upsampled to 28x28 (inputs in [0, 1]); 15 test images x eps, L-inf robustness
  ("the prediction stays the true label").

Each instance is run three ways: ``method="interval"`` (interval bounds),
``method="linear"`` (one-shot CROWN back-substitution), both after the same cheap
falsification the engine always runs first, and ``method="auto"`` (the full
pipeline: optimised slopes, then branch and bound until ``--timeout``).

Soundness is checked, not assumed: every "violated" answer's counterexample is put
through the network's own forward pass (``net.predict``) and must lie in the region
and in an unsafe set; every "holds" is attacked by an independent PGD (numpy
gradients of the margin, written here, many random restarts) which must find
nothing. Any disagreement is printed loudly and makes the script exit 1.

    python benchmarks/verify.py                      # the full run (30 s timeout)
    python benchmarks/verify.py --quick              # a smoke run (5 s timeout)
    python benchmarks/verify.py --timeout 10 --out verify.json
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

import glassnet as gn
from glassnet.io.atomic import atomic_write
from glassnet.verification import stays_class
from glassnet.verification.vnnlib import read_vnnlib

METHODS = ("interval", "linear", "auto")
DECIDED = ("holds", "violated")
REGION_TOL = 1e-9  # a counterexample must lie in the region (float64 slack only)


# -- the ACAS Xu-like family ----------------------------------------------------------
def advisory_costs(X: np.ndarray) -> np.ndarray:
    """Five smooth costs of (rho, theta, psi, v_own, v_int), each scaled to [-1, 1]:
    clear of conflict (0), weak left/right (1, 2), strong left/right (3, 4). The
    advisory is the argmin. Threat grows as the intruder comes close (rho -> -1)
    and sits ahead (theta near 0), faster with a fast intruder."""
    rho, theta, psi, v_own, v_int = (X[:, i] for i in range(5))
    angle, heading = np.pi * theta, np.pi * psi
    threat = (
        np.exp(-1.5 * (rho + 1.0))
        * np.cos(angle / 2) ** 2
        * (1.0 + 0.3 * v_int - 0.2 * v_own)
        * (1.0 + 0.2 * np.cos(heading))
    )
    side = np.sin(angle) + 0.3 * np.sin(heading)
    return np.stack(
        [
            2.0 * threat,
            0.5 + 0.6 * threat * (1.0 + side),
            0.5 + 0.6 * threat * (1.0 - side),
            0.9 + 0.3 * threat * (1.0 + side) + 0.1 * v_own,
            0.9 + 0.3 * threat * (1.0 - side) + 0.1 * v_own,
        ],
        axis=1,
    )


def acas_network(seed: int, samples: int, epochs: int):
    rng = np.random.default_rng(seed)
    X = rng.uniform(-1.0, 1.0, size=(samples, 5))
    Y = advisory_costs(X)
    layers = [gn.Dense(5, 50, "relu")] + [gn.Dense(50, 50, "relu") for _ in range(5)]
    net = gn.Sequential(*layers, gn.Dense(50, 5), dtype="float32", seed=seed)
    with one_blas_thread():
        net.fit(X, Y, loss="mse", optimizer=gn.Adam(lr=2e-3), epochs=epochs,
                batch_size=64, seed=seed, verbose=0)  # fmt: skip
    return net


@contextlib.contextmanager
def one_blas_thread():
    """Training on one BLAS thread: the same weights on every run. With the
    default rule the count follows the machine's load (the worker processes of the
    instances before count), the last bits of the products follow the count, and
    fifteen epochs carry them into different networks, on which an instance decided
    by a margin of 0.003 can turn from a quick proof into a timeout."""
    gn.set_num_threads(1)
    try:
        yield
    finally:
        gn.set_num_threads(None)


def _declare(n_in: int, n_out: int) -> list[str]:
    return [f"(declare-const X_{i} Real)" for i in range(n_in)] + [
        f"(declare-const Y_{j} Real)" for j in range(n_out)
    ]


def _box_asserts(lower, upper) -> list[str]:
    lines = []
    for i, (lo, hi) in enumerate(zip(lower, upper, strict=True)):
        lines += [f"(assert (>= X_{i} {lo:.9f}))", f"(assert (<= X_{i} {hi:.9f}))"]
    return lines


def _box_and(lower, upper) -> str:
    parts = [
        f"(>= X_{i} {lo:.9f}) (<= X_{i} {hi:.9f})"
        for i, (lo, hi) in enumerate(zip(lower, upper, strict=True))
    ]
    return "(and " + " ".join(parts) + ")"


def acas_properties(net, rng) -> dict[str, str]:
    """VNNLIB texts of the ACAS Xu kinds for this network (thresholds from samples of
    the network itself, so some hold and some are violated)."""

    def sample(lower, upper, n=4000):
        X = rng.uniform(lower, upper, size=(n, 5))
        return X, np.asarray(net.predict(X), dtype=np.float64)

    texts = {}
    # 1. far away and behind: clear-of-conflict cost stays below a bound
    far_lo, far_hi = np.array([0.6, 0.6, -1, -1, -1.0]), np.array([1.0, 1, 1, 1, 1])
    _, Y = sample(far_lo, far_hi)
    top, spread = Y[:, 0].max(), np.ptp(Y[:, 0]) + 1e-3
    for name, bound in (("bound_loose", top + 1.0 * spread),
                        ("bound_tight", top - 0.2 * spread)):  # fmt: skip
        texts[f"p1_{name}"] = "\n".join(
            ["; output 0 (clear of conflict) stays below a bound, far away"]
            + _declare(5, 5) + _box_asserts(far_lo, far_hi)
            + [f"(assert (>= Y_0 {bound:.9f}))"]
        )  # fmt: skip
    # 2. close and ahead: clear of conflict is not the advisory (not minimal)
    near_lo = np.array([-1.0, -0.15, -0.2, -0.2, 0.2])
    near_hi = np.array([-0.8, 0.15, 0.2, 0.2, 0.6])
    texts["p2_coc_not_minimal"] = "\n".join(
        ["; close and ahead: output 0 is not the minimal cost"]
        + _declare(5, 5) + _box_asserts(near_lo, near_hi)
        + [f"(assert (<= Y_0 Y_{j}))" for j in range(1, 5)]
    )  # fmt: skip
    # 3. the advisory stays the same in a box around a point (small and larger)
    for name, half in (("small", 0.01), ("large", 0.25)):
        centre = rng.uniform(-0.7, 0.7, size=5)
        centre[0] = rng.uniform(-0.9, -0.4)  # where the advisories change
        advisory = int(np.argmin(net.predict(centre[None])[0]))
        lower, upper = np.clip(centre - half, -1, 1), np.clip(centre + half, -1, 1)
        others = [j for j in range(5) if j != advisory]
        unsafe = " ".join(f"(and (<= Y_{j} Y_{advisory}))" for j in others)
        texts[f"p3_advisory_{name}"] = "\n".join(
            [f"; the advisory stays {advisory} in a box of half-width {half}"]
            + _declare(5, 5) + _box_asserts(lower, upper)
            + [f"(assert (or {unsafe}))"]
        )  # fmt: skip
    # 4. two input boxes (an "or" of regions), strong-left cost stays above a bound
    box_a = (np.array([0.2, -1, -1, -1, -1.0]), np.array([0.4, -0.6, 1, 1, 1]))
    box_b = (np.array([0.2, 0.6, -1, -1, -1.0]), np.array([0.4, 1.0, 1, 1, 1]))
    _, Ya = sample(*box_a)
    _, Yb = sample(*box_b)
    low = min(Ya[:, 3].min(), Yb[:, 3].min())
    texts["p4_two_boxes"] = "\n".join(
        ["; to the side, near or far: output 3 stays above a bound"]
        + _declare(5, 5)
        + [f"(assert (or {_box_and(*box_a)}\n            {_box_and(*box_b)}))"]
        + [f"(assert (<= Y_3 {low - 0.05:.9f}))"]
    )  # fmt: skip
    return texts


# -- the MNIST-like family ------------------------------------------------------------
def digits_28():
    from scipy.ndimage import zoom
    from sklearn.datasets import load_digits

    digits = load_digits()
    images = digits.images / 16.0  # 8x8 in [0, 1]
    big = np.stack([zoom(im, 3.5, order=1) for im in images])  # 28x28
    X = np.clip(big, 0.0, 1.0).reshape(len(images), 784)
    return X, digits.target


def mnist_network(X, y, epochs: int):
    net = gn.Sequential(
        gn.Dense(784, 256, "relu"), gn.Dense(256, 256, "relu"),
        gn.Dense(256, 10, "softmax"), dtype="float32", seed=0,
    )  # fmt: skip
    with one_blas_thread():
        net.fit(X, y, loss="cross_entropy", optimizer=gn.Adam(lr=1e-3),
                epochs=epochs, batch_size=64, seed=0, verbose=0)  # fmt: skip
    return net


# -- the soundness checks -------------------------------------------------------------
def weights(net) -> list[tuple[np.ndarray, np.ndarray]]:
    return [
        (np.asarray(layer.W, np.float64), np.asarray(layer.b, np.float64))
        for layer in net.layers
    ]


def logits_and_grad(layers, X, c):
    """z_L (n, out) of the ReLU network (last layer linear, before any softmax) and
    d(z_L c)/dX (n, in) for one row vector c, by hand: forward keeping the ReLU masks,
    backward as dA = dZ W."""
    A, masks = X, []
    for W, b in layers[:-1]:
        Z = A @ W.T + b
        masks.append(Z > 0)
        A = np.maximum(Z, 0.0)
    W, b = layers[-1]
    out = A @ W.T + b
    dA = np.broadcast_to(c @ W, A.shape)
    for (W, _), mask in zip(reversed(layers[:-1]), reversed(masks), strict=True):
        dA = (dA * mask) @ W
    return out, dA


def pgd_attack(net, prop, rng, restarts: int, steps: int = 60) -> np.ndarray | None:
    """An input in a region that ``net.predict`` puts in an unsafe set, or None.

    For each unsafe set {y : C y <= d}, minimise its margin max_i (C z - d)_i (<= 0:
    inside) by signed-gradient steps from ``restarts`` random starts in each region,
    projected back into the box, step halved every 15 steps."""
    layers = weights(net)
    for box in prop.regions:
        for unsafe in prop.unsafe:
            X = rng.uniform(box.lower, box.upper, size=(restarts, box.size))
            X = descend(layers, box, unsafe, X, steps, halve_every=15)
            # the points as the model reads them, kept only where still in the box
            X = X.astype(net.dtype).astype(np.float64)
            X = X[np.all((X >= box.lower) & (X <= box.upper), axis=1)]
            if not len(X):
                continue
            Y = np.asarray(net.predict(X.astype(net.dtype)), dtype=np.float64)
            hit = np.flatnonzero(prop.violated_by(Y))
            if hit.size:
                return X[hit[0]]
    return None


def descend(layers, box, unsafe, X, steps: int, halve_every: int) -> np.ndarray:
    """Signed-gradient steps on the unsafe set's margin max_i (C z - d)_i from each
    row of X, projected back into the box; the step starts at a quarter of the box's
    width and halves every ``halve_every`` steps. The end points."""
    step = 0.25 * (box.upper - box.lower)
    for t in range(steps):
        Z, _ = logits_and_grad(layers, X, np.zeros(unsafe.C.shape[1]))
        worst = np.argmax(Z @ unsafe.C.T - unsafe.d, axis=1)
        dX = np.empty_like(X)
        for row in np.unique(worst):
            at = worst == row
            _, dX[at] = logits_and_grad(layers, X[at], unsafe.C[row])
        X = np.clip(X - step * np.sign(dX), box.lower, box.upper)
        if t % halve_every == halve_every - 1:
            step = step / 2
    return X


def counterexample_confirmed(net, prop, x) -> bool:
    """x lies in some region and the network's own forward pass puts it in an unsafe
    set (for a softmax network, the probabilities keep the logits' order)."""
    x = np.asarray(x, dtype=np.float64)
    inside = any(
        np.all(x >= box.lower - REGION_TOL) and np.all(x <= box.upper + REGION_TOL)
        for box in prop.regions
    )
    y = np.asarray(net.predict(x[None].astype(net.dtype)), dtype=np.float64)
    return bool(inside and prop.violated_by(y)[0])


# -- running and reporting ------------------------------------------------------------
def run_instance(net, prop, timeout: float, pgd_restarts: int, seed: int) -> dict:
    row, problems = {}, []
    for method in METHODS:
        started = time.perf_counter()
        result = gn.verify(net, prop, timeout=timeout, method=method, seed=seed)
        seconds = time.perf_counter() - started
        row[method] = {"status": result.status, "by": result.method,
                       "seconds": seconds,
                       "boxes": int(result.counts.get("boxes", 0))}  # fmt: skip
        if result.status == "violated":
            ok = counterexample_confirmed(net, prop, result.counterexample[0])
            row[method]["counterexample_confirmed"] = ok
            if not ok:
                problems.append(f"{method}: counterexample NOT confirmed")
    statuses = {row[m]["status"] for m in METHODS} & set(DECIDED)
    if len(statuses) > 1:
        problems.append(f"methods disagree: {statuses}")
    if "holds" in statuses and pgd_restarts:
        found = pgd_attack(net, prop, np.random.default_rng(seed), pgd_restarts)
        row["pgd_found_counterexample"] = found is not None
        if found is not None:
            problems.append("'holds' but PGD found a counterexample")
    row["problems"] = problems
    return row


def summarise(rows: list[dict]) -> dict:
    table = {}
    for method in METHODS:
        statuses = [r[method]["status"] for r in rows]
        seconds = [r[method]["seconds"] for r in rows]
        table[method] = {
            "instances": len(rows),
            "holds": statuses.count("holds"),
            "violated": statuses.count("violated"),
            "unknown_or_timeout": sum(s not in DECIDED for s in statuses),
            "decided": sum(s in DECIDED for s in statuses),
            "total_seconds": float(np.sum(seconds)),
            "max_seconds": float(np.max(seconds)),
            "decided_by": {
                by: sum(
                    r[method]["by"] == by and r[method]["status"] in DECIDED
                    for r in rows
                )
                for by in sorted({r[method]["by"] for r in rows})
            },  # fmt: skip
        }
    return table


def all_problems(families: dict) -> list[str]:
    """Every instance's problems, each named by its instance."""
    return [
        f"{r['instance']}: {p}" for rows in families.values() for r in rows
        for p in r["problems"]
    ]  # fmt: skip


def markdown(name: str, table: dict) -> str:
    lines = [
        f"**{name}**",
        "",
        "| method | instances | holds | violated | unknown/timeout | decided "
        "| total s | max s | decided by |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for method, t in table.items():
        by = ", ".join(f"{k} {v}" for k, v in t["decided_by"].items() if v)
        lines.append(
            f"| {method} | {t['instances']} | {t['holds']} | {t['violated']} | "
            f"{t['unknown_or_timeout']} | {t['decided']} | {t['total_seconds']:.1f} "
            f"| {t['max_seconds']:.2f} | {by or '-'} |"
        )
    return "\n".join(lines)


def machine_line() -> str:
    from glassnet.cli.system import one_line, report

    return one_line(report())


def acas_family(args, folder: Path) -> list[dict]:
    rows = []
    for seed in range(args.acas_networks):
        net = acas_network(seed, args.acas_samples, args.acas_epochs)
        texts = acas_properties(net, np.random.default_rng(100 + seed))
        for name, text in texts.items():
            if args.properties and name not in args.properties:
                continue
            path = folder / f"acas_net{seed}_{name}.vnnlib"
            path.write_text(text + "\n", encoding="utf-8")
            prop = read_vnnlib(path, n_inputs=5, n_outputs=5)
            row = run_instance(net, prop, args.timeout, args.pgd_restarts, seed)
            rows.append({"instance": f"net{seed}/{name}", **row})
            report_row(rows[-1])
    return rows


def mnist_family(args) -> list[dict]:
    X, y = digits_28()
    order = np.random.default_rng(0).permutation(len(X))
    test, train = order[:200], order[200:]
    net = mnist_network(X[train], y[train], args.mnist_epochs)
    accuracy = float(np.mean(net.predict_classes(X[test]) == y[test]))
    print(f"MNIST-like network: test accuracy {accuracy:.3f} on 200 held-out digits")
    rows = []
    for eps in args.eps:
        for i in test[: args.images]:
            box = gn.linf_ball(X[i], eps, clip=(0.0, 1.0))
            prop = gn.Property(box, stays_class(int(y[i]), 10))
            row = run_instance(net, prop, args.timeout, args.pgd_restarts, int(i))
            rows.append({"instance": f"image{i}/eps{eps}", "eps": eps, **row})
            report_row(rows[-1])
    return rows, accuracy


def report_row(row: dict) -> None:
    cells = ", ".join(
        f"{m} {row[m]['status']}/{row[m]['by']} {row[m]['seconds']:.2f}s "
        f"({row[m]['boxes']} boxes)"
        for m in METHODS
    )
    print(f"  {row['instance']}: {cells}", flush=True)
    for problem in row["problems"]:
        print(f"  !!! SOUNDNESS: {row['instance']}: {problem}", flush=True)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a small smoke run")
    parser.add_argument("--timeout", type=float, help="seconds per instance (auto)")
    parser.add_argument("--out", metavar="FILE", help="write the results as JSON")
    parser.add_argument("--eps", type=lambda s: [float(v) for v in s.split(",")])
    parser.add_argument("--images", type=int)
    parser.add_argument("--acas-networks", type=int)
    parser.add_argument(
        "--properties",
        type=lambda s: s.split(","),
        help="only these ACAS Xu-like properties (names as printed, comma-separated)",
    )
    parser.add_argument("--families", default="acas,mnist", help="acas, mnist or both")
    args = parser.parse_args(argv)
    quick = args.quick
    args.timeout = args.timeout or (5.0 if quick else 30.0)
    args.eps = args.eps or ([0.01] if quick else [0.005, 0.01, 0.03, 0.05])
    args.images = args.images or (2 if quick else 15)
    args.acas_networks = args.acas_networks or (1 if quick else 5)
    args.acas_samples, args.acas_epochs = (1000, 5) if quick else (4000, 60)
    args.mnist_epochs = 2 if quick else 15
    args.pgd_restarts = 8 if quick else 64

    machine = machine_line()
    print(f"# Verification benchmark\n\n{machine}\n", flush=True)
    started = time.perf_counter()
    families, accuracy = {}, None
    if "acas" in args.families:
        print("ACAS Xu-like (5-50x6-5):", flush=True)
        with tempfile.TemporaryDirectory() as folder:
            families["ACAS Xu-like"] = acas_family(args, Path(folder))
    mnist = []
    if "mnist" in args.families:
        print("MNIST-like (784-256-256-10):", flush=True)
        mnist, accuracy = mnist_family(args)
    families.update(
        {f"MNIST-like, eps {eps}": [r for r in mnist if r["eps"] == eps]
         for eps in args.eps if mnist}
    )  # fmt: skip
    tables = {name: summarise(rows) for name, rows in families.items()}
    problems = all_problems(families)
    confirmed = sum(
        r[m].get("counterexample_confirmed", False)
        for rows in families.values() for r in rows for m in METHODS
    )  # fmt: skip
    attacked = sum(
        "pgd_found_counterexample" in r for rows in families.values() for r in rows
    )
    print()
    for name, table in tables.items():
        print(markdown(name, table) + "\n")
    print(
        f"soundness: {confirmed} counterexamples confirmed by a forward pass, "
        f"{attacked} 'holds' instances attacked by PGD "
        f"({args.pgd_restarts} restarts per region and unsafe set), {len(problems)} disagreements"
    )
    for problem in problems:
        print(f"!!! SOUNDNESS DISAGREEMENT: {problem}")
    wall = time.perf_counter() - started
    print(f"wall time {wall:.0f} s, timeout {args.timeout} s per instance")
    if args.out:
        record = {
            "machine": machine, "timeout": args.timeout, "quick": quick,
            "eps": args.eps, "mnist_test_accuracy": accuracy, "tables": tables,
            "instances": families, "counterexamples_confirmed": confirmed,
            "holds_attacked": attacked, "pgd_restarts": args.pgd_restarts,
            "problems": problems, "wall_seconds": wall,
        }  # fmt: skip
        atomic_write(args.out, json.dumps(record, indent=2).encode())
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
