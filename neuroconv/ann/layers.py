"""The ANN description: small frozen dataclasses with numpy weights.

Every importer targets these classes and every backend reads them. Shapes follow the
PyTorch convention without the batch axis: a Dense layer maps ``(in,)`` to ``(out,)``,
images are ``(channels, height, width)``. Each layer has ``output_shape(input_shape)``
(shape inference, raising :class:`~neuroconv.NeuroconvError` when shapes do not chain)
and ``forward(x)`` on a batch ``(batch, *input_shape)`` (the ANN baseline).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence as _Seq

import numpy as np

from ..errors import NeuroconvError

__all__ = ["Dense", "Conv2d", "AvgPool2d", "Flatten", "ReLU", "Sequential", "Layer"]


def _as_finite_array(value, what: str, ndim: int) -> np.ndarray:
    try:
        arr = np.array(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise NeuroconvError(f"{what} must be a numeric array ({exc}).") from None
    if arr.ndim != ndim:
        raise NeuroconvError(f"{what} must have {ndim} dimensions, got shape {arr.shape}.")
    if arr.size == 0:
        raise NeuroconvError(f"{what} is empty (shape {arr.shape}).")
    if not np.all(np.isfinite(arr)):
        bad = int(np.size(arr) - np.count_nonzero(np.isfinite(arr)))
        raise NeuroconvError(f"{what} contains {bad} NaN/inf value(s); fix the trained model before converting.")
    arr.setflags(write=False)
    return arr


def _set_weight_and_bias(layer, ndim: int) -> None:
    """Validate ``layer.weight`` (``ndim`` dims, output axis first) and ``layer.bias`` (zeros if None); freeze both."""
    kind = type(layer).__name__
    w = _as_finite_array(layer.weight, f"{kind}.weight", ndim)
    b = np.zeros(w.shape[0]) if layer.bias is None else _as_finite_array(layer.bias, f"{kind}.bias", 1)
    if b.shape != (w.shape[0],):
        raise NeuroconvError(f"{kind}.bias has shape {b.shape}, expected ({w.shape[0]},) to match weight {w.shape}.")
    b.setflags(write=False)
    object.__setattr__(layer, "weight", w)
    object.__setattr__(layer, "bias", b)


def _pair(value, what: str, minimum: int) -> tuple[int, int]:
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        value = (int(value), int(value))
    try:
        pair = tuple(int(v) for v in value)
    except (TypeError, ValueError):
        raise NeuroconvError(f"{what} must be an int or a pair of ints, got {value!r}.") from None
    if len(pair) != 2 or any(v < minimum for v in pair):
        raise NeuroconvError(f"{what} must be an int or a pair of ints >= {minimum}, got {value!r}.")
    return pair


def _check_input(x: np.ndarray, shape: tuple, name: str) -> None:
    if x.shape[1:] != tuple(shape):
        raise NeuroconvError(f"{name}: expected input of shape (batch, {', '.join(map(str, shape))}), got {x.shape}.")


@dataclass(frozen=True, eq=False)
class Dense:
    """Fully connected layer ``y = x @ weight.T + bias``; ``weight`` has shape ``(out, in)``."""

    weight: np.ndarray
    bias: np.ndarray | None = None

    def __post_init__(self):
        _set_weight_and_bias(self, ndim=2)

    def output_shape(self, input_shape: tuple) -> tuple:
        if tuple(input_shape) != (self.weight.shape[1],):
            raise NeuroconvError(
                f"Dense layer with weight {self.weight.shape} expects input shape ({self.weight.shape[1]},), "
                f"got {tuple(input_shape)} (add a Flatten, or check the weight orientation: (out, in))."
            )
        return (self.weight.shape[0],)

    def forward(self, x: np.ndarray) -> np.ndarray:
        return x @ self.weight.T + self.bias


@dataclass(frozen=True, eq=False)
class Conv2d:
    """2-D convolution (cross-correlation, as in PyTorch); ``weight`` has shape ``(out, in, kh, kw)``."""

    weight: np.ndarray
    bias: np.ndarray | None = None
    stride: int | tuple = 1
    padding: int | tuple = 0

    def __post_init__(self):
        _set_weight_and_bias(self, ndim=4)
        object.__setattr__(self, "stride", _pair(self.stride, "Conv2d.stride", 1))
        object.__setattr__(self, "padding", _pair(self.padding, "Conv2d.padding", 0))

    def output_shape(self, input_shape: tuple) -> tuple:
        out_c, in_c, kh, kw = self.weight.shape
        if len(input_shape) != 3 or input_shape[0] != in_c:
            raise NeuroconvError(
                f"Conv2d layer with weight {self.weight.shape} expects input (channels={in_c}, height, width), "
                f"got {tuple(input_shape)}."
            )
        h = (input_shape[1] + 2 * self.padding[0] - kh) // self.stride[0] + 1
        w = (input_shape[2] + 2 * self.padding[1] - kw) // self.stride[1] + 1
        if h < 1 or w < 1:
            raise NeuroconvError(f"Conv2d kernel {(kh, kw)} does not fit input {tuple(input_shape)} with padding {self.padding}.")
        return (out_c, h, w)

    def forward(self, x: np.ndarray) -> np.ndarray:
        windows = _windows(x, self.weight.shape[2:], self.stride, self.padding)  # (B, C, H', W', kh, kw)
        out = np.einsum("bchwij,ocij->bohw", windows, self.weight, optimize=True)
        return out + self.bias[None, :, None, None]


@dataclass(frozen=True)
class AvgPool2d:
    """Average pooling over ``kernel_size`` windows (zero padding counted in the average, PyTorch's default)."""

    kernel_size: int | tuple
    stride: int | tuple | None = None
    padding: int | tuple = 0

    def __post_init__(self):
        k = _pair(self.kernel_size, "AvgPool2d.kernel_size", 1)
        object.__setattr__(self, "kernel_size", k)
        object.__setattr__(self, "stride", k if self.stride is None else _pair(self.stride, "AvgPool2d.stride", 1))
        object.__setattr__(self, "padding", _pair(self.padding, "AvgPool2d.padding", 0))

    def output_shape(self, input_shape: tuple) -> tuple:
        if len(input_shape) != 3:
            raise NeuroconvError(f"AvgPool2d expects input (channels, height, width), got {tuple(input_shape)}.")
        h = (input_shape[1] + 2 * self.padding[0] - self.kernel_size[0]) // self.stride[0] + 1
        w = (input_shape[2] + 2 * self.padding[1] - self.kernel_size[1]) // self.stride[1] + 1
        if h < 1 or w < 1:
            raise NeuroconvError(f"AvgPool2d kernel {self.kernel_size} does not fit input {tuple(input_shape)}.")
        return (input_shape[0], h, w)

    def forward(self, x: np.ndarray) -> np.ndarray:
        windows = _windows(x, self.kernel_size, self.stride, self.padding)
        return windows.mean(axis=(-2, -1))


@dataclass(frozen=True)
class Flatten:
    """Flatten ``(channels, height, width)`` to one axis in C order (PyTorch's ``nn.Flatten``)."""

    def output_shape(self, input_shape: tuple) -> tuple:
        return (int(np.prod(input_shape)),)

    def forward(self, x: np.ndarray) -> np.ndarray:
        return x.reshape(x.shape[0], -1)


@dataclass(frozen=True)
class ReLU:
    """Rectified linear unit; in the SNN it marks the end of a spiking layer."""

    def output_shape(self, input_shape: tuple) -> tuple:
        return tuple(input_shape)

    def forward(self, x: np.ndarray) -> np.ndarray:
        return np.maximum(x, 0.0)


Layer = Dense | Conv2d | AvgPool2d | Flatten | ReLU
_LAYER_TYPES = (Dense, Conv2d, AvgPool2d, Flatten, ReLU)


def _windows(x, kernel, stride, padding):
    if padding[0] or padding[1]:
        x = np.pad(x, ((0, 0), (0, 0), (padding[0], padding[0]), (padding[1], padding[1])))
    win = np.lib.stride_tricks.sliding_window_view(x, tuple(kernel), axis=(2, 3))
    return win[:, :, :: stride[0], :: stride[1]]


@dataclass(frozen=True, eq=False)
class Sequential:
    """A feed-forward ANN: ``layers`` applied in order to inputs of ``input_shape``.

    Shapes are inferred and checked on construction; ``shapes[k]`` is the shape after
    layer ``k`` (``shapes[-1]`` is the output shape).
    """

    layers: tuple
    input_shape: tuple
    shapes: tuple = field(init=False, repr=False)

    def __init__(self, layers: _Seq, input_shape):
        layers = tuple(layers)
        if not layers:
            raise NeuroconvError("Sequential needs at least one layer.")
        try:
            shape = tuple(int(s) for s in (input_shape if np.iterable(input_shape) else (input_shape,)))
        except (TypeError, ValueError):
            raise NeuroconvError(f"input_shape must be a tuple of positive ints, got {input_shape!r}.") from None
        if not shape or any(s < 1 for s in shape):
            raise NeuroconvError(f"input_shape must be a tuple of positive ints, got {input_shape!r}.")
        shapes = []
        current = shape
        for k, layer in enumerate(layers):
            if not isinstance(layer, _LAYER_TYPES):
                raise NeuroconvError(
                    f"layer {k} is a {type(layer).__name__}, which neuroconv.ann does not know; "
                    "use Dense, Conv2d, AvgPool2d, Flatten or ReLU."
                )
            try:
                current = layer.output_shape(current)
            except NeuroconvError as exc:
                raise NeuroconvError(f"layer {k} ({type(layer).__name__}): {exc}") from None
            shapes.append(current)
        object.__setattr__(self, "layers", layers)
        object.__setattr__(self, "input_shape", shape)
        object.__setattr__(self, "shapes", tuple(shapes))

    @property
    def output_shape(self) -> tuple:
        return self.shapes[-1]

    def __len__(self):
        return len(self.layers)

    def __iter__(self):
        return iter(self.layers)

    def __getitem__(self, k):
        return self.layers[k]

    def check_input(self, x, name: str = "x") -> np.ndarray:
        """Return ``x`` as a float64 batch ``(batch, *input_shape)`` or raise a clear error.

        A single sample of exactly ``input_shape`` is promoted to a batch of one.
        """
        try:
            arr = np.asarray(x, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise NeuroconvError(f"{name} must be a numeric array ({exc}).") from None
        if arr.shape == self.input_shape:
            arr = arr[None]
        if arr.ndim == 2 and len(self.input_shape) > 1 and arr.shape[1] == int(np.prod(self.input_shape)):
            arr = arr.reshape((arr.shape[0],) + self.input_shape)
        _check_input(arr, self.input_shape, name)
        if arr.shape[0] == 0:
            raise NeuroconvError(f"{name} is empty: pass at least one sample of shape {self.input_shape}.")
        if not np.all(np.isfinite(arr)):
            raise NeuroconvError(f"{name} contains NaN or inf values.")
        return arr

    def forward(self, x, return_activations: bool = False):
        """The ANN's output on ``x``; with ``return_activations`` also every layer's output."""
        out = self.check_input(x)
        acts = []
        for layer in self.layers:
            out = layer.forward(out)
            acts.append(out)
        return (out, acts) if return_activations else out

    def predict(self, x) -> np.ndarray:
        """The ANN's class predictions: argmax of the flattened output."""
        out = self.forward(x)
        return np.argmax(out.reshape(out.shape[0], -1), axis=1)
