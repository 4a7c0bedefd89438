"""gn.explain_verification: the bounds behind a verification, checked by hand.

The network is a 2-2-1 ReLU network written out here, on the box [-1, 1]^2:

    z1 = [[1, 1], [1, 1]] x + [1, 0],   a1 = ReLU(z1),   y = a1_1 - a1_2,

so y = ReLU(s + 1) - ReLU(s), s = x1 + x2 in [-2, 2]: y lies in [0, 1]. Interval
bounds give y >= -2; the linear (CROWN) bound gives y >= -1; the truth is y >= 0.
Hence "y <= -1.2" is proved by the linear bound alone, "y <= -0.5" needs splitting,
and "y <= 0.5" is violated (at x = (-1, -1), y = 0).

The text and Markdown snapshots (tests/snapshots/verify_221.*) were read line by line
against the numbers computed by hand in this file. When a rendering change is
intended, regenerate them with GLASSNET_UPDATE_SNAPSHOTS=1 and read the diff.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

import glassnet as gn
from glassnet.cli import main
from glassnet.explaining.numbers import Format
from glassnet.verification.interval import interval_bounds, interval_spec_bounds
from glassnet.verification.linear import linear_spec_bounds
from glassnet.verification.network import read_network
from glassnet.verification.spec import stays_class

SNAPSHOTS = Path(__file__).parent / "snapshots"
W1, B1 = np.array([[1.0, 1.0], [1.0, 1.0]]), np.array([1.0, 0.0])
W2, B2 = np.array([[1.0, -1.0]]), np.array([0.0])
LO, HI = np.array([-1.0, -1.0]), np.array([1.0, 1.0])


def net221():
    net = gn.Sequential(gn.Dense(2, 2, "relu"), gn.Dense(2, 1), dtype="float64")
    net.layers[0].W, net.layers[0].b = W1.copy(), B1.copy()
    net.layers[1].W, net.layers[1].b = W2.copy(), B2.copy()
    return net


def prop(d: float) -> gn.Property:
    """Unsafe: y <= d."""
    return gn.Property(gn.Box(LO, HI), gn.LinearConstraints([[1.0]], [d]))


@pytest.fixture(scope="module")
def proved():
    return gn.explain_verification(net221(), prop(-1.2))


def test_interval_bounds_equal_the_hand_computation(proved):
    Wp, Wn = np.maximum(W1, 0), np.minimum(W1, 0)
    z_lo = Wp @ LO + Wn @ HI + B1  # [-1, -2]
    z_hi = Wp @ HI + Wn @ LO + B1  # [3, 2]
    assert z_lo.tolist() == [-1.0, -2.0] and z_hi.tolist() == [3.0, 2.0]
    np.testing.assert_array_equal(proved["1.z_lo_real"], z_lo)
    np.testing.assert_array_equal(proved["1.z_hi_real"], z_hi)
    # the widened bounds are the engine's, bit for bit, and lie just outside
    pre, post, deltas = interval_bounds(read_network(net221()), LO[None], HI[None])
    np.testing.assert_array_equal(proved["1.z_lo"], pre[0][0][0])
    np.testing.assert_array_equal(proved["1.z_hi"], pre[0][1][0])
    assert np.all(proved["1.z_lo"] < z_lo) and np.all(proved["1.z_lo"] > z_lo - 1e-12)
    assert np.all(proved["1.z_hi"] > z_hi) and np.all(proved["1.z_hi"] < z_hi + 1e-12)
    # the stated widening is what separates the two, and covers the model's rounding
    np.testing.assert_array_equal(proved["1.z_lo_real"] - proved["1.z_lo_omega"],
                                  proved["1.z_lo"])  # fmt: skip
    assert np.all(proved["1.z_lo_omega"] >= deltas[0][0])
    # ReLU of the bounds; then y = a1_1 - a1_2 in [0 - 2, 3 - 0]
    np.testing.assert_array_equal(proved["1.a_lo"], [0.0, 0.0])
    np.testing.assert_allclose(proved["1.a_hi"], [3.0, 2.0], rtol=1e-13)
    np.testing.assert_allclose(proved["y_lo"], [-2.0], rtol=1e-13)
    np.testing.assert_allclose(proved["y_hi"], [3.0], rtol=1e-13)
    assert proved.states == [[[0, 0]]]  # both neurons unstable
    # the interval margin of y - (-1.2): -2 + 1.2
    C, d = np.array([[1.0]]), np.array([-1.2])
    engine = interval_spec_bounds(read_network(net221()), LO[None], HI[None], C, d)
    assert proved["m1.interval"] == engine[0, 0]
    assert abs(proved["m1.interval"] - (-0.8)) < 1e-12


def test_crown_bound_equals_the_hand_computation(proved):
    L, U = np.array([-1.0, -2.0]), np.array([3.0, 2.0])
    s = U / (U - L)  # chord slopes: 3/4 and 1/2
    t = U - s * U  # intercepts: 0.75 and 1
    alpha = np.array([1.0, 0.0])  # U > -L for neuron 1 only
    np.testing.assert_allclose(proved["1.s"], [0.75, 0.5], rtol=1e-13)
    np.testing.assert_allclose(proved["1.s"], s, rtol=1e-13)
    np.testing.assert_allclose(proved["1.t"], t, rtol=1e-12, atol=1e-13)
    assert np.all(proved["1.t"] >= t)  # lifted, never lowered
    np.testing.assert_array_equal(proved["1.alpha"], alpha)
    # c y - d with c = 1, d = -1.2: y carries W2 = [1, -1]; the positive coefficient
    # takes a >= alpha z, the negative one a <= s z + t
    Lam = np.array([1.0 * alpha[0], -1.0 * s[1]])  # [1, -0.5]
    kappa = 1.2 + B2[0] + (-1.0) * t[1]  # 0.2
    kappa += Lam @ B1  # 1.2
    Lam = Lam @ W1  # [0.5, 0.5]
    np.testing.assert_allclose(proved["row1.Lambda"], [Lam], rtol=1e-13)
    assert abs(proved["row1.kappa"] - kappa) < 1e-12
    minimum = np.maximum(Lam, 0) @ LO + np.minimum(Lam, 0) @ HI + kappa  # 0.2
    assert abs(minimum - 0.2) < 1e-12
    assert abs(proved["m1.linear_real"] - minimum) < 1e-12
    engine = linear_spec_bounds(
        read_network(net221()), LO[None], HI[None], [[1.0]], [-1.2]
    )
    assert proved["m1.linear"] == engine[0, 0]
    assert 0.2 - 1e-12 < proved["m1.linear"] < 0.2
    assert proved.set_bounds[0][0] == engine[0, 0]


@pytest.mark.parametrize(
    "d, status", [(-1.2, "holds"), (-0.5, "holds"), (0.5, "violated")]
)
def test_the_verdict_is_verifys(d, status):
    trace = gn.explain_verification(net221(), prop(d))
    result = gn.verify(net221(), prop(d))
    assert trace.status == result.status == status
    assert trace.result.method == result.method


def test_a_split_proof_shows_verifys_proof_tree():
    trace = gn.explain_verification(net221(), prop(-0.5))
    result = gn.verify(net221(), prop(-0.5))
    assert result.method == "bab" and trace.set_bounds[0][0] <= 0
    assert trace.result.proof.to_dict() == result.proof.to_dict()
    text = trace.to_text()
    fmt = Format()
    for leaf in result.proof.leaves:
        box = ", ".join(
            f"[{fmt.number(a)}, {fmt.number(b)}]"
            for a, b in zip(leaf["lower"], leaf["upper"], strict=True)
        )
        assert f"box {box}" in text
    assert f"{len(result.proof.leaves)} boxes cover the region" in text


def test_a_violation_shows_the_counterexample_forward_pass():
    trace = gn.explain_verification(net221(), prop(0.5))
    x, y = trace.result.counterexample
    assert y[0] <= 0.5
    np.testing.assert_allclose(trace["cx.1.z"], [W1 @ x + B1])
    np.testing.assert_allclose(trace["cx.2.a"], net221().predict(np.asarray(x)[None]))
    assert "Counterexample" in trace.to_text()


def test_json_round_trip(proved):
    doc = json.loads(proved.to_json())
    assert doc["status"] == "holds" and doc["result"]["method"] == "linear"
    for key, quantity in proved.quantities.items():
        np.testing.assert_array_equal(np.array(doc["quantities"][key]), quantity.value)
    assert doc["set_bounds"] == [[float(proved.set_bounds[0][0])]]
    assert len(doc["steps"]) == len(proved.steps)


def test_html_and_markdown_write_the_bounds(proved):
    page = proved.to_html()
    assert "<math" in page and "Linear (CROWN) bounds" in page
    assert r"\underline{z}_{1}" in proved.to_markdown()


def test_refuses_large_networks_and_other_layers():
    wide = gn.Sequential(gn.Dense(9, 2, "relu"), gn.Dense(2, 1), dtype="float64")
    box9 = gn.Property(
        gn.Box(np.zeros(9), np.ones(9)), gn.LinearConstraints([[1.0]], [0.0])
    )
    with pytest.raises(gn.InputError, match="at most 8 inputs.*gn.verify"):
        gn.explain_verification(wide, box9)
    deep = gn.Sequential(gn.Dense(2, 40, "relu"), gn.Dense(40, 30, "relu"),
                         gn.Dense(30, 1), dtype="float64")  # fmt: skip
    with pytest.raises(gn.InputError, match="64 neurons, got 2 inputs and 71"):
        gn.explain_verification(deep, prop(0.0))
    smooth = gn.Sequential(gn.Dense(2, 2, "tanh"), gn.Dense(2, 1), dtype="float64")
    with pytest.raises(gn.InputError, match="block 1 uses tanh"):
        gn.explain_verification(smooth, prop(0.0))
    with pytest.raises(gn.InputError, match="needs a gn.Property"):
        gn.explain_verification(net221(), gn.Box(LO, HI))


def check_snapshot(name: str, rendered: str) -> None:
    path = SNAPSHOTS / name
    if os.environ.get("GLASSNET_UPDATE_SNAPSHOTS"):
        path.write_text(rendered, encoding="utf-8")
    assert rendered == path.read_text(encoding="utf-8"), f"{name} changed"


def test_text_snapshot(proved):
    check_snapshot("verify_221.txt", proved.to_text())


def test_markdown_snapshot(proved):
    check_snapshot("verify_221.md", proved.to_markdown())


VNNLIB = """; y <= -1.2 on [-1, 1]^2
(declare-const X_0 Real)
(declare-const X_1 Real)
(declare-const Y_0 Real)
(assert (>= X_0 -1.0))
(assert (<= X_0 1.0))
(assert (>= X_1 -1.0))
(assert (<= X_1 1.0))
(assert (<= Y_0 -1.2))
"""


def test_cli_verify_and_verify_eps(tmp_path, capsys):
    gn.save(net221(), tmp_path / "net.safetensors")
    (tmp_path / "p.vnnlib").write_text(VNNLIB)
    model = str(tmp_path / "net.safetensors")
    out = tmp_path / "proof.json"
    argv = ["explain", "--model", model, "--verify", str(tmp_path / "p.vnnlib")]
    assert main(argv + ["--out", str(out)]) == 0
    doc = json.loads(out.read_text())
    assert (
        doc["status"] == "holds" and abs(doc["quantities"]["m1.linear"] - 0.2) < 1e-12
    )
    capsys.readouterr()
    assert (
        main(["explain", "--model", model, "--input", "1,1", "--verify-eps", "0.25"])
        == 0
    )
    text = capsys.readouterr().out
    assert "gn.verify: holds" in text  # y = 1 at (1, 1) and on the whole ball
    assert main(["explain", "--verify-eps", "0.1"]) == 1
    assert "need --model" in capsys.readouterr().err


def test_a_deeper_float32_network_and_two_regions():
    net = gn.Sequential(gn.Dense(3, 6, "relu"), gn.Dense(6, 5, "relu"),
                        gn.Dense(5, 2), dtype="float32", seed=1)  # fmt: skip
    unsafe = stays_class(0, 2)
    boxes = (gn.Box([0.0] * 3, [0.1] * 3), gn.Box([0.5] * 3, [0.6] * 3))
    trace = gn.explain_verification(net, gn.Property(boxes, unsafe))
    vn = read_network(net)
    for r, box in enumerate(boxes, 1):
        lo, hi = box.lower[None], box.upper[None]
        engine = linear_spec_bounds(vn, lo, hi, unsafe[0].C, unsafe[0].d)[0, 0]
        real = trace[f"r{r}.m1.linear_real"]
        assert trace[f"r{r}.m1.linear"] == engine
        # float32 rounding widens by more than float64's, yet stays small
        assert 0 < real - engine < 1e-4 * (1 + abs(real))
        pre, _, _ = interval_bounds(vn, lo, hi)
        np.testing.assert_array_equal(trace[f"r{r}.3.z_lo"], pre[2][0][0])
    assert trace.status == gn.verify(net, gn.Property(boxes, unsafe)).status
