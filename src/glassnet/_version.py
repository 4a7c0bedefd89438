"""The version of glassnet, in a module of its own so that any layer may read it
without importing the package (which imports every layer)."""

__version__ = "0.1.0"
