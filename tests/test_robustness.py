"""robustness_report: on a trained digits network, and its bookkeeping on small cases."""

from __future__ import annotations

import json

import numpy as np
import pytest

import glassnet as gn
from glassnet.robustness.report import predicted_labels, true_labels

EPS = [0.02, 0.05, 0.1, 0.2]


def digits_split(seed=0):
    """sklearn's 8x8 digits, pixels scaled to [0, 1]; 1347 train / 450 test."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    X, y = digits.data / 16.0, digits.target
    perm = np.random.default_rng(seed).permutation(len(X))
    return X[perm[:1347]], y[perm[:1347]], X[perm[1347:]], y[perm[1347:]]


def train_by_hand(net, X, y, epochs=30, lr=1e-2, batch_size=64, seed=0):
    """Minibatch Adam (Kingma and Ba 2014) written out, independent of any fit loop."""
    rng = np.random.default_rng(seed)
    loss = gn.CrossEntropyLoss()
    m = np.zeros_like(net.flat_params)
    v = np.zeros_like(net.flat_params)
    t = 0
    for _ in range(epochs):
        order = rng.permutation(len(X))
        for start in range(0, len(X), batch_size):
            batch = order[start : start + batch_size]
            net.loss_and_grad(X[batch], y[batch], loss=loss, training=True)
            g = net.flat_grads
            t += 1
            m[:] = 0.9 * m + 0.1 * g
            v[:] = 0.999 * v + 0.001 * g * g
            m_hat, v_hat = m / (1 - 0.9**t), v / (1 - 0.999**t)
            net.flat_params -= lr * m_hat / (np.sqrt(v_hat) + 1e-8)
    return net


@pytest.fixture(scope="module")
def digits_net():
    X_train, y_train, X_test, y_test = digits_split()
    net = gn.Sequential(gn.Dense(64, 64, "relu"), gn.Dense(64, 10, "softmax"), seed=0)
    train_by_hand(net, X_train, y_train)
    return net, X_test, y_test


@pytest.fixture(scope="module")
def digits_report(digits_net):
    net, X, y = digits_net
    return gn.robustness_report(net, X, y, eps=EPS, clip=(0, 1), pgd_steps=10, seed=0)


def test_digits_network_is_accurate_but_fragile(digits_net, digits_report):
    net, X, y = digits_net
    clean = float((net.forward(X).argmax(axis=1) == y).mean())
    assert digits_report.clean_accuracy == pytest.approx(clean)
    assert clean > 0.95
    # an imperceptible budget on 0..1 pixels already costs accuracy; 0.2 destroys it
    assert digits_report.accuracy("fgsm", 0.2) < 0.2
    assert digits_report.accuracy("pgd", 0.2) < 0.05


def test_digits_pgd_below_fgsm_below_clean_at_each_eps(digits_report):
    r = digits_report
    for eps in EPS:
        assert r.accuracy("pgd", eps) <= r.accuracy("fgsm", eps) <= r.clean_accuracy


def test_digits_accuracy_falls_as_eps_grows(digits_report):
    for attack in ("fgsm", "pgd"):
        accuracies = [digits_report.accuracy(attack, eps) for eps in EPS]
        assert all(
            a > b for a, b in zip(accuracies[:-1], accuracies[1:], strict=True)
        ), accuracies


def test_digits_report_matches_attacks_run_directly(digits_net, digits_report):
    """Accuracy, norms and flipped examples recomputed from gn.attacks by hand."""
    net, X, y = digits_net
    X32 = X.astype(np.float32)
    clean_pred = net.forward(X32).argmax(axis=1)
    X_adv = gn.attacks.fgsm(net, X32, y, 0.1, clip=(0, 1))
    adv_pred = net.forward(X_adv).argmax(axis=1)
    result = next(
        r for r in digits_report.results if (r.attack, r.eps) == ("fgsm", 0.1)
    )
    assert result.accuracy == pytest.approx((adv_pred == y).mean())
    D = (X_adv - X32).astype(np.float64)
    assert result.mean_linf == pytest.approx(np.abs(D).max(axis=1).mean())
    assert result.mean_l2 == pytest.approx(np.linalg.norm(D, axis=1).mean())
    assert result.mean_linf <= 0.1 + 1e-6
    flipped = np.flatnonzero((clean_pred == y) & (adv_pred != y))
    assert result.n_flipped == flipped.size > 0
    assert [e["index"] for e in result.examples] == flipped[:5].tolist()
    for e in result.examples:
        assert e["true"] == y[e["index"]] == e["clean"] != e["adversarial"]


def test_report_text_and_dict(digits_report):
    text = str(digits_report)
    assert "clean accuracy: " + f"{digits_report.clean_accuracy:.4f}" in text
    for r in digits_report.results:
        assert f"{r.accuracy:.4f}" in text
    assert "flipped by pgd at eps=0.2" in text
    d = json.loads(json.dumps(digits_report.to_dict()))
    assert (
        d["clip"] == [0.0, 1.0]
        and d["n_samples"] == 450
        and d["loss"] == "cross_entropy"
    )
    assert len(d["results"]) == 8
    assert digits_report.eps == EPS and digits_report.attacks == ["fgsm", "pgd"]
    with pytest.raises(KeyError, match="no result for attack='pgd', eps=0.3"):
        digits_report.accuracy("pgd", 0.3)


def test_report_is_reproducible_and_leaves_grads(digits_net):
    net, X, y = digits_net
    before = net.flat_grads.copy()
    a = gn.robustness_report(net, X[:50], y[:50], eps=0.1, attacks="pgd", clip=(0, 1))
    b = gn.robustness_report(net, X[:50], y[:50], eps=0.1, attacks="pgd", clip=(0, 1))
    assert a.to_dict() == b.to_dict()
    np.testing.assert_array_equal(net.flat_grads, before)


# -- adversarial training on digits ---------------------------------------------------
@pytest.fixture(scope="module")
def digits_fit_pair():
    """The same network trained by net.fit twice, the second time with FGSM eps=0.1."""
    X_train, y_train, X_test, y_test = digits_split()
    nets = {}
    for name, adversarial in (
        ("standard", None),
        ("adversarial", gn.attacks.FGSM(eps=0.1, mix=0.5, clip=(0, 1))),
    ):
        net = gn.Sequential(
            gn.Dense(64, 64, "relu"), gn.Dense(64, 10, "softmax"), seed=0
        )
        net.fit(
            X_train, y_train, optimizer=gn.Adam(lr=0.01), epochs=30, batch_size=64,
            seed=0, verbose=0, adversarial=adversarial,
        )  # fmt: skip
        nets[name] = net
    return nets, X_test, y_test


def test_adversarial_training_raises_fgsm_accuracy_and_keeps_clean(digits_fit_pair):
    nets, X, y = digits_fit_pair
    before, after = (
        gn.robustness_report(nets[k], X, y, eps=[0.1], attacks="fgsm", clip=(0, 1))
        for k in ("standard", "adversarial")
    )
    # measured: FGSM accuracy at eps = 0.1 goes from about 0.42 to about 0.80
    assert after.accuracy("fgsm", 0.1) >= before.accuracy("fgsm", 0.1) + 0.20
    # measured: clean accuracy about 0.98 both times
    assert abs(after.clean_accuracy - before.clean_accuracy) <= 0.03
    assert after.clean_accuracy > 0.95


# -- label reading -------------------------------------------------------------------
def test_labels_for_each_kind_of_output():
    ce, bce = gn.CrossEntropyLoss(), gn.BinaryCrossEntropyLoss()
    A = np.array([[0.1, 0.7, 0.2], [0.5, 0.2, 0.3]])
    assert predicted_labels(A, ce).tolist() == [1, 0]
    assert true_labels(np.eye(3)[[2, 0]], ce).tolist() == [2, 0]
    assert predicted_labels(np.array([[0.4], [0.6]]), bce).tolist() == [0, 1]
    logits = gn.BinaryCrossEntropyLoss(from_logits=True)
    assert predicted_labels(np.array([[-0.1], [0.2]]), logits).tolist() == [0, 1]
    multi = predicted_labels(np.array([[0.9, 0.2], [0.1, 0.6]]), bce)
    assert multi.tolist() == [[1, 0], [0, 1]]
    assert predicted_labels(np.array([[0.3], [0.8]]), gn.MSELoss()).tolist() == [0, 1]


def test_multilabel_sigmoid_report_counts_a_sample_correct_only_if_all_labels_are():
    net = gn.Sequential(gn.Dense(2, 2, "sigmoid"), dtype="float64", seed=0)
    net.layers[0].W = [[5.0, 0.0], [0.0, 5.0]]
    net.layers[0].b = [-2.5, -2.5]
    X = np.array([[0.9, 0.1], [0.1, 0.9], [0.9, 0.9], [0.52, 0.9]])
    Y = np.array([[1, 0], [0, 1], [1, 1], [1, 1]], dtype=float)
    report = gn.robustness_report(net, X, Y, eps=[0.05], attacks=["fgsm"], clip=(0, 1))
    assert report.loss == "binary_crossentropy"
    assert report.clean_accuracy == 1.0
    # only the last sample's first pixel is within 0.05 of the 0.5 boundary
    assert report.accuracy("fgsm", 0.05) == 0.75
    assert report.results[0].examples == [
        {"index": 3, "true": [1, 1], "clean": [1, 1], "adversarial": [0, 1]}
    ]


# -- bad input -------------------------------------------------------------------------
def test_report_bad_input_messages():
    net = gn.Sequential(gn.Dense(2, 3, "softmax"), seed=0)
    X, y = np.full((3, 2), 0.5), [0, 1, 2]
    with pytest.raises(ValueError, match="eps must list at least one budget"):
        gn.robustness_report(net, X, y, eps=[])
    with pytest.raises(ValueError, match=r"each eps must be in \[0, inf\], got -0.1"):
        gn.robustness_report(net, X, y, eps=[0.1, -0.1])
    with pytest.raises(
        ValueError, match=r"unknown attack 'cw'; expected one of \['fgsm', 'pgd'\]"
    ):
        gn.robustness_report(net, X, y, attacks=["fgsm", "cw"])
    with pytest.raises(ValueError, match="pgd_steps must be a positive integer, got 0"):
        gn.robustness_report(net, X, y, pgd_steps=0)
    with pytest.raises(ValueError, match="step must be > 0, got 0"):
        gn.robustness_report(net, X, y, pgd_step=0)
    with pytest.raises(
        ValueError, match=r"lo < hi, got \(1, 0\); the bounds are reversed"
    ):
        gn.robustness_report(net, X, y, clip=(1, 0))
    with pytest.raises(
        ValueError, match="X and y have different numbers of samples: 3 and 2"
    ):
        gn.robustness_report(net, X, y[:2])


def test_report_pgd_is_the_attack_with_the_same_seed(digits_net):
    net, X, y = digits_net
    X, y = X[:100].astype(np.float32), y[:100]
    report = gn.robustness_report(
        net, X, y, eps=[0.05, 0.1], attacks="pgd", clip=(0, 1), pgd_steps=5, seed=7
    )
    for eps in (0.05, 0.1):
        X_adv = gn.attacks.pgd(net, X, y, eps, steps=5, clip=(0, 1), seed=7)
        expected = (net.forward(X_adv).argmax(axis=1) == y).mean()
        assert report.accuracy("pgd", eps) == pytest.approx(expected)


# -- pictures ----------------------------------------------------------------------------
def test_plot_accuracy_vs_eps_draws_each_report_and_attack(digits_report, tmp_path):
    from glassnet.robustness.report import plot_accuracy_vs_eps

    path = tmp_path / "acc.png"
    fig = plot_accuracy_vs_eps({"a": digits_report, "b": digits_report}, path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    lines = fig.axes[0].get_lines()
    assert [line.get_label() for line in lines] == [
        "a FGSM",
        "a PGD",
        "b FGSM",
        "b PGD",
    ]
    x, acc = lines[1].get_data()
    assert list(x) == [0.0, *EPS]
    assert list(acc) == [digits_report.clean_accuracy] + [
        digits_report.accuracy("pgd", e) for e in EPS
    ]


def test_plot_adversarial_examples_titles_are_the_predictions(digits_net, tmp_path):
    from glassnet.robustness.report import plot_adversarial_examples

    net, X, y = digits_net
    X_adv = gn.attacks.fgsm(net, X, y, 0.2, clip=(0, 1))
    path = tmp_path / "examples.png"
    fig = plot_adversarial_examples(net, X, X_adv, y, [0, 3, 5], path)
    assert path.exists() and len(fig.axes) == 9
    clean, adv = net.forward(X[[0, 3, 5]]), net.forward(X_adv[[0, 3, 5]])
    for col in range(3):
        assert fig.axes[col].get_title().startswith(f"clean: {clean[col].argmax()} (")
        assert fig.axes[3 + col].get_title().startswith(f"adv: {adv[col].argmax()} (")
    with pytest.raises(ValueError, match="inputs of 3 features are not a square image"):
        small = gn.Sequential(gn.Dense(3, 2, "softmax"), seed=0)
        plot_adversarial_examples(small, np.zeros((1, 3)), np.zeros((1, 3)), [0], [0])


# -- glassnet attack ---------------------------------------------------------------------
@pytest.fixture(scope="module")
def digits_model_file(digits_net, tmp_path_factory):
    net = digits_net[0]
    path = tmp_path_factory.mktemp("model") / "digits.safetensors"
    gn.save(net, path)
    return path


def test_cli_attack_digits_prints_the_report_and_saves_figures(
    digits_model_file, tmp_path, capsys
):
    from sklearn.datasets import load_digits

    from glassnet.cli import main

    code = main(
        ["attack", str(digits_model_file), "--dataset", "digits", "--limit", "300",
         "--eps", "0.05,0.1", "--method", "fgsm,pgd", "--pgd-steps", "5",
         "--plot", str(tmp_path / "fig"), "--json", str(tmp_path / "r.json")]
    )  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0
    digits = load_digits()
    expected = gn.robustness_report(
        gn.load(digits_model_file),
        digits.data[:300] / 16.0,
        digits.target[:300],
        eps=[0.05, 0.1],
        clip=(0, 1),
        pgd_steps=5,
        seed=0,
    )
    assert str(expected) in out
    assert json.loads((tmp_path / "r.json").read_text()) == expected.to_dict()
    for name in ("robustness_accuracy.png", "robustness_examples.png"):
        assert (tmp_path / "fig" / name).read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize(
    "extra, code, message",
    [
        (["--eps", "0.1,x"], 2, "argument --eps: expected comma-separated numbers"),
        (["--eps", "-0.1"], 1, r"each eps must be in [0, inf], got -0.1"),
        (["--clip", "1,0"], 1, "the bounds are reversed"),
        (["--clip", "0"], 2, "expected LO,HI (two numbers) or 'none'"),
        (["--method", "fgsm,cw"], 1, "unknown attack 'cw'"),
        (["--pgd-steps", "0"], 1, "pgd_steps must be a positive integer, got 0"),
        (["--limit", "0"], 1, "--limit must be a positive integer, got 0"),
    ],
)
def test_cli_attack_bad_options(digits_model_file, capsys, extra, code, message):
    from glassnet.cli import main

    args = ["attack", str(digits_model_file), "--dataset", "digits", "--limit", "20"]
    assert main(args + extra) == code
    err = capsys.readouterr().err
    assert message in err
    assert "Traceback" not in err


def test_cli_attack_data_sources(digits_model_file, tmp_path, capsys):
    from glassnet.cli import main

    model = str(digits_model_file)
    cases = [
        ([model], "no data: give DATA --target COLUMN or --dataset digits"),
        ([model, "d.csv"], "DATA (d.csv) needs --target COLUMN"),
        ([model, "d.csv", "--target", "y"], "no such data file: d.csv"),
        ([model, "d.csv", "--dataset", "digits"], "either DATA --target COLUMN or --dataset"),
        ([str(tmp_path / "missing.safetensors"), "--dataset", "digits"], "missing.safetensors"),
    ]  # fmt: skip
    for args, message in cases:
        assert main(["attack", *args]) == 1
        err = capsys.readouterr().err
        assert err.startswith("glassnet attack: error: ") and message in err, err
