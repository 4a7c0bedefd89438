"""The network as verification reads it: blocks z = W a + b, a = g(z), in float64.

A ``Sequential`` becomes a list of ``Block``s. Dropout is the identity at inference;
an activation layer after an identity Dense becomes that block's activation; a final
Softmax is dropped, so the property speaks of the logits (the argmax is the same).
Anything else is refused, naming the layer.

Rounding. The model computes in its own dtype (float32 or float64), so its output is
not the real-valued network's. Each block is read as

    z = W a + b + e,   |e| <= delta = gamma_n (|W| |a| + |b|) + |W| f

where gamma_n = (n + 3) u / (1 - (n + 3) u) is the classical bound on a dot product of
length n plus the bias addition and the input's own rounding to the model's dtype (u
= eps / 2 of that dtype, Higham, Accuracy and Stability, 3.1), and f bounds the
rounding of the previous activation (exact for ReLU, one rounding for LeakyReLU, a few
ulps for Sigmoid and Tanh). Bounds on this perturbed network hold for the model as
glassnet evaluates it, in any summation order.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from ..errors import InputError

MONOTONE = ("identity", "relu", "leaky_relu", "sigmoid", "tanh")


@dataclass
class Block:
    """z = W a + b (W: (out, in), b: (out,)) then a' = g(z) for g in ``MONOTONE``."""

    W: np.ndarray
    b: np.ndarray
    activation: str = "identity"
    slope: float = 0.0  # the negative slope of a leaky ReLU

    def g(self, Z: np.ndarray) -> np.ndarray:
        """The activation in float64."""
        if self.activation == "relu":
            return np.maximum(Z, 0.0)
        if self.activation == "leaky_relu":
            return np.where(Z > 0, Z, self.slope * Z)
        if self.activation == "sigmoid":
            return 0.5 * (1.0 + np.tanh(0.5 * Z))  # the same function, no overflow
        if self.activation == "tanh":
            return np.tanh(Z)
        return Z

    def activation_error(self, amax: np.ndarray, u: float) -> np.ndarray:
        """|fl(g(z)) - g(z)| in the model's dtype, for |g(z)| <= amax."""
        if self.activation == "leaky_relu":
            return u * amax
        if self.activation in ("sigmoid", "tanh"):
            # exp or tanh and two more operations, each within a few ulps
            return 16 * u * amax + 1e-300
        return np.zeros_like(amax)


@dataclass
class VerifiedNetwork:
    """The blocks, the model's unit roundoff u, and whether a final Softmax was dropped."""

    blocks: list[Block]
    u: float
    dropped_softmax: bool
    n_inputs: int
    n_outputs: int
    _single: VerifiedNetwork | None = field(default=None, repr=False, compare=False)

    def single(self) -> VerifiedNetwork:
        """The same blocks in float32, made once: for searches whose result is
        recomputed in float64 before anything is concluded from it (the slope
        ascent), at half the memory traffic of float64."""
        if self._single is None:
            blocks = [
                replace(b, W=b.W.astype(np.float32), b=b.b.astype(np.float32))
                for b in self.blocks
            ]
            self._single = replace(self, blocks=blocks)
        return self._single

    def forward(self, X: np.ndarray) -> np.ndarray:
        """The real-valued network in float64, for search (never for a verdict)."""
        A = np.asarray(X, dtype=np.float64)
        for block in self.blocks:
            A = block.g(A @ block.W.T + block.b)
        return A

    def forward_grad(self, X: np.ndarray, dY: np.ndarray):
        """(Y, dY/dX applied to dY) in float64: the outputs and the input gradient."""
        A, cache = np.asarray(X, dtype=np.float64), []
        for block in self.blocks:
            Z = A @ block.W.T + block.b
            cache.append((Z, block))
            A = block.g(Z)
        Y, d = A, dY
        for Z, block in reversed(cache):
            d = d * _derivative(block, Z)
            d = d @ block.W
        return Y, d

    def gamma(self, n: int) -> float:
        """gamma_(n+3) of the model's dtype (see the module docstring)."""
        k = (n + 3) * self.u
        return k / (1.0 - k)


def _derivative(block: Block, Z):
    kind = block.activation
    if kind == "relu":
        return (Z > 0).astype(np.float64)
    if kind == "leaky_relu":
        return np.where(Z > 0, 1.0, block.slope)
    if kind == "sigmoid":
        s = block.g(Z)
        return s * (1.0 - s)
    if kind == "tanh":
        return 1.0 - np.tanh(Z) ** 2
    return np.ones_like(Z)


def read_network(net) -> VerifiedNetwork:
    """The blocks of a ``gn.Sequential``; unsupported layers raise ``InputError``."""
    from ..nn.layers import ActivationLayer, Dense, Dropout

    layers = getattr(net, "layers", None)
    if layers is None:
        raise InputError(f"verify needs a gn.Sequential, got {type(net).__name__}")
    blocks: list[Block] = []
    dropped = False
    last = len(layers) - 1
    for i, layer in enumerate(layers):
        if isinstance(layer, Dropout):
            continue
        if isinstance(layer, Dense):
            W = np.asarray(layer.W, dtype=np.float64)
            b = layer.b
            b = np.zeros(W.shape[0]) if b is None else np.asarray(b, np.float64)
            blocks.append(Block(W, b))
            dropped |= _set_activation(blocks[-1], layer.activation, i, i == last)
        elif isinstance(layer, ActivationLayer):
            if not blocks or blocks[-1].activation != "identity":
                n = blocks[-1].W.shape[0] if blocks else net.in_features
                blocks.append(Block(np.eye(n), np.zeros(n)))
            dropped |= _set_activation(blocks[-1], layer.activation, i, i == last)
        else:
            raise InputError(
                f"verify supports Dense, ActivationLayer and Dropout; layer {i} is "
                f"{layer!r}"
            )
    if not blocks:
        raise InputError("verify needs a network with at least one Dense layer")
    u = float(np.finfo(np.dtype(net.dtype)).eps) / 2
    return VerifiedNetwork(
        blocks, u, dropped, blocks[0].W.shape[1], blocks[-1].W.shape[0]
    )


def _set_activation(block: Block, activation, index: int, is_last: bool) -> bool:
    name = activation.name
    if name == "softmax" and is_last:
        return True  # verify the logits: argmax(softmax(z)) = argmax(z)
    if name not in MONOTONE:
        raise InputError(
            f"verify supports the activations {', '.join(MONOTONE)} (and a final "
            f"softmax); layer {index} uses {name}"
        )
    block.activation = name
    block.slope = float(getattr(activation, "negative_slope", 0.0))
    return False


def model_outputs(net, X: np.ndarray, dropped_softmax: bool) -> np.ndarray:
    """The model's own outputs for X in its dtype (logits when a Softmax was dropped),
    by its plain forward pass."""
    X = np.asarray(X, dtype=net.dtype)
    if not dropped_softmax:
        return np.asarray(net.predict(X), dtype=np.float64)
    outs = net.forward(X, return_all=True)
    last = outs[-1]
    Z = last["Z"] if last["Z"] is not None else outs[-2]["A"]
    return np.array(Z, dtype=np.float64)
