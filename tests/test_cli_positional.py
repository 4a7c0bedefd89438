"""A model file without a preprocessing record knows no column names: `glassnet
predict` then takes a CSV's columns in file order, and says so on stderr."""

import numpy as np

import glassnet as gn
from glassnet.cli import main


def test_predict_without_a_record_warns_that_columns_go_by_position(tmp_path, capsys):
    net = gn.Sequential(gn.Dense(3, 2, "softmax"), seed=0)
    model = gn.save(net, tmp_path / "bare.safetensors")
    X = np.random.default_rng(0).normal(size=(4, 3))
    data = tmp_path / "rows.csv"
    rows = "\n".join(",".join(f"{v:.6f}" for v in row) for row in X)
    data.write_text("petal,sepal,weight\n" + rows + "\n")
    code = main(["predict", str(model), str(data)])
    out, err = capsys.readouterr()
    assert code == 0
    assert "taken in file order (petal, sepal, weight)" in err
    expected = net.predict(X.astype(np.float32)).argmax(axis=1)
    predicted = [int(line) for line in out.split()[1:]]
    assert predicted == expected.tolist()


def test_a_model_with_a_record_reads_columns_by_name_without_that_warning(
    tmp_path, capsys
):
    data = tmp_path / "train.csv"
    rng = np.random.default_rng(1)
    X = rng.normal(size=(60, 2))
    y = (X[:, 0] > X[:, 1]).astype(int)
    lines = [f"{a:.6f},{b:.6f},{c}" for (a, b), c in zip(X, y, strict=True)]
    data.write_text("a,b,y\n" + "\n".join(lines) + "\n")
    model = tmp_path / "m.safetensors"
    assert main(["train", str(data), "--target", "y", "--epochs", "2", "--out",
                 str(model), "--quiet"]) == 0  # fmt: skip
    capsys.readouterr()
    assert main(["predict", str(model), str(data)]) == 0
    assert "file order" not in capsys.readouterr().err
