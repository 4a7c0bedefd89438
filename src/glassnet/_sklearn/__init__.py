"""The modules behind ``glassnet.sklearn`` (they import scikit-learn; import
``glassnet.sklearn``, which says what to install when it is missing)."""
