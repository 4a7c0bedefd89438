"""benchmarks/tabular_accuracy.py: its generated table, its reading of explain's
output, and a tiny end-to-end run (--quick --in-process) in which glassnet's command
line, scikit-learn, the ONNX export and explain must agree.

No timing and no accuracy from BENCHMARKS.md is asserted: the checks are what the
script's own verdicts rest on.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "tabular_accuracy.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("tabular_accuracy", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_generated_table_has_its_missing_cells_classes_and_dependence(bench):
    pytest.importorskip("pandas")
    frame, target = bench.generated_table(3000, seed=7)
    assert target == "label" and len(frame) == 3000
    features = [n for n in frame.columns if n != target]
    for name in features:  # 5% of the cells, independently: 150 expected, sd ~12
        assert 100 <= frame[name].isna().sum() <= 200, name
    assert frame[target].isna().sum() == 0
    # the score is cut at its tertiles: three classes of a third each
    assert sorted(frame[target].value_counts()) == [1000, 1000, 1000]
    assert {type(v) for v in frame["member"].dropna()} == {bool}
    assert frame["city"].nunique() == 24 and frame["colour"].nunique() == 4
    # the target depends on the text column: colour effect -1 (blue) vs +2 (yellow)
    high = frame[target] == "high"
    assert (
        high[frame["colour"] == "yellow"].mean()
        > high[frame["colour"] == "blue"].mean() + 0.2
    )


def test_preprocessing_equations_are_read_from_the_step_titles(bench):
    text = (
        "  Preprocessing (stored with the model)\n"
        "  Note: Each raw column j becomes its block x_j of the input x, as in\n"
        "        training: the steps below, column by column.\n\n"
        "  Column 1, island: one-hot\n"
        "  x1 = e2\n"
        "  Note: x1 is column 'island', ...; 'Dream' is category 2 of 3, so x1 = e2.\n\n"
        "  Column 2, bill_length_mm: numeric, the empty cell filled\n"
        "  x2 = 44.5\n\n"
        "  Column 2, bill_length_mm: missing-value indicator\n"
        "  m2 = 1\n"
    )
    assert bench.preprocessing_equations(text) == [
        "Column 1, island: one-hot",
        "Column 2, bill_length_mm: numeric, the empty cell filled",
    ]  # one per column: the indicator's step is not counted
    assert bench.preprocessing_equations("no preprocessing step here") == []


def test_a_disagreement_is_reported_not_hidden(bench):
    onnx = {"rows": 10, "same_labels": 9, "max_proba_diff": 0.0, "classes_match": True}
    explain = {"columns": 2, "column_equations": 2, "columns_shown": 2,
               "standardisation": True, "embedding_lookups": 0, "max_proba_diff": 0.0}  # fmt: skip
    result = {"table": "t", "seeds": [0], "onnx": [onnx], "explain": [explain]}
    lines, good = bench.checks([result])
    assert not good and "DISAGREES" in lines
    onnx["same_labels"] = 10
    assert bench.checks([result])[1]
    explain["columns_shown"] = 1  # a column the walk did not show
    assert not bench.checks([result])[1]


def test_quick_run_end_to_end_agrees(bench, tmp_path):
    for module in ("pandas", "sklearn", "onnx", "onnxruntime"):
        pytest.importorskip(module)
    out = tmp_path / "record.json"
    assert bench.main(["--quick", "--in-process", "--json", str(out)]) == 0
    record = json.loads(out.read_text())
    assert record["agree"] is True
    (result,) = record["results"]
    assert result["table"] == "generated" and result["rows"] == 160
    accuracy = result["accuracy"]
    assert set(accuracy) == {"glassnet (CLI)", "sklearn MLP", "HistGradientBoosting"}
    for scores in accuracy.values():
        assert len(scores) == 1 and 0.0 <= scores[0] <= 1.0
    (onnx,) = result["onnx"]
    assert onnx["rows"] == 40 and onnx["same_labels"] == 40  # 25% of 160 rows
    (walk,) = result["explain"]
    # 7 raw columns, each with its equation; the 24 cities go through an embedding
    assert walk["columns"] == walk["columns_shown"] == walk["column_equations"] == 7
    assert walk["embedding_lookups"] == 1 and walk["standardisation"]
    assert np.isfinite(walk["max_proba_diff"])
    assert result["commands"][0].startswith("glassnet train train.csv --target label")
