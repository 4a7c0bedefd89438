"""``glassnet playground``: a live page where a network learns and any point shows its math."""

from __future__ import annotations

import argparse
import sys
import webbrowser

from ..playground import Config, PlaygroundServer
from ..playground.datasets2d import read_user_data

LOCAL = ("127.0.0.1", "localhost", "::1")


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "playground",
        help="start the playground: watch a network learn, click a point for its math",
        description="Starts a local web server with the playground page and opens it: "
        "pick a 2-D data set, the features, layers, activations, loss and optimizer, "
        "press play and watch the decision boundary form; click a data point to see "
        "its forward pass, loss, backpropagation and the optimizer's next step with "
        "the numbers (gn.explain on the current weights). The address printed carries "
        "a random token every request must give; only this machine can connect "
        "unless --host says otherwise. Nothing is written to disk. Ctrl-C stops it.",
        epilog="example: glassnet playground --port 8765 --no-browser",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--port", type=int, default=8765, help="port to listen on (0: any free port)"
    )
    parser.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to bind (default 127.0.0.1: this machine only)",
    )
    parser.add_argument(
        "--no-browser", action="store_true", help="print the address, open no browser"
    )
    parser.add_argument(
        "--data",
        metavar="FILE",
        help="your own data (CSV, Parquet, .npy/.npz, as glassnet train reads them): "
        "offered as the dataset 'Your data'; needs --target",
    )
    parser.add_argument(
        "--target", metavar="COLUMN", help="the target column of --data"
    )
    parser.add_argument(
        "--columns",
        metavar="A,B",
        help="the two columns of --data drawn as x1, x2 (default: the first two "
        "besides the target)",
    )
    parser.set_defaults(run=run)


def run(args) -> int:
    if not 0 <= args.port <= 65535:
        raise ValueError(f"--port must be from 0 to 65535, got {args.port}")
    if args.host not in LOCAL:
        print(
            f"glassnet playground: warning: listening on {args.host}: other machines "
            "that can reach it may connect (they still need the token)",
            file=sys.stderr,
        )
    user_data, config = None, None
    if (args.data is None) != (args.target is None):
        raise ValueError("--data and --target go together: give both or neither")
    if args.columns is not None and args.data is None:
        raise ValueError("--columns names columns of --data, which was not given")
    if args.data is not None:
        columns = args.columns.split(",") if args.columns else None
        user_data = read_user_data(args.data, args.target, columns)
        config = Config(dataset="user")
        config.check(user_data.task)
    server = PlaygroundServer(
        host=args.host, port=args.port, config=config, user_data=user_data
    )
    print(f"glassnet playground: {server.url}  (Ctrl-C stops it)", flush=True)
    if not args.no_browser:
        webbrowser.open(server.url)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        print("glassnet playground: stopped", file=sys.stderr)
    finally:
        server.httpd.server_close()
    return 0
