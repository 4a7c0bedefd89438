"""The import rules of glassnet's layers, and a checker that reads them off the source.

Each module belongs to one layer; a layer may import from itself and from the
layers it names in ``LAYERS``, never from a layer above it. The arrows point one
way, so the math can be read, tested and reused without the fit loop, the model
files or the command line. ``check(src_root)`` walks the AST of every module under
``src_root/glassnet`` and returns one line per broken rule, naming the file, the
line and the rule; it also reports every import cycle between modules.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

PACKAGE = "glassnet"

#: layer: the layers it may import besides its own, lowest layer first.
#: A layer is the ``glassnet.<layer>`` module or package; ``MEMBERS`` places the
#: few modules whose name is not their layer's.
LAYERS: dict[str, tuple[str, ...]] = {
    # errors.py, _version.py: the exceptions and the version; nothing from glassnet
    "errors": (),
    # _fast/: the compiled kernels, BLAS calls and thread counts
    "_fast": ("errors",),
    # validation.py: the checks every public boundary runs on its arguments
    "validation": ("errors", "_fast"),
    # nn/: activations, layers, losses, init, Sequential, the neuron
    "nn": ("errors", "_fast", "validation"),
    # optim/: optimizers and learning-rate schedules
    "optim": ("errors", "_fast", "validation"),
    # data/: toy datasets, splits, tables and their preprocessing
    "data": ("errors", "_fast", "validation"),
    # io/: model files and checkpoints
    "io": ("errors", "_fast", "validation", "nn", "optim", "data"),
    # training/: the fit loop, callbacks, metrics, history, progress
    "training": ("errors", "_fast", "validation", "nn", "optim", "data", "io"),
    # robustness/: adversarial attacks and the robustness report
    "robustness": (
        "errors", "_fast", "validation", "nn", "optim", "data", "io", "training",
    ),
    # verification/: bounds over input regions, specs, proofs and counterexamples
    "verification": (
        "errors", "_fast", "validation", "nn", "optim", "data", "io", "training",
        "robustness",
    ),
    # explaining/: explain, its renderers, gradcheck, the worked example
    "explaining": (
        "errors", "_fast", "validation", "nn", "optim", "data", "io", "training",
        "robustness", "verification",
    ),
    # interop/: ONNX export, torch conversion, scikit-learn estimators
    "interop": (
        "errors", "_fast", "validation", "nn", "optim", "data", "io", "training",
        "robustness", "verification", "explaining",
    ),
    # plot/: matplotlib figures
    "plot": (
        "errors", "_fast", "validation", "nn", "optim", "data", "io", "training",
        "robustness", "verification", "explaining", "interop",
    ),
    # playground/: the live page, its server and training session
    "playground": (
        "errors", "_fast", "validation", "nn", "optim", "data", "io", "training",
        "robustness", "verification", "explaining", "interop", "plot",
    ),
    # cli/: the command line, a thin layer over everything
    "cli": (
        "errors", "_fast", "validation", "nn", "optim", "data", "io", "training",
        "robustness", "verification", "explaining", "interop", "plot", "playground",
    ),
    # glassnet/__init__.py, __main__.py, _moved.py: the package's front door
    "glassnet": (
        "errors", "_fast", "validation", "nn", "optim", "data", "io", "training",
        "robustness", "verification", "explaining", "interop", "plot", "playground",
        "cli",
    ),
}  # fmt: skip

#: Modules whose first name after ``glassnet.`` is not a layer of their own.
MEMBERS = {
    "glassnet": "glassnet",
    "glassnet.__main__": "glassnet",
    "glassnet._moved": "glassnet",
    "glassnet._version": "errors",
}

#: The one declared exception: Sequential.fit/evaluate/predict* hand over to the
#: fit loop, through a single import in nn/network.py.
EXCEPTION_MODULE = "glassnet.nn.network"
EXCEPTION_TARGET = "glassnet.training"


@dataclass(frozen=True)
class Import:
    """One import of a glassnet module: who imports what, where, and when."""

    module: str  # the importing module, e.g. glassnet.io.checkpoint
    path: str  # its file, relative to the source root's parent
    line: int
    target: str  # the absolute module imported, e.g. glassnet.training.history
    at_import_time: bool  # False inside a function: it runs on call only


def layer_of(module: str) -> str | None:
    """The layer holding ``module`` (None if the table does not place it)."""
    if module in MEMBERS:
        return MEMBERS[module]
    parts = module.split(".")
    if parts[0] != PACKAGE or len(parts) < 2:
        return None
    return parts[1] if parts[1] in LAYERS else None


def check(src_root: Path | str) -> list[str]:
    """Every broken import rule and import cycle under ``src_root/glassnet``.

    One line each: ``path:line imports X: <layer> may import only <layers>`` for
    an import of a higher layer, ``import cycle: a (path:line) -> b ... -> a`` for
    modules that import one another.
    """
    src_root = Path(src_root)
    modules = _modules(src_root)
    imports = [
        imp
        for path, name in modules.items()
        for imp in _imports(src_root, path, name, modules)
    ]
    return _layer_violations(imports, modules) + _cycles(imports)


def _modules(src_root: Path) -> dict[Path, str]:
    """Each .py file under the package, with its dotted module name."""
    modules = {}
    for path in sorted((src_root / PACKAGE).rglob("*.py")):
        parts = list(path.relative_to(src_root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        modules[path] = ".".join(parts)
    return modules


def _imports(src_root: Path, path: Path, module: str, modules: dict[Path, str]):
    """The glassnet imports of one file, each resolved to its absolute module."""
    known = set(modules.values())
    is_package = path.name == "__init__.py"
    rel = str(path.relative_to(src_root.parent))
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node, at_import_time in _walk(tree, at_import_time=True):
        # `from X import a, b` names X once, however many names it takes.
        for target in dict.fromkeys(_targets(node, module, is_package, known)):
            if _within(target, PACKAGE):
                yield Import(module, rel, node.lineno, target, at_import_time)


def _walk(node, at_import_time):
    """Every node with whether it runs when the module is imported; the blocks
    under ``if TYPE_CHECKING:`` never run, so they are left out."""
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.If) and _is_type_checking(child.test):
            for other in child.orelse:
                yield other, at_import_time
                yield from _walk(other, at_import_time)
            continue
        yield child, at_import_time
        lazy = isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda)
        yield from _walk(child, at_import_time and not lazy)


def _is_type_checking(test) -> bool:
    if isinstance(test, ast.Name):
        return test.id == "TYPE_CHECKING"
    return isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"


def _targets(node, module: str, is_package: bool, known: set[str]) -> list[str]:
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if isinstance(node, ast.ImportFrom):
        base = _absolute(node.module, node.level, module, is_package)
        # `from X import Y` imports the submodule X.Y when there is one.
        return [
            f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base
            for alias in node.names
        ]
    if isinstance(node, ast.Call) and _is_import_module(node.func) and node.args:
        name = node.args[0]
        if isinstance(name, ast.Constant) and isinstance(name.value, str):
            package = None
            if len(node.args) > 1 and isinstance(node.args[1], ast.Constant):
                package = node.args[1].value
            if name.value.startswith("."):
                level = len(name.value) - len(name.value.lstrip("."))
                relative = name.value[level:] or None
                anchor = package or (module if is_package else module.rsplit(".", 1)[0])
                return [_absolute(relative, level, anchor, is_package=True)]
            return [name.value]
    return []


def _is_import_module(func) -> bool:
    if isinstance(func, ast.Attribute):
        return func.attr == "import_module"
    return isinstance(func, ast.Name) and func.id in ("import_module", "__import__")


def _absolute(name: str | None, level: int, module: str, is_package: bool) -> str:
    if level == 0:
        return name or ""
    parts = module.split(".")
    # A package's __init__ is the package itself: `from . import x` stays inside it.
    keep = len(parts) - level + (1 if is_package else 0)
    base = ".".join(parts[:keep])
    return f"{base}.{name}" if name else base


def _layer_violations(imports: list[Import], modules: dict[Path, str]) -> list[str]:
    known = set(modules.values())
    problems = []
    for name in sorted(known):
        if layer_of(name) is None:
            problems.append(f"{name} is in no layer: place it in LAYERS or MEMBERS")
    exception_at = None
    for imp in imports:
        where = f"{imp.path}:{imp.line} imports {imp.target}"
        if imp.target not in known:
            problems.append(
                f"{where}: no such module under src/glassnet (a moved path?)"
            )
            continue
        mine, theirs = layer_of(imp.module), layer_of(imp.target)
        if mine is None or theirs is None or mine == theirs or theirs in LAYERS[mine]:
            continue
        if _is_declared_exception(imp):
            if imp.at_import_time:
                problems.append(
                    f"{where}: {EXCEPTION_MODULE} may import {EXCEPTION_TARGET} only "
                    "inside a function, on call (else importing nn imports the fit loop)"
                )
                continue
            if exception_at is None:
                exception_at = imp
                continue
            problems.append(
                f"{where}: {EXCEPTION_MODULE} may import {EXCEPTION_TARGET} at one "
                f"place only, and already does at line {exception_at.line}"
            )
            continue
        allowed = ", ".join(LAYERS[mine]) or "nothing from glassnet"
        problems.append(f"{where}: {mine} may import only {allowed}")
    return problems


def _within(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def _cycles(imports: list[Import]) -> list[str]:
    """The import cycles between modules, one line per cycle.

    An import inside a function closes a cycle too: it runs later, but the two
    modules still need each other, and neither can be read or moved alone. The
    declared exception (Sequential handing over to the fit loop) is left out.
    """
    edges: dict[str, dict[str, Import]] = {}
    for imp in imports:
        if imp.target == imp.module or _is_declared_exception(imp):
            continue
        known = edges.setdefault(imp.module, {}).get(imp.target)
        # Name the import that runs at import time when there are both.
        if known is None or (imp.at_import_time and not known.at_import_time):
            edges[imp.module][imp.target] = imp
    problems = []
    for group in _strongly_connected(edges):
        covered: set[str] = set()
        for start in sorted(group) if len(group) > 1 else ():
            if start in covered:
                continue
            cycle = _cycle_through(start, group, edges)
            covered.update(cycle)
            hops = " -> ".join(
                _hop(edges[a][b]) for a, b in zip(cycle, cycle[1:], strict=False)
            )
            problems.append(f"import cycle: {hops} -> {start}")
    return problems


def _hop(imp: Import) -> str:
    when = "" if imp.at_import_time else ", inside a function"
    return f"{imp.module} ({imp.path}:{imp.line}{when})"


def _is_declared_exception(imp: Import) -> bool:
    return imp.module == EXCEPTION_MODULE and _within(imp.target, EXCEPTION_TARGET)


def _strongly_connected(edges: dict[str, dict[str, Import]]) -> list[set[str]]:
    """Tarjan's algorithm, iterative so that deep graphs do not hit the recursion limit."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups = []
    nodes = sorted(set(edges) | {b for targets in edges.values() for b in targets})
    for root in nodes:
        if root in index:
            continue
        work = [(root, iter(sorted(edges.get(root, {}))))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges.get(child, {})))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                group = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    group.add(member)
                    if member == node:
                        break
                groups.append(group)
    return groups


def _cycle_through(start: str, group: set[str], edges) -> list[str]:
    """The shortest path from ``start`` back to itself inside ``group`` (breadth
    first), as the list of modules it passes, closing hop included."""
    previous: dict[str, str] = {}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for child in sorted(edges.get(node, {})):
                if child not in group or child in previous:
                    continue
                previous[child] = node
                if child == start:
                    path = [node]
                    while path[-1] != start:
                        path.append(previous[path[-1]])
                    return [*reversed(path), start]
                following.append(child)
        frontier = following
    raise AssertionError(f"no cycle through {start}")  # a group always has one
