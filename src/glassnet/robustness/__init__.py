"""Robustness: adversarial attacks (``attacks``: FGSM, PGD, the adversarial-training
step) and the accuracy-against-eps report (``report``)."""

from . import attacks
from .report import (
    AttackResult,
    RobustnessReport,
    plot_accuracy_vs_eps,
    plot_adversarial_examples,
    robustness_report,
)

__all__ = [
    "AttackResult",
    "RobustnessReport",
    "attacks",
    "plot_accuracy_vs_eps",
    "plot_adversarial_examples",
    "robustness_report",
]
