"""write_vnnlib: a Property written as VNNLIB and read back is the same property, to
the last bit of every number; rows the subset cannot state are refused, naming them;
the file is written whole or not at all."""

from __future__ import annotations

import re

import numpy as np
import pytest

import glassnet as gn
from glassnet.errors import InputError
from glassnet.verification import (
    Box,
    LinearConstraints,
    Property,
    stays_class,
    stays_in_classes,
)
from glassnet.verification.vnnlib import read_vnnlib, write_vnnlib


def assert_same_property(a: Property, b: Property):
    assert len(a.regions) == len(b.regions) and len(a.unsafe) == len(b.unsafe)
    for p, q in zip(a.regions, b.regions, strict=True):
        np.testing.assert_array_equal(p.lower, q.lower)
        np.testing.assert_array_equal(p.upper, q.upper)
    for u, v in zip(a.unsafe, b.unsafe, strict=True):
        np.testing.assert_array_equal(u.C, v.C)
        np.testing.assert_array_equal(u.d, v.d)


def random_box(rng, n, scale):
    # numbers of every size and no short decimal: the shortest positional form
    # must still read back as the same float64
    x = rng.normal(size=n) * scale
    eps = rng.uniform(0, 1, size=n) * scale
    return Box(x - eps, x + eps)


@pytest.mark.parametrize("scale", [1e-9, 1e-3, 1.0, 1e7])
def test_l_inf_ball_and_stays_class_round_trip_bitwise(scale):
    rng = np.random.default_rng(int(-np.log10(scale) + 20))
    x = rng.uniform(size=30) * scale
    box = gn.linf_ball(x, 0.03 * scale, clip=(0.0, scale))
    prop = Property(box, stays_class(7, 10))
    text = write_vnnlib(prop)
    assert text.count("(and ") == 9
    assert not re.search(r"\d[eE][+-]?\d", text)  # positional decimals only
    assert_same_property(read_vnnlib(text, n_inputs=30, n_outputs=10), prop)


def test_several_regions_several_unsafe_sets_and_constants_round_trip():
    rng = np.random.default_rng(0)
    regions = tuple(random_box(rng, 5, 3.0) for _ in range(3))
    unsafe = (
        LinearConstraints([[1, 0, 0, 0, 0], [0, 0, -1, 0, 0]], [0.1, -2.5e-5]),
        LinearConstraints([[0, 0, 0, -1, 1]], [0.0]),
        *stays_in_classes([0, 2], 5),
    )
    prop = Property(regions, unsafe)
    back = read_vnnlib(write_vnnlib(prop), n_inputs=5, n_outputs=5)
    assert_same_property(back, prop)
    Y = rng.normal(size=(1000, 5))
    np.testing.assert_array_equal(back.violated_by(Y), prop.violated_by(Y))


def test_a_file_read_by_the_reader_is_written_back_as_the_same_property(tmp_path):
    text = """; ACAS Xu-like: output 0 not minimal, on two boxes
    (declare-const X_0 Real) (declare-const X_1 Real)
    (declare-const Y_0 Real) (declare-const Y_1 Real) (declare-const Y_2 Real)
    (assert (or (and (>= X_0 -0.3) (<= X_0 0.1) (>= X_1 0.2) (<= X_1 0.25))
                (and (>= X_0 0.5) (<= X_0 0.6) (>= X_1 -1) (<= X_1 1))))
    (assert (<= Y_0 Y_1)) (assert (<= Y_0 Y_2)) (assert (>= Y_2 -7.125))
    """
    prop = read_vnnlib(text)
    path = tmp_path / "p.vnnlib"
    written = write_vnnlib(prop, path)
    assert path.read_text(encoding="utf-8") == written
    assert_same_property(read_vnnlib(path), prop)


@pytest.mark.parametrize(
    "C, d, what",
    [
        ([[2.0, 0.0]], [1.0], "[2.0, 0.0] . y <= 1.0"),
        ([[1.0, -1.0]], [0.5], "[1.0, -1.0] . y <= 0.5"),
        ([[1.0, 1.0]], [0.0], "[1.0, 1.0] . y <= 0.0"),
        ([[0.0, 0.0]], [1.0], "[0.0, 0.0] . y <= 1.0"),
    ],
)
def test_rows_outside_the_subset_are_refused_naming_them(C, d, what, tmp_path):
    ok = LinearConstraints([[0.0, 1.0]], [3.0])
    prop = Property(Box([0.0], [1.0]), (ok, LinearConstraints(C, d)))
    path = tmp_path / "p.vnnlib"
    path.write_text("kept")
    with pytest.raises(InputError, match=r"unsafe set 1, row 0: " + re.escape(what)):
        write_vnnlib(prop, path)
    assert path.read_text() == "kept"  # nothing half-written over the user's file


def test_not_a_property_is_a_type_error():
    with pytest.raises(TypeError, match="needs a Property, got dict"):
        write_vnnlib({"regions": []})
