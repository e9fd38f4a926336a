"""The ANN description (layers with numpy weights) and importers into it."""

from .importers import from_npz, from_sklearn, save_npz
from .layers import AvgPool2d, Conv2d, Dense, Flatten, Layer, ReLU, Sequential

__all__ = ["Dense", "Conv2d", "AvgPool2d", "Flatten", "ReLU", "Sequential", "Layer",
           "from_sklearn", "from_npz", "save_npz"]
