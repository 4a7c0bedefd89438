"""Data: built-in and generated data sets, splits, standardisation (``datasets``), and
the reading and preprocessing of CSV and Parquet tables (``tabular``, which needs
pandas: imported on first use).
"""

from . import datasets

__all__ = ["datasets"]
