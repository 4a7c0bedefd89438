"""How far the MNIST-like instances left open are from a decision, and why.

For each instance (an image of ``verify.py``'s MNIST-like family and an eps), on the
network that benchmark trains:

- the hidden neurons the box's optimised layer bounds leave unstable, per layer;
- for the unsafe set with the lowest bound: the optimised-slope bound (alpha-CROWN,
  what ReLU splitting starts from), the same without the float32 rounding margins
  the sound bound carries, and the maximum over the triangle relaxation by an LP
  (``relaxed_max``), the best any one-neuron-at-a-time relaxation can do on these
  layer bounds;
- the smallest margin a strong attack reaches (PGD on each unsafe set from many
  random starts): a positive margin far above the bound means the property very
  likely holds, and only splitting (or a tighter, multi-neuron relaxation) can
  close the distance.

    python benchmarks/verify_gap.py                       # the 11 open instances
    python benchmarks/verify_gap.py --cases 0.03:600,0.05:1482 --restarts 50
    python benchmarks/verify_gap.py --quick --out gap.json  # a smoke run
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np
from verify import (
    descend,
    digits_28,
    logits_and_grad,
    machine_line,
    mnist_network,
    weights,
)

import glassnet as gn
from glassnet.io.atomic import atomic_write
from glassnet.verification import relaxed_max, stays_class
from glassnet.verification.alpha import alpha_spec_bounds, optimised_layer_bounds
from glassnet.verification.network import read_network
from glassnet.verification.relu_split import phase_bounds

#: The instances at eps 0.03 and 0.05 that ReLU splitting leaves open at 120 s.
OPEN = (
    "0.03:600,0.03:567,0.03:1258,0.03:1151,0.05:360,0.05:1773,0.05:1482,0.05:196,"
    "0.05:968,0.05:1151,0.05:1436"
)


def attack_margin(net, prop, rng, restarts: int, steps: int) -> float:
    """The smallest margin max_i (C z - d)_i over the unsafe sets that signed-gradient
    steps reach from ``restarts`` random starts per set (step halved six times)."""
    layers, box = weights(net), prop.regions[0]
    best = np.inf
    for unsafe in prop.unsafe:
        X = rng.uniform(box.lower, box.upper, size=(restarts, box.size))
        X = descend(layers, box, unsafe, X, steps, halve_every=max(steps // 6, 1))
        Z, _ = logits_and_grad(layers, X, np.zeros(unsafe.C.shape[1]))
        best = min(best, float(np.max(Z @ unsafe.C.T - unsafe.d, axis=1).min()))
    return best


def gap(net, vn, x, label, eps, rng, restarts, steps) -> dict:
    box = gn.linf_ball(x, eps, clip=(0.0, 1.0))
    prop = gn.Property(box, stays_class(label, 10))
    lo, hi = box.lower[None], box.upper[None]
    started = time.perf_counter()
    phases = [np.zeros((1, b.W.shape[0]), np.int8) for b in vn.blocks[:-1]]
    bounds, deltas, _ = phase_bounds(vn, lo, hi, phases)
    root = optimised_layer_bounds(vn, lo, hi, bounds, deltas, steps=40)
    unstable = [int(np.sum((L < 0) & (U > 0))) for L, U in root[:-1]]
    alpha = [
        float(alpha_spec_bounds(
            vn, lo, hi, u.C, u.d, bounds=root, deltas=deltas, steps=40
        ).max())
        for u in prop.unsafe
    ]  # fmt: skip
    s = int(np.argmin(alpha))
    unsafe = prop.unsafe[s]
    no_margin = [np.zeros_like(delta) for delta in deltas]
    alpha_exact = float(alpha_spec_bounds(
        vn, lo, hi, unsafe.C, unsafe.d, bounds=root, deltas=no_margin, steps=40
    ).max())  # fmt: skip
    # min of c . y - d over the triangles is -(max of -c . y) - d
    lp = -relaxed_max(net, box, -unsafe.C[0], root)[0] - unsafe.d[0]
    bounded = time.perf_counter() - started
    margin = attack_margin(net, prop, rng, restarts, steps)
    return {
        "unstable": unstable, "set": s, "alpha": alpha[s], "alpha_exact": alpha_exact,
        "lp": lp, "attack": margin, "seconds": bounded,
    }  # fmt: skip


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", help="eps:image,... (default: the open ones)")
    parser.add_argument("--restarts", type=int, help="PGD starts per set (200)")
    parser.add_argument("--steps", type=int, help="PGD steps (300)")
    parser.add_argument("--quick", action="store_true", help="a small smoke run")
    parser.add_argument("--out", metavar="FILE", help="write the rows as JSON")
    args = parser.parse_args(argv)
    quick = args.quick
    cases = args.cases or ("0.03:600" if quick else OPEN)
    restarts = args.restarts or (8 if quick else 200)
    steps = args.steps or (12 if quick else 300)
    X, y = digits_28()
    order = np.random.default_rng(0).permutation(len(X))
    net = mnist_network(X[order[200:]], y[order[200:]], 2 if quick else 15)
    vn = read_network(net)
    machine = machine_line()
    print(f"# How far the open instances are\n\n{machine}\n")
    print("| instance | unstable | set | alpha bound | without margins | LP "
          "(triangles) | attack margin |")  # fmt: skip
    print("|---|---|---|---|---|---|---|")
    rows = []
    for case in cases.split(","):
        eps, image = case.split(":")
        i = int(image)
        row = gap(
            net, vn, X[i], int(y[i]), float(eps), np.random.default_rng(i),
            restarts, steps,
        )  # fmt: skip
        rows.append({"image": i, "eps": float(eps), **row})
        print(
            f"| image {i}, eps {eps} | {' / '.join(map(str, row['unstable']))} "
            f"| {row['set']} | {row['alpha']:.3f} | {row['alpha_exact']:.3f} "
            f"| {row['lp']:.3f} | {row['attack']:.3f} |",
            flush=True,
        )
    if args.out:
        record = {"machine": machine, "restarts": restarts, "steps": steps,
                  "rows": rows}  # fmt: skip
        atomic_write(args.out, json.dumps(record, indent=2).encode())
    return 0


if __name__ == "__main__":
    sys.exit(main())
