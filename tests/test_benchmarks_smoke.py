"""The benchmark scripts run and report (tiny sizes, --quick). No timing is asserted:
the suite runs on shared machines; BENCHMARKS.md holds the measured numbers."""

from __future__ import annotations

import json
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
    return done.stdout


def test_train_speed_reports_every_contender_and_the_targets(tmp_path):
    pytest.importorskip("torch")
    pytest.importorskip("sklearn")
    out = run("train_speed.py", "--json", str(tmp_path / "speed.json"))
    assert "| batch | matmul bound | glassnet (auto threads)" in out
    assert "prediction on 512 samples" in out and "targets (issue 6):" in out
    record = json.loads((tmp_path / "speed.json").read_text())
    row = record["best_medians"]["64"]
    for name in ("bound", "glassnet", "glassnet_best_fixed", "torch", "sklearn"):
        assert row[name] > 0, name
    assert record["prediction_seconds"]["glassnet"] > 0
    assert {c["what"] for c in record["targets"]} >= {"PyTorch / glassnet, prediction"}
    # every contender's network is scored after its timed epochs (not sklearn's
    # fresh model per epoch, nor the bound, which trains nothing)
    assert "training accuracy after the timed epochs" in out
    assert "ratios of the fastest epochs: batch 64: glassnet / bound" in out
    scored = record["training_accuracy"]
    assert {key.split("/")[0] for key in scored} == {"glassnet", "torch", "sklearn"}
    assert all(0.0 <= v <= 1.0 for v in scored.values())
    assert record["data"] == "normal"


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


def test_memmap_memory_check_reports_peak_rss_anon_and_removes_its_file(tmp_path):
    if not Path("/proc/self/status").exists():
        pytest.skip("RssAnon is read from /proc (Linux)")
    work = tmp_path / "work"
    work.mkdir()
    out = run("memmap_memory.py", "--json", str(tmp_path / "memory.json"),
              "--dir", str(work))  # fmt: skip
    result = json.loads((tmp_path / "memory.json").read_text())
    assert result["peak_rss_anon_mib"] >= result["rss_anon_before_fit_mib"] > 0
    assert result["rows"] > 0 and "peak RssAnon" in out
    assert not list(work.iterdir())  # the memmap file and its directory are gone


def test_scaling_reports_time_per_sample_for_each_size(tmp_path):
    out = run("scaling.py", "--json", str(tmp_path / "scaling.json"))
    result = json.loads((tmp_path / "scaling.json").read_text())
    assert [r["samples"] for r in result["results"]] == [1000, 10000]
    assert result["results"][0]["relative"] == 1.0
    assert "largest deviation from linear" in out
