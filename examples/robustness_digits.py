"""Adversarial examples on sklearn's digits: measure, see, defend.

Trains the same 64-64-10 network twice (plain, then with FGSM adversarial training),
prints both robustness reports and saves the figures of docs/robustness.md:

    python examples/robustness_digits.py [OUTPUT_DIR]     (default docs/images)
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from sklearn.datasets import load_digits

import glassnet as gn
from glassnet.robustness.report import plot_accuracy_vs_eps, plot_adversarial_examples

EPS = [0.02, 0.05, 0.1, 0.2]


def main(out: Path) -> None:
    digits = load_digits()
    X, y = digits.data / 16.0, digits.target  # pixels 0..16 -> [0, 1]
    perm = np.random.default_rng(0).permutation(len(X))
    train, test = perm[:1347], perm[1347:]

    reports, nets = {}, {}
    for name, adversarial in (
        ("standard", None),
        ("FGSM-trained (eps 0.1)", gn.attacks.FGSM(eps=0.1, mix=0.5, clip=(0, 1))),
    ):
        net = gn.Sequential(
            gn.Dense(64, 64, "relu"), gn.Dense(64, 10, "softmax"), seed=0
        )
        net.fit(
            X[train], y[train], optimizer=gn.Adam(lr=0.01), epochs=30, batch_size=64,
            seed=0, verbose=0, adversarial=adversarial,
        )  # fmt: skip
        reports[name] = gn.robustness_report(
            net, X[test], y[test], eps=EPS, clip=(0, 1), pgd_steps=20, seed=0
        )
        nets[name] = net
        print(f"== {name}\n{reports[name]}\n")

    out.mkdir(parents=True, exist_ok=True)
    plot_accuracy_vs_eps(
        reports, out / "robustness_accuracy.png", title="Digits: accuracy under attack"
    )
    net = nets["standard"]
    X_adv = gn.attacks.fgsm(net, X[test], y[test], 0.1, clip=(0, 1))
    flipped = reports["standard"].results[EPS.index(0.1)].examples  # FGSM, eps 0.1
    plot_adversarial_examples(
        net, X[test], X_adv, y[test], [e["index"] for e in flipped][:5] + [1],
        out / "robustness_digits.png",
        title="FGSM, eps = 0.1, on the standard network",
    )  # fmt: skip
    print(f"figures written to {out}/")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path("docs/images"))
