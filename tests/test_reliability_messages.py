"""Small messages: inputs refused with a clear message instead of accepted silently
or failing with a confusing one."""

import subprocess
import sys

import numpy as np
import pytest

import glassnet as gn
from glassnet.cli import main
from glassnet.errors import InputError


@pytest.mark.parametrize(
    ("make", "name"),
    [
        (lambda: gn.LeakyReLU(float("nan")), "negative_slope"),
        (lambda: gn.ELU(alpha=float("inf")), "alpha"),
    ],
)
def test_non_finite_activation_parameters_refused_regression(make, name):
    with pytest.raises(InputError, match=f"{name} must be finite"):
        make()


def test_complex_X_refused_not_cut_to_real_part_regression():
    net = gn.Sequential(gn.Dense(2, 1), dtype="float64", seed=0)
    X = np.array([[1.0 + 2.0j, 0.5 + 0.0j]])
    with pytest.raises(InputError, match="complex values"):
        net.predict(X)
    with pytest.raises(InputError, match="complex values"):
        net.evaluate(X, [1.0])
    assert net.predict(X.real).shape == (1, 1)  # the real part itself is fine
    with pytest.raises(InputError, match="complex values"):
        net.fit(X, [1.0], epochs=1, verbose=0)
    with pytest.raises(InputError, match="complex values"):
        net.forward([[1j, 2.0]])


def test_hidden_zero_among_widths_says_width_must_be_at_least_one(capsys):
    assert main(["train", "--hidden", "0,8", "--epochs", "1"]) == 2
    err = capsys.readouterr().err
    assert "must be >= 1" in err and "--hidden none" in err


def test_hidden_zero_alone_still_means_no_hidden_layer(tmp_path, capsys):
    out = tmp_path / "m.safetensors"
    args = ["train", "--hidden", "0", "--epochs", "1", "--quiet", "--out", str(out)]
    assert main(args) == 0
    net = gn.load(out)
    assert len(net.layers) == 1 and net.in_features == 64 and net.out_features == 10


def test_info_into_a_closed_pipe_exits_quietly_regression(tmp_path):
    model = tmp_path / "m.safetensors"
    gn.save(gn.Sequential(gn.Dense(3, 2), seed=0), model)
    command = f"{sys.executable} -m glassnet info {model} | head -c 0"
    result = subprocess.run(
        ["sh", "-c", command], capture_output=True, text=True, timeout=120
    )
    assert result.stderr == ""  # no "Broken pipe", no traceback
    shown = subprocess.run(
        [sys.executable, "-m", "glassnet", "info", str(model)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert shown.returncode == 0 and "Dense(3, 2" in shown.stdout


def _csv(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def _rows(header, rows):
    return header + "\n" + "".join(row + "\n" for row in rows)


def _train_error(capsys, path):
    code = main(["train", path, "--target", "y", "--epochs", "1", "--quiet"])
    err = capsys.readouterr().err
    assert code == 1 and err.count("\n") == 1, err
    return err


def test_header_only_csv_says_no_data_rows_regression(tmp_path, capsys):
    err = _train_error(capsys, _csv(tmp_path, "h.csv", "a,b,y\n"))
    assert "h.csv has 0 data rows" in err and "not numeric" not in err


def test_values_whose_squares_overflow_are_named_not_nan_regression(tmp_path, capsys):
    rng = np.random.default_rng(0)
    a = rng.uniform(1.0, 1.7, size=30) * 1e307
    rows = [f"{float(v)!r},{float(rng.normal())!r},{i % 2}" for i, v in enumerate(a)]
    err = _train_error(capsys, _csv(tmp_path, "big.csv", _rows("a,b,y", rows)))
    row = int(np.argmax(a)) + 1
    assert f"column 'a' holds {a.max():.6g} in row {row}" in err
    assert "overflow float64" in err and "overflows float32" in err
    assert "NaN" not in err and "inf" not in err


def test_duplicated_header_is_refused_not_renamed_regression(tmp_path, capsys):
    rows = [f"{i},{i * 2},{i % 2}" for i in range(30)]
    err = _train_error(capsys, _csv(tmp_path, "dup.csv", _rows("a,a,y", rows)))
    assert "'a' appears more than once" in err and "a.1" not in err


def test_semicolon_separated_csv_is_named_regression(tmp_path, capsys):
    rows = [f"{i};{i * 2};{i % 2}" for i in range(30)]
    err = _train_error(capsys, _csv(tmp_path, "semi.csv", _rows("a;b;y", rows)))
    assert "separated by ';'" in err


def test_boolean_labels_on_two_softmax_outputs_are_classes_0_and_1_regression():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 3))
    y = X[:, 0] > 0
    nets = [gn.Sequential(gn.Dense(3, 2, "softmax"), seed=0) for _ in range(2)]
    nets[0].fit(X, y, epochs=2, verbose=0, seed=1)
    nets[1].fit(X, y.astype(np.int64), epochs=2, verbose=0, seed=1)
    np.testing.assert_array_equal(nets[0].flat_params, nets[1].flat_params)
    assert nets[0].evaluate(X, y) == nets[1].evaluate(X, y.astype(int))


_RECORD = {
    "version": 1,
    "features": ["a", "b"],
    "mean": [0.0, 0.0],
    "scale": [1.0, 1.0],
    "task": "classification",
    "target": "y",
    "classes": ["no", "yes"],
}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"features": ["a", "a"]}, "'features' lists 'a' twice"),
        ({"classes": ["no", "no"]}, "'classes' lists 'no' twice"),
        ({"classes": [["no"], "yes"]}, "entry 0 is a list, not a label"),
        ({"classes": [{"k": 1}, "yes"]}, "entry 0 is a dict, not a label"),
        ({"features": ["a", "\x1b[2Jb"]}, r"'\\x1b\[2Jb' holds control characters"),
        ({"target": "y\x1b[31m"}, "holds control characters"),
    ],
)
def test_crafted_preprocessing_records_are_refused_regression(change, message):
    from glassnet.data.errors import DataError
    from glassnet.data.preprocessing import Preprocessing

    with pytest.raises(DataError, match=message):
        Preprocessing.from_metadata({"preprocessing": {**_RECORD, **change}})
    assert Preprocessing.from_metadata({"preprocessing": _RECORD}).classes == [
        "no",
        "yes",
    ]


def test_info_prints_escape_sequences_from_a_file_escaped(tmp_path, capsys):
    model = tmp_path / "m.safetensors"
    record = {**_RECORD, "features": ["a", "\x1b[2Jb"]}
    settings = {"data": "\x1b[31mred.csv", "hidden": [4], "epochs": 1}
    metadata = {"preprocessing": record, "train": settings}
    gn.save(gn.Sequential(gn.Dense(2, 2, "softmax"), seed=0), model, metadata)
    assert main(["info", str(model)]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out
    assert r"\x1b[31mred.csv" in out


def test_from_torch_refuses_hooks_and_meta_weights_regression():
    torch = pytest.importorskip("torch")
    model = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.ReLU())

    def double(module, inputs, output):
        return output * 2

    for register, kind in [
        (lambda: model[0].register_forward_hook(double), "forward hook"),
        (lambda: model[1].register_forward_pre_hook(lambda m, i: i), "forward-pre"),
        (lambda: model.register_full_backward_hook(lambda *a: None), "backward hook"),
    ]:
        handle = register()
        with pytest.raises(ValueError, match=kind):
            gn.from_torch(model)
        handle.remove()
    plain = gn.from_torch(model)
    x = np.ones((1, 3), dtype=np.float32)
    expected = model(torch.from_numpy(x)).detach().numpy()
    np.testing.assert_array_equal(plain.predict(x), expected)
    with torch.device("meta"):
        meta = torch.nn.Sequential(torch.nn.Linear(3, 2))
    with pytest.raises(ValueError, match="meta device"):
        gn.from_torch(meta)
