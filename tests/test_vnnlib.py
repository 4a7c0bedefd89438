"""read_vnnlib: files in the style of the competition's (ACAS Xu's prop_1..prop_10,
MNIST's L-inf balls), read into the Property expected; and refusals naming the line."""

from __future__ import annotations

import numpy as np
import pytest

from glassnet.verification.spec import Property
from glassnet.verification.vnnlib import VnnlibError, read_vnnlib

ACAS_BOUNDS = [
    (0.6, 0.679857769), (-0.5, 0.5), (-0.5, 0.5), (0.45, 0.5), (-0.5, -0.45),
]  # fmt: skip


def declarations(n_x, n_y):
    lines = [f"(declare-const X_{i} Real)" for i in range(n_x)]
    return "\n".join(lines + [f"(declare-const Y_{j} Real)" for j in range(n_y)])


def box_asserts(bounds):
    return "\n".join(
        f"(assert (<= X_{i} {hi!r}))\n(assert (>= X_{i} {lo!r}))"
        for i, (lo, hi) in enumerate(bounds)
    )


def test_acas_prop_1_style_output_above_a_constant():
    text = f"""; ACAS Xu property 1
; Unsafe if COC >= 1500 (scaled)

{declarations(5, 5)}

; Input constraints:
{box_asserts(ACAS_BOUNDS)}

; unsafe if COC >= 1500
(assert (>= Y_0 3.991125645861615))
"""
    prop = read_vnnlib(text, n_inputs=5, n_outputs=5)
    assert isinstance(prop, Property)
    (region,) = prop.regions
    np.testing.assert_array_equal(region.lower, [lo for lo, _ in ACAS_BOUNDS])
    np.testing.assert_array_equal(region.upper, [hi for _, hi in ACAS_BOUNDS])
    (unsafe,) = prop.unsafe
    # y_0 >= c  <=>  -y_0 <= -c
    np.testing.assert_array_equal(unsafe.C, [[-1.0, 0, 0, 0, 0]])
    np.testing.assert_array_equal(unsafe.d, [-3.991125645861615])


def test_acas_prop_2_style_several_asserts_are_one_conjunction():
    text = (
        declarations(5, 5)
        + "\n"
        + box_asserts(ACAS_BOUNDS)
        + """
; unsafe if COC is maximal
(assert (>= Y_0 Y_1))
(assert (>= Y_0 Y_2))
(assert (<= Y_3 Y_0))
(assert (>= Y_0 Y_4))
"""
    )
    prop = read_vnnlib(text)
    (unsafe,) = prop.unsafe
    expected = np.array([[-1, 1, 0, 0, 0], [-1, 0, 1, 0, 0], [-1, 0, 0, 1, 0],
                         [-1, 0, 0, 0, 1]], dtype=float)  # fmt: skip
    np.testing.assert_array_equal(unsafe.C, expected)
    np.testing.assert_array_equal(unsafe.d, np.zeros(4))
    # the meaning: y in the unsafe set iff y_0 is the largest
    Y = np.random.default_rng(0).normal(size=(200, 5))
    np.testing.assert_array_equal(unsafe.contains(Y), Y.argmax(axis=1) == 0)


def test_acas_prop_6_style_disjunction_of_input_boxes_over_several_lines():
    text = (
        declarations(5, 5)
        + """
(assert (or
    (and (>= X_0 -0.129) (<= X_0 0.700)   ; the first box
         (>= X_1 -0.5) (<= X_1 -0.111) (>= X_2 -0.5) (<= X_2 -4.99e-1)
         (>= X_3 -0.5) (<= X_3 0.5) (>= X_4 -0.5) (<= X_4 0.5))
    (and (>= X_0 -0.129) (<= X_0 0.700)
         (>= X_1 0.111) (<= X_1 0.5)
         (>= X_2 -0.5) (<= X_2 -0.499)
         (>= X_3 -0.5) (<= X_3 0.5) (>= X_4 -0.5) (<= X_4 0.5))
))
; unsafe if COC is not minimal
(assert (or
    (and (<= Y_1 Y_0))
    (and (<= Y_2 Y_0))
    (and (<= Y_3 Y_0) (<= Y_4 -1.5E-2))
))
"""
    )
    prop = read_vnnlib(text)
    assert len(prop.regions) == 2
    np.testing.assert_array_equal(
        prop.regions[0].upper, [0.7, -0.111, -0.499, 0.5, 0.5]
    )
    np.testing.assert_array_equal(
        prop.regions[1].lower, [-0.129, 0.111, -0.5, -0.5, -0.5]
    )
    assert len(prop.unsafe) == 3
    np.testing.assert_array_equal(prop.unsafe[0].C, [[-1.0, 1.0, 0, 0, 0]])
    np.testing.assert_array_equal(
        prop.unsafe[2].C, [[-1.0, 0, 0, 1.0, 0], [0, 0, 0, 0, 1.0]]
    )
    np.testing.assert_array_equal(prop.unsafe[2].d, [0.0, -0.015])


def test_mnist_linf_ball_with_an_or_over_the_other_classes():
    rng = np.random.default_rng(3)
    x, eps, label = rng.uniform(size=20), 0.03, 7
    lo, hi = np.clip(x - eps, 0, 1), np.clip(x + eps, 0, 1)
    lines = [declarations(20, 10)]
    lines += [f"(assert (<= X_{i} {float(hi[i])!r}))" for i in range(20)]
    lines += [f"(assert (>= X_{i} {float(lo[i])!r}))" for i in range(20)]
    others = "\n".join(f"  (and (>= Y_{j} Y_{label}))" for j in range(10) if j != label)
    lines.append(f"(assert (or\n{others}\n))")
    prop = read_vnnlib("\n".join(lines), n_inputs=20, n_outputs=10)
    np.testing.assert_array_equal(prop.regions[0].lower, lo)
    np.testing.assert_array_equal(prop.regions[0].upper, hi)
    assert len(prop.unsafe) == 9
    Y = rng.normal(size=(500, 10))
    np.testing.assert_array_equal(prop.violated_by(Y), Y.argmax(axis=1) != label)


def test_a_file_on_disk_and_tighter_of_two_bounds(tmp_path):
    path = tmp_path / "p.vnnlib"
    path.write_text(
        declarations(1, 1)
        + "\n(assert (>= X_0 -1.0))(assert (>= X_0 -0.25))(assert (<= X_0 +2))"
        + "\n(assert (<= 0.5 X_0))\n(assert (<= Y_0 -0.1))"
    )
    prop = read_vnnlib(path)
    assert prop.regions[0].lower.tolist() == [0.5]
    assert prop.regions[0].upper.tolist() == [2.0]
    assert prop.unsafe[0].C.tolist() == [[1.0]] and prop.unsafe[0].d.tolist() == [-0.1]


def test_output_or_combined_with_a_plain_output_assert():
    text = (
        declarations(1, 3)
        + """
(assert (<= X_0 1)) (assert (>= X_0 0))
(assert (<= Y_2 0.0))
(assert (or (and (>= Y_0 Y_1)) (and (>= Y_1 Y_0))))
"""
    )
    prop = read_vnnlib(text)
    assert len(prop.unsafe) == 2
    for unsafe, row in zip(prop.unsafe, ([-1.0, 1.0, 0], [1.0, -1.0, 0]), strict=True):
        np.testing.assert_array_equal(unsafe.C, [[0, 0, 1.0], row])


REFUSALS = [
    ("(declare-const X_1 Int)", "sort Int"),
    ("(assert (<= (+ Y_0 Y_1) 0.5))", "operator '+'"),
    ("(assert (< Y_0 0.5))", "operator '<'"),
    ("(assert (<= Y_0 (* 2 Y_1)))", "operator '*'"),
    ("(assert (or (and (<= X_0 1)) (and (<= Y_0 1))))", "both inputs X and outputs"),
    ("(assert (and (or (<= Y_0 1) (<= Y_1 1))))", "operator 'or'"),
    ("(assert (<= Y_7 0.5))", "Y_7 is not declared"),
    ("(assert (<= X_0 X_1))", "an input can only be compared with a number"),
    ("(assert (<= Y_0 0.5abc))", "neither a declared variable nor a number"),
    ("(check-sat)", "expected (declare-const"),
]


@pytest.mark.parametrize("bad, message", REFUSALS)
def test_refusals_name_the_line_and_the_text(bad, message):
    text = (
        declarations(2, 2)
        + "\n(assert (<= X_0 1)) (assert (>= X_0 0))\n"
        + "(assert (<= X_1 1)) (assert (>= X_1 0))\n; a comment\n"
        + bad
        + "\n(assert (<= Y_0 0))\n"
    )
    line = text.splitlines().index(bad) + 1
    with pytest.raises(VnnlibError) as error:
        read_vnnlib(text)
    text_shown = str(error.value).split(": ")
    assert text_shown[0] == f"line {line}"
    assert text_shown[1] in bad  # the offending expression, as written
    assert message in str(error.value)


def test_missing_bound_out_of_range_and_wrong_widths_are_refused():
    text = declarations(2, 1) + "\n(assert (<= X_0 1)) (assert (>= X_0 0))\n"
    text += "(assert (<= X_1 1))\n(assert (<= Y_0 0))"
    with pytest.raises(VnnlibError, match="lower and an upper bound; missing for X_1"):
        read_vnnlib(text)
    with pytest.raises(VnnlibError, match=r"line 2: .*X_1 is out of range.*1 inputs"):
        read_vnnlib(declarations(2, 1), n_inputs=1)
    ok = declarations(1, 1) + "\n(assert (<= X_0 1)) (assert (>= X_0 0))"
    with pytest.raises(VnnlibError, match="declares 1 outputs Y_j, the network has 3"):
        read_vnnlib(ok + "(assert (<= Y_0 0))", n_outputs=3)
    with pytest.raises(VnnlibError, match="no constraint on the outputs"):
        read_vnnlib(ok)
    with pytest.raises(VnnlibError, match=r"line 4: '\(' is never closed"):
        read_vnnlib(ok + "\n(assert (<= Y_0 0)")
    with pytest.raises(FileNotFoundError, match="no such VNNLIB file"):
        read_vnnlib("missing.vnnlib")
