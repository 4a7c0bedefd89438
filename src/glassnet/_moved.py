"""Module paths from before the packages: ``import glassnet.layers`` still works.

Each old path is an alias of the module that now holds its code (the same module
object, so classes, pickles and ``isinstance`` agree). The documented top-level
modules (``glassnet.sklearn``, ``glassnet._fast.kernels``, ...) stay public names; the
others warn once with the new path, as a ``DeprecationWarning``.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys
import warnings

#: Public names: the documented ``glassnet.<name>`` modules, no warning.
PUBLIC = {
    "glassnet.attacks": "glassnet.robustness.attacks",
    "glassnet.blas": "glassnet._fast.blas",
    "glassnet.datasets": "glassnet.data.datasets",
    "glassnet.kernels": "glassnet._fast.kernels",
    "glassnet.schedules": "glassnet.optim.schedules",
    "glassnet.sklearn": "glassnet.interop.sklearn",
    "glassnet.tabular": "glassnet.cli.tabular",
    "glassnet.worked_example": "glassnet.explaining.worked_example",
}

#: Old paths: they work, with a DeprecationWarning naming the new one.
OLD = {
    "glassnet.activations": "glassnet.nn.activations",
    "glassnet.gradcheck": "glassnet.explaining.gradcheck",
    "glassnet.init": "glassnet.nn.init",
    "glassnet.layers": "glassnet.nn.layers",
    "glassnet.losses": "glassnet.nn.losses",
    "glassnet.network": "glassnet.nn.network",
    "glassnet.neuron": "glassnet.nn.neuron",
    "glassnet.threads": "glassnet._fast.threads",
    "glassnet._sklearn": "glassnet.interop.sklearn",
    "glassnet._sklearn.base": "glassnet.interop.sklearn.base",
    "glassnet._sklearn.classifier": "glassnet.interop.sklearn.classifier",
    "glassnet._sklearn.docs": "glassnet.interop.sklearn.docs",
    "glassnet._sklearn.params": "glassnet.interop.sklearn.params",
    "glassnet._sklearn.penalty": "glassnet.interop.sklearn.penalty",
    "glassnet._sklearn.regressor": "glassnet.interop.sklearn.regressor",
}

ALIASES = {**PUBLIC, **OLD}


class _AliasLoader(importlib.abc.Loader):
    def __init__(self, target: str):
        self.target = target

    def create_module(self, spec):
        module = importlib.import_module(self.target)
        self.spec = module.__spec__
        return module

    def exec_module(self, module):
        # The module ran its code when it was imported under its own name; the
        # import system has since set its __spec__ to the alias's: put it back.
        module.__spec__ = self.spec


class _AliasFinder(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname, path=None, target=None):
        new = ALIASES.get(fullname)
        if new is None:
            return None
        if fullname in OLD:
            warnings.warn(
                f"{fullname} is now {new}; import it from there (the old path "
                "will be removed)",
                DeprecationWarning,
                stacklevel=_caller_level(),
            )
        return importlib.util.spec_from_loader(fullname, _AliasLoader(new))


def _caller_level() -> int:
    """The stack level of the import statement (past importlib's own frames)."""
    frame, level = sys._getframe(1), 1
    while frame is not None and (
        frame.f_code.co_filename.startswith("<frozen importlib")
        or frame.f_code.co_filename == __file__
    ):
        frame, level = frame.f_back, level + 1
    return level


def install() -> None:
    if not any(isinstance(finder, _AliasFinder) for finder in sys.meta_path):
        sys.meta_path.append(_AliasFinder())
