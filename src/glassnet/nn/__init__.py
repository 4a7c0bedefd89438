"""The equations: the neuron, activations, dense layers, losses, initialisers and
``Sequential``, the network that chains them (z = W a + b, a = g(z), layer after
layer, and backpropagation by the chain rule).

These modules import only numpy, ``glassnet.errors``, ``glassnet.validation`` and the
machine tuning in ``glassnet._fast``; ``Sequential.fit/predict/evaluate`` hand over to
``glassnet.training`` (the one declared exception, in ``network.py``).
"""

from .activations import (
    ACTIVATIONS,
    ELU,
    GELU,
    Activation,
    Identity,
    LeakyReLU,
    ReLU,
    Sigmoid,
    Softmax,
    Softplus,
    Step,
    Tanh,
    get_activation,
)
from .embedding import Embedding
from .init import INITIALIZERS, get_initializer
from .layers import ActivationLayer, Dense, Dropout, Layer
from .losses import (
    LOSSES,
    BinaryCrossEntropyLoss,
    CrossEntropyLoss,
    Loss,
    MSELoss,
    get_loss,
)
from .network import Sequential
from .neuron import Neuron, NotLinearlySeparableWarning, Perceptron

__all__ = [
    "ACTIVATIONS",
    "ELU",
    "GELU",
    "INITIALIZERS",
    "LOSSES",
    "Activation",
    "ActivationLayer",
    "BinaryCrossEntropyLoss",
    "CrossEntropyLoss",
    "Dense",
    "Dropout",
    "Embedding",
    "Identity",
    "Layer",
    "LeakyReLU",
    "Loss",
    "MSELoss",
    "Neuron",
    "NotLinearlySeparableWarning",
    "Perceptron",
    "ReLU",
    "Sequential",
    "Sigmoid",
    "Softmax",
    "Softplus",
    "Step",
    "Tanh",
    "get_activation",
    "get_initializer",
    "get_loss",
]
