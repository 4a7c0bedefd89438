"""The command line's frame: exit codes, help, error reporting (the user's errors as
one line, glassnet's own bugs with their traceback), and `glassnet gradcheck`."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

import glassnet as gn
from glassnet.cli import COMMANDS, main
from glassnet.errors import GlassnetError, InputError, InputTypeError
from netcases import HIDDEN_ACTIVATIONS, LOSS_NAMES


def test_gradcheck_command_checks_every_activation_and_loss(capsys):
    assert main(["gradcheck"]) == 0
    out = capsys.readouterr().out
    # one line per case: "<hidden> -> <output> / <loss>   <max rel error>  ok"
    cases = re.findall(r"^(\w+) -> \w+ / (\w+) +(\S+) +ok$", out, flags=re.M)
    checked = [(hidden, loss) for hidden, loss, _ in cases]
    assert sorted(checked) == sorted(
        (hidden, loss) for hidden in HIDDEN_ACTIVATIONS for loss in LOSS_NAMES
    )
    assert all(float(error) < 1e-6 for _, _, error in cases)
    assert "FAIL" not in out and "all gradients agree" in out


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


# -- errors: the user's (one line, exit 1) and glassnet's own bugs (traceback, exit 70)
def run_cli(argv, capsys):
    code = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def trained_model(tmp_path, capsys):
    path = tmp_path / "xor.safetensors"
    argv = ["train", "--dataset", "xor", "--epochs", "1", "--quiet", "--out", path]
    assert run_cli(argv, capsys)[0] == 0
    return path


def _raise_zero_division(*args, **kwargs):
    return 1 / 0


def _raise_runtime_error(*args, **kwargs):
    raise RuntimeError("an internal invariant broke")


def _raise_type_error(*args, **kwargs):
    raise TypeError("unsupported operand type(s) for +: 'NoneType' and 'int'")


def _raise_attribute_error(*args, **kwargs):
    raise AttributeError("'NoneType' object has no attribute 'shape'")


@pytest.mark.parametrize(
    "planted",
    [
        _raise_zero_division,
        _raise_runtime_error,
        _raise_type_error,
        _raise_attribute_error,
    ],
    ids=["ZeroDivisionError", "RuntimeError", "TypeError", "AttributeError"],
)
def test_a_bug_in_the_library_shows_its_traceback_and_says_it_is_a_bug(
    planted, tmp_path, capsys, monkeypatch
):
    monkeypatch.setattr(gn.Sequential, "fit", planted)
    argv = ["train", "--dataset", "xor", "--quiet", "--out", tmp_path / "m.st"]
    code, _, err = run_cli(argv, capsys)
    assert code == 70
    assert err.startswith("Traceback (most recent call last):")
    assert f"in {planted.__name__}" in err  # the frame where the bug is
    assert "this is a bug in glassnet" in err and "please report it" in err
    assert not (tmp_path / "m.st").exists()


def test_a_bug_in_another_command_is_reported_the_same_way(
    tmp_path, capsys, monkeypatch
):
    model = trained_model(tmp_path, capsys)
    monkeypatch.setattr(gn.Sequential, "summary", _raise_zero_division)
    code, _, err = run_cli(["info", model], capsys)
    assert code == 70
    assert "ZeroDivisionError: division by zero" in err
    assert err.rstrip().splitlines()[-1].startswith("glassnet info: this is a bug")


def _not_a_model(tmp_path):
    path = tmp_path / "notes.safetensors"
    path.write_bytes(b"these are notes, not tensors")
    return path


def _text_feature(tmp_path):
    path = tmp_path / "text.csv"
    path.write_text("colour,size\n" + "1.5,1\n?,2\n3,1\n" * 10)  # "?": a number as text
    return path


#: One argv per kind of user error, and a piece of its message: every one of them is
#: one line on stderr and exit code 1, never a traceback.
USER_ERRORS = {
    "CliError": (
        lambda tmp: ["train", "--every", "2"],
        "--every needs --checkpoint-dir DIR",
    ),
    "DataError": (
        lambda tmp: ["train", _text_feature(tmp), "--target", "size"],
        "column 'colour' holds numbers, but row 2",
    ),
    "ModelFormatError": (
        lambda tmp: ["info", _not_a_model(tmp)],
        "not a safetensors file",
    ),
    "OSError": (
        lambda tmp: ["predict", tmp / "missing.safetensors", tmp / "missing.csv"],
        "missing.safetensors",
    ),
    "StepGradientError": (
        lambda tmp: [
            "train",
            "--dataset",
            "xor",
            "--activation",
            "step",
            "--quiet",
            "--out",
            tmp / "m.st",
        ],  # fmt: skip
        "the step activation has no useful gradient",
    ),
    "DivergenceError": (
        lambda tmp: [
            "train",
            "--dataset",
            "xor",
            "--optimizer",
            "sgd",
            "--lr",
            "1e30",
            "--quiet",
            "--out",
            tmp / "m.st",
        ],  # fmt: skip
        "training diverged",
    ),
}


@pytest.mark.parametrize("kind", sorted(USER_ERRORS))
def test_each_kind_of_user_error_is_one_line_and_exit_1(kind, tmp_path, capsys):
    make_argv, message = USER_ERRORS[kind]
    code, _, err = run_cli(make_argv(tmp_path), capsys)
    assert code == 1
    assert err.count("\n") == 1 and "Traceback" not in err, err
    assert err.startswith(f"glassnet {make_argv(tmp_path)[0]}: error: ")
    assert message in err


def test_a_value_error_from_the_library_is_the_users_error(tmp_path, capsys):
    model = trained_model(tmp_path, capsys)
    argv = ["export", model, "--opset", "5", "--out", tmp_path / "m.onnx"]
    code, _, err = run_cli(argv, capsys)
    assert code == 1 and err.count("\n") == 1
    assert "opset must be between 13 and" in err


def test_a_checked_input_error_is_a_glassnet_error_and_a_builtin_one():
    with pytest.raises(InputError) as caught:
        gn.Sequential(gn.Dense(2, 1), dtype="int8")
    assert isinstance(caught.value, ValueError)
    with pytest.raises(InputTypeError) as caught:
        gn.Sequential(gn.Dense(2, 1), seed="zero")
    assert isinstance(caught.value, TypeError)
    assert isinstance(caught.value, GlassnetError)
