"""glassnet against Marabou, a verifier of the competition, on the same instances.

``verify.py``'s families (the same networks, trained the same way, and the same
properties), each instance asked of both tools with the same timeout on the same
machine:

- **glassnet**: ``gn.verify(net, prop, timeout=...)``, the full pipeline;
- **Marabou** (``maraboupy``, the Python package of the Marabou verifier, which took
  part in VNN-COMP 2021): the network exported to ONNX with ``gn.export_onnx`` (its
  logits: the MNIST-like network's softmax left out, as glassnet's bounds leave it
  out), the property written as VNNLIB with ``write_vnnlib``, read by Marabou's own
  ONNX and VNNLIB parsers, and solved in its split-and-conquer mode with two workers
  (both cores, as glassnet uses them).

Checked on every run: each counterexample Marabou reports ("sat") is put through
glassnet's forward pass in the network's own dtype and must lie in the region and
in an unsafe set, or miss it by at most the competition's tolerance (1e-4: Marabou
solves in float64, and a point on the boundary there can miss it by a rounding in
float32; these are counted apart); and the two tools must never give opposite
decided answers. Any
disagreement is printed and makes the script exit 1: two independent complete
verifiers agreeing on every instance both decide is a check of glassnet's answers
that does not rest on glassnet's own code.

    python benchmarks/verify_marabou.py                   # both families, 30 s each
    python benchmarks/verify_marabou.py --families acas --timeout 60
    python benchmarks/verify_marabou.py --quick           # a smoke run
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
from verify import (
    acas_network,
    acas_properties,
    all_problems,
    digits_28,
    machine_line,
    mnist_network,
)

import glassnet as gn
from glassnet.io.atomic import atomic_write
from glassnet.verification import read_vnnlib, stays_class, write_vnnlib

TOOLS = ("glassnet", "Marabou")
DECIDED = ("holds", "violated")
MARABOU_STATUS = {"sat": "violated", "unsat": "holds", "TIMEOUT": "timeout"}
REGION_SLACK = 1e-6  # Marabou's values may sit this far outside a bound
COMPETITION_ATOL = 1e-4  # the competition's tolerance on a counterexample's outputs


def logits_network(net):
    """The same network with an identity output: what the verifiers bound."""
    names = [layer.activation.name for layer in net.layers]
    names[-1] = "identity" if names[-1] == "softmax" else names[-1]
    layers = [
        gn.Dense(layer.W.shape[1], layer.W.shape[0], name)
        for layer, name in zip(net.layers, names, strict=True)
    ]
    copy = gn.Sequential(*layers, dtype=net.dtype, seed=0)
    for mine, theirs in zip(copy.layers, net.layers, strict=True):
        mine.W[...], mine.b[...] = theirs.W, theirs.b
    return copy


@contextlib.contextmanager
def quiet_stdout():
    """Marabou's solver prints to the process's stdout: send it to /dev/null."""
    sys.stdout.flush()
    saved = os.dup(1)
    with open(os.devnull, "w") as null:
        os.dup2(null.fileno(), 1)
    try:
        yield
    finally:
        os.dup2(saved, 1)
        os.close(saved)


def marabou(onnx_path: Path, vnnlib_path: Path, timeout: float):
    """(status, seconds, x or None) from Marabou with two split-and-conquer workers,
    run in a process of its own: Marabou's solver can end its process (it did, with
    an uncaught InfeasibleQueryException on an ``or`` of input boxes), and that is
    recorded as "error" instead of ending the benchmark."""
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "answer.json"
        command = [sys.executable, __file__, "--solve", str(onnx_path),
                   str(vnnlib_path), str(timeout), str(out)]  # fmt: skip
        started = time.perf_counter()
        try:
            done = subprocess.run(
                command, capture_output=True, text=True, timeout=timeout + 120
            )
        except subprocess.TimeoutExpired:
            return "timeout", time.perf_counter() - started, None
        if done.returncode != 0 or not out.is_file():
            last = (done.stderr.strip().splitlines() or ["no message"])[-1]
            print(f"    Marabou ended with code {done.returncode}: {last}", flush=True)
            return "error", time.perf_counter() - started, None
        answer = json.loads(out.read_text())
    x = None if answer["x"] is None else np.array(answer["x"])
    return answer["status"], answer["seconds"], x


def solve_one(onnx_path: str, vnnlib_path: str, timeout: float, out: str) -> None:
    """One Marabou query, in this process; the answer written to ``out`` as JSON."""
    with warnings.catch_warnings():  # it has no TensorFlow parser: not needed here
        warnings.simplefilter("ignore", UserWarning)
        from maraboupy import Marabou

    network = Marabou.read_onnx(onnx_path)
    options = Marabou.createOptions(
        verbosity=0, timeoutInSeconds=int(np.ceil(timeout)), snc=True, numWorkers=2
    )
    started = time.perf_counter()
    with quiet_stdout():
        answer, values, _ = network.solve(
            propertyFilename=vnnlib_path, options=options, verbose=False
        )
    seconds = time.perf_counter() - started
    status = MARABOU_STATUS.get(answer, "unknown")
    x = None
    if status == "violated":
        x = [float(values[v]) for v in np.ravel(network.inputVars[0])]
    record = {"status": status, "seconds": seconds, "x": x}
    atomic_write(out, json.dumps(record).encode())


def marabou_margin(net, prop, x) -> float:
    """How far Marabou's counterexample is from the unsafe sets by glassnet's forward
    pass in the model's dtype: the smallest max_i (C y - d)_i over the unsafe sets,
    with x moved into a region it lies within REGION_SLACK of (<= 0: confirmed;
    inf: in no region)."""
    margin = np.inf
    for box in prop.regions:
        if np.all(x >= box.lower - REGION_SLACK) and np.all(
            x <= box.upper + REGION_SLACK
        ):
            inside = np.clip(x, box.lower, box.upper)
            y = np.asarray(net.predict(inside[None].astype(net.dtype)), np.float64)[0]
            for unsafe in prop.unsafe:
                margin = min(margin, float(np.max(unsafe.C @ y - unsafe.d)))
    return margin


def run_instance(net, onnx_path, prop, vnnlib_path, timeout, seed) -> dict:
    started = time.perf_counter()
    result = gn.verify(net, prop, timeout=timeout, seed=seed)
    row = {"glassnet": {"status": result.status, "by": result.method,
                        "seconds": time.perf_counter() - started}}  # fmt: skip
    status, seconds, x = marabou(onnx_path, vnnlib_path, timeout)
    row["Marabou"] = {"status": status, "seconds": seconds}
    problems = []
    if x is not None:
        margin = marabou_margin(net, prop, x)
        row["Marabou"]["counterexample_margin"] = margin
        row["Marabou"]["counterexample_confirmed"] = margin <= 0
        # a point on the boundary in real arithmetic can miss it by a rounding in
        # float32; the competition accepts a counterexample within its tolerance
        if margin > COMPETITION_ATOL:
            problems.append(
                f"Marabou's counterexample misses the unsafe sets by {margin:.3g}"
            )
    answers = {row[tool]["status"] for tool in TOOLS} & set(DECIDED)
    if len(answers) > 1:
        problems.append(
            f"glassnet {row['glassnet']['status']}, Marabou {row['Marabou']['status']}"
        )
    row["problems"] = problems
    return row


def acas_family(args, folder: Path) -> list[dict]:
    rows = []
    for seed in range(args.acas_networks):
        net = acas_network(seed, args.acas_samples, args.acas_epochs)
        onnx_path = folder / f"acas_net{seed}.onnx"
        gn.export_onnx(net, onnx_path)
        texts = acas_properties(net, np.random.default_rng(100 + seed))
        for name, text in texts.items():
            if args.properties and name not in args.properties:
                continue
            prop = read_vnnlib(text, n_inputs=5, n_outputs=5)
            path = folder / f"acas_net{seed}_{name}.vnnlib"
            write_vnnlib(prop, path)
            row = run_instance(net, onnx_path, prop, path, args.timeout, seed)
            rows.append({"instance": f"net{seed}/{name}", **row})
            report_row(rows[-1])
    return rows


def mnist_family(args, folder: Path) -> list[dict]:
    X, y = digits_28()
    order = np.random.default_rng(0).permutation(len(X))
    test, train = order[:200], order[200:]
    net = mnist_network(X[train], y[train], args.mnist_epochs)
    onnx_path = folder / "mnist.onnx"
    gn.export_onnx(logits_network(net), onnx_path)
    rows = []
    for eps in args.eps:
        for i in test[: args.images]:
            box = gn.linf_ball(X[i], eps, clip=(0.0, 1.0))
            prop = gn.Property(box, stays_class(int(y[i]), 10))
            path = folder / f"mnist_{i}_{eps}.vnnlib"
            write_vnnlib(prop, path)
            row = run_instance(net, onnx_path, prop, path, args.timeout, int(i))
            rows.append({"instance": f"image{i}/eps{eps}", "eps": eps, **row})
            report_row(rows[-1])
    return rows


def report_row(row: dict) -> None:
    cells = ", ".join(
        f"{tool} {row[tool]['status']} {row[tool]['seconds']:.2f}s" for tool in TOOLS
    )
    print(f"  {row['instance']}: {cells}", flush=True)
    for problem in row["problems"]:
        print(f"  !!! DISAGREEMENT: {row['instance']}: {problem}", flush=True)


def summarise(rows: list[dict]) -> dict:
    table = {}
    for tool in TOOLS:
        statuses = [r[tool]["status"] for r in rows]
        seconds = [r[tool]["seconds"] for r in rows]
        table[tool] = {
            "instances": len(rows),
            "holds": statuses.count("holds"),
            "violated": statuses.count("violated"),
            "undecided": sum(s not in DECIDED for s in statuses),
            "errors": statuses.count("error"),
            "decided": sum(s in DECIDED for s in statuses),
            "total_seconds": float(np.sum(seconds)),
            "max_seconds": float(np.max(seconds)),
        }
    only = {
        tool: sum(
            r[tool]["status"] in DECIDED
            and all(r[o]["status"] not in DECIDED for o in TOOLS if o != tool)
            for r in rows
        )
        for tool in TOOLS
    }
    for tool in TOOLS:
        table[tool]["decided_only_here"] = only[tool]
    return table


def markdown(name: str, table: dict) -> str:
    lines = [
        f"**{name}**",
        "",
        "| tool | instances | holds | violated | undecided (errors) | decided | decided "
        "only by it | total s | max s |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for tool, t in table.items():
        lines.append(
            f"| {tool} | {t['instances']} | {t['holds']} | {t['violated']} | "
            f"{t['undecided']} ({t['errors']}) | {t['decided']} | {t['decided_only_here']} | "
            f"{t['total_seconds']:.1f} | {t['max_seconds']:.2f} |"
        )
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a small smoke run")
    parser.add_argument("--timeout", type=float, help="seconds per instance and tool")
    parser.add_argument("--families", default="acas,mnist", help="acas, mnist or both")
    parser.add_argument("--eps", type=lambda s: [float(v) for v in s.split(",")])
    parser.add_argument("--images", type=int, help="MNIST-like images (15)")
    parser.add_argument("--acas-networks", type=int, help="ACAS Xu-like networks (5)")
    parser.add_argument(
        "--properties",
        type=lambda s: s.split(","),
        help="only these ACAS Xu-like properties (names as printed, comma-separated)",
    )
    parser.add_argument("--out", metavar="FILE", help="write the results as JSON")
    args = parser.parse_args(argv)
    quick = args.quick
    args.timeout = args.timeout or (3.0 if quick else 30.0)
    args.eps = args.eps or ([0.01] if quick else [0.03, 0.05])
    args.images = args.images or (1 if quick else 15)
    args.acas_networks = args.acas_networks or (1 if quick else 5)
    args.acas_samples, args.acas_epochs = (1000, 5) if quick else (4000, 60)
    args.mnist_epochs = 2 if quick else 15

    machine = machine_line()
    print(f"# glassnet and Marabou on the same instances\n\n{machine}\n", flush=True)
    started = time.perf_counter()
    families = {}
    with tempfile.TemporaryDirectory() as folder:
        if "acas" in args.families:
            print("ACAS Xu-like (5-50x6-5):", flush=True)
            families["ACAS Xu-like"] = acas_family(args, Path(folder))
        if "mnist" in args.families:
            print("MNIST-like (784-256-256-10):", flush=True)
            mnist = mnist_family(args, Path(folder))
            for eps in args.eps:
                families[f"MNIST-like, eps {eps}"] = [
                    r for r in mnist if r["eps"] == eps
                ]
    tables = {name: summarise(rows) for name, rows in families.items()}
    problems = all_problems(families)
    margins = [
        r["Marabou"]["counterexample_margin"] for rows in families.values()
        for r in rows if "counterexample_margin" in r["Marabou"]
    ]  # fmt: skip
    confirmed = sum(m <= 0 for m in margins)
    boundary = sum(0 < m <= COMPETITION_ATOL for m in margins)
    print()
    for name, table in tables.items():
        print(markdown(name, table) + "\n")
    print(
        f"checks: of Marabou's {len(margins)} counterexamples, {confirmed} confirmed "
        f"by glassnet's forward pass in the model's dtype, {boundary} on the boundary "
        f"(missing it by at most {COMPETITION_ATOL:g}, the competition's tolerance); "
        f"{len(problems)} disagreements"
    )
    for problem in problems:
        print(f"!!! DISAGREEMENT: {problem}")
    wall = time.perf_counter() - started
    print(f"wall time {wall:.0f} s, timeout {args.timeout} s per instance and tool")
    if args.out:
        record = {"machine": machine, "timeout": args.timeout, "tables": tables,
                  "rows": families, "problems": problems}  # fmt: skip
        atomic_write(args.out, json.dumps(record, indent=2).encode())
    return 1 if problems else 0


if __name__ == "__main__":
    if sys.argv[1:2] == ["--solve"]:
        solve_one(sys.argv[2], sys.argv[3], float(sys.argv[4]), sys.argv[5])
    else:
        sys.exit(main())
