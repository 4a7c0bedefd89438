"""Suite-wide strictness and shared helpers.

numpy floating-point errors (overflow, division by zero, invalid operations) raise
FloatingPointError inside every test, as warnings do (pyproject: filterwarnings=error):
a stable formula must not need them silenced. Underflow to 0 is normal and allowed. A
test or library function that expects one says so with its own np.errstate.
"""

from __future__ import annotations

import signal

import numpy as np
import pytest


@pytest.fixture(autouse=True)
def _numpy_errors_raise():
    with np.errstate(over="raise", divide="raise", invalid="raise", under="ignore"):
        yield


@pytest.fixture(autouse=True)
def _sigint_as_in_a_terminal():
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


@pytest.fixture(params=["numpy", "kernels"])
def backend(request):
    """Run the test twice: with the numpy code, and with the compiled loops of
    ``glassnet.kernels`` (which must give bitwise the same numbers)."""
    from glassnet import kernels

    if request.param == "kernels":
        pytest.importorskip(
            "numba", reason="numba is in the dev extra (glassnet[fast])"
        )
    kernels.enable(request.param == "kernels")
    try:
        yield request.param
    finally:
        kernels.enable(None)
