"""The benchmark scripts run and record what they measured (tiny sizes, --quick).

No timing is asserted (the suite runs on shared machines; BENCHMARKS.md holds the
measured numbers): what is checked is that each script completes, that its --json
record holds every measurement as a positive finite number, and that the summaries it
reports are computed from those measurements. Nothing depends on the printed wording.
"""

from __future__ import annotations

import json
import math
import statistics
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def run(script: str, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, str(BENCHMARKS / script), "--quick", *args],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip()  # it reports, on the terminal too
    return done.stdout


def positive_finite(value) -> bool:
    return (
        isinstance(value, (int, float))
        and not isinstance(value, bool)
        and math.isfinite(value)
        and value > 0
    )


def load_benchmark(name: str):
    """A benchmark script as a module, under a name no other module has."""
    import importlib.util

    sys.path.insert(0, str(BENCHMARKS))  # its own imports of verify.py
    try:
        spec = importlib.util.spec_from_file_location(
            f"benchmarks_{name}", BENCHMARKS / f"{name}.py"
        )
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(BENCHMARKS))
    return module


def test_train_speed_records_every_contender_and_its_summaries(tmp_path):
    pytest.importorskip("torch")
    pytest.importorskip("sklearn")
    run("train_speed.py", "--json", str(tmp_path / "speed.json"))
    record = json.loads((tmp_path / "speed.json").read_text())
    assert record["data"] == "normal" and record["samples"] > 0
    repeats = record["repeats"]

    # every contender timed at every thread setting, each epoch a positive time
    epochs = record["epoch_seconds"]
    settings = {key.rsplit("/", 1)[-1] for key in epochs}
    contenders = {key.split("/")[0] for key in epochs}
    assert contenders == {"bound", "glassnet", "torch", "torch_fused", "sklearn"}
    assert {"threads1", "threads2"} <= settings and "threadsauto" in settings
    for key, seconds in epochs.items():
        assert len(seconds) == repeats and all(map(positive_finite, seconds)), key

    # the summary row is the best median of those epochs, per contender
    def median(name, setting):
        return statistics.median(epochs[f"{name}/batch64/threads{setting}"])

    row = record["best_medians"]["64"]
    assert row["glassnet"] == median("glassnet", "auto")
    assert row["glassnet_best_fixed"] == min(median("glassnet", t) for t in (1, 2))
    for name in ("bound", "torch", "torch_fused", "sklearn"):
        assert row[name] == min(median(name, t) for t in (1, 2)), name

    # prediction at each batch size: every contender timed, PyTorch its best
    prediction = record["prediction_seconds"]
    assert set(prediction) == {"1", "128"}  # --quick's batch sizes
    for batch, times in prediction.items():
        assert all(map(positive_finite, times.values())), batch
        assert times["torch"] == min(times["torch/1"], times["torch/2"])

    # each target is a ratio of the recorded numbers, met exactly when it holds
    assert record["targets"], "no target was checked"
    for target in record["targets"]:
        assert positive_finite(target["value"]) and positive_finite(target["limit"])
        holds = (
            target["value"] <= target["limit"]
            if target["op"] == "<="
            else target["value"] >= target["limit"]
        )
        assert target["op"] in ("<=", ">=") and target["met"] == holds
    by_name = {t["what"]: t["value"] for t in record["targets"]}
    for batch, times in prediction.items():
        what = (
            f"prediction at batch {batch}, PyTorch / glassnet (predict(X, batch_size))"
        )
        assert by_name[what] == pytest.approx(
            times["torch"] / times["glassnet"], rel=1e-12
        )

    # every contender's network was scored after its timed epochs (not the bound,
    # which trains nothing), as a fraction of the scored rows that are right
    scored = record["training_accuracy"]
    scorers = {key.split("/")[0] for key in scored}
    assert scorers == {"glassnet", "torch", "torch_fused", "sklearn"}
    rows = min(record["samples"], 10_000)
    for key, accuracy in scored.items():
        assert 0.0 <= accuracy <= 1.0, key
        assert (accuracy * rows) == pytest.approx(round(accuracy * rows)), key


def test_train_speed_breakdown_pieces_add_up_to_the_fit_step(tmp_path):
    """--breakdown: per batch size and statistic, every piece timed is a positive
    time, and the table's rows are those pieces, with fit's own the rest of the
    fit step: the budget adds up to the step."""
    run("train_speed.py", "--breakdown", "--json", str(tmp_path / "steps.json"))
    record = json.loads((tmp_path / "steps.json").read_text())
    assert "CPU" in record["machine"] and "OPENBLAS_CORETYPE" in record["machine"]
    sys.path.insert(0, str(BENCHMARKS))
    try:
        import step_breakdown
    finally:
        sys.path.remove(str(BENCHMARKS))
    assert set(record["us_per_step"]) == {"64"}  # --quick's batch size
    for statistic in ("median", "fastest"):
        us = record["us_per_step"]["64"][statistic]
        pieces = (*step_breakdown.PIECES, "fit", "bound")
        assert set(us) == set(pieces)
        assert all(positive_finite(us[p]) for p in pieces), us
        rows = dict(step_breakdown.budget(us))
        parts = [v for k, v in rows.items() if k not in ("one step of fit",)]
        step = rows["one step of fit"]
        assert step == us["fit"]
        assert sum(parts[:-1]) == pytest.approx(step, rel=1e-9)  # all but the bound
        assert parts[-1] == us["bound"]


def test_train_speed_data_is_learnable_by_default_and_uniform_on_request():
    sys.path.insert(0, str(BENCHMARKS))
    try:
        import train_speed
    finally:
        sys.path.remove(str(BENCHMARKS))
    X, y = train_speed.make_data(2000, 20, 4)
    assert X.dtype == np.float32 and abs(X.mean()) < 0.05 and abs(X.std() - 1) < 0.05
    # labels are a function of x (a linear teacher): a linear fit recovers most
    scores = X @ np.linalg.lstsq(X, np.eye(4)[y], rcond=None)[0]
    assert np.mean(scores.argmax(axis=1) == y) > 0.8
    U, r = train_speed.make_data(2000, 20, 4, kind="uniform")
    assert U.min() >= 0 and U.max() < 1 and set(np.unique(r)) == {0, 1, 2, 3}


def test_every_contender_learns_the_benchmark_task():
    """The epochs the benchmark times train a live network in each contender: run
    for 30 of them on the --quick task (4 classes, 16 features), each one's training
    accuracy, as the benchmark scores it, rises to well above chance (0.25)."""
    pytest.importorskip("torch")
    pytest.importorskip("sklearn")
    sys.path.insert(0, str(BENCHMARKS))
    try:
        import train_speed
    finally:
        sys.path.remove(str(BENCHMARKS))
    sizes = (16, 8, 8, 4)
    X, y = train_speed.make_data(512, sizes[0], sizes[-1])
    for name in ("glassnet", "torch", "torch_fused", "sklearn"):
        epoch = train_speed.CONTENDERS[name](X, y, 32, 1, sizes)
        epoch()
        first = epoch.accuracy()
        for _ in range(29):
            epoch()
        last = epoch.accuracy()
        assert last > 0.5 and last > first + 0.2, (name, first, last)


def test_memmap_memory_check_records_peak_rss_anon_and_removes_its_file(tmp_path):
    if not Path("/proc/self/status").exists():
        pytest.skip("RssAnon is read from /proc (Linux)")
    work = tmp_path / "work"
    work.mkdir()
    run("memmap_memory.py", "--json", str(tmp_path / "memory.json"),
        "--dir", str(work))  # fmt: skip
    result = json.loads((tmp_path / "memory.json").read_text())
    assert result["peak_rss_anon_mib"] >= result["rss_anon_before_fit_mib"] > 0
    assert result["rows"] > 0 and positive_finite(result["epoch_seconds"])
    assert positive_finite(result["file_gib"])
    assert result["met"] == (result["peak_rss_anon_mib"] < result["limit_mib"])
    assert not list(work.iterdir())  # the memmap file and its directory are gone


def test_scaling_records_time_per_sample_for_each_size(tmp_path):
    run("scaling.py", "--json", str(tmp_path / "scaling.json"))
    result = json.loads((tmp_path / "scaling.json").read_text())
    rows = result["results"]
    assert [r["samples"] for r in rows] == [1000, 10000]
    for r in rows:
        assert positive_finite(r["epoch_seconds"])
        per_sample = r["epoch_seconds"] / r["samples"] * 1e6
        assert r["microseconds_per_sample"] == pytest.approx(per_sample, rel=1e-12)
        base = rows[0]["microseconds_per_sample"]
        assert r["relative"] == pytest.approx(r["microseconds_per_sample"] / base)
    assert rows[0]["relative"] == 1.0
    worst = max(abs(r["relative"] - 1) for r in rows)
    assert result["max_deviation"] == pytest.approx(worst, rel=1e-12)
    assert isinstance(result["met"], bool)


def test_verify_benchmark_runs_both_families_and_its_soundness_checks_pass(tmp_path):
    pytest.importorskip("scipy")
    pytest.importorskip("sklearn")
    # one property of each outcome the quick networks give fast: a bound that a
    # sampled point breaks, the advisory kept in a tiny box and lost in a large one
    properties = "p1_bound_tight,p3_advisory_small,p3_advisory_large"
    run("verify.py", "--timeout", "1", "--images", "1", "--properties", properties,
        "--out", str(tmp_path / "verify.json"))  # fmt: skip
    record = json.loads((tmp_path / "verify.json").read_text())
    assert record["problems"] == []  # exit 0 too: no soundness disagreement
    assert set(record["tables"]) == {"ACAS Xu-like", "MNIST-like, eps 0.01"}
    methods = ("interval", "linear", "auto")
    for family, rows in record["instances"].items():
        assert rows, family
        for row in rows:
            assert row["problems"] == []
            for method in methods:
                status = row[method]["status"]
                assert status in ("holds", "violated", "unknown", "timeout")
                assert positive_finite(row[method]["seconds"])
                # every counterexample was put through the network's forward pass
                assert row[method].get("counterexample_confirmed") is (
                    True if status == "violated" else None
                )
            if any(row[m]["status"] == "holds" for m in methods):
                assert row["pgd_found_counterexample"] is False
        # each table is counted from its instances
        for method in methods:
            statuses = [row[method]["status"] for row in rows]
            table = record["tables"][family][method]
            assert table["instances"] == len(rows)
            assert table["holds"] == statuses.count("holds")
            assert table["violated"] == statuses.count("violated")
            assert table["decided"] == table["holds"] + table["violated"]
            assert table["unknown_or_timeout"] == len(rows) - table["decided"]
            seconds = [row[method]["seconds"] for row in rows]
            assert table["max_seconds"] == max(seconds)
            assert table["total_seconds"] == pytest.approx(sum(seconds), rel=1e-12)
    confirmed = sum(
        row[m].get("counterexample_confirmed", False)
        for rows in record["instances"].values()
        for row in rows
        for m in methods
    )
    assert confirmed == record["counterexamples_confirmed"] > 0


def test_verify_benchmark_pgd_gradient_matches_finite_differences():
    """The soundness check's own PGD steps along d(c . z)/dx of a ReLU network: that
    gradient, written by hand in the benchmark, against central differences."""
    verify = load_benchmark("verify")
    rng = np.random.default_rng(7)
    sizes = (5, 9, 7, 4)
    layers = [
        (rng.normal(size=(o, i)), rng.normal(size=o))
        for i, o in zip(sizes[:-1], sizes[1:], strict=True)
    ]
    X, c = rng.normal(size=(6, 5)), rng.normal(size=4)

    def value(X):
        A = X
        for W, b in layers[:-1]:
            A = np.maximum(A @ W.T + b, 0.0)
        W, b = layers[-1]
        return (A @ W.T + b) @ c

    Z, dX = verify.logits_and_grad(layers, X, c)
    assert np.allclose(Z @ c, value(X), rtol=1e-12, atol=1e-12)
    h = 1e-6
    for j in range(5):
        step = np.zeros(5)
        step[j] = h
        numeric = (value(X + step) - value(X - step)) / (2 * h)
        assert np.allclose(dX[:, j], numeric, rtol=1e-5, atol=1e-6), j


def test_predict_speed_records_every_contender_and_ratios_from_medians(tmp_path):
    pytest.importorskip("torch")
    pytest.importorskip("sklearn")
    run("predict_speed.py", "--json", str(tmp_path / "predict.json"))
    record = json.loads((tmp_path / "predict.json").read_text())
    assert record["largest_difference"] < 1e-4  # the same network in both
    for rows, times in record["seconds_per_call"].items():
        assert set(times) == {"glassnet", "torch/1", "torch/2"}
        assert all(
            len(v) == record["repeats"] and all(map(positive_finite, v))
            for v in times.values()
        )
        medians = {name: statistics.median(v) for name, v in times.items()}
        entry = record["summary"][rows]
        best = min(medians["torch/1"], medians["torch/2"])
        assert math.isclose(entry["torch"], best)
        assert math.isclose(entry["ratio"], best / medians["glassnet"])


def test_verify_gap_benchmark_orders_its_bounds_as_the_math_does(tmp_path):
    # the sound bound <= the same bound without rounding margins <= the triangle
    # LP's minimum (no one-neuron relaxation passes it) <= any margin an attack
    # reaches (every one of them is a bound)
    run("verify_gap.py", "--out", str(tmp_path / "gap.json"))
    (row,) = json.loads((tmp_path / "gap.json").read_text())["rows"]
    assert row["alpha"] <= row["alpha_exact"] <= row["lp"] + 1e-6
    assert row["lp"] <= row["attack"]
    assert row["lp"] - row["alpha_exact"] < 0.01 * (1 + abs(row["lp"]))
    assert all(isinstance(n, int) and n > 0 for n in row["unstable"])


# Marabou's library carries its own BLAS and thread pool: it is only ever loaded in a
# process of its own, never in the suite's
MARABOU_EVALUATES = """
import json, sys, warnings
import numpy as np
warnings.simplefilter("ignore")  # it warns that it has no TensorFlow parser
from maraboupy import Marabou
network = Marabou.read_onnx(sys.argv[1])
X = np.load(sys.argv[2])
outputs = [np.ravel(network.evaluateWithoutMarabou([x[None]])[0]) for x in X]
print(json.dumps([[float(v) for v in y] for y in outputs]))
"""


def marabou_installed() -> bool:
    import importlib.util

    return importlib.util.find_spec("maraboupy") is not None


def test_marabou_reads_glassnets_onnx_export_as_the_same_function(tmp_path):
    # the comparison is only fair if Marabou's parser sees the network glassnet
    # verifies: the logits of the softmax network, on random inputs, by Marabou's
    # own evaluation of the network it read
    pytest.importorskip("onnx")
    if not marabou_installed():
        pytest.skip("maraboupy is not installed (the dev extra installs it)")
    import glassnet as gn

    bench = load_benchmark("verify_marabou")
    net = gn.Sequential(
        gn.Dense(6, 12, "relu"), gn.Dense(12, 9, "relu"), gn.Dense(9, 4, "softmax"),
        dtype="float32", seed=3,
    )  # fmt: skip
    logits = bench.logits_network(net)
    gn.export_onnx(logits, tmp_path / "net.onnx")
    X = np.random.default_rng(0).normal(size=(5, 6)).astype(np.float32)
    np.save(tmp_path / "x.npy", X)
    done = subprocess.run(
        [sys.executable, "-c", MARABOU_EVALUATES, str(tmp_path / "net.onnx"),
         str(tmp_path / "x.npy")],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    theirs = np.array(json.loads(done.stdout.strip().splitlines()[-1]))
    ours = logits.predict(X)
    np.testing.assert_allclose(theirs, ours, rtol=1e-5, atol=1e-5)
    # and the copy is the network's logits: their softmax is its prediction
    softmax = np.exp(ours) / np.exp(ours).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(softmax, net.predict(X), rtol=1e-5)


def test_verify_marabou_benchmark_runs_and_the_tools_agree(tmp_path):
    if not marabou_installed():
        pytest.skip("maraboupy is not installed (the dev extra installs it)")
    pytest.importorskip("sklearn")
    run("verify_marabou.py", "--timeout", "5",
        "--properties", "p3_advisory_small,p3_advisory_large",
        "--out", str(tmp_path / "marabou.json"))  # fmt: skip
    record = json.loads((tmp_path / "marabou.json").read_text())
    assert record["problems"] == []  # exit 0 too: no disagreement
    assert set(record["tables"]) == {"ACAS Xu-like", "MNIST-like, eps 0.01"}
    for family, rows in record["rows"].items():
        assert rows, family
        for row in rows:
            for tool in ("glassnet", "Marabou"):
                # "error": Marabou's own process ended (it can), recorded as such
                assert row[tool]["status"] in (
                    "holds", "violated", "unknown", "timeout", "error"
                )  # fmt: skip
                assert positive_finite(row[tool]["seconds"])
            # each of Marabou's counterexamples went through glassnet's forward pass
            # and lies in an unsafe set, or on its boundary within 1e-4
            if row["Marabou"]["status"] == "violated":
                assert row["Marabou"]["counterexample_margin"] <= 1e-4
            else:
                assert "counterexample_margin" not in row["Marabou"]
        for tool in ("glassnet", "Marabou"):
            statuses = [row[tool]["status"] for row in rows]
            table = record["tables"][family][tool]
            assert table["instances"] == len(rows)
            assert table["decided"] == sum(s in ("holds", "violated") for s in statuses)
            assert table["holds"] == statuses.count("holds")
