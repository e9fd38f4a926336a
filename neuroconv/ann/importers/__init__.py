"""Importers into the ANN description: scikit-learn and .npz here; torch, ONNX and NIR load their
framework only when asked for (``neuroconv.ann.from_torch`` / ``from_onnx`` / ``from_nir``)."""

from neuroconv.ann.importers.sklearn_npz import from_architecture, from_npz, from_sklearn, npz_arrays, read_npz, save_npz

__all__ = ["from_sklearn", "from_npz", "save_npz", "npz_arrays", "read_npz", "from_architecture"]
