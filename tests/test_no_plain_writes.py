"""Every file glassnet writes goes through the atomic writer (``io/atomic.py``).

The syntax tree of every module in ``src/glassnet`` is walked for calls that write a
file: ``open`` (and ``Path.open``, ``os.fdopen``, ``io.open``) with a writing mode,
``os.open`` with a writing flag, ``Path.write_text``/``write_bytes``, numpy's
``save``/``savez``/``savetxt``/``tofile``, ``savefig`` or pandas' ``to_csv`` onto
anything but an in-memory buffer, ``shutil`` copies and moves, ``os.rename``/
``os.replace``, ``json.dump``/``pickle.dump`` into a file, ``onnx.save``,
``torch.save`` and ``safetensors``' ``save_file``. Only ``io/atomic.py`` may do these;
any other hit fails, naming the file, line and call. A plain write loses the old file
when the disk fills or the process dies half-way.
"""

from __future__ import annotations

import ast
from pathlib import Path

import glassnet

PACKAGE = Path(glassnet.__file__).parent
#: The writer itself.
WRITER = "io/atomic.py"
#: (module, function) -> why the write found there is not a plain file write.
ALLOWED: dict[tuple[str, str], str] = {}

_WRITE_MODE_LETTERS = set("wax+")
_WRITE_FLAGS = {"O_WRONLY", "O_RDWR", "O_CREAT", "O_APPEND", "O_TRUNC"}
_ALWAYS_WRITES = {
    ("Path", "write_text"),
    ("Path", "write_bytes"),
    ("shutil", "copy"),
    ("shutil", "copy2"),
    ("shutil", "copyfile"),
    ("shutil", "copytree"),
    ("shutil", "move"),
    ("os", "rename"),
    ("os", "replace"),
    ("np", "save"),
    ("np", "savez"),
    ("np", "savez_compressed"),
    ("np", "savetxt"),
    ("numpy", "save"),
    ("numpy", "savez"),
    ("numpy", "savez_compressed"),
    ("numpy", "savetxt"),
    ("onnx", "save"),
    ("onnx", "save_model"),
    ("torch", "save"),
    ("json", "dump"),
    ("pickle", "dump"),
}
#: Attribute calls that write a file whatever their receiver is.
_WRITING_METHODS = {"write_text", "write_bytes", "tofile", "save_file"}
#: Attribute calls that write to their first argument unless it is a buffer.
_TARGET_METHODS = {"savefig", "to_csv", "to_parquet", "to_pickle", "to_excel"}


def _mode_of(call: ast.Call, position: int) -> str | None:
    """The mode argument's letters (all branches of a computed one); "+" when it is
    computed from names (assumed to write); None when there is no mode (a read)."""
    mode = next((k.value for k in call.keywords if k.arg == "mode"), None)
    if mode is None and len(call.args) > position:
        mode = call.args[position]
    if mode is None:
        return None
    letters = [
        n.value
        for n in ast.walk(mode)
        if isinstance(n, ast.Constant) and isinstance(n.value, str)
    ]
    return "".join(letters) if letters else "+"


def _buffers(function: ast.AST) -> set[str]:
    """Names bound to ``io.BytesIO()``/``io.StringIO()`` in ``function``."""
    names = set()
    for node in ast.walk(function):
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Call):
            func = node.value.func
            name = (
                func.attr
                if isinstance(func, ast.Attribute)
                else getattr(func, "id", "")
            )
            if name in ("BytesIO", "StringIO"):
                names |= {t.id for t in node.targets if isinstance(t, ast.Name)}
    return names


def _writes(call: ast.Call, buffers: set[str]) -> str | None:
    """What the call writes, or None for a call that writes no file."""
    func = call.func
    if isinstance(func, ast.Name):
        if func.id == "open":
            mode = _mode_of(call, 1)
            if mode is not None and _WRITE_MODE_LETTERS & set(mode):
                return f"open(..., {mode!r})"
        return None
    if not isinstance(func, ast.Attribute):
        return None
    owner = func.value.id if isinstance(func.value, ast.Name) else None
    target = call.args[0] if call.args else None
    if isinstance(target, ast.Attribute) and target.attr == "devnull":
        return None  # os.devnull: discards what is written, no file
    if (owner, func.attr) in _ALWAYS_WRITES:
        return f"{owner}.{func.attr}"
    if func.attr in _WRITING_METHODS:
        return f".{func.attr}(...)"
    if func.attr == "open" and owner == "os":
        flags = {n.attr for n in ast.walk(call) if isinstance(n, ast.Attribute)}
        if flags & _WRITE_FLAGS:
            return f"os.open with {sorted(flags & _WRITE_FLAGS)}"
        return None
    if func.attr in ("open", "fdopen"):
        if owner in ("io", "os"):
            mode = _mode_of(call, 1)
        else:  # Path.open(mode), ZipFile.open(name, mode): the string argument
            strings = [
                a.value
                for a in call.args
                if isinstance(a, ast.Constant) and isinstance(a.value, str)
            ]
            mode = _mode_of(call, len(call.args)) or "".join(strings) or None
        if mode is not None and _WRITE_MODE_LETTERS & set(mode):
            return f".{func.attr}(..., {mode!r})"
        return None
    if func.attr in _TARGET_METHODS:
        target = call.args[0] if call.args else None
        if not (isinstance(target, ast.Name) and target.id in buffers):
            return f".{func.attr}(<not an in-memory buffer>)"
    return None


def plain_writes(source: str, module: str) -> list[str]:
    """Every file-writing call in ``source`` outside the allow-list."""
    tree = ast.parse(source)
    found = []
    functions = [
        n
        for n in ast.walk(tree)
        if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))
    ]
    owner_of = {}
    for function in functions:  # ast.walk lists outer functions first: inner ones win
        for node in ast.walk(function):
            owner_of[id(node)] = function
    buffers_of = {id(f): _buffers(f) for f in functions}
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        function = owner_of.get(id(node))
        buffers = buffers_of[id(function)] if function is not None else set()
        what = _writes(node, buffers)
        name = function.name if function is not None else "<module>"
        if what is not None and (module, name) not in ALLOWED:
            found.append(f"{module}:{node.lineno} in {name}: {what}")
    return found


def test_every_file_write_goes_through_the_atomic_writer():
    modules = sorted(PACKAGE.rglob("*.py"))
    assert len(modules) > 50  # the walk sees the whole package
    found = []
    for path in modules:
        module = path.relative_to(PACKAGE).as_posix()
        if module != WRITER:
            found += plain_writes(path.read_text(encoding="utf-8"), module)
    assert not found, "file writes outside io/atomic.py:\n" + "\n".join(found)


def test_allow_list_names_only_existing_writes():
    """Each allow-list entry still names a function that writes (none goes stale)."""
    for module, function in ALLOWED:
        tree = ast.parse((PACKAGE / module).read_text(encoding="utf-8"))
        bodies = [
            n
            for n in ast.walk(tree)
            if isinstance(n, ast.FunctionDef) and n.name == function
        ]
        assert bodies, f"{module} has no function {function}"
        calls = [
            n for body in bodies for n in ast.walk(body) if isinstance(n, ast.Call)
        ]
        assert any(_writes(c, set()) for c in calls), (
            f"{module}:{function} writes nothing"
        )


def test_the_walk_finds_each_kind_of_write():
    """The detector itself: each writing call is caught, reads and buffers are not."""
    writing = [
        'open(p, "w")',
        'open(p, mode="ab")',
        'open(p, "r+")',
        'open(p, "a" if append else "w")',
        "open(p, mode)",
        'p.open("x")',
        'os.fdopen(fd, "wb")',
        "os.open(p, os.O_WRONLY | os.O_CREAT)",
        'archive.open(name, "w")',
        'path.open(mode="a")',
        "Path(p).write_text(t)",
        "p.write_bytes(b)",
        "np.save(p, a)",
        "np.savez(p, a=a)",
        "a.tofile(p)",
        "fig.savefig(p)",
        "frame.to_csv(p)",
        "shutil.move(a, b)",
        "os.replace(a, b)",
        "json.dump(obj, handle)",
        "onnx.save(model, p)",
        "torch.save(state, p)",
        "safetensors.numpy.save_file(t, p)",
    ]
    for line in writing:
        source = f"def f():\n    {line}\n"
        assert plain_writes(source, "x.py"), line
    harmless = [
        "open(p)",
        'open(p, "rb")',
        'p.open("r")',
        "archive.open(info)",
        "os.open(os.devnull, os.O_WRONLY)",
        "os.open(p, os.O_RDONLY | os.O_DIRECTORY)",
        "np.load(p)",
        "safetensors.numpy.save(t)",
        "buffer = io.BytesIO()\n    fig.savefig(buffer)",
        "json.dumps(obj)",
    ]
    for line in harmless:
        source = f"def f():\n    {line}\n"
        assert not plain_writes(source, "x.py"), line
