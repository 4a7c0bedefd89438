"""Usage errors: one line on stderr naming the subcommand and the argument, exit 2.

argparse's own report is the usage synopsis and the error on two or more lines; the
glassnet command replaces it with one line that points to ``--help``. Data and
training errors (exit 1) are tested with each subcommand.
"""

from __future__ import annotations

import re

import pytest

from glassnet.cli import COMMANDS, main

# (argv, the subcommand that must be named, words the message must contain)
BAD_INVOCATIONS = [
    (["frobnicate"], "glassnet", "invalid choice: 'frobnicate'"),
    (["--bogus"], "glassnet", "unrecognized arguments: --bogus"),
    (["demo", "--epochs", "many"], "glassnet demo", "argument --epochs"),
    (["demo", "--dataset", "mnist"], "glassnet demo", "invalid choice: 'mnist'"),
    (["gradcheck", "--seed", "1.5"], "glassnet gradcheck", "invalid int value"),
    (["gradcheck", "extra"], "glassnet gradcheck", "unrecognized arguments: extra"),
    (["train", "--epochs", "x"], "glassnet train", "argument --epochs"),
    (["train", "--optimizer", "lbfgs"], "glassnet train", "invalid choice: 'lbfgs'"),
    (["train", "--lr"], "glassnet train", "expected one argument"),
    (["predict"], "glassnet predict", "the following arguments are required"),
    (["predict", "m.safetensors"], "glassnet predict", "required: DATA"),
    (["evaluate"], "glassnet evaluate", "the following arguments are required"),
    (["evaluate", "m", "d", "--target"], "glassnet evaluate", "expected one argument"),
    (["attack"], "glassnet attack", "the following arguments are required"),
    (["attack", "m", "--pgd-steps", "ten"], "glassnet attack", "argument --pgd-steps"),
    (["attack", "m", "--dataset", "mnist"], "glassnet attack", "invalid choice"),
    (["info"], "glassnet info", "the following arguments are required"),
    (["info", "a", "b"], "glassnet info", "unrecognized arguments: b"),
    (["export"], "glassnet export", "the following arguments are required"),
    (["export", "m", "--format", "tflite"], "glassnet export", "invalid choice"),
    (["export", "m", "--opset", "x"], "glassnet export", "argument --opset"),
    (["explain", "--lr"], "glassnet explain", "argument --lr: expected one argument"),
    (["explain", "--steps", "three"], "glassnet explain", "argument --steps"),
    (["explain", "--format", "pdf"], "glassnet explain", "invalid choice: 'pdf'"),
    (["explain", "--attack", "pgd"], "glassnet explain", "invalid choice: 'pgd'"),
    (["plot"], "glassnet plot", "the following arguments are required"),
    (["plot", "pie"], "glassnet plot", "invalid choice: 'pie'"),
    (["plot", "network", "--bogus"], "glassnet plot network", "--bogus"),
    (["system", "--json", "yes"], "glassnet system", "unrecognized arguments: yes"),
]


def _run(argv, capsys):
    code = main(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.mark.parametrize(
    ("argv", "prog", "words"),
    BAD_INVOCATIONS,
    ids=[" ".join(a[0]) for a in BAD_INVOCATIONS],
)
def test_usage_error_is_one_line_on_stderr_and_exit_2(argv, prog, words, capsys):
    code, out, err = _run(argv, capsys)
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1 and err.endswith("\n"), err
    assert err.startswith(f"{prog}: error: "), err
    assert words in err, err
    assert err.rstrip().endswith(f"(see {prog} --help)"), err
    assert "Traceback" not in err and "usage:" not in err


@pytest.mark.parametrize("command", COMMANDS)
def test_every_subcommand_reports_an_unknown_option_in_one_line(command, capsys):
    code, out, err = _run([command, "--no-such-option"], capsys)
    assert code == 2 and out == ""
    assert re.fullmatch(
        rf"glassnet {command}: error: unrecognized arguments: --no-such-option "
        rf"\(see glassnet {command} --help\)\n",
        err,
    ) or re.fullmatch(  # a subcommand with required arguments names those first
        rf"glassnet {command}: error: the following arguments are required: "
        rf"[^\n]+ \(see glassnet {command} --help\)\n",
        err,
    ), err


def test_every_subcommand_still_has_its_full_usage_in_help(capsys):
    for command in COMMANDS:
        assert main([command, "--help"]) == 0
        assert capsys.readouterr().out.startswith(f"usage: glassnet {command}")


def test_a_data_error_is_still_exit_1_not_a_usage_error(tmp_path, capsys):
    missing = tmp_path / "missing.safetensors"
    code, out, err = _run(["info", str(missing)], capsys)
    assert code == 1 and out == ""
    assert err.startswith("glassnet info: error: ") and err.count("\n") == 1, err
    assert "(see glassnet info --help)" not in err
