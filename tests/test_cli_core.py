"""The command line's frame: exit codes, help, and `glassnet gradcheck`."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

import glassnet as gn
from glassnet.cli import COMMANDS, main


def test_gradcheck_command_checks_every_activation_and_loss(capsys):
    assert main(["gradcheck"]) == 0
    out = capsys.readouterr().out
    for activation in (
        "identity",
        "sigmoid",
        "tanh",
        "relu",
        "leaky_relu",
        "elu",
        "gelu",
        "softplus",
    ):
        for loss in ("mse", "binary_crossentropy", "cross_entropy"):
            assert f"{activation} -> " in out and f"/ {loss}" in out
    assert out.count(" ok") == 8 * 3
    assert "all gradients agree" in out


def test_gradcheck_command_fails_loudly_on_a_wrong_derivative(capsys, monkeypatch):
    monkeypatch.setattr(gn.ReLU, "derivative", lambda self, Z, A: (Z > 0) * 0.5)
    assert main(["gradcheck"]) == 1
    out = capsys.readouterr().out
    assert (
        "relu -> identity / mse" in out and "FAIL" in out and "3 case(s) FAILED" in out
    )


def test_no_command_prints_help_and_exits_2(capsys):
    assert main([]) == 2
    assert "usage: glassnet" in capsys.readouterr().out


def test_unknown_command_is_a_usage_error(capsys):
    assert main(["frobnicate"]) == 2
    assert "invalid choice" in capsys.readouterr().err


def test_version(capsys):
    assert main(["--version"]) == 0
    assert gn.__version__ in capsys.readouterr().out


@pytest.mark.parametrize("command", COMMANDS)
def test_every_subcommand_has_help_with_an_example(command, capsys):
    assert main([command, "--help"]) == 0
    out = capsys.readouterr().out
    assert re.search(rf"examples?:\s+(\$ )?glassnet {command}\b", out), out[-400:]


def test_console_script_runs_as_a_module():
    result = subprocess.run(
        [sys.executable, "-m", "glassnet", "--version"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0 and gn.__version__ in result.stdout
