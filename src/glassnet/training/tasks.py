"""What a network's outputs mean: class scores, a probability, or numbers.

The fit loop, ``evaluate`` and ``predict_classes`` need the same conventions to turn
outputs A and prepared targets Y into class labels:

- "multiclass": k >= 2 outputs scored per class (softmax, or a cross-entropy loss):
  label = argmax_j a_j, probabilities = softmax output (softmax(z) for logits).
- "binary": one output read as P(class 1) (sigmoid or step, a binary cross-entropy
  loss): label = 1 if a >= 0.5 (z >= 0 for logits) else 0.
- "multilabel": k >= 2 independent sigmoid outputs (binary cross-entropy): each
  output thresholded on its own.
- "regression": anything else (e.g. identity output with mse): no labels.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..nn.activations import Sigmoid, Softmax, Step
from ..nn.losses import BinaryCrossEntropyLoss, CrossEntropyLoss, Loss

KINDS = ("multiclass", "binary", "multilabel", "regression")


@dataclass(frozen=True)
class OutputTask:
    """How to read outputs A of shape (n, k) as labels and probabilities."""

    kind: str
    n_outputs: int
    from_logits: bool = False

    @property
    def is_classification(self) -> bool:
        return self.kind != "regression"

    @property
    def threshold(self) -> float:
        return 0.0 if self.from_logits else 0.5

    def labels(self, A: np.ndarray) -> np.ndarray:
        """Class labels from outputs: (n,) ints, or (n, k) 0/1 for multilabel."""
        if self.kind == "multiclass":
            return A.argmax(axis=1)
        if self.kind == "binary":
            return (A[:, 0] >= self.threshold).astype(np.int64)
        if self.kind == "multilabel":
            return (A >= self.threshold).astype(np.int64)
        raise ValueError(
            "this network's outputs are not class scores (a regression output: "
            "identity/relu/tanh with mse); class labels need a softmax or sigmoid "
            "output, or a cross-entropy loss"
        )

    def true_labels(self, Y: np.ndarray) -> np.ndarray:
        """Class labels from prepared targets Y (one-hot rows, or 0/1 columns)."""
        if self.kind == "multiclass":
            return Y.argmax(axis=1)
        if self.kind == "binary":
            return (Y[:, 0] >= 0.5).astype(np.int64)
        if self.kind == "multilabel":
            return (Y >= 0.5).astype(np.int64)
        return self.labels(Y)  # raises the regression error

    def probabilities(self, A: np.ndarray) -> np.ndarray:
        """Class probabilities: (n, C) rows summing to 1, or (n, k) for multilabel."""
        if self.kind == "multiclass":
            if not self.from_logits:
                return A
            E = np.exp(A - A.max(axis=1, keepdims=True))  # softmax(z), no overflow
            return E / E.sum(axis=1, keepdims=True)
        if self.kind in ("binary", "multilabel"):
            P = Sigmoid().forward(A) if self.from_logits else A
            if self.kind == "multilabel":
                return P
            return np.concatenate([1.0 - P, P], axis=1)  # columns P(0), P(1)
        raise ValueError(
            "predict_proba needs class scores: a softmax or sigmoid output, or a "
            "cross-entropy loss with from_logits=True (this network's output is "
            "regression-like)"
        )


def output_task(net, loss: Loss | None = None) -> OutputTask:
    """The task of ``net``'s outputs, from its output activation and the loss."""
    k = net.out_features
    activation = net.layers[-1].output_activation
    from_logits = bool(loss is not None and loss.from_logits)
    if isinstance(loss, CrossEntropyLoss) or isinstance(activation, Softmax):
        return OutputTask(
            "multiclass", k, from_logits and isinstance(loss, CrossEntropyLoss)
        )
    if isinstance(loss, BinaryCrossEntropyLoss) or isinstance(
        activation, (Sigmoid, Step)
    ):
        logits = from_logits and isinstance(loss, BinaryCrossEntropyLoss)
        return OutputTask("binary" if k == 1 else "multilabel", k, logits)
    return OutputTask("regression", k)
