"""Data: built-in and generated data sets and standardisation (``datasets``), random
train/test splits (``splits``), and data files as features and a target: reading
(``tables``, ``arrays``), selecting columns (``columns``), labels (``labels``) and the
preprocessing record (``preprocessing``), gathered in ``tabular``. CSV and Parquet
need pandas, imported on first use.

The data layer imports nothing above ``validation``; what needs a model (loading one
with its preprocessing record, folding the record into its first layer) is in
``glassnet.tabular``.
"""

from . import datasets

__all__ = ["datasets"]
