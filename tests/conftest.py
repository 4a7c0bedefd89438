"""Suite-wide strictness and shared helpers.

numpy floating-point errors (overflow, division by zero, invalid operations) raise
FloatingPointError inside every test, as warnings do (pyproject: filterwarnings=error):
a stable formula must not need them silenced. Underflow to 0 is normal and allowed. A
test or library function that expects one says so with its own np.errstate.
"""

from __future__ import annotations

import numpy as np
import pytest


@pytest.fixture(autouse=True)
def _numpy_errors_raise():
    with np.errstate(over="raise", divide="raise", invalid="raise", under="ignore"):
        yield
