"""The ANN description (layers with numpy weights, as a chain or a graph) and importers into it."""

from neuroconv.ann.importers.sklearn_npz import from_npz, from_sklearn, save_npz
from neuroconv.ann.layers import (Add, AvgPool2d, Concat, BatchNorm, Conv2d, Dense, Flatten, Graph, Layer, MaxPool2d, ReLU, Sequential,
                     fold_batchnorm)

__all__ = ["Dense", "Conv2d", "AvgPool2d", "MaxPool2d", "BatchNorm", "Add", "Concat", "Flatten", "ReLU", "Graph", "Sequential",
           "Layer", "fold_batchnorm", "from_sklearn", "from_npz", "save_npz", "from_torch", "from_onnx", "from_nir"]


def __getattr__(name):
    # the framework importers load torch / onnx / nir only when asked for
    if name == "from_torch":
        from neuroconv.ann.importers.torch_importer import from_torch
        return from_torch
    if name == "from_onnx":
        from neuroconv.ann.importers.onnx_importer import from_onnx
        return from_onnx
    if name == "from_nir":
        from neuroconv.ann.importers.nir_importer import from_nir
        return from_nir
    raise AttributeError(f"module 'neuroconv.ann' has no attribute {name!r}")
