"""``glassnet plot``: pictures of training histories, decision boundaries and networks."""

from __future__ import annotations

import argparse
import json

from . import CliError

DATASETS = ("moons", "circles", "xor", "spirals")

EPILOG = """examples:
  glassnet plot network                          the seed 003 network -> network.png
  glassnet plot network --model net.safetensors --out net.png
  glassnet plot boundary                         train a small network on two moons
  glassnet plot boundary --dataset spirals --out spirals.png
  glassnet plot boundary --model net.safetensors --dataset circles
  glassnet plot history history.json             from History.to_json("history.json")
  glassnet plot activations --dataset circles    histograms of every layer's outputs
"""


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "plot",
        help="draw a network, a decision boundary, a training history or activations",
        description="Writes a PNG (or SVG/PDF, by --out's extension). Needs matplotlib: "
        'pip install "glassnet[plot]".',
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    kinds = parser.add_subparsers(dest="what", metavar="WHAT")
    kinds.required = True

    history = kinds.add_parser(
        "history",
        help="loss and metrics per epoch from a History JSON file",
        epilog="example: glassnet plot history history.json --out curves.png  (the "
        'file written by History.to_json("history.json") after net.fit)',
    )
    history.add_argument("file", metavar="HISTORY.json")
    _common(history, "history.png")

    boundary = kinds.add_parser(
        "boundary",
        help="a 2-feature classifier's regions with the data",
        epilog="example: glassnet plot boundary --dataset spirals --out spirals.png "
        "(without --model a small network is trained on the dataset first)",
    )
    _data_options(boundary)
    _common(boundary, "boundary.png")

    network = kinds.add_parser(
        "network",
        help="neurons and connections, coloured by the weights",
        epilog="example: glassnet plot network --model net.safetensors --out net.png "
        "(without --model: the seed 003 network)",
    )
    network.add_argument("--model", metavar="FILE", help="a saved model (gn.save)")
    network.add_argument(
        "--max-neurons", type=int, default=20, help="neurons drawn per layer (20)"
    )
    _common(network, "network.png")

    activations = kinds.add_parser(
        "activations",
        help="histograms of each layer's outputs over a dataset",
        epilog="example: glassnet plot activations --dataset circles",
    )
    _data_options(activations)
    _common(activations, "activations.png")


def _common(parser, default_out: str) -> None:
    parser.add_argument(
        "--out", metavar="FILE", default=default_out, help=f"default {default_out}"
    )
    parser.add_argument("--title", help="the figure's title")
    parser.set_defaults(run=run)


def _data_options(parser) -> None:
    parser.add_argument(
        "--dataset", choices=DATASETS, default="moons", help="built-in 2-D data (moons)"
    )
    parser.add_argument(
        "--model", metavar="FILE", help="a saved model taking 2 inputs (gn.save)"
    )
    parser.add_argument(
        "--samples", type=int, default=300, help="dataset size (default 300)"
    )
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument(
        "--epochs", type=int, default=300, help="training epochs without --model (300)"
    )


def run(args) -> int:
    try:
        from ..plot import figures as plot
    except ImportError as error:  # main() reports CliError as one line, exit 1
        raise CliError(str(error)) from None
    try:
        return _draw(plot, args)
    except ImportError as error:
        raise CliError(str(error)) from None


def _draw(plot, args) -> int:
    if args.what == "history":
        plot.history(_read_history(args.file), path=args.out, title=args.title)
        print(f"wrote the training history of {args.file} to {args.out}")
    elif args.what == "network":
        if args.model:
            from .explain import load_model

            net = load_model(args.model)
        else:
            from ..explaining.worked_example import seed003_network

            net = seed003_network()
        plot.network(net, max_neurons=args.max_neurons, path=args.out, title=args.title)
        print(f"wrote a drawing of the network to {args.out}")
    else:
        net, X, y = _model_and_data(args)
        if args.what == "boundary":
            plot.decision_boundary(net, X, y, path=args.out, title=args.title)
            print(f"wrote the decision boundary on {args.dataset} to {args.out}")
        else:
            plot.activations(net, X, path=args.out, title=args.title)
            print(f"wrote the activations over {args.dataset} to {args.out}")
    return 0


def _read_history(path: str):
    with open(path, encoding="utf-8") as handle:
        text = handle.read()
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise CliError(
            f"{path} is not JSON ({error}); write it with History.to_json(path)"
        ) from None


def _dataset(name: str, n: int, seed: int):
    from ..data import datasets

    if n < 8:
        raise CliError(f"--samples must be at least 8, got {n}")
    if name == "xor":
        return datasets.xor(n_repeats=max(1, n // 4), noise=0.15, seed=seed)
    if name == "spirals":
        return datasets.spirals(n_samples=n, n_classes=3, seed=seed)
    if name == "circles":
        return datasets.circles(n_samples=n, noise=0.08, seed=seed)
    return datasets.moons(n_samples=n, noise=0.2, seed=seed)


def _model_and_data(args):
    X, y = _dataset(args.dataset, args.samples, args.seed)
    if args.model:
        from .explain import load_model

        net = load_model(args.model)
        if net.in_features != 2:
            raise CliError(
                f"{args.model} takes {net.in_features} inputs; the built-in datasets "
                "have 2 features"
            )
        return net, X, y
    from ..nn.layers import Dense
    from ..nn.network import Sequential
    from ..optim import Adam

    if args.epochs < 1:
        raise CliError(f"--epochs must be at least 1, got {args.epochs}")
    classes = int(y.max()) + 1
    if classes > 2:
        net = Sequential(
            Dense(2, 32, "relu"),
            Dense(32, 32, "relu"),
            Dense(32, classes, "softmax"),
            seed=args.seed,
        )
        loss = "cross_entropy"
    else:
        net = Sequential(
            Dense(2, 16, "tanh"),
            Dense(16, 16, "tanh"),
            Dense(16, 1, "sigmoid"),
            seed=args.seed,
        )
        loss = "binary_crossentropy"
    net.fit(
        X,
        y,
        loss=loss,
        optimizer=Adam(lr=0.03),
        epochs=args.epochs,
        batch_size=None,
        seed=args.seed,
        verbose=0,
    )
    from ..explaining.recorder import describe_network

    out = net.forward(X)
    predicted = out.argmax(axis=1) if out.shape[1] > 1 else (out[:, 0] >= 0.5)
    accuracy = 100.0 * float((predicted == y).mean())
    print(
        f"trained {describe_network(net)} on {args.dataset} ({X.shape[0]} samples, "
        f"{args.epochs} epochs of Adam): training accuracy {accuracy:.1f}%"
    )
    return net, X, y
