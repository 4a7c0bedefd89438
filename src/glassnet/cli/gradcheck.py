"""``glassnet gradcheck``: finite differences against backprop on random networks."""

from __future__ import annotations

import argparse

import numpy as np

from ..explaining.gradcheck import gradcheck
from ..nn.activations import ACTIVATIONS
from ..nn.layers import Dense
from ..nn.network import Sequential


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "gradcheck",
        help="check every activation and loss against finite differences",
        description="Builds small random networks for every activation and loss and "
        "compares backpropagation with central finite differences in float64.",
        epilog="example: glassnet gradcheck --seed 1",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.set_defaults(run=run)


def gradcheck_cases(seed: int = 0):
    """(description, net, X, y, loss) for every activation x loss that is trainable."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(6, 3))
    hidden = [name for name in ACTIVATIONS if name not in ("step", "softmax")]
    for activation in hidden:
        for loss, out_act, width, y in (
            ("mse", "identity", 2, rng.normal(size=(6, 2))),
            ("binary_crossentropy", "sigmoid", 2, rng.integers(0, 2, size=(6, 2))),
            ("cross_entropy", "softmax", 3, rng.integers(0, 3, size=6)),
        ):
            net = Sequential(
                Dense(3, 4, activation),
                Dense(4, width, out_act),
                dtype="float64",
                seed=rng,
            )
            yield f"{activation} -> {out_act} / {loss}", net, X, y, loss


def run(args) -> int:
    failures = 0
    print(f"{'hidden -> output / loss':<44} {'max rel error':>13}  result")
    for description, net, X, y, loss in gradcheck_cases(args.seed):
        report = gradcheck(net, X, y, loss=loss)
        failures += not report.passed
        print(
            f"{description:<44} {report.max_rel_error:>13.2e}  "
            f"{'ok' if report.passed else 'FAIL'}"
        )
    verdict = "all gradients agree" if not failures else f"{failures} case(s) FAILED"
    print(f"{verdict} (tolerance 1e-6, central differences, h = 1e-6, float64)")
    return 1 if failures else 0
