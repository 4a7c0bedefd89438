"""``glassnet playground`` from the command line: it prints an address with a token,
serves the page there, and refuses what it should."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import urllib.error
import urllib.request

import pytest

from glassnet.cli import main


def test_it_serves_at_the_address_it_prints():
    process = subprocess.Popen(
        [sys.executable, "-m", "glassnet", "playground", "--port", "0", "--no-browser"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )
    try:
        line = process.stdout.readline()
        url = re.search(r"http://127\.0\.0\.1:\d+/\?token=\S+", line).group(0)
        base, token = url.split("/?token=")
        with urllib.request.urlopen(f"{base}/api/state?token={token}", timeout=10) as r:
            assert json.load(r)["epoch"] == 0
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(f"{base}/api/state", timeout=10)
        assert refused.value.code == 403
        refused.value.close()
    finally:
        process.terminate()
        process.communicate(timeout=10)


def test_a_bad_port_is_one_line_and_exit_1(capsys):
    assert main(["playground", "--port", "70000", "--no-browser"]) == 1
    err = capsys.readouterr().err
    assert "--port must be from 0 to 65535" in err and len(err.splitlines()) == 1


def test_data_without_target_is_one_line_and_exit_1(capsys, tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("a,b,y\n1,2,0\n2,3,1\n")
    assert main(["playground", "--data", str(path), "--no-browser"]) == 1
    assert "--data and --target go together" in capsys.readouterr().err
