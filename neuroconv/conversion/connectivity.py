"""Synaptic index arrays from layer geometry, vectorised (no loops over neurons or synapses).

Each linear ANN operation becomes a sparse matrix ``M`` of shape ``(n_out, n_in)`` over
C-order flattened neuron indices, plus a bias vector. A spiking layer's incoming affine
chain (e.g. AvgPool2d -> Flatten -> Dense) composes into one matrix, whose non-zeros are
the synapses ``i = column``, ``j = row``, ``w = value``.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from neuroconv._checks import require_memory
from neuroconv.ann.layers import Add, AvgPool2d, BatchNorm, Concat, Conv2d, Dense, Flatten, MaxPool2d

#: Peak bytes per synapse while a convolution's or pooling's index arrays are built.
_BUILD_BYTES_PER_SYNAPSE = 48

__all__ = ["layer_matrix", "affine_chain", "affine_graph"]


def _window_indices(in_shape, out_hw, kernel, stride, padding):
    """For every output position and kernel offset, the flat input-pixel index (or -1 outside).

    Returns ``(rows, cols)`` index grids of shape (H', W', kh, kw) into an (H, W) plane.
    """
    _, h_in, w_in = in_shape
    oy = np.arange(out_hw[0])[:, None, None, None] * stride[0] - padding[0]
    ox = np.arange(out_hw[1])[None, :, None, None] * stride[1] - padding[1]
    ky = np.arange(kernel[0])[None, None, :, None]
    kx = np.arange(kernel[1])[None, None, None, :]
    y = oy + ky
    x = ox + kx
    y, x = np.broadcast_arrays(y, x)
    valid = (y >= 0) & (y < h_in) & (x >= 0) & (x < w_in)
    return y, x, valid


def layer_matrix(layer, in_shape: tuple, out_shape: tuple):
    """Sparse ``(n_out, n_in)`` matrix and bias ``(n_out,)`` of one linear layer."""
    n_in, n_out = int(np.prod(in_shape)), int(np.prod(out_shape))
    if isinstance(layer, Dense):
        return sp.csr_matrix(layer.weight), layer.bias.copy()
    if isinstance(layer, Flatten):
        return sp.identity(n_in, format="csr"), np.zeros(n_out)
    if isinstance(layer, BatchNorm):
        per_channel = n_in // in_shape[0]
        return sp.diags(np.repeat(layer.scale, per_channel), format="csr"), np.repeat(layer.shift, per_channel)
    if isinstance(layer, Conv2d):
        c_out, c_in, kh, kw = layer.weight.shape  # c_in: input channels per group
        _check_size(layer, in_shape, float(n_out) * c_in * kh * kw)
        y, x, valid = _window_indices(in_shape, out_shape[1:], (kh, kw), layer.stride, layer.padding)
        h_out, w_out = out_shape[1:]
        # broadcast to (c_out, c_in, H', W', kh, kw); output channel o reads the input channels of its group
        o = np.arange(c_out)[:, None, None, None, None, None]
        c = (o // (c_out // layer.groups)) * c_in + np.arange(c_in)[None, :, None, None, None, None]
        py = np.arange(h_out)[None, None, :, None, None, None]
        px = np.arange(w_out)[None, None, None, :, None, None]
        shape = (c_out, c_in, h_out, w_out, kh, kw)
        rows = np.broadcast_to((o * h_out + py) * w_out + px, shape)
        cols = np.broadcast_to((c * in_shape[1] + y[None, None]) * in_shape[2] + x[None, None], shape)
        vals = np.broadcast_to(layer.weight[:, :, None, None, :, :], shape)
        mask = np.broadcast_to(valid[None, None], shape)
        m = sp.csr_matrix((vals[mask], (rows[mask], cols[mask])), shape=(n_out, n_in))
        return m, np.repeat(layer.bias, h_out * w_out)
    if isinstance(layer, (AvgPool2d, MaxPool2d)):
        # MaxPool2d: the window membership (value 1), the wiring of the spiking max-pool relay
        ch = in_shape[0]
        kh, kw = layer.kernel_size
        _check_size(layer, in_shape, float(n_out) * kh * kw)
        y, x, valid = _window_indices(in_shape, out_shape[1:], layer.kernel_size, layer.stride, layer.padding)
        h_out, w_out = out_shape[1:]
        c = np.arange(ch)[:, None, None, None, None]
        py = np.arange(h_out)[None, :, None, None, None]
        px = np.arange(w_out)[None, None, :, None, None]
        shape = (ch, h_out, w_out, kh, kw)
        rows = np.broadcast_to((c * h_out + py) * w_out + px, shape)
        cols = np.broadcast_to((c * in_shape[1] + y[None]) * in_shape[2] + x[None], shape)
        mask = np.broadcast_to(valid[None], shape)
        if isinstance(layer, MaxPool2d):
            vals = np.ones(int(mask.sum()))
        else:  # 1 / the elements each window averages (fewer for ceil_mode's partial windows)
            vals = np.broadcast_to((1.0 / layer.divisors(in_shape[1:]))[None, :, :, None, None], shape)[mask]
        return sp.csr_matrix((vals, (rows[mask], cols[mask])), shape=(n_out, n_in)), np.zeros(n_out)
    raise TypeError(f"no synaptic matrix for {type(layer).__name__}")


def _check_size(layer, in_shape, synapses: float) -> None:
    require_memory(synapses * _BUILD_BYTES_PER_SYNAPSE,
                   f"{type(layer).__name__} on input {tuple(in_shape)}: {synapses:.3g} synapses per image",
                   "use smaller inputs or raise the budget.")


def affine_chain(layers, shapes):
    """Compose linear layers into one ``(matrix, bias)``.

    ``shapes`` has one more entry than ``layers``: the input shape, then each output shape.
    The chain case of :func:`affine_graph`.
    """
    from neuroconv.ann.layers import Sequential

    chain = Sequential(layers, shapes[0])
    if chain.shapes != tuple(tuple(s) for s in shapes[1:]):
        raise ValueError(f"shapes {shapes} do not match the layers' own {chain.shapes}")
    parts, bias = affine_graph(chain, len(layers) - 1, {-1})
    return parts[-1], bias


def affine_graph(graph, node: int, sources: set):
    """Layer ``node`` of an ANN graph as an affine map of the ``sources`` (layer indices, -1 the input):
    ``({source: sparse (n_node, n_source)}, bias)``. The layers in between must be linear
    (:data:`neuroconv.ann.layers.LINEAR_TYPES`); paths that join at an ``Add`` are summed, those that join
    at a ``Concat`` stacked (each source's neurons at their offset into the concatenation).
    """
    memo = {}
    shape_of = graph.shape_of

    def affine(n):
        if n in memo:
            return memo[n]
        if n in sources:
            size = int(np.prod(shape_of(n)))
            result = {n: sp.identity(size, format="csr")}, np.zeros(size)
        elif isinstance(graph.layers[n], Add):
            parts, bias = {}, 0.0
            for i in graph.inputs[n]:
                sub, b = affine(i)
                for src, m in sub.items():
                    parts[src] = parts[src] + m if src in parts else m
                bias = bias + b
            result = parts, bias
        elif isinstance(graph.layers[n], Concat):
            # the inputs' neurons one after the other (channels first): each source's matrix stacks its
            # rows for every input, zero where the input does not depend on it
            subs = [affine(i) for i in graph.inputs[n]]
            sizes = [int(np.prod(shape_of(i))) for i in graph.inputs[n]]
            parts = {}
            for src in {src for sub, _ in subs for src in sub}:
                width = int(np.prod(shape_of(src)))
                parts[src] = sp.vstack([sub[src] if src in sub else sp.csr_matrix((size, width))
                                        for (sub, _), size in zip(subs, sizes)], format="csr")
            result = parts, np.concatenate([np.broadcast_to(b, (size,)) for (_, b), size in zip(subs, sizes)])
        else:
            (i,) = graph.inputs[n]
            m, b = layer_matrix(graph.layers[n], shape_of(i), shape_of(n))
            sub, sub_bias = affine(i)
            result = {src: (m @ mat).tocsr() for src, mat in sub.items()}, m @ sub_bias + b
        memo[n] = result
        return result

    parts, bias = affine(node)
    for m in parts.values():
        m.eliminate_zeros()
    return {src: m.tocsr() for src, m in parts.items()}, np.asarray(bias, dtype=np.float64)
