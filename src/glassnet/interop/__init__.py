"""glassnet in other frameworks: ONNX export and PyTorch interchange.

Neither ``onnx`` nor ``torch`` is imported until a function here is called, so
``import glassnet`` needs numpy alone.
"""

from __future__ import annotations

from .onnx_export import export_onnx
from .torch_interop import from_torch, to_torch

__all__ = ["export_onnx", "from_torch", "to_torch"]
