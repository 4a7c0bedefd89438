"""The package source never deserialises or evaluates code.

An AST scan of src/glassnet/**/*.py finds imports of pickle-like modules (pickle,
marshal, shelve, dill, cloudpickle, joblib, ...), calls to eval/exec/compile/
__import__ (as names or attributes, e.g. ``builtins.eval``), and any call passing
``allow_pickle=True``; a text scan catches ``allow_pickle=True`` however it is spelt
(e.g. in a kwargs dict). The checker is itself tested on planted bad code.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

import glassnet

PACKAGE = Path(glassnet.__file__).parent
FORBIDDEN_MODULES = {
    "pickle",
    "cPickle",
    "_pickle",
    "pickletools",
    "marshal",
    "shelve",
    "dill",
    "cloudpickle",
    "joblib",
    "copyreg",
}
FORBIDDEN_CALLS = {"eval", "exec", "compile", "__import__"}
_BUILTINS = {"builtins", "__builtins__"}
_ALLOW_PICKLE = re.compile(r"""allow_pickle['"]?\s*[=:]\s*True""")


def problems_in(source: str, filename: str = "<source>") -> list[str]:
    """Every forbidden construct in ``source``, as 'file:line: what'."""
    found = []
    tree = ast.parse(source, filename)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] in FORBIDDEN_MODULES:
                    found.append(f"{filename}:{node.lineno}: import {alias.name}")
        elif isinstance(node, ast.ImportFrom):
            module = (node.module or "").split(".")[0]
            names = {alias.name for alias in node.names}
            if module in FORBIDDEN_MODULES:
                found.append(f"{filename}:{node.lineno}: from {node.module} import")
            if module == "builtins" and names & FORBIDDEN_CALLS:
                found.append(f"{filename}:{node.lineno}: from builtins import {names}")
        elif isinstance(node, ast.Call):
            func = node.func
            # eval(...) as a name; an attribute only on the builtins module, so that
            # re.compile and torch's module.eval() (a mode switch) are not flagged.
            if isinstance(func, ast.Name) and func.id in FORBIDDEN_CALLS:
                found.append(f"{filename}:{node.lineno}: call {func.id}()")
            for keyword in node.keywords:
                value = keyword.value
                if keyword.arg == "allow_pickle" and not (
                    isinstance(value, ast.Constant) and value.value is False
                ):
                    found.append(f"{filename}:{node.lineno}: allow_pickle not False")
        elif isinstance(node, ast.Attribute) and node.attr in FORBIDDEN_CALLS:
            if isinstance(node.value, ast.Name) and node.value.id in _BUILTINS:
                found.append(f"{filename}:{node.lineno}: {node.value.id}.{node.attr}")
        elif isinstance(node, ast.Name) and node.id in FORBIDDEN_CALLS | {"pickle"}:
            if isinstance(node.ctx, ast.Load):
                found.append(f"{filename}:{node.lineno}: reference to {node.id}")
    for lineno, line in enumerate(source.splitlines(), 1):
        if _ALLOW_PICKLE.search(line):
            found.append(f"{filename}:{lineno}: allow_pickle=True")
    return sorted(set(found))


def package_sources() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def test_package_source_is_free_of_pickle_marshal_eval_exec():
    files = package_sources()
    assert len(files) > 15 and PACKAGE / "io" / "container.py" in files
    problems = [p for path in files for p in problems_in(path.read_text(), str(path))]
    assert problems == []


@pytest.mark.parametrize(
    "code",
    [
        "import pickle",
        "import pickle as p",
        "import marshal",
        "import joblib",
        "import dill.settings",
        "from pickle import loads",
        "from _pickle import Unpickler",
        "from shelve import open",
        "from builtins import eval",
        "x = eval('1 + 1')",
        "exec('x = 1')",
        "import builtins\nbuiltins.eval('1')",
        "import builtins\nrun = builtins.exec",
        "__builtins__.exec('1')",
        "f = eval\nf('1')",
        "__import__('os').system('x')",
        "code = compile('1', 'f', 'eval')",
        "import numpy as np\nnp.load('f.npy', allow_pickle=True)",
        "import numpy as np\nnp.load('f.npy', allow_pickle=flag)",
        "kwargs = {'allow_pickle': True}",
        "kwargs = dict(allow_pickle = True)",
    ],
)
def test_checker_flags_planted_code(tmp_path, code):
    path = tmp_path / "planted.py"
    path.write_text(f'"""A module."""\n\n{code}\n')
    assert problems_in(path.read_text(), str(path)), code


@pytest.mark.parametrize(
    "code",
    [
        '"""Loading a pickle can run code; glassnet never unpickles."""',
        "message = 'starts like a Python pickle'",
        "import numpy as np\nnp.load('f.npy', allow_pickle=False)",
        "evaluate = 1\nexecutor = evaluate",
        "net.eval_mode = True",
        "import re\npattern = re.compile('a+')",
        "model.eval()",
    ],
)
def test_checker_accepts_harmless_code(code):
    assert problems_in(code) == []


def test_checker_fails_the_suite_when_bad_code_is_added(tmp_path):
    """The scan over a copy of the package, plus one planted module, reports it."""
    planted = tmp_path / "glassnet_copy"
    for path in package_sources():
        target = planted / path.relative_to(PACKAGE)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(path.read_text())
    (planted / "io" / "sneaky.py").write_text("import pickle\n\npickle.loads(b'')\n")
    problems = [
        p
        for path in sorted(planted.rglob("*.py"))
        for p in problems_in(path.read_text(), str(path))
    ]
    assert problems and all("sneaky.py" in p for p in problems)
