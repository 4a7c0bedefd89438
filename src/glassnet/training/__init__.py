"""Training: the fit loop, its callbacks, metrics and progress output.

``Sequential.fit``, ``evaluate``, ``predict``, ``predict_classes`` and
``predict_proba`` call the functions here. Modules, one concept each:

- ``config``: TrainConfig, the checked settings of one run;  ``fit``: the data checked
  at the boundary, then the run;  ``loop``: the epoch/step loop (Trainer,
  train_step);  ``data``: batches by index;  ``tasks``: what outputs mean;
- ``history``, ``callbacks`` (the protocol), ``early_stopping``, ``checkpoint``,
  ``csv_logger``, ``lr_scheduler``, ``progress``;
- ``metrics``, ``predict`` (predict, evaluate);
- ``certified``: interval and CROWN-IBP bounds with their gradients, for
  ``fit(certify=eps)``.
"""

from __future__ import annotations

from . import metrics
from .callbacks import Callback, CallbackList, LambdaCallback
from .certified import CertifiedTraining
from .checkpoint import ModelCheckpoint
from .config import TrainConfig
from .csv_logger import CSVLogger
from .early_stopping import EarlyStopping
from .fit import fit
from .history import History
from .loop import Trainer, train_step
from .lr_scheduler import LearningRateScheduler
from .predict import evaluate, predict, predict_classes, predict_proba
from .progress import ProgressBar

__all__ = [
    "CSVLogger",
    "Callback",
    "CallbackList",
    "CertifiedTraining",
    "EarlyStopping",
    "History",
    "LambdaCallback",
    "LearningRateScheduler",
    "ModelCheckpoint",
    "ProgressBar",
    "TrainConfig",
    "Trainer",
    "evaluate",
    "fit",
    "metrics",
    "predict",
    "predict_classes",
    "predict_proba",
    "train_step",
]
