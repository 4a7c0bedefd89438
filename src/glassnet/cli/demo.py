"""``glassnet demo``: the seed 003 walk, then a digits classifier trained end to end."""

from __future__ import annotations

import os

import numpy as np

from ..data import datasets
from ..explaining.worked_example import seed003_example
from ..nn.layers import Dense, Dropout
from ..nn.network import Sequential
from ..optim import AdamW
from ..optim.schedules import CosineLR
from ..training import metrics
from . import CliError


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="walk the seed 003 network, then train a digits classifier",
        description="Prints the forward pass, loss and gradients of the 2-2-1 network "
        "from the seed texts, then trains a small network on scikit-learn's 8x8 "
        "handwritten digits (generated spirals when scikit-learn is not installed) "
        "and prints its test accuracy and confusion matrix.",
        epilog="example: glassnet demo --epochs 20",
    )
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument(
        "--epochs",
        type=int,
        default=None,
        help="training epochs (default 40 for digits, 150 for spirals)",
    )
    parser.add_argument(
        "--dataset",
        choices=["auto", "digits", "spirals"],
        default="auto",
        help="digits (needs scikit-learn), spirals, or auto: digits when available",
    )
    parser.add_argument(
        "--plot-dir",
        default=os.path.join("glassnet-out", "demo"),
        help="folder for the demo's pictures (default glassnet-out/demo)",
    )
    parser.add_argument("--no-plots", action="store_true", help="do not draw pictures")
    parser.set_defaults(run=run)


def run(args) -> int:
    if args.epochs is not None and args.epochs < 1:
        raise CliError(f"--epochs must be a positive integer, got {args.epochs}")
    seed003_walk()
    problem = load(args.dataset)
    net, history, X_test = train(problem, args.epochs or problem["epochs"], args.seed)
    if not args.no_plots:
        save_plots(net, history, X_test, args.plot_dir)
    return 0


def save_plots(net, history, X_test, folder: str) -> None:
    """The training curves, the network and its activations, as PNG files."""
    try:
        from ..plot import figures as plot
    except ImportError as error:  # matplotlib is the `plot` extra
        print(f"\n(no pictures: {error})")
        return
    os.makedirs(folder, exist_ok=True)
    seed_net, _, _ = seed003_example()
    pictures = {
        "history.png": lambda path: plot.history(history, path=path),
        "network.png": lambda path: plot.network(net, path=path),
        "activations.png": lambda path: plot.activations(net, X_test, path=path),
        "seed003_network.png": lambda path: plot.network(seed_net, path=path),
    }
    print(f"\nPictures written to {folder}{os.sep}:")
    for name, draw in pictures.items():
        draw(os.path.join(folder, name))
        print(f"  {name}")


def seed003_walk() -> None:
    print("== Seed 003: 2 inputs -> 2 ReLU -> 1 sigmoid, x = [1, 2], y = 1, BCE")
    net, X, y = seed003_example()
    with np.printoptions(precision=6, suppress=True):
        for k, step in enumerate(net.forward(X, return_all=True), start=1):
            activation = net.layers[k - 1].activation.name
            print(f"  z{k} = W{k} a{k - 1} + b{k} = {step['Z'][0]}", end="")
            print(f"   a{k} = {activation}(z{k}) = {step['A'][0]}")
        loss, grads = net.loss_and_grad(X, y, loss="binary_crossentropy")
        print(f"  L = -[y log a2 + (1 - y) log(1 - a2)] = {loss:.6f}")
        print(f"  dL/dW2 = {grads[1]['W'].round(6).tolist()}", end="")
        print(f"   dL/dW1 = {grads[0]['W'].round(6).tolist()}")
    print()


def load(choice: str) -> dict:
    """The dataset, and the network and schedule that suit it."""
    if choice in ("auto", "digits"):
        try:
            X, y = datasets.load_digits()
        except ImportError as error:
            if choice == "digits":
                raise CliError(str(error)) from error
            print(f"({error}; using generated spirals instead)\n")
        else:
            return {
                "X": X / 16.0,  # pixels run 0..16: inputs in [0, 1]
                "y": y,
                "name": "8x8 handwritten digits",
                "classes": [str(d) for d in range(10)],
                "hidden": [256],
                "dropout": 0.2,
                "epochs": 40,
            }
    X, y = datasets.spirals(n_samples=900, n_classes=3, noise=0.2, seed=0)
    return {
        "X": X,
        "y": y,
        "name": "three interleaved spirals",
        "classes": ["0", "1", "2"],
        "hidden": [64, 64],
        "dropout": 0.0,
        "epochs": 150,
    }


def train(problem: dict, epochs: int, seed: int):
    X, y, classes = problem["X"], problem["y"], problem["classes"]
    X_train, X_test, y_train, y_test = datasets.train_test_split(
        X, y, test_size=0.25, stratify=True, seed=seed
    )
    layers, width = [], X.shape[1]
    for hidden in problem["hidden"]:
        layers.append(Dense(width, hidden, "relu"))
        width = hidden
    if problem["dropout"]:
        layers.append(Dropout(problem["dropout"]))
    layers.append(Dense(width, len(classes), "softmax"))
    net = Sequential(*layers, seed=seed)
    print(f"== {problem['name']}: {len(y_train)} training, {len(y_test)} test samples")
    print(net.summary())
    history = net.fit(
        X_train,
        y_train,
        optimizer=AdamW(lr=2e-3, weight_decay=0.05),
        epochs=epochs,
        batch_size=32,
        validation_split=0.1,
        metrics=["accuracy"],
        callbacks=[CosineLR(total_epochs=epochs)],
        seed=seed,
        verbose=1,
    )
    predicted = net.predict_classes(X_test)
    correct = int((predicted == y_test).sum())
    print(
        f"\nTest accuracy: {correct / len(y_test):.2%} ({correct}/{len(y_test)}), "
        f"macro F1 {metrics.f1(y_test, predicted):.4f}"
    )
    print("Confusion matrix (rows: true class, columns: predicted):")
    print(
        format_confusion(
            metrics.confusion_matrix(y_test, predicted, len(classes)), classes
        )
    )
    return net, history, X_test


def format_confusion(C: np.ndarray, classes) -> str:
    width = max(3, len(str(C.max())), *(len(c) for c in classes))
    head = " " * (width + 2) + " ".join(c.rjust(width) for c in classes)
    rows = [
        f"{label.rjust(width)} |" + " ".join(str(v).rjust(width) for v in row)
        for label, row in zip(classes, C, strict=True)
    ]
    return "\n".join([head, *rows])
