"""Attacks that move only some inputs (``perturb=``): the others stay bit for bit,
the moved ones follow the attack's equations, a trained model's loss rises, the
report lists the inputs moved, and ``glassnet attack`` on a table moves only the
numeric columns' values (also on a model that embeds a categorical column)."""

from __future__ import annotations

import csv
import json
import zlib

import numpy as np
import pytest

import glassnet as gn
from glassnet import tabular
from glassnet.cli import main
from glassnet.cli.attack import fold_after_embedding

MASK = np.array([True, False, True, False, False])  # inputs 0 and 2 move


def _net(seed: int = 0):
    return gn.Sequential(
        gn.Dense(5, 8, "tanh"), gn.Dense(8, 3, "softmax"), dtype="float64", seed=seed
    )


def _data(n: int = 30, seed: int = 1):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, 5)), rng.integers(0, 3, size=n)


def _bits(A) -> bytes:
    return np.ascontiguousarray(A).tobytes()


def _cross_entropy(net, X, y) -> np.ndarray:
    """-log p_y per sample, from the network's softmax outputs."""
    P = net.forward(X)
    return -np.log(P[np.arange(len(y)), y])


# -- the mask, in the library -------------------------------------------------------------
@pytest.mark.parametrize("perturb", [MASK, [0, 2], MASK.tolist(), (2, 0)])
@pytest.mark.parametrize("attack", ["fgsm", "pgd"])
def test_the_other_inputs_stay_bit_for_bit(attack, perturb):
    net, (X, y) = _net(), _data()
    X_in = X.copy()
    if attack == "fgsm":
        X_adv = gn.attacks.fgsm(net, X, y, eps=0.3, perturb=perturb)
    else:  # the random start moves every input before the mask puts some back
        X_adv = gn.attacks.pgd(net, X, y, eps=0.3, steps=4, seed=2, perturb=perturb)
    assert _bits(X_adv[:, ~MASK]) == _bits(X[:, ~MASK])
    assert _bits(X) == _bits(X_in)  # the caller's array is not touched
    moved = np.abs(X_adv[:, MASK] - X[:, MASK])
    assert moved.max() <= 0.3 + 1e-12 and moved.mean() > 0.1


def test_masked_fgsm_is_fgsm_on_the_selected_inputs():
    """The gradient at x is the same whatever moves, so the masked step is the full
    step where the mask is True and x elsewhere."""
    net, (X, y) = _net(), _data()
    full = gn.attacks.fgsm(net, X, y, eps=0.2)
    masked = gn.attacks.fgsm(net, X, y, eps=0.2, perturb=MASK)
    assert _bits(masked) == _bits(np.where(MASK, full, X))


def test_masked_pgd_is_pgd_on_a_network_of_the_selected_inputs():
    """With the fixed inputs the same in every row, W x + b = W_m x_m + (W_f x_f + b):
    PGD on the moved inputs of the reduced network is the masked PGD."""
    net, (X, y) = _net(3), _data(seed=4)
    X[:, ~MASK] = X[0, ~MASK]  # the fixed inputs shared by every row
    first = net.layers[0]
    reduced = gn.Sequential(
        gn.Dense(2, 8, "tanh"), gn.Dense(8, 3, "softmax"), dtype="float64", seed=0
    )
    reduced.layers[0].W = first.W[:, MASK]
    reduced.layers[0].b = first.b + first.W[:, ~MASK] @ X[0, ~MASK]
    reduced.layers[1].W, reduced.layers[1].b = net.layers[1].W, net.layers[1].b
    kwargs = {"eps": 0.25, "steps": 6, "random_start": False}
    masked = gn.attacks.pgd(net, X, y, perturb=MASK, **kwargs)
    alone = gn.attacks.pgd(reduced, X[:, MASK], y, **kwargs)
    np.testing.assert_allclose(masked[:, MASK], alone, rtol=0, atol=1e-12)


def _trained_net():
    """A classifier of 4 numeric inputs and a one-hot pair, trained to > 85%."""
    rng = np.random.default_rng(zlib.crc32(b"attack-mask"))
    n = 400
    X = rng.normal(size=(n, 4))
    group = rng.integers(0, 2, n)
    y = ((X[:, 0] + X[:, 1] - X[:, 2] + 1.5 * (2 * group - 1)) > 0).astype(int)
    X = np.column_stack([X, group == 0, group == 1]).astype(np.float64)  # (n, 6)
    net = gn.Sequential(
        gn.Dense(6, 16, "relu"), gn.Dense(16, 2, "softmax"), dtype="float64", seed=0
    )
    net.fit(X, y, epochs=60, batch_size=32, verbose=0, seed=0)
    assert (net.predict_classes(X) == y).mean() > 0.85
    return net, X, y


@pytest.fixture(scope="module")
def trained():
    return _trained_net()


@pytest.mark.parametrize("attack", ["fgsm", "pgd"])
def test_a_masked_attack_raises_a_trained_models_loss(trained, attack):
    net, X, y = trained
    numeric = [0, 1, 2, 3]  # the one-hot pair (4, 5) stays
    if attack == "fgsm":
        X_adv = gn.attacks.fgsm(net, X, y, eps=0.3, perturb=numeric)
    else:
        X_adv = gn.attacks.pgd(net, X, y, eps=0.3, steps=10, seed=0, perturb=numeric)
    assert _bits(X_adv[:, 4:]) == _bits(X[:, 4:])
    clean, adv = _cross_entropy(net, X, y), _cross_entropy(net, X_adv, y)
    assert adv.mean() > clean.mean() + 0.1
    if attack == "pgd":  # ascent from x itself: no sample ends much below its start
        start = gn.attacks.pgd(net, X, y, eps=0.3, steps=10, random_start=False,
                               perturb=numeric)  # fmt: skip
        assert np.all(_cross_entropy(net, start, y) >= clean - 1e-9)
    accuracy = (net.predict_classes(X_adv) == y).mean()
    assert accuracy < (net.predict_classes(X) == y).mean() - 0.1


def test_robustness_report_with_a_mask(trained):
    net, X, y = trained
    numeric = np.array([True] * 4 + [False] * 2)
    report = gn.robustness_report(
        net, X, y, eps=[0.1, 0.3], pgd_steps=5, seed=0, perturb=numeric
    )
    assert report.perturbed == [0, 1, 2, 3] and report.n_inputs == 6
    assert "perturbing 4 of 6 inputs (indices 0, 1, 2, 3)" in str(report)
    assert report.to_dict()["perturbed"] == [0, 1, 2, 3]
    for eps in (0.1, 0.3):  # the report's numbers are the attacks' own
        X_pgd = gn.attacks.pgd(net, X, y, eps, steps=5, seed=0, perturb=numeric)
        X_fgsm = gn.attacks.fgsm(net, X, y, eps, perturb=numeric)
        for name, X_adv in (("pgd", X_pgd), ("fgsm", X_fgsm)):
            accuracy = (net.predict_classes(X_adv) == y).mean()
            assert report.accuracy(name, eps) == pytest.approx(accuracy, abs=1e-12)
    full = gn.robustness_report(net, X, y, eps=[0.3], pgd_steps=5, seed=0)
    assert full.perturbed == list(range(6)) and "perturbing" not in str(full)


def test_config_objects_take_the_mask(trained):
    net, X, y = trained
    fgsm = gn.attacks.FGSM(eps=0.2, perturb=[0, 1])
    pgd = gn.attacks.PGD(eps=0.2, steps=3, perturb=[0, 1])
    assert _bits(fgsm(net, X, y)) == _bits(
        gn.attacks.fgsm(net, X, y, 0.2, perturb=[0, 1])
    )
    assert _bits(pgd(net, X, y, seed=5)) == _bits(
        gn.attacks.pgd(net, X, y, 0.2, steps=3, seed=5, perturb=[0, 1])
    )
    assert fgsm.config()["perturb"] == [0, 1] and pgd.config()["perturb"] == [0, 1]
    assert "perturb" not in gn.attacks.FGSM(eps=0.2).config()
    # the training form: the batch perturbed against the weights keeps inputs 2..5
    Y = net.prepare_targets(y, gn.CrossEntropyLoss())
    for attack in (fgsm, pgd):
        X_adv = attack.adversarial_batch(net, X, Y, gn.CrossEntropyLoss(),
                                         np.random.default_rng(0))  # fmt: skip
        assert _bits(X_adv[:, 2:]) == _bits(X[:, 2:])
        assert np.abs(X_adv[:, :2] - X[:, :2]).max() > 0.1


def test_adversarial_training_with_a_mask_runs():
    net, X, y = _net(), *_data(60)
    mask = MASK.copy()
    history = net.fit(X, y, epochs=2, verbose=0, seed=0,
                      adversarial=gn.attacks.PGD(eps=0.1, steps=2, perturb=mask))  # fmt: skip
    assert np.all(np.isfinite(history.history["loss"]))


# -- the Embedding's index columns: the same mask ----------------------------------------
def _embedding_net():
    net = gn.Sequential(
        gn.Embedding(index_columns=[1], n_categories=[4], dims=[2]),
        gn.Dense(4, 5, "relu"),
        gn.Dense(5, 2, "softmax"),
        dtype="float64",
        seed=1,
    )
    rng = np.random.default_rng(3)
    X = np.column_stack(
        [rng.normal(size=20), rng.integers(0, 5, 20), rng.normal(size=20)]
    )
    return net, X, rng.integers(0, 2, 20)


def test_index_columns_stay_even_when_the_mask_names_them():
    net, X, y = _embedding_net()
    assert gn.attacks.check_perturb(net).tolist() == [True, False, True]
    assert gn.attacks.check_perturb(net, [0, 1]).tolist() == [True, False, False]
    X_adv = gn.attacks.pgd(net, X, y, eps=0.4, steps=3, seed=0, perturb=[0, 1])
    assert _bits(X_adv[:, 1:]) == _bits(X[:, 1:])
    with pytest.raises(ValueError, match=r"nothing to perturb: the inputs selected "
                       r"\(\[1\]\) are all category index columns"):  # fmt: skip
        gn.attacks.fgsm(net, X, y, eps=0.1, perturb=[1])


def test_explain_attack_is_fgsm_bit_for_bit_on_an_embedding_net():
    net, X, y = _embedding_net()
    trace = gn.explain(net, X[:3], y[:3], attack="fgsm", eps=0.2)
    assert _bits(trace["x_adv"]) == _bits(gn.attacks.fgsm(net, X[:3], y[:3], 0.2))


# -- bad masks: what was expected ------------------------------------------------------
@pytest.mark.parametrize(
    "perturb, message",
    [
        ([True, False, True], "perturb as a boolean mask must have 5 entries, one per "
         "network input, got 3"),
        ([False] * 5, "perturb selects no input: all 5 entries of the mask are False"),
        ([], "perturb selects no input: got an empty list"),
        ([0, 5], "perturb index 5 is not an input: the network has 5 inputs, "
         "indices 0..4"),
        ([-1], "perturb index -1 is not an input"),
        ([0.5, 1.0], "perturb must hold booleans (a mask) or integer input indices, "
         "got float64"),
        ([[True] * 5], "perturb must be a boolean mask (one entry per network input) "
         "or a list of input indices"),
    ],
)  # fmt: skip
def test_bad_masks_say_what_was_expected(perturb, message):
    net, (X, y) = _net(), _data(4)
    for call in (
        lambda: gn.attacks.fgsm(net, X, y, 0.1, perturb=perturb),
        lambda: gn.attacks.pgd(net, X, y, 0.1, steps=1, perturb=perturb),
        lambda: gn.robustness_report(net, X, y, eps=0.1, perturb=perturb),
    ):
        with pytest.raises(ValueError) as error:
            call()
        assert message in str(error.value)


def test_config_objects_check_the_mask_when_made():
    with pytest.raises(ValueError, match="perturb selects no input"):
        gn.attacks.FGSM(eps=0.1, perturb=[])
    with pytest.raises(ValueError, match="booleans .a mask. or integer input indices"):
        gn.attacks.PGD(eps=0.1, perturb=["x"])


# -- glassnet attack on a table ------------------------------------------------------------
SHOPS = [f"s{k:02d}" for k in range(20)]  # > 16 categories: embedded


def _rows(n: int, seed: int):
    """x and w numeric (with empty cells), city one-hot, shop embedded, label."""
    rng = np.random.default_rng(seed)
    x, w = rng.normal(0, 3, n), rng.normal(10, 2, n)
    city = rng.integers(0, 3, n)
    shop = rng.integers(0, 20, n)
    score = x + (w - 10) + np.array([-1.0, 0.0, 1.0])[city] + (shop % 2 - 0.5)
    rows = []
    for i in range(n):
        row = [repr(float(x[i])), repr(float(w[i])), "ABC"[city[i]], SHOPS[shop[i]]]
        for j in (0, 1):
            if rng.random() < 0.05:
                row[j] = ""
        rows.append([*row, "yes" if score[i] > 0 else "no"])
    return rows


def _write(path, header, rows):
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)
    return path


@pytest.fixture(scope="module")
def embedded_model(tmp_path_factory):
    folder = tmp_path_factory.mktemp("mask")
    header = ["x", "w", "city", "shop", "label"]
    train = _write(folder / "train.csv", header, _rows(300, 1))
    test = _write(folder / "test.csv", header, _rows(120, 2))
    model = folder / "m.safetensors"
    argv = ["train", train, "--target", "label", "--hidden", "8", "--epochs", "30",
            "--seed", "0", "--quiet", "--out", model]  # fmt: skip
    assert main([str(a) for a in argv]) == 0
    return folder, model, test


def _run(argv, capsys):
    code = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_cli_attack_moves_only_the_numeric_values(embedded_model, capsys):
    folder, model, test = embedded_model
    net, record, _ = tabular.load_model(model)
    assert isinstance(net.layers[0], gn.Embedding)  # shop is embedded
    features = record.features  # x, x (missing), w, w (missing), city=..., shop
    assert "x (missing)" in features and "city=A" in features and "shop" in features
    report_path = folder / "report.json"
    code, out, err = _run(["attack", model, test, "--eps", "0.5,1", "--method",
                           "fgsm,pgd", "--json", report_path], capsys)  # fmt: skip
    assert code == 0, err
    assert (
        f"perturbing 2 of {len(features)} inputs: the numeric columns x, w (eps in "
        "their raw units); kept as given: 2 missing-value indicators, 3 one-hot "
        "inputs, 1 category index"
    ) in out
    report = json.loads(report_path.read_text())
    assert report["perturbed"] == [features.index("x"), features.index("w")]
    for result in report["results"]:
        assert 0 < result["mean_linf"] <= result["eps"] + 1e-6
    # the clean accuracy is evaluate's: the standardisation folded past the Embedding
    code, out_eval, _ = _run(["evaluate", model, test], capsys)
    shown = next(line for line in out_eval.splitlines() if "accuracy " in line)
    assert f"clean accuracy: {shown.split()[1]}" in out


def test_fold_after_embedding_takes_the_raw_columns(embedded_model):
    folder, model, test = embedded_model
    net, record, _ = tabular.load_model(model)
    table = tabular.read_table(str(test))
    raw, _ = record.transform(table.columns, standardize=False)
    z, _ = record.transform(table.columns)
    folded = fold_after_embedding(net, record)
    np.testing.assert_allclose(folded.forward(raw), net.forward(z), atol=1e-5)


def test_cli_attack_on_a_model_without_numeric_columns(tmp_path, capsys):
    rng = np.random.default_rng(5)
    city = rng.integers(0, 3, 60)
    rows = [["ABC"[c], "yes" if c else "no"] for c in city]
    data = _write(tmp_path / "c.csv", ["city", "label"], rows)
    model = tmp_path / "c.safetensors"
    argv = ["train", data, "--target", "label", "--hidden", "4", "--epochs", "2",
            "--quiet", "--out", model]  # fmt: skip
    assert _run(argv, capsys)[0] == 0
    code, out, err = _run(["attack", model, data, "--eps", "0.1"], capsys)
    assert code == 1 and err.count("\n") == 1 and "Traceback" not in err
    assert "this model reads no numeric column (only categories: city)" in err
    assert "nothing to perturb" in err
