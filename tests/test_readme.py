"""The README's quickstart runs as printed and prints what the README says it does."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def quickstart_code() -> str:
    text = README.read_text(encoding="utf-8")
    section = text.split("## Quickstart", 1)[1]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


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
