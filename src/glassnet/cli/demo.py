"""``glassnet demo``: the main job on built-in examples."""

from __future__ import annotations

import numpy as np

from ..layers import Dense
from ..network import Sequential
from ..worked_example import seed003_example


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="walk the seed 003 network and train a network on XOR",
        description="Prints the forward pass, loss and gradients of the 2-2-1 network "
        "from the seed texts, then trains a small network on XOR.",
        epilog="example: glassnet demo",
    )
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.set_defaults(run=run)


def run(args) -> int:
    np.set_printoptions(precision=6, suppress=True)
    print(
        "== The seed 003 network: 2 inputs -> 2 ReLU -> 1 sigmoid, binary cross-entropy"
    )
    net, X, y = seed003_example()
    print(net.summary())
    cache = net.forward(X, return_all=True)
    for k, step in enumerate(cache, start=1):
        print(f"z{k} = W{k} a{k - 1} + b{k} = {step['Z'][0]}")
        print(f"a{k} = {net.layers[k - 1].activation.name}(z{k}) = {step['A'][0]}")
    loss, grads = net.loss_and_grad(X, y, loss="binary_crossentropy")
    print(f"L = -[y log a2 + (1 - y) log(1 - a2)] = {loss:.6f}")
    for k, g in enumerate(grads, start=1):
        print(f"dL/dW{k} = {g['W'].tolist()}")
        print(f"dL/db{k} = {g['b'].tolist()}")

    print(
        "\n== XOR with a 2-4-1 tanh/sigmoid network, full-batch gradient descent, lr 0.5"
    )
    X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float64)
    y = np.array([0, 1, 1, 0], dtype=np.float64)
    net = Sequential(
        Dense(2, 4, "tanh"), Dense(4, 1, "sigmoid"), dtype="float64", seed=args.seed
    )
    for step in range(1, 2001):
        loss, _ = net.loss_and_grad(X, y, loss="binary_crossentropy")
        net.flat_params -= 0.5 * net.flat_grads  # theta <- theta - lr dL/dtheta
        if step in (1, 10, 100, 500, 1000, 2000):
            print(f"step {step:>5}: loss {loss:.6f}")
    predictions = (net.forward(X)[:, 0] >= 0.5).astype(int)
    print(f"predictions {predictions.tolist()} for targets {y.astype(int).tolist()}")
    return 0
