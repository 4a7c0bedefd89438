"""Tabular data: glassnet's command line against scikit-learn, end to end.

Two tables with text, boolean and numeric columns and missing cells:

- penguins: the Palmer penguins (palmerpenguins package; 344 rows, species from
  island, sex, four measurements and year; 19 empty cells);
- generated: a seeded table (``generated_table``) with a text column of 4 colours
  (one-hot in glassnet), a text column of 24 cities (a learned embedding), a boolean,
  four numbers, and three classes cut from a score that depends on the colour, the
  city, the boolean and three of the numbers; then 5% of the feature cells, chosen
  at random, are emptied.

For each seed one stratified train/test split (``split``), written as train.csv and
test.csv, is used by every contender:

- glassnet, through its command line as a user runs it: ``glassnet train train.csv
  --target T --seed s --val-split 0`` (the command line has no test split of its
  own: --val-split holds rows out of training for the validation loss, so the test
  rows go in their own file), then ``glassnet evaluate model test.csv --json``;
- scikit-learn's MLPClassifier in a Pipeline of a ColumnTransformer (numeric: median
  imputer and StandardScaler; categorical: most-frequent imputer and one-hot, unknown
  categories ignored), with glassnet's default network and training settings;
- HistGradientBoostingClassifier on the same frame, text and boolean columns as
  pandas categories (``categorical_features="from_dtype"``), NaN left in.

Every contender reads the same two CSV files with pandas, so all see the same cells.
Per seed the script also checks the model file's other paths: ``glassnet export``
then onnxruntime on the raw test columns (fed by the ONNX inputs' own types) must
give the labels of ``glassnet predict`` (and its probabilities to float32 rounding),
and ``glassnet explain --model M --input <a raw test row>`` (the first with an empty
cell) must run, show one preprocessing equation per raw column and the
standardisation, and end in the probabilities ``glassnet predict --proba`` gives for
that row.

    python benchmarks/tabular_accuracy.py                    # 3 seeds, both tables
    python benchmarks/tabular_accuracy.py --quick            # a tiny smoke run
    python benchmarks/tabular_accuracy.py --json results.json
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
import warnings
import zlib
from pathlib import Path

import numpy as np

HIDDEN = (64, 32)  # glassnet train's defaults, given to scikit-learn's MLP too
EPOCHS = 50
BATCH = 32
LR = 1e-3
TEST_SIZE = 0.25
MISSING = 0.05  # fraction of the generated table's feature cells left empty
PROBA_TOL = 1e-5  # onnxruntime and glassnet both run float32: rounding only


# -- the tables ----------------------------------------------------------------------
def penguins_frame():
    """The Palmer penguins as pandas reads them; target "species"."""
    from palmerpenguins import load_penguins

    return load_penguins(), "species"


def generated_table(n: int, seed: int = 0):
    """A seeded table of text, boolean and numeric columns; target "label".

    score = 1.5 x1 - x2^2 + 2 x3 + colour[c] + city[k] + 0.8 member + N(0, 0.5^2),
    cut at its tertiles into "low", "mid" and "high". x4 is noise. The score uses the
    complete cells; afterwards MISSING of the feature cells are emptied at random, so
    a model must cope with empty cells it cannot recover.
    """
    import pandas as pd

    rng = np.random.default_rng(seed)
    colours = np.array(["blue", "green", "red", "yellow"])
    colour_effect = np.array([-1.0, 0.0, 1.0, 2.0])
    cities = np.array([f"city{i:02d}" for i in range(24)])
    city_effect = rng.normal(0.0, 1.0, len(cities))
    c = rng.integers(0, len(colours), n)
    k = rng.integers(0, len(cities), n)
    member = rng.random(n) < 0.4
    x1, x2, x4 = rng.normal(size=(3, n))
    x3 = rng.uniform(-1.0, 1.0, n)
    score = (
        1.5 * x1
        - x2**2
        + 2.0 * x3
        + colour_effect[c]
        + city_effect[k]
        + 0.8 * member
        + rng.normal(0.0, 0.5, n)
    )
    cuts = np.quantile(score, [1 / 3, 2 / 3])
    label = np.array(["low", "mid", "high"])[np.searchsorted(cuts, score)]
    features = {
        "colour": colours[c].astype(object),
        "city": cities[k].astype(object),
        "member": member.astype(object),
        "x1": x1,
        "x2": x2,
        "x3": x3,
        "x4": x4,
    }
    for values in features.values():
        empty = rng.random(n) < MISSING
        values[empty] = None if values.dtype == object else np.nan
    return pd.DataFrame({**features, "label": label}), "label"


def split(frame, target: str, seed: int):
    """The seed's stratified train/test split, shared by every contender."""
    from sklearn.model_selection import train_test_split

    return train_test_split(
        frame, test_size=TEST_SIZE, random_state=seed, stratify=frame[target]
    )


def categorical_names(frame, target: str) -> list[str]:
    """Columns that are not numbers (text, booleans): categories for every contender,
    as glassnet train decides."""
    return [
        name
        for name in frame.columns
        if name != target and frame[name].dtype.kind not in "iuf"
    ]


# -- the contenders ------------------------------------------------------------------
class Glassnet:
    """The command line, one process per command, as a user runs it (in_process:
    ``glassnet.cli.main`` in this process instead, the same code without the
    start-up of a new interpreter, for the smoke test)."""

    def __init__(self, folder: Path, commands: list[str], in_process: bool = False):
        self.folder = folder
        self.commands = commands  # what was run, for the record
        self.in_process = in_process

    def run(self, *args: str) -> subprocess.CompletedProcess:
        self.commands.append("glassnet " + " ".join(args))
        if self.in_process:
            done = self.run_here(list(args))
        else:
            done = subprocess.run(
                [sys.executable, "-m", "glassnet", *args],
                cwd=self.folder, capture_output=True, text=True, timeout=1800,
            )  # fmt: skip
        if done.returncode != 0:
            raise RuntimeError(
                f"glassnet {' '.join(args)} exited {done.returncode}:\n{done.stderr}"
            )
        return done

    def run_here(self, argv: list[str]) -> subprocess.CompletedProcess:
        import contextlib
        import io
        import os

        from glassnet.cli import main

        out, err, here = io.StringIO(), io.StringIO(), os.getcwd()
        os.chdir(self.folder)  # the command's file names are relative to it
        try:
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                code = main(argv)
        finally:
            os.chdir(here)
        return subprocess.CompletedProcess(argv, code, out.getvalue(), err.getvalue())


def glassnet_accuracy(cli: Glassnet, target: str, seed: int, epochs: int) -> float:
    cli.run(
        "train", "train.csv", "--target", target, "--seed", str(seed),
        "--val-split", "0", "--epochs", str(epochs), "--out", "model.safetensors",
        "--quiet",
    )  # fmt: skip
    report = json.loads(
        cli.run("evaluate", "model.safetensors", "test.csv", "--json").stdout
    )
    return float(report["metrics"]["accuracy"])


def sklearn_mlp(categorical: list[str], numeric: list[str], seed: int, epochs: int):
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.neural_network import MLPClassifier
    from sklearn.pipeline import Pipeline, make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    columns = ColumnTransformer(
        [
            ("numeric", make_pipeline(SimpleImputer(strategy="median"),
                                      StandardScaler()), numeric),
            ("categorical", make_pipeline(
                SimpleImputer(strategy="most_frequent"),
                OneHotEncoder(handle_unknown="ignore"),
            ), categorical),
        ]
    )  # fmt: skip
    mlp = MLPClassifier(
        hidden_layer_sizes=HIDDEN,
        activation="relu",
        solver="adam",
        learning_rate_init=LR,
        batch_size=BATCH,
        max_iter=epochs,
        n_iter_no_change=epochs + 1,  # every epoch runs, as in glassnet
        alpha=0.0,  # glassnet train's default: no L2 penalty
        random_state=seed,
    )
    return Pipeline([("columns", columns), ("mlp", mlp)])


def sklearn_hgb(seed: int):
    from sklearn.ensemble import HistGradientBoostingClassifier

    return HistGradientBoostingClassifier(
        categorical_features="from_dtype", random_state=seed
    )


def as_categories(train, test, categorical: list[str]):
    """Text and boolean columns as pandas categories of the training rows' values
    (a test value never seen in training becomes NaN: missing)."""
    import pandas as pd

    train, test = train.copy(), test.copy()
    for name in categorical:
        seen = sorted({str(v) for v in train[name].dropna()})
        kind = pd.CategoricalDtype(seen)
        train[name] = train[name].map(str, na_action="ignore").astype(kind)
        test[name] = test[name].map(str, na_action="ignore").astype(kind)
    return train, test


def sklearn_accuracies(train, test, target: str, seed: int, epochs: int) -> dict:
    from sklearn.exceptions import ConvergenceWarning
    from threadpoolctl import threadpool_limits

    categorical = categorical_names(train, target)
    numeric = [n for n in train.columns if n != target and n not in categorical]
    X, y = train.drop(columns=target), train[target]
    X_test, y_test = test.drop(columns=target), test[target]
    mlp = sklearn_mlp(categorical, numeric, seed, epochs)
    # text cells as str, NaN where empty: the imputer's most frequent needs one type
    X_text, X_test_text = (
        frame.astype({n: object for n in categorical}) for frame in (X, X_test)
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # max_iter is the plan
        mlp.fit(X_text, y)
    hgb = sklearn_hgb(seed)
    X_cat, X_test_cat = as_categories(X, X_test, categorical)
    # One OpenMP thread: on a busy 2-core machine its spinning threads made a fit of
    # 120 rows take 40 s instead of 1 s. The threads change the speed, not the trees
    # (1 and 2 threads: the same probabilities to the bit on the generated table,
    # and the same accuracies on every seed of both tables).
    with threadpool_limits(limits=1, user_api="openmp"):
        hgb.fit(X_cat, y)
        hgb_predicted = hgb.predict(X_test_cat)
    return {
        "sklearn MLP": float(np.mean(mlp.predict(X_test_text) == y_test)),
        "HistGradientBoosting": float(np.mean(hgb_predicted == y_test)),
    }


# -- the checks of the model file's other paths ------------------------------------
def onnx_feeds(session, test) -> dict:
    """The raw test columns as the exported graph's inputs, by each input's type:
    double (NaN where empty), string ('' where empty), bool, int64; shape (n, 1)."""
    import pandas as pd

    feeds = {}
    for given in session.get_inputs():
        column = test[given.name]
        if given.type == "tensor(string)":
            values = np.array(
                ["" if pd.isna(v) else str(v) for v in column], dtype=object
            )
        elif given.type == "tensor(double)":
            values = column.astype(float).to_numpy()
        elif given.type == "tensor(bool)":
            values = column.astype(bool).to_numpy()
        elif given.type == "tensor(int64)":
            values = column.astype(np.int64).to_numpy()
        else:
            raise RuntimeError(f"ONNX input {given.name!r} has type {given.type}")
        feeds[given.name] = values.reshape(-1, 1)
    return feeds


def onnx_check(cli: Glassnet, test, classes: list[str]) -> dict:
    """glassnet export + onnxruntime on the raw test rows vs glassnet predict."""
    import onnxruntime
    import pandas as pd

    cli.run("export", "model.safetensors", "--out", "model.onnx")
    cli.run("predict", "model.safetensors", "test.csv", "--proba", "--out", "p.csv")
    predicted = pd.read_csv(cli.folder / "p.csv", dtype={"prediction": str})
    session = onnxruntime.InferenceSession(
        str(cli.folder / "model.onnx"), providers=["CPUExecutionProvider"]
    )
    meta = session.get_modelmeta().custom_metadata_map
    onnx_classes = [str(c) for c in json.loads(meta["glassnet.classes"])]
    (output,) = session.run(None, onnx_feeds(session, test))
    P = output if output.shape[1] > 1 else np.hstack([1 - output, output])
    labels = np.array(onnx_classes)[P.argmax(axis=1)]
    P_cli = predicted[[f"proba_{c}" for c in classes]].to_numpy()
    return {
        "rows": len(test),
        "same_labels": int(np.sum(labels == predicted["prediction"].to_numpy())),
        "max_proba_diff": float(np.abs(P - P_cli).max()),
        "classes_match": onnx_classes == classes,
    }


def raw_cells(row, names: list[str]) -> str:
    """One raw row as explain's --input: cells by commas, empty where missing."""
    import pandas as pd

    return ",".join("" if pd.isna(row[n]) else str(row[n]) for n in names)


def preprocessing_equations(text: str) -> list[str]:
    """The titles of explain's per-column preprocessing steps (text output):
    "Column j, NAME: numeric", "Column j, NAME: one-hot", ..., one per column (not
    the missing-value indicators)."""
    titles = re.findall(r"^  (Column \d+, .*)$", text, flags=re.MULTILINE)
    return [t for t in titles if not t.endswith(": missing-value indicator")]


def explain_check(cli: Glassnet, test, target: str, classes: list[str]) -> dict:
    """glassnet explain on the first raw test row: runs, shows the preprocessing,
    and ends in glassnet predict's probabilities for that row."""
    import pandas as pd

    names = [n for n in test.columns if n != target]
    # the first test row with an empty cell, so the walk shows a fill too
    empty = np.flatnonzero(test[names].isna().any(axis=1).to_numpy())
    row = int(empty[0]) if len(empty) else 0
    cells = raw_cells(test.iloc[row], names)
    text = cli.run("explain", "--model", "model.safetensors", "--input", cells).stdout
    walk = json.loads(
        cli.run(
            "explain", "--model", "model.safetensors", "--input", cells,
            "--format", "json",
        ).stdout
    )  # fmt: skip
    equations = preprocessing_equations(text)
    shown = [
        n
        for n in names
        if any(e.split(", ", 1)[1].startswith(f"{n}: ") for e in equations)
    ]
    P_cli = pd.read_csv(cli.folder / "p.csv").iloc[row][[f"proba_{c}" for c in classes]]
    p = np.asarray(walk["output"][0], dtype=float)
    p = p if len(p) > 1 else np.array([1 - p[0], p[0]])
    return {
        "row": row,
        "input": cells,
        "columns": len(names),
        "column_equations": len(equations),
        "columns_shown": len(shown),
        "standardisation": "x_std = (x − μ)/σ" in text,
        "embedding_lookups": len(re.findall(r"Lookup of column", text)),
        "max_proba_diff": float(np.abs(p - P_cli.to_numpy(dtype=float)).max()),
    }


# -- the run -------------------------------------------------------------------------
def run_table(
    name: str, frame, target: str, seeds, epochs: int, root: Path, in_process: bool
) -> dict:
    import pandas as pd

    result = {"table": name, "rows": len(frame), "seeds": list(seeds), "accuracy": {},
              "onnx": [], "explain": [], "commands": []}  # fmt: skip
    classes = sorted(str(c) for c in frame[target].unique())
    for seed in seeds:
        folder = root / f"{name}-{seed}"
        folder.mkdir()
        train, test = split(frame, target, seed)
        train.to_csv(folder / "train.csv", index=False)
        test.to_csv(folder / "test.csv", index=False)
        # every contender reads the same files back, as the command line does
        train = pd.read_csv(folder / "train.csv", dtype={target: str})
        test = pd.read_csv(folder / "test.csv", dtype={target: str})
        commands = result["commands"] if seed == seeds[0] else []
        cli = Glassnet(folder, commands, in_process)
        scores = {"glassnet (CLI)": glassnet_accuracy(cli, target, seed, epochs)}
        scores.update(sklearn_accuracies(train, test, target, seed, epochs))
        for contender, accuracy in scores.items():
            result["accuracy"].setdefault(contender, []).append(accuracy)
        result["onnx"].append(onnx_check(cli, test, classes))
        result["explain"].append(explain_check(cli, test, target, classes))
        print(f"  {name} seed {seed}: " + ", ".join(
            f"{c} {a:.4f}" for c, a in scores.items()), flush=True)  # fmt: skip
    return result


def table(results: list[dict]) -> str:
    seeds = results[0]["seeds"]
    head = " | ".join(f"seed {s}" for s in seeds)
    lines = [
        f"| data set | contender | {head} | mean |",
        "|---|---|" + "---:|" * (len(seeds) + 1),
    ]
    for result in results:
        for contender, scores in result["accuracy"].items():
            cells = " | ".join(f"{a:.4f}" for a in scores)
            lines.append(
                f"| {result['table']} | {contender} | {cells} | {np.mean(scores):.4f} |"
            )
    return "\n".join(lines)


def checks(results: list[dict]) -> tuple[str, bool]:
    """The ONNX and explain lines per table and seed, and whether all agree."""
    lines, good = [], True
    for result in results:
        for seed, o, e in zip(
            result["seeds"], result["onnx"], result["explain"], strict=True
        ):
            ok_onnx = (
                o["classes_match"]
                and o["same_labels"] == o["rows"]
                and o["max_proba_diff"] <= PROBA_TOL
            )
            ok_explain = (
                e["columns_shown"] == e["columns"]
                and e["standardisation"]
                and e["max_proba_diff"] <= PROBA_TOL
            )
            good = good and ok_onnx and ok_explain
            lines.append(
                f"{result['table']} seed {seed}: ONNX {o['same_labels']}/{o['rows']} "
                f"labels as glassnet predict, max |p diff| {o['max_proba_diff']:.1e}; "
                f"explain: {e['column_equations']} column equations for "
                f"{e['columns']} columns ({e['columns_shown']} named), "
                f"standardisation {'shown' if e['standardisation'] else 'MISSING'}, "
                f"{e['embedding_lookups']} embedding lookup(s), max |p diff| vs "
                f"predict {e['max_proba_diff']:.1e}"
                + ("" if ok_onnx and ok_explain else "  <-- DISAGREES")
            )
    return "\n".join(lines), good


def versions() -> str:
    from importlib.metadata import version

    packages = ("glassnet", "numpy", "pandas", "scikit-learn", "onnx", "onnxruntime",
                "palmerpenguins")  # fmt: skip
    return ", ".join(f"{p} {version(p)}" for p in packages)


def machine_line() -> str:
    from glassnet.cli.system import one_line, report

    return one_line(report())


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="0,1,2", help="comma-separated seeds")
    parser.add_argument("--epochs", type=int, default=EPOCHS)
    parser.add_argument("--rows", type=int, default=1200, help="generated table rows")
    parser.add_argument("--quick", action="store_true",
                        help="a smoke run: the generated table only, 160 rows, "
                        "one seed, 3 epochs")  # fmt: skip
    parser.add_argument("--json", metavar="FILE", help="also write the record here")
    parser.add_argument("--in-process", action="store_true",
                        help="run glassnet's commands in this process (the same "
                        "code, without a new interpreter per command)")  # fmt: skip
    args = parser.parse_args(argv)
    seeds = [int(s) for s in args.seeds.split(",")]
    tables = [("penguins", penguins_frame), ("generated", None)]
    if args.quick:
        seeds, args.epochs, args.rows = seeds[:1], 3, 160
        tables = tables[1:]
    print(machine_line())
    print(versions())
    results = []
    with tempfile.TemporaryDirectory() as root:
        for name, load in tables:
            frame, target = (
                load() if load else generated_table(args.rows, zlib.crc32(b"tabular"))
            )
            results.append(
                run_table(
                    name,
                    frame,
                    target,
                    seeds,
                    args.epochs,
                    Path(root),
                    args.in_process,
                )  # fmt: skip
            )
    lines, good = checks(results)
    print()
    print(table(results))
    print()
    print(lines)
    if args.json:
        from glassnet.io.atomic import atomic_write

        record = {"machine": machine_line(), "versions": versions(),
                  "epochs": args.epochs, "results": results, "agree": good}  # fmt: skip
        atomic_write(args.json, json.dumps(record, indent=1).encode())
    return 0 if good else 1


if __name__ == "__main__":
    sys.exit(main())
