"""What ``verify`` returns: the answer, and the evidence for it."""

from __future__ import annotations

import builtins
from dataclasses import dataclass, field

import numpy as np

STATUSES = ("holds", "violated", "unknown", "timeout")


@dataclass
class ProofTree:
    """The subproblems branch and bound closed: per leaf, its path of splits and the
    certified lower bound on the margin of each unsafe set there (all > 0 in a proof).

    Input splitting: each step is (input index, side), 0 = lower half, and the leaf
    keeps its box. ReLU splitting: each step is ("relu", block, neuron, phase), phase
    1 = active (z >= 0) and -1 = inactive (z <= 0), the box is the whole region
    (lower and upper None), and "set" names the unsafe set the bound is for."""

    leaves: list = field(default_factory=list)

    def add(self, path, lower, upper, bounds) -> None:
        self.leaves.append(
            {
                "path": [list(step) for step in path],
                "lower": None if lower is None else [float(v) for v in lower],
                "upper": None if upper is None else [float(v) for v in upper],
                "bounds": [float(v) for v in bounds],
            }
        )

    @property
    def n_splits(self) -> int:
        return max(len(self.leaves) - 1, 0)

    def to_dict(self) -> dict:
        return {"n_leaves": len(self.leaves), "leaves": list(self.leaves)}


@dataclass
class VerificationResult:
    """The answer to a property, with its evidence.

    status: "holds" (proved for the model as it computes), "violated" (``counterexample``
    (x, y) checked by the model's own forward pass), "unknown", or "timeout".
    bounds: per unsafe set, the certified lower bound of its margin
    max_i (C y - d)_i over the whole region (> 0 for all: holds); for "unknown" the
    best bound found. proof: the ``ProofTree`` when it holds.
    """

    status: str
    method: str
    counterexample: tuple | None = None
    bounds: np.ndarray | None = None
    proof: ProofTree | None = None
    timings: dict = field(default_factory=dict)
    counts: dict = field(default_factory=dict)
    reason: str = ""
    property: object = None  # the Property decided

    @builtins.property
    def holds(self) -> bool:
        return self.status == "holds"

    def to_dict(self) -> dict:
        x, y = self.counterexample or (None, None)
        return {
            "status": self.status,
            "method": self.method,
            "reason": self.reason,
            "counterexample": None
            if x is None
            else {"x": np.asarray(x).tolist(), "y": np.asarray(y).tolist()},
            "bounds": None if self.bounds is None else np.asarray(self.bounds).tolist(),
            "proof": None if self.proof is None else self.proof.to_dict(),
            "timings": dict(self.timings),
            "counts": dict(self.counts),
        }

    def __str__(self) -> str:
        lines = [f"{self.status} (method: {self.method})"]
        if self.reason:
            lines.append(f"  {self.reason}")
        if self.counterexample is not None:
            x, y = self.counterexample
            lines.append(f"  counterexample x = {np.asarray(x).tolist()}")
            lines.append(f"                 y = {np.asarray(y).tolist()}")
        if self.bounds is not None:
            shown = ", ".join(f"{v:.4g}" for v in np.asarray(self.bounds))
            lines.append(f"  certified margin lower bounds: [{shown}]")
        if self.proof is not None:
            lines.append(f"  proof: {len(self.proof.leaves)} boxes")
        if self.counts:
            lines.append("  " + ", ".join(f"{k}: {v}" for k, v in self.counts.items()))
        if self.timings:
            lines.append(
                "  " + ", ".join(f"{k}: {v:.3f} s" for k, v in self.timings.items())
            )
        return "\n".join(lines)

    summary = __str__
