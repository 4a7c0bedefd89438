"""The import rules of the layers (tests/architecture_rules.py): no module imports a
layer above its own, and no modules import one another; and the checker finds each
kind of break, with its file, line and rule."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from architecture_rules import LAYERS, MEMBERS, check, layer_of

SRC = Path(__file__).resolve().parents[1] / "src"


def test_every_import_respects_the_layers_and_no_cycle():
    problems = check(SRC)
    assert not problems, "\n".join(["", *problems])


def test_every_module_has_a_layer():
    for path in sorted((SRC / "glassnet").rglob("*.py")):
        parts = list(path.relative_to(SRC).with_suffix("").parts)
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        assert layer_of(name) is not None, f"{name} is in no layer"


def test_layers_name_only_layers_below_them():
    order = list(LAYERS)
    for layer, allowed in LAYERS.items():
        assert layer not in allowed, layer
        for other in allowed:
            assert order.index(other) < order.index(layer), (layer, other)
    assert set(MEMBERS.values()) <= set(LAYERS)


# -- the checker finds what it is meant to find --------------------------------------------
@pytest.fixture
def tree(tmp_path) -> Path:
    """A copy of the source tree to plant violations in."""
    root = tmp_path / "src"
    shutil.copytree(
        SRC / "glassnet",
        root / "glassnet",
        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
    )
    return root


def plant(root: Path, module: str, line: str) -> int:
    """Append ``line`` to the module's file; returns its line number."""
    path = root / module
    text = path.read_text(encoding="utf-8")
    if not text.endswith("\n"):
        text += "\n"
    path.write_text(text + line + "\n", encoding="utf-8")
    return text.count("\n") + 1


def only(problems: list[str], text: str) -> str:
    found = [p for p in problems if p.startswith(text)]
    assert len(found) == 1, (text, problems)
    return found[0]


def test_checker_reports_an_import_of_a_higher_layer(tree):
    line = plant(tree, "glassnet/nn/activations.py", "from ..training import fit")
    problem = only(check(tree), "src/glassnet/nn/activations.py")
    assert problem == (
        f"src/glassnet/nn/activations.py:{line} imports glassnet.training.fit: "
        "nn may import only errors, _fast, validation"
    )


def test_checker_sees_imports_inside_functions_and_import_module(tree):
    lazy = plant(
        tree,
        "glassnet/optim/schedules.py",
        "def _late():\n    from glassnet.io import model\n    return model",
    )
    by_name = plant(
        tree,
        "glassnet/data/datasets.py",
        "import importlib\n_io = importlib.import_module('glassnet.io.model')",
    )
    problems = check(tree)
    rule_optim = "optim may import only errors, _fast, validation"
    assert only(problems, "src/glassnet/optim/schedules.py") == (
        f"src/glassnet/optim/schedules.py:{lazy + 1} imports glassnet.io.model: "
        f"{rule_optim}"
    )
    assert only(problems, "src/glassnet/data/datasets.py") == (
        f"src/glassnet/data/datasets.py:{by_name + 1} imports glassnet.io.model: "
        "data may import only errors, _fast, validation"
    )


def test_checker_skips_type_checking_blocks(tree):
    plant(
        tree,
        "glassnet/nn/layers.py",
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n"
        "    from ..training.history import History",
    )
    assert check(tree) == check(SRC)


def test_checker_reports_the_top_level_package_and_old_paths(tree):
    top = plant(tree, "glassnet/io/atomic.py", "from .. import __version__")
    old = plant(tree, "glassnet/training/tasks.py", "import glassnet.layers")
    problems = check(tree)
    assert only(problems, "src/glassnet/io/atomic.py:") == (
        f"src/glassnet/io/atomic.py:{top} imports glassnet: io may import only "
        "errors, _fast, validation, nn, optim, data"
    )
    assert only(problems, "src/glassnet/training/tasks.py:") == (
        f"src/glassnet/training/tasks.py:{old} imports glassnet.layers: no such "
        "module under src/glassnet (a moved path?)"
    )


def test_checker_allows_network_one_import_of_training_only(tree):
    assert check(tree) == check(SRC)
    line = plant(
        tree,
        "glassnet/nn/network.py",
        "def _again():\n    from ..training import metrics\n    return metrics",
    )
    problem = only(check(tree), "src/glassnet/nn/network.py")
    assert problem.startswith(
        f"src/glassnet/nn/network.py:{line + 1} imports glassnet.training.metrics: "
        "glassnet.nn.network may import glassnet.training at one place only, and "
        "already does at line "
    )


def test_checker_reports_a_cycle_with_each_hop(tree):
    first = plant(
        tree, "glassnet/explaining/numbers.py", "from . import worked_example"
    )
    second = plant(
        tree, "glassnet/explaining/worked_example.py", "from . import numbers"
    )
    cycles = [p for p in check(tree) if p.startswith("import cycle")]
    assert cycles == [
        "import cycle: "
        f"glassnet.explaining.numbers (src/glassnet/explaining/numbers.py:{first}) -> "
        "glassnet.explaining.worked_example "
        f"(src/glassnet/explaining/worked_example.py:{second}) -> "
        "glassnet.explaining.numbers"
    ]


def test_checker_reports_a_cycle_closed_inside_a_function(tree):
    line = plant(
        tree,
        "glassnet/explaining/record.py",
        "def _render(record):\n    from .text import render_text\n    return render_text",
    )
    cycles = [p for p in check(tree) if p.startswith("import cycle")]
    assert len(cycles) == 1, cycles
    assert (
        "glassnet.explaining.record (src/glassnet/explaining/record.py:"
        f"{line + 1}, inside a function) -> glassnet.explaining.text"
    ) in cycles[0]


def test_checker_wants_the_network_import_of_training_inside_a_function(tree):
    path = tree / "glassnet/nn/network.py"
    text = path.read_text(encoding="utf-8")
    anchor = "from .layers import"
    assert anchor in text
    path.write_text(
        text.replace(anchor, "from ..training import history\n" + anchor, 1),
        encoding="utf-8",
    )
    line = text[: text.index(anchor)].count("\n") + 1
    problem = only(check(tree), f"src/glassnet/nn/network.py:{line} ")
    assert problem == (
        f"src/glassnet/nn/network.py:{line} imports glassnet.training.history: "
        "glassnet.nn.network may import glassnet.training only inside a function, "
        "on call (else importing nn imports the fit loop)"
    )
