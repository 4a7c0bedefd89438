"""Verification: the network's equations carried over whole input regions.

Where an attack tries points, verification bounds every neuron over a set of
inputs and either proves that the output can never cross a line, or returns a
concrete input that crosses it, checked by a plain forward pass.
"""

from .certified import certified_accuracy, certified_mask, pgd_accuracy
from .milp import exact_max, relaxed_max
from .result import ProofTree, VerificationResult
from .spec import (
    Box,
    LinearConstraints,
    Property,
    linf_ball,
    stays_class,
    stays_in_classes,
)
from .verify import verify, verify_robust
from .vnnlib import read_vnnlib, write_vnnlib

__all__ = [
    "Box",
    "LinearConstraints",
    "ProofTree",
    "Property",
    "VerificationResult",
    "certified_accuracy",
    "certified_mask",
    "exact_max",
    "linf_ball",
    "pgd_accuracy",
    "read_vnnlib",
    "relaxed_max",
    "stays_class",
    "stays_in_classes",
    "verify",
    "verify_robust",
    "write_vnnlib",
]
