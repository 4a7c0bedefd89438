"""The example in docs/verify.md runs and says what its comments say."""

import contextlib
import io
import re
from pathlib import Path

DOC = Path(__file__).resolve().parents[1] / "docs" / "verify.md"


def test_the_first_example_in_the_verify_docs_runs_as_commented():
    text = DOC.read_text(encoding="utf-8")
    code = re.search(r"```python\n(.*?)```", text, re.S).group(1)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, str(DOC), "exec"), {})
    printed = out.getvalue().splitlines()
    said = [m.group(1) for m in re.finditer(r"print\(.*\)\s+# (.*)", code)]
    assert printed[0] == said[0]  # "holds linear"
    assert printed[-2:] == said[-2:]  # "holds", "violated"
