"""glassnet: feed-forward neural networks built, trained and explained from their math.

>>> import glassnet as gn
>>> net = gn.Sequential(gn.Dense(2, 2, activation="relu"),
...                     gn.Dense(2, 1, activation="sigmoid"), seed=0)
>>> net.forward([[1.0, 2.0]]).shape
(1, 1)
"""

from __future__ import annotations

from . import _moved, io, optim, training  # io: model files and checkpoints
from ._fast import blas, kernels  # BLAS kernels; the compiled loops
from ._fast.threads import get_num_threads, set_num_threads  # BLAS threads per product
from ._version import __version__
from .data import datasets
from .errors import (
    ConcurrentUseError,
    DivergenceError,
    GlassnetError,
    InputError,
    InputTypeError,
    NotBuiltError,
    StepGradientError,
)
from .explaining import (
    explain,  # gn.explain: the math of a network, step by step
    explain_perceptron,  # the perceptron learning rule, epoch by epoch
    explain_verification,  # the bounds behind a verification, step by step
    worked_example,
)
from .explaining.gradcheck import GradcheckReport, gradcheck
from .interop import export_onnx, from_torch, to_torch  # onnx/torch imported on call
from .interop.onnx_import import from_onnx  # feed-forward ONNX models
from .io import ModelFormatError, load, save
from .nn.activations import (
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
from .nn.embedding import Embedding
from .nn.init import INITIALIZERS, get_initializer
from .nn.layers import ActivationLayer, Dense, Dropout, Layer
from .nn.losses import (
    LOSSES,
    BinaryCrossEntropyLoss,
    CrossEntropyLoss,
    Loss,
    MSELoss,
    get_loss,
)
from .nn.network import Sequential
from .nn.neuron import Neuron, NotLinearlySeparableWarning, Perceptron
from .optim import (
    SGD,
    Adam,
    AdamW,
    CosineLR,
    ExponentialLR,
    Optimizer,
    ReduceLROnPlateau,
    RMSprop,
    StepLR,
    get_optimizer,
    schedules,
)
from .robustness import (
    RobustnessReport,
    attacks,
    robustness_report,
)
from .training import (
    Callback,
    CSVLogger,
    EarlyStopping,
    History,
    LambdaCallback,
    LearningRateScheduler,
    ModelCheckpoint,
    TrainConfig,
    metrics,
)
from .training.checkpoint import load_checkpoint, save_checkpoint
from .verification import (
    Box,
    LinearConstraints,
    Property,
    VerificationResult,
    certified_accuracy,
    linf_ball,
    pgd_accuracy,
    verify,
    verify_robust,
)

__all__ = [
    "explain",
    "explain_perceptron",
    "explain_verification",
    "plot",
    "sklearn",
    "tabular",
    "Adam",
    "AdamW",
    "CSVLogger",
    "Callback",
    "CosineLR",
    "EarlyStopping",
    "ExponentialLR",
    "History",
    "LambdaCallback",
    "LearningRateScheduler",
    "ModelCheckpoint",
    "Optimizer",
    "RMSprop",
    "ReduceLROnPlateau",
    "SGD",
    "StepLR",
    "datasets",
    "get_optimizer",
    "metrics",
    "optim",
    "schedules",
    "training",
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
    "ConcurrentUseError",
    "DivergenceError",
    "GlassnetError",
    "InputError",
    "InputTypeError",
    "TrainConfig",
    "Dropout",
    "Embedding",
    "GradcheckReport",
    "Identity",
    "Layer",
    "LeakyReLU",
    "Loss",
    "MSELoss",
    "Neuron",
    "NotBuiltError",
    "NotLinearlySeparableWarning",
    "Perceptron",
    "RobustnessReport",
    "ReLU",
    "Sequential",
    "get_num_threads",
    "set_num_threads",
    "Sigmoid",
    "Softmax",
    "Softplus",
    "Step",
    "StepGradientError",
    "Tanh",
    "__version__",
    "ModelFormatError",
    "io",
    "load",
    "load_checkpoint",
    "save",
    "save_checkpoint",
    "export_onnx",
    "from_onnx",
    "from_torch",
    "to_torch",
    "attacks",
    "blas",
    "kernels",
    "get_activation",
    "get_initializer",
    "get_loss",
    "gradcheck",
    "robustness_report",
    "worked_example",
    "Box",
    "LinearConstraints",
    "Property",
    "VerificationResult",
    "linf_ball",
    "verify",
    "verify_robust",
    "certified_accuracy",
    "pgd_accuracy",
]


#: Submodules that need an optional extra, imported on first use only, so that
#: `import glassnet` works with numpy alone: gn.plot (matplotlib), gn.sklearn
#: (scikit-learn), gn.tabular (pandas for CSV and Parquet).
# The module paths from before the packages (glassnet.layers, ...) still import.
_moved.install()

_LAZY_SUBMODULES = {
    "plot": "glassnet.plot",
    "sklearn": "glassnet.interop.sklearn",
    "tabular": "glassnet.cli.tabular",
}


def __getattr__(name):
    if name in _LAZY_SUBMODULES:
        import importlib

        return importlib.import_module(_LAZY_SUBMODULES[name])
    raise AttributeError(f"module 'glassnet' has no attribute {name!r}")
