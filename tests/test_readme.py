"""Every code block of the README runs as printed and prints what the README says.

Python blocks run one after another, each in a fresh namespace (a block a reader copies
on its own must work on its own); shell blocks run their ``glassnet`` commands through
``glassnet.cli.main`` and check that each ``make`` target exists. All blocks share one
temporary folder, in README order, so a command can use a file an earlier block wrote
(``glassnet info model.safetensors`` after ``gn.save``). The only files the README does
not make itself are the user's own tables (penguins.csv, test.csv, new.csv), which the
README says are the reader's and the fixture writes.

Where a ``print(...)`` line carries a comment with a number (on the line, or alone on
the next line), that comment is what the line prints, to the digits shown.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import shlex
import traceback
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from glassnet.cli import main

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.S | re.M)
NUMBER = re.compile(r"-?\d+(?:\.\d+)?(?:e[+-]?\d+)?")


@dataclass(frozen=True)
class Block:
    lang: str
    code: str
    line: int  # where the fence opens in README.md

    @property
    def name(self) -> str:
        return f"{self.lang}-line{self.line}"


def readme_blocks() -> list[Block]:
    text = README.read_text(encoding="utf-8")
    return [
        Block(m.group(1), m.group(2), text.count("\n", 0, m.start()) + 1)
        for m in FENCE.finditer(text)
    ]


BLOCKS = readme_blocks()


def quickstart_code() -> str:
    text = README.read_text(encoding="utf-8")
    section = text.split("## Quickstart", 1)[1]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


# -- running the blocks ----------------------------------------------------------------


def shell_commands(code: str) -> list[list[str]]:
    """The commands of a shell block, continuation lines joined, comments dropped."""
    joined = re.sub(r"\\\n", " ", code)
    commands = [shlex.split(line, comments=True) for line in joined.splitlines()]
    return [argv for argv in commands if argv]


def run_shell(code: str) -> str:
    out = io.StringIO()
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    for argv in shell_commands(code):
        if argv[0] == "make":
            for target in argv[1:]:
                assert re.search(rf"^{re.escape(target)}:", makefile, re.M), (
                    f"make {target}: no such target in the Makefile"
                )
            continue
        assert argv[0] == "glassnet", f"not a glassnet command: {shlex.join(argv)}"
        err = io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code_ = main(argv[1:])
        assert code_ == 0, f"{shlex.join(argv)} exited {code_}: {err.getvalue()}"
    return out.getvalue()


def run_python(code: str) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, str(README), "exec"), {})  # a fresh namespace per block
    return out.getvalue()


def write_penguin_tables(folder: Path) -> None:
    """penguins.csv, test.csv and new.csv: three species, well apart, seeded."""
    centres = {
        "Adelie": (38.8, 18.3, 190.0, 3700.0),
        "Chinstrap": (48.8, 18.4, 196.0, 3730.0),
        "Gentoo": (47.5, 15.0, 217.0, 5080.0),
    }
    spread = (2.5, 1.1, 6.5, 450.0)
    header = "bill_length_mm,bill_depth_mm,flipper_length_mm,body_mass_g"
    for name, rows, seed, labelled in [
        ("penguins.csv", 90, 0, True),
        ("test.csv", 30, 1, True),
        ("new.csv", 6, 2, False),
    ]:
        rng = np.random.default_rng(seed)
        lines = [header + (",species" if labelled else "")]
        for i in range(rows):
            species = list(centres)[i % 3]
            b_len, b_depth, flipper, mass = rng.normal(centres[species], spread)
            row = f"{b_len:.1f},{b_depth:.1f},{flipper:.0f},{mass:.0f}"
            lines.append(row + (f",{species}" if labelled else ""))
        (folder / name).write_text("\n".join(lines) + "\n", encoding="utf-8")


@pytest.fixture(scope="module")
def readme_run(tmp_path_factory):
    """Runs every block in README order in one folder: {name: (output, failure)}."""
    folder = tmp_path_factory.mktemp("readme")
    write_penguin_tables(folder)
    results = {}
    before = Path.cwd()
    os.chdir(folder)
    try:
        # as strict as every test (conftest): no silenced floating-point errors
        with np.errstate(over="raise", divide="raise", invalid="raise", under="ignore"):
            for block in BLOCKS:
                runner = run_python if block.lang == "python" else run_shell
                try:
                    results[block.name] = (runner(block.code), None)
                except Exception:  # reported by the block's own test
                    results[block.name] = ("", traceback.format_exc())
    finally:
        os.chdir(before)
    return results


# -- what a block says it prints -------------------------------------------------------


def printed_claims(code: str) -> list[str]:
    """The comments showing what print lines print, in order."""
    lines = code.splitlines()
    claims = []
    for i, line in enumerate(lines):
        if not line.lstrip().startswith("print("):
            continue
        trailing = re.search(r"\)\s+#(.*)$", line)
        comment = trailing.group(1) if trailing else ""
        if not _shows_output(comment) and i + 1 < len(lines):
            following = lines[i + 1].strip()
            comment = following[1:] if following.startswith("#") else ""
        if _shows_output(comment):
            claims.append(comment.strip())
    return claims


def _shows_output(comment: str) -> bool:
    """A comment with a number, or one that starts as a printed dict or list does."""
    return bool(re.search(r"\d", comment) or re.match(r"\s*[{\[]", comment))


def shows(claim: str, printed: str) -> bool:
    """True if ``printed`` is ``claim`` with each number given to more digits.

    Text must agree exactly (up to spacing); each printed number, rounded to the
    decimals the claim shows, must equal the claim's number.
    """

    def text(line: str) -> list[str]:
        return [" ".join(part.split()) for part in NUMBER.split(line)]

    if text(claim) != text(printed):
        return False
    for shown, actual in zip(
        NUMBER.findall(claim), NUMBER.findall(printed), strict=True
    ):
        if "e" in shown:  # 1.2e-05: the significant digits shown
            if not np.isclose(float(shown), float(actual), rtol=0.5e-3, atol=0):
                return False
            continue
        decimals = len(shown.partition(".")[2])
        printed_decimals = len(actual.partition(".")[2])
        if printed_decimals < decimals or f"{float(actual):.{decimals}f}" != shown:
            return False
    return True


def test_shows_compares_to_the_digits_shown():
    assert shows(
        "{'loss': 0.0964, 'accuracy': 0.9711}",
        "{'loss': 0.09641561, 'accuracy': 0.97111}",
    )
    assert not shows(
        "{'loss': 0.0965, 'accuracy': 0.9711}",
        "{'loss': 0.09641561, 'accuracy': 0.97111}",
    )
    assert not shows("{'loss': 0.0964}", "{'accuracy': 0.0964}")
    assert shows("5 0 ckpt.safetensors", "5 0 ckpt.safetensors")
    assert not shows("5 0 ckpt.safetensors", "6 0 ckpt.safetensors")
    assert shows("test accuracy 0.970", "test accuracy 0.970")
    assert not shows("test accuracy 0.970", "test accuracy 0.97")


def test_printed_claims_reads_the_comments():
    code = 'x = 1\nprint(x)  # 1.0\nprint("a")  # a word\nprint(2)\n# 2\nprint(trace)\n'
    assert printed_claims(code) == ["1.0", "2"]
    assert printed_claims("print(meta)  # {'classes': ['a']}") == ["{'classes': ['a']}"]


# -- the tests -------------------------------------------------------------------------


def test_every_block_is_python_or_shell_and_there_are_blocks_to_run():
    assert len(BLOCKS) >= 10
    assert {block.lang for block in BLOCKS} <= {"python", "sh"}, [
        block.name for block in BLOCKS if block.lang not in ("python", "sh")
    ]


@pytest.mark.parametrize("block", BLOCKS, ids=[block.name for block in BLOCKS])
def test_block_runs_and_prints_what_the_readme_shows(block, readme_run):
    output, failure = readme_run[block.name]
    assert failure is None, f"README.md line {block.line}:\n{failure}"
    lines = output.splitlines()
    position = 0
    for claim in printed_claims(block.code):
        found = next(
            (i for i in range(position, len(lines)) if shows(claim, lines[i])), None
        )
        assert found is not None, (
            f"README.md line {block.line} says it prints {claim!r}; it printed:\n"
            + "\n".join(lines[position:][-20:])
        )
        position = found + 1


def test_the_readme_shows_what_it_prints():
    claims = [claim for block in BLOCKS for claim in printed_claims(block.code)]
    assert len(claims) >= 5  # the checks above are not vacuous


def test_the_readme_blocks_wrote_the_files_the_later_commands_use(readme_run):
    names = [block.name for block in BLOCKS]
    saved = next(b.name for b in BLOCKS if "gn.save(net" in b.code)
    info = next(b.name for b in BLOCKS if "glassnet info model" in b.code)
    assert names.index(saved) < names.index(info)
    assert "Total parameters: 42" in readme_run[info][0]  # the 2-8-2 network saved


def test_quickstart_runs_and_prints_the_numbers_the_readme_quotes():
    code = quickstart_code()
    assert len(code.strip().splitlines()) <= 15  # a quickstart that fits one screen
    quoted_accuracy = re.search(r"# (test accuracy \d\.\d+)", code).group(1)
    quoted_loss = re.search(
        r"ends with `(Loss L = [\d.e+-]+\.)`", README.read_text(encoding="utf-8")
    ).group(1)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, str(README), "exec"), {})
    printed = out.getvalue()
    assert quoted_accuracy in printed.splitlines()
    assert printed.rstrip().endswith(quoted_loss)


def test_the_digits_example_prints_the_loss_and_accuracy_the_readme_quotes(readme_run):
    block = next(
        b for b in BLOCKS if "gn.datasets.load_digits()" in b.code and "AdamW" in b.code
    )
    quoted = re.search(r"# \{'loss': ([\d.]+), 'accuracy': ([\d.]+)\}", block.code)
    printed = readme_run[block.name][0].splitlines()[-1]
    values = dict(re.findall(r"'(\w+)': ([\d.e-]+)", printed))
    for key, shown in zip(["loss", "accuracy"], quoted.groups(), strict=True):
        assert round(float(values[key]), len(shown) - 2) == float(shown), (key, printed)


# -- names and paths the README points to ----------------------------------------------


def test_every_gn_name_the_readme_mentions_exists():
    import glassnet as gn

    text = README.read_text(encoding="utf-8")
    names = sorted(set(re.findall(r"\bgn\.([A-Za-z_][\w.]*\w)", text)))
    assert len(names) > 30
    missing = []
    for name in names:
        obj = gn
        for part in name.split("."):
            if not hasattr(obj, part):
                missing.append(f"gn.{name}")
                break
            obj = getattr(obj, part)
    assert not missing, missing


def test_every_file_and_function_the_readme_names_exists():
    import importlib

    text = README.read_text(encoding="utf-8")
    paths = set(re.findall(r"`((?:src|tests|examples|benchmarks|fuzz)/[\w/.]+)`", text))
    assert len(paths) >= 8
    assert not [path for path in paths if not (ROOT / path).exists()]
    for module, name in re.findall(r"`(glassnet(?:\.\w+)+)\.(\w+)`", text):
        assert hasattr(importlib.import_module(module), name), f"{module}.{name}"
    # the table: `Class.method` in `src/glassnet/....py`
    rows = re.findall(r"^\|.*`(\w+)\.(\w+)`.*`(src/[\w/]+\.py)`.*$", text, re.M)
    assert len(rows) >= 2
    for cls, method, path in rows:
        source = (ROOT / path).read_text(encoding="utf-8")
        assert re.search(rf"^class {cls}\b", source, re.M), (cls, path)
        assert re.search(rf"def {method}\(", source), (cls, method, path)


def test_the_readme_names_every_extra_of_pyproject():
    import tomllib

    extras = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))[
        "project"
    ]["optional-dependencies"]
    install = README.read_text(encoding="utf-8").split("Installing:", 1)[1]
    install = install.split("\n\n", 1)[0]
    assert [extra for extra in extras if f"`{extra}`" not in install] == []
