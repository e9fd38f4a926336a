"""The ANN description: small frozen dataclasses with numpy weights.

Every importer targets these classes and every backend reads them. Shapes follow the
PyTorch convention without the batch axis: a Dense layer maps ``(in,)`` to ``(out,)``,
images are ``(channels, height, width)``. Each layer has ``output_shape(input_shape)``
(shape inference, raising :class:`~neuroconv.NeuroconvError` when shapes do not chain)
and ``forward(x)`` on a batch ``(batch, *input_shape)`` (the ANN baseline).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Sequence as _Seq

import numpy as np

from neuroconv._checks import real_array, require_memory
from neuroconv.errors import NeuroconvError

__all__ = ["Dense", "Conv2d", "AvgPool2d", "MaxPool2d", "BatchNorm", "Add", "Concat", "Flatten", "ReLU", "Graph",
           "Sequential",
           "Layer", "fold_batchnorm"]


def _as_finite_array(value, what: str, ndim: int) -> np.ndarray:
    arr = np.array(real_array(value, what), copy=True)
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
    """2-D convolution (cross-correlation, as in PyTorch); ``weight`` has shape ``(out, in / groups, kh, kw)``.

    ``groups`` > 1: the input and output channels split into that many groups, each output channel
    seeing the input channels of its own group (``groups == in == out``: a depthwise convolution).
    """

    weight: np.ndarray
    bias: np.ndarray | None = None
    stride: int | tuple = 1
    padding: int | tuple = 0
    groups: int = 1

    def __post_init__(self):
        _set_weight_and_bias(self, ndim=4)
        object.__setattr__(self, "stride", _pair(self.stride, "Conv2d.stride", 1))
        object.__setattr__(self, "padding", _pair(self.padding, "Conv2d.padding", 0))
        g = self.groups
        if isinstance(g, (bool, np.bool_)) or not isinstance(g, (int, np.integer)) or g < 1:
            raise NeuroconvError(f"Conv2d.groups must be a positive int, got {g!r}.")
        if self.weight.shape[0] % g:
            raise NeuroconvError(f"Conv2d with weight {self.weight.shape}: {self.weight.shape[0]} output channels do "
                                 f"not split into groups={g}.")
        object.__setattr__(self, "groups", int(g))

    def output_shape(self, input_shape: tuple) -> tuple:
        out_c, in_g, kh, kw = self.weight.shape
        in_c = in_g * self.groups
        if len(input_shape) != 3 or input_shape[0] != in_c:
            raise NeuroconvError(
                f"Conv2d layer with weight {self.weight.shape}"
                + (f" and groups={self.groups}" if self.groups > 1 else "")
                + f" expects input (channels={in_c}, height, width), got {tuple(input_shape)}."
            )
        h = (input_shape[1] + 2 * self.padding[0] - kh) // self.stride[0] + 1
        w = (input_shape[2] + 2 * self.padding[1] - kw) // self.stride[1] + 1
        if h < 1 or w < 1:
            raise NeuroconvError(f"Conv2d kernel {(kh, kw)} does not fit input {tuple(input_shape)} with padding {self.padding}.")
        return (out_c, h, w)

    def forward(self, x: np.ndarray) -> np.ndarray:
        if self.groups == 1:
            return _conv_gemm(x, self.weight, self.stride, self.padding, self.bias)
        windows = _windows(x, self.weight.shape[2:], self.stride, self.padding)  # (B, C, H', W', kh, kw)
        g, (out_c, in_g, kh, kw) = self.groups, self.weight.shape
        grouped = windows.reshape((windows.shape[0], g, in_g) + windows.shape[2:])
        weight = self.weight.reshape(g, out_c // g, in_g, kh, kw)
        out = np.einsum("bgchwij,gocij->bgohw", grouped, weight, optimize=True)
        out = out.reshape((out.shape[0], out_c) + out.shape[3:])
        return out + self.bias[None, :, None, None]


#: Bytes of the column matrix a convolution builds at a time (images are taken in slices that fit).
_COLUMN_BYTES = 8 * 2**20


def _conv_gemm(x, weight, stride, padding, bias):
    """Cross-correlation of ``x`` ``(B, C, H, W)`` with ``weight`` ``(O, C, kh, kw)``, plus ``bias``, as one
    matrix product per slice of images: the input channels-last and padded, its windows copied into rows ``(kh, kw, C)``
    (contiguous runs of ``C``), times the weight as a ``(kh * kw * C, O)`` matrix. Several times faster than
    a contraction over the channels-first sliding-window view, whose copy strides through memory."""
    (B, C, H, W), (O, _, kh, kw), (sh, sw), (ph, pw) = x.shape, weight.shape, stride, padding
    Ho, Wo = (H + 2 * ph - kh) // sh + 1, (W + 2 * pw - kw) // sw + 1
    dtype = np.result_type(x, weight)
    matrix = np.ascontiguousarray(weight.transpose(2, 3, 1, 0).reshape(kh * kw * C, O), dtype=dtype)
    out = np.empty((B, Ho, Wo, O), dtype=dtype)
    step = max(1, _COLUMN_BYTES // max(1, Ho * Wo * kh * kw * C * dtype.itemsize))
    for start in range(0, B, step):
        part = x[start:start + step]
        n = part.shape[0]
        padded = np.zeros((n, H + 2 * ph, W + 2 * pw, C), dtype=dtype)
        padded[:, ph:ph + H, pw:pw + W] = part.transpose(0, 2, 3, 1)
        windows = np.lib.stride_tricks.sliding_window_view(padded, (kh, kw), axis=(1, 2))[:, ::sh, ::sw]
        columns = np.ascontiguousarray(windows.transpose(0, 1, 2, 4, 5, 3))  # (n, Ho, Wo, kh, kw, C)
        np.matmul(columns.reshape(n * Ho * Wo, -1), matrix, out=out[start:start + n].reshape(n * Ho * Wo, O))
    out += bias
    return out.transpose(0, 3, 1, 2)


@dataclass(frozen=True)
class _Pool2d:
    """Window geometry shared by the pooling layers (checked and normalised to pairs)."""

    kernel_size: int | tuple
    stride: int | tuple | None = None
    padding: int | tuple = 0
    #: Round the output size up (PyTorch's ``ceil_mode``): a last, partial window that starts inside the
    #: input or its left padding pools what it covers.
    ceil_mode: bool = False

    def __post_init__(self):
        kind = type(self).__name__
        k = _pair(self.kernel_size, f"{kind}.kernel_size", 1)
        object.__setattr__(self, "kernel_size", k)
        object.__setattr__(self, "stride", k if self.stride is None else _pair(self.stride, f"{kind}.stride", 1))
        object.__setattr__(self, "padding", _pair(self.padding, f"{kind}.padding", 0))
        if not isinstance(self.ceil_mode, (bool, np.bool_)):
            raise NeuroconvError(f"{kind}.ceil_mode must be True or False, got {self.ceil_mode!r}.")
        object.__setattr__(self, "ceil_mode", bool(self.ceil_mode))

    def _size(self, n: int, axis: int) -> int:
        k, s, p = self.kernel_size[axis], self.stride[axis], self.padding[axis]
        span = n + 2 * p - k
        if span < 0:
            return 0
        if not self.ceil_mode:
            return span // s + 1
        out = -(-span // s) + 1
        return out - 1 if (out - 1) * s >= n + p else out  # the last window must start inside

    def output_shape(self, input_shape: tuple) -> tuple:
        kind = type(self).__name__
        if len(input_shape) != 3:
            raise NeuroconvError(f"{kind} expects input (channels, height, width), got {tuple(input_shape)}.")
        h, w = self._size(input_shape[1], 0), self._size(input_shape[2], 1)
        if h < 1 or w < 1:
            raise NeuroconvError(f"{kind} kernel {self.kernel_size} does not fit input {tuple(input_shape)}.")
        return (input_shape[0], h, w)

    def _padded(self, x: np.ndarray, value: float) -> np.ndarray:
        """``x`` padded on both sides, and on the right as far as ``ceil_mode``'s last windows reach."""
        extra = [max(0, (self._size(x.shape[2 + a], a) - 1) * self.stride[a] + self.kernel_size[a]
                     - x.shape[2 + a] - 2 * self.padding[a]) for a in (0, 1)]
        pads = [(self.padding[a], self.padding[a] + extra[a]) for a in (0, 1)]
        if not any(p for pair in pads for p in pair):
            return x
        return np.pad(x, ((0, 0), (0, 0), pads[0], pads[1]), constant_values=value)

    def _reduce(self, x: np.ndarray, op, value: float) -> np.ndarray:
        """``op`` (``np.add``, ``np.maximum``) over each window of ``x`` padded with ``value``, ``(B, C, H', W')``:
        one strided slice per kernel offset, combined in row-major offset order (a reduction over the
        sliding-window view strides through memory: this is 3 to 5 times faster on CNN layers)."""
        padded = self._padded(x, value)
        (kh, kw), (sh, sw) = self.kernel_size, self.stride
        h, w = self._size(x.shape[2], 0), self._size(x.shape[3], 1)
        out = None
        for i in range(kh):
            for j in range(kw):
                part = padded[:, :, i:i + sh * (h - 1) + 1:sh, j:j + sw * (w - 1) + 1:sw]
                out = part.astype(np.result_type(part, np.float64)) if out is None else op(out, part, out=out)
        return out

    def divisors(self, input_hw: tuple) -> np.ndarray:
        """Elements each window averages, ``(H', W')``: the kernel's, less what ``ceil_mode`` windows reach
        past the padded input (padding counts, as in PyTorch's default ``count_include_pad=True``). Read-only,
        computed once per input size (the reference pools every step)."""
        return _divisors(self, tuple(int(n) for n in input_hw))

    def _window_sizes(self, input_hw: tuple) -> np.ndarray:
        sizes = []
        for a in (0, 1):
            start = np.arange(self._size(input_hw[a], a)) * self.stride[a] - self.padding[a]
            sizes.append(np.minimum(start + self.kernel_size[a], input_hw[a] + self.padding[a]) - start)
        return np.outer(sizes[0], sizes[1]).astype(np.float64)


@lru_cache(maxsize=256)
def _divisors(pool: _Pool2d, input_hw: tuple) -> np.ndarray:
    out = pool._window_sizes(input_hw)
    out.setflags(write=False)
    return out


@dataclass(frozen=True)
class AvgPool2d(_Pool2d):
    """Average pooling over ``kernel_size`` windows (zero padding counted in the average, PyTorch's default)."""

    def forward(self, x: np.ndarray) -> np.ndarray:
        sums = self._reduce(x, np.add, 0.0)  # a fresh array: divided in place
        return np.divide(sums, self.divisors(x.shape[2:]), out=sums)


@dataclass(frozen=True)
class Flatten:
    """Flatten ``(channels, height, width)`` to one axis in C order (PyTorch's ``nn.Flatten``)."""

    def output_shape(self, input_shape: tuple) -> tuple:
        return (int(np.prod(input_shape)),)

    def forward(self, x: np.ndarray) -> np.ndarray:
        return x.reshape(x.shape[0], -1)


@dataclass(frozen=True, eq=False)
class ReLU:
    """Rectified linear unit; in the SNN it marks the end of a spiking layer.

    With ``threshold`` (a trained clip level: scalar, one per channel or one per neuron) it is the clipped
    ReLU ``clip(x, 0, threshold)``; with ``levels`` L as well, the quantised clip-floor-shift
    activation ``threshold * clip(floor(x * L / threshold + shift), 0, L) / L`` (QCFS with the
    default ``shift = 1/2``; ``shift = 0`` is Yan et al.'s clamp-and-quantise). These
    come from ANNs trained with :mod:`neuroconv.training`; calibration then takes
    ``threshold`` as the layer's threshold instead of an activation statistic.
    """

    threshold: object = None
    levels: int | None = None
    shift: float = 0.5

    def __post_init__(self):
        if self.threshold is not None:
            lam = _as_finite_array(np.atleast_1d(self.threshold), "ReLU.threshold", 1)
            if not np.all(lam > 0):
                raise NeuroconvError(f"ReLU.threshold must be > 0, got {self.threshold!r}.")
            object.__setattr__(self, "threshold", lam)
        if self.levels is not None:
            if self.threshold is None:
                raise NeuroconvError("ReLU(levels=...) quantises between 0 and a threshold: give threshold too.")
            if isinstance(self.levels, bool) or not isinstance(self.levels, (int, np.integer)) or self.levels < 1:
                raise NeuroconvError(f"ReLU.levels must be a positive int, got {self.levels!r}.")
            object.__setattr__(self, "levels", int(self.levels))
        if not 0.0 <= float(self.shift) < 1.0:
            raise NeuroconvError(f"ReLU.shift must be in [0, 1), got {self.shift!r}.")
        object.__setattr__(self, "shift", float(self.shift))

    def output_shape(self, input_shape: tuple) -> tuple:
        if self.threshold is not None and self.threshold.size not in (1, input_shape[0], int(np.prod(input_shape))):
            raise NeuroconvError(f"ReLU.threshold has {self.threshold.size} values; the input {tuple(input_shape)} "
                                 f"has {input_shape[0]} channels (give one value, one per channel or one per neuron).")
        return tuple(input_shape)

    def forward(self, x: np.ndarray) -> np.ndarray:
        if self.threshold is None:
            return np.maximum(x, 0.0)
        if self.threshold.size == 1:
            lam = self.threshold[0]
        elif self.threshold.size == int(np.prod(x.shape[1:])):
            lam = self.threshold.reshape((1,) + x.shape[1:])
        else:
            lam = self.threshold.reshape((1, -1) + (1,) * (x.ndim - 2))
        if self.levels is None:
            return np.clip(x, 0.0, lam)
        return np.clip(np.floor(x * self.levels / lam + self.shift), 0, self.levels) * lam / self.levels


@dataclass(frozen=True)
class MaxPool2d(_Pool2d):
    """Max pooling over ``kernel_size`` windows (padding never wins: it counts as -inf, as in PyTorch).

    In the SNN it becomes a relay population that fires whenever the running maximum of its
    window's spike counts grows (see :mod:`neuroconv.conversion`); it must sit next to a ReLU.
    """

    def __post_init__(self):
        super().__post_init__()
        if any(2 * p > k for p, k in zip(self.padding, self.kernel_size)):
            raise NeuroconvError(f"MaxPool2d padding {self.padding} must be at most half the kernel "
                                 f"{self.kernel_size} (as in PyTorch).")

    def forward(self, x: np.ndarray) -> np.ndarray:
        return self._reduce(x, np.maximum, -np.inf)


@dataclass(frozen=True, eq=False)
class BatchNorm:
    """Batch normalisation in inference mode, per channel (axis 0 of the sample shape):
    ``y = (x - mean) / sqrt(var + eps) * weight + bias``.

    Importers fold it into the Dense/Conv2d before it where they can (:func:`fold_batchnorm`);
    otherwise it stays a per-channel affine map, which the converter composes into the synapses.
    """

    mean: np.ndarray
    var: np.ndarray
    weight: np.ndarray | None = None
    bias: np.ndarray | None = None
    eps: float = 1e-5

    def __post_init__(self):
        mean = _as_finite_array(self.mean, "BatchNorm.mean", 1)
        var = _as_finite_array(self.var, "BatchNorm.var", 1)
        n = mean.shape[0]
        weight = np.ones(n) if self.weight is None else _as_finite_array(self.weight, "BatchNorm.weight", 1)
        bias = np.zeros(n) if self.bias is None else _as_finite_array(self.bias, "BatchNorm.bias", 1)
        for what, arr in (("var", var), ("weight", weight), ("bias", bias)):
            if arr.shape != (n,):
                raise NeuroconvError(f"BatchNorm.{what} has shape {arr.shape}, expected ({n},) like BatchNorm.mean.")
        if not float(self.eps) > 0 or np.any(var + float(self.eps) <= 0):
            raise NeuroconvError(f"BatchNorm: var + eps must be > 0 (eps={self.eps!r}).")
        for name, arr in (("mean", mean), ("var", var), ("weight", weight), ("bias", bias)):
            arr.setflags(write=False)
            object.__setattr__(self, name, arr)
        object.__setattr__(self, "eps", float(self.eps))

    @property
    def scale(self) -> np.ndarray:
        """Per-channel factor of the affine map."""
        return self.weight / np.sqrt(self.var + self.eps)

    @property
    def shift(self) -> np.ndarray:
        """Per-channel offset of the affine map."""
        return self.bias - self.mean * self.scale

    def output_shape(self, input_shape: tuple) -> tuple:
        if not input_shape or input_shape[0] != self.mean.shape[0]:
            raise NeuroconvError(f"BatchNorm over {self.mean.shape[0]} channels got input shape {tuple(input_shape)}.")
        return tuple(input_shape)

    def forward(self, x: np.ndarray) -> np.ndarray:
        extra = (1,) * (x.ndim - 2)
        return x * self.scale.reshape((-1,) + extra) + self.shift.reshape((-1,) + extra)


@dataclass(frozen=True)
class Add:
    """Element-wise sum of two or more inputs of the same shape (the join of a residual block)."""

    def output_shape(self, *input_shapes) -> tuple:
        if len(input_shapes) < 2:
            raise NeuroconvError(f"Add needs at least two inputs, got {len(input_shapes)}.")
        if len({tuple(s) for s in input_shapes}) != 1:
            raise NeuroconvError(f"Add inputs must have the same shape, got {[tuple(s) for s in input_shapes]}.")
        return tuple(input_shapes[0])

    def forward(self, *xs: np.ndarray) -> np.ndarray:
        return sum(xs[1:], xs[0])


class Concat:
    """Concatenation of two or more inputs along their first axis: channels of images ``(C, H, W)``
    (GoogLeNet, DenseNet, SqueezeNet), features of vectors. In the SNN it is no population: each
    concatenated source feeds the next population through its own pathway, its neurons at an
    offset into the concatenated input."""

    def output_shape(self, *input_shapes) -> tuple:
        if len(input_shapes) < 2:
            raise NeuroconvError(f"Concat needs at least two inputs, got {len(input_shapes)}.")
        rest = {tuple(s[1:]) for s in input_shapes}
        if len(rest) != 1 or len({len(s) for s in input_shapes}) != 1:
            raise NeuroconvError(f"Concat joins along the channel (first) axis; the other axes must agree, got "
                                 f"{[tuple(s) for s in input_shapes]}.")
        return (sum(int(s[0]) for s in input_shapes),) + tuple(input_shapes[0][1:])

    def forward(self, *xs: np.ndarray) -> np.ndarray:
        return np.concatenate(xs, axis=1)


Layer = Dense | Conv2d | AvgPool2d | MaxPool2d | BatchNorm | Add | Concat | Flatten | ReLU
_LAYER_TYPES = (Dense, Conv2d, AvgPool2d, MaxPool2d, BatchNorm, Add, Concat, Flatten, ReLU)
#: Layers that are affine maps of their input(s): they compose into synapses.
LINEAR_TYPES = (Dense, Conv2d, AvgPool2d, BatchNorm, Add, Concat, Flatten)
#: Layers that join several inputs.
JOIN_TYPES = (Add, Concat)


def _windows(x, kernel, stride, padding):
    if padding[0] or padding[1]:
        x = np.pad(x, ((0, 0), (0, 0), (padding[0], padding[0]), (padding[1], padding[1])))
    win = np.lib.stride_tricks.sliding_window_view(x, tuple(kernel), axis=(2, 3))
    return win[:, :, :: stride[0], :: stride[1]]


class Graph:
    """A feed-forward ANN as a directed acyclic graph of layers, applied to inputs of ``input_shape``.

    ``inputs[k]`` lists the nodes that feed layer ``k``: earlier layer indices, or ``-1`` for
    the network input. Layers are in topological order, the last one is the output, and every
    other layer must be used. ``shapes[k]`` is the shape after layer ``k``. A residual block::

        Graph([Conv2d(...), ReLU(), Conv2d(...), Add(), ReLU()], input_shape=(c, h, w),
              inputs=[(-1,), (0,), (1,), (2, -1), (3,)])

    :class:`Sequential` is the chain ``inputs[k] = (k - 1,)``.
    """

    def __init__(self, layers: _Seq, input_shape, inputs=None):
        layers = tuple(layers)
        if not layers:
            raise NeuroconvError(f"{type(self).__name__} needs at least one layer.")
        try:
            shape = tuple(int(s) for s in (input_shape if np.iterable(input_shape) else (input_shape,)))
        except (TypeError, ValueError):
            raise NeuroconvError(f"input_shape must be a tuple of positive ints, got {input_shape!r}.") from None
        if not shape or any(s < 1 for s in shape):
            raise NeuroconvError(f"input_shape must be a tuple of positive ints, got {input_shape!r}.")
        inputs = tuple((k - 1,) for k in range(len(layers))) if inputs is None else _check_inputs(inputs, len(layers))
        shapes = []
        for k, layer in enumerate(layers):
            if not isinstance(layer, _LAYER_TYPES):
                raise NeuroconvError(
                    f"layer {k} is a {type(layer).__name__}, which neuroconv.ann does not know; use "
                    + ", ".join(t.__name__ for t in _LAYER_TYPES) + "."
                )
            if isinstance(layer, JOIN_TYPES) != (len(inputs[k]) > 1):
                raise NeuroconvError(f"layer {k} ({type(layer).__name__}) has {len(inputs[k])} input(s); "
                                     "Add and Concat take two or more, every other layer exactly one.")
            try:
                shapes.append(layer.output_shape(*[shape if i < 0 else shapes[i] for i in inputs[k]]))
            except NeuroconvError as exc:
                raise NeuroconvError(f"layer {k} ({type(layer).__name__}): {exc}") from None
        used = {i for ins in inputs for i in ins}
        unused = [k for k in range(len(layers) - 1) if k not in used]
        if unused:
            raise NeuroconvError(f"layer(s) {unused} feed no other layer; the last layer is the output, "
                                 "so every other layer must be an input of a later one.")
        self.layers = layers
        self.inputs = inputs
        self.input_shape = shape
        self.shapes = tuple(shapes)

    def __setattr__(self, name, value):
        if name in self.__dict__:
            raise AttributeError(f"{type(self).__name__} is immutable; build a new one.")
        object.__setattr__(self, name, value)

    def __repr__(self):
        body = ", ".join(f"{k}: {type(l).__name__}{list(self.inputs[k]) if self.inputs[k] != (k - 1,) else ''}"
                         for k, l in enumerate(self.layers))
        return f"{type(self).__name__}(input_shape={self.input_shape}, [{body}])"

    @property
    def output_shape(self) -> tuple:
        return self.shapes[-1]

    def shape_of(self, i: int) -> tuple:
        """Output shape of layer ``i`` (``-1``: the network input)."""
        return self.input_shape if i < 0 else self.shapes[i]

    @property
    def is_chain(self) -> bool:
        """True when every layer takes the previous one's output (a plain sequence)."""
        return all(ins == (k - 1,) for k, ins in enumerate(self.inputs))

    def consumers(self, k: int) -> list[int]:
        """The layers that take layer ``k``'s output (``k = -1``: the network input)."""
        return [j for j, ins in enumerate(self.inputs) if k in ins]

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
        if hasattr(x, "shape") and hasattr(x, "dtype"):  # before any copy: could it fit at all?
            require_memory(16 * float(np.prod(x.shape, dtype=np.float64)), f"{name} of shape {tuple(x.shape)}",
                           "pass fewer samples per call.")
        arr = real_array(x, name)
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
        x = self.check_input(x)
        acts = []
        for layer, ins in zip(self.layers, self.inputs):
            acts.append(layer.forward(*[x if i < 0 else acts[i] for i in ins]))
        return (acts[-1], acts) if return_activations else acts[-1]

    def predict(self, x) -> np.ndarray:
        """The ANN's class predictions: argmax of the flattened output."""
        out = self.forward(x)
        return np.argmax(out.reshape(out.shape[0], -1), axis=1)


class Sequential(Graph):
    """A feed-forward chain: ``layers`` applied in order to inputs of ``input_shape``."""

    def __init__(self, layers: _Seq, input_shape):
        super().__init__(layers, input_shape)


class GraphBuilder:
    """What the importers share: layers appended one at a time, shapes checked as they come."""

    def __init__(self, input_shape):
        self.input_shape = tuple(int(s) for s in input_shape)
        self.layers, self.inputs, self.shapes = [], [], []

    def shape(self, i: int) -> tuple:
        """Output shape of layer ``i`` (``-1``: the network input)."""
        return self.input_shape if i < 0 else self.shapes[i]

    def add(self, layer, ins, what: str) -> int:
        """Append ``layer`` fed by ``ins``; ``what`` names it in errors. Returns its index."""
        ins = tuple(ins)
        try:
            shape = layer.output_shape(*[self.shape(i) for i in ins])
        except NeuroconvError as exc:
            raise NeuroconvError(f"{what}: {exc} (input_shape={self.input_shape}; is it right?)") from None
        self.layers.append(layer)
        self.inputs.append(ins)
        self.shapes.append(shape)
        return len(self.layers) - 1

    def build(self, output: int, source: str) -> Graph:
        """The graph, BatchNorm folded; ``output`` must be the last layer."""
        if not self.layers or output != len(self.layers) - 1:
            raise NeuroconvError(f"the {source} model's output is not its last layer; neuroconv needs the output last.")
        return fold_batchnorm(Graph(self.layers, self.input_shape, self.inputs))


def _check_inputs(inputs, n: int) -> tuple:
    try:
        inputs = tuple(tuple(int(i) for i in (ins if np.iterable(ins) else (ins,))) for ins in inputs)
    except (TypeError, ValueError):
        raise NeuroconvError(f"inputs must be one tuple of node indices per layer, got {inputs!r}.") from None
    if len(inputs) != n:
        raise NeuroconvError(f"inputs has {len(inputs)} entries for {n} layers.")
    for k, ins in enumerate(inputs):
        if not ins or any(not -1 <= i < k for i in ins):
            raise NeuroconvError(f"inputs[{k}] = {ins}: each layer takes one or more earlier layers "
                                 f"(indices -1 ... {k - 1}; -1 is the network input), in topological order.")
    return inputs


def rebuild(graph: Graph, layers: dict, bypass=()) -> Graph:
    """A copy of ``graph`` with ``layers[k]`` replacing layer ``k`` and the layers in ``bypass``
    removed (their consumers read their input instead). Returns a :class:`Sequential` when the
    result is a chain."""
    bypass = set(bypass)
    new_index, kept, new_inputs = {-1: -1}, [], []

    def source(i):
        while i in bypass:
            i = graph.inputs[i][0]
        return new_index[i]

    for k, layer in enumerate(graph.layers):
        if k in bypass:
            continue
        new_index[k] = len(kept)
        kept.append(layers.get(k, layer))
        new_inputs.append(tuple(source(i) for i in graph.inputs[k]))
    if all(ins == (k - 1,) for k, ins in enumerate(new_inputs)):
        return Sequential(kept, graph.input_shape)
    return Graph(kept, graph.input_shape, new_inputs)


def fold_batchnorm(graph: Graph) -> Graph:
    """Fold every BatchNorm into the Dense/Conv2d before it, where that layer feeds nothing else.

    The folded network computes the same function (to float rounding); BatchNorm layers that
    cannot be folded stay, as per-channel affine maps.
    """
    folded, bypass = {}, []
    for k, layer in enumerate(graph.layers):
        if not isinstance(layer, BatchNorm):
            continue
        (src,) = graph.inputs[k]
        prev = folded.get(src, graph.layers[src]) if src >= 0 else None
        if not isinstance(prev, (Dense, Conv2d)) or graph.consumers(src) != [k]:
            continue
        scale, shift = layer.scale, layer.shift
        weight = prev.weight * scale.reshape((-1,) + (1,) * (prev.weight.ndim - 1))
        folded[src] = replace(prev, weight=weight, bias=prev.bias * scale + shift)
        bypass.append(k)
    if not bypass:
        return graph
    return rebuild(graph, folded, bypass)
