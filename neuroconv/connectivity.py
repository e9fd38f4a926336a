"""Synaptic index arrays from layer geometry, vectorised (no loops over neurons or synapses).

Each linear ANN operation becomes a sparse matrix ``M`` of shape ``(n_out, n_in)`` over
C-order flattened neuron indices, plus a bias vector. A spiking layer's incoming affine
chain (e.g. AvgPool2d -> Flatten -> Dense) composes into one matrix, whose non-zeros are
the synapses ``i = column``, ``j = row``, ``w = value``.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from .ann.layers import AvgPool2d, Conv2d, Dense, Flatten

__all__ = ["layer_matrix", "affine_chain", "replicate_indices"]


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
    if isinstance(layer, Conv2d):
        c_out, c_in, kh, kw = layer.weight.shape
        y, x, valid = _window_indices(in_shape, out_shape[1:], (kh, kw), layer.stride, layer.padding)
        h_out, w_out = out_shape[1:]
        # broadcast to (c_out, c_in, H', W', kh, kw)
        o = np.arange(c_out)[:, None, None, None, None, None]
        c = np.arange(c_in)[None, :, None, None, None, None]
        py = np.arange(h_out)[None, None, :, None, None, None]
        px = np.arange(w_out)[None, None, None, :, None, None]
        shape = (c_out, c_in, h_out, w_out, kh, kw)
        rows = np.broadcast_to((o * h_out + py) * w_out + px, shape)
        cols = np.broadcast_to((c * in_shape[1] + y[None, None]) * in_shape[2] + x[None, None], shape)
        vals = np.broadcast_to(layer.weight[:, :, None, None, :, :], shape)
        mask = np.broadcast_to(valid[None, None], shape)
        m = sp.csr_matrix((vals[mask], (rows[mask], cols[mask])), shape=(n_out, n_in))
        return m, np.repeat(layer.bias, h_out * w_out)
    if isinstance(layer, AvgPool2d):
        ch = in_shape[0]
        kh, kw = layer.kernel_size
        y, x, valid = _window_indices(in_shape, out_shape[1:], layer.kernel_size, layer.stride, layer.padding)
        h_out, w_out = out_shape[1:]
        c = np.arange(ch)[:, None, None, None, None]
        py = np.arange(h_out)[None, :, None, None, None]
        px = np.arange(w_out)[None, None, :, None, None]
        shape = (ch, h_out, w_out, kh, kw)
        rows = np.broadcast_to((c * h_out + py) * w_out + px, shape)
        cols = np.broadcast_to((c * in_shape[1] + y[None]) * in_shape[2] + x[None], shape)
        mask = np.broadcast_to(valid[None], shape)
        vals = np.full(int(mask.sum()), 1.0 / (kh * kw))
        return sp.csr_matrix((vals, (rows[mask], cols[mask])), shape=(n_out, n_in)), np.zeros(n_out)
    raise TypeError(f"no synaptic matrix for {type(layer).__name__}")


def affine_chain(layers, shapes):
    """Compose linear layers into one ``(matrix, bias)``.

    ``shapes`` has one more entry than ``layers``: the input shape, then each output shape.
    """
    matrix, bias = None, None
    for k, layer in enumerate(layers):
        m, b = layer_matrix(layer, shapes[k], shapes[k + 1])
        if matrix is None:
            matrix, bias = m, b
        else:
            matrix, bias = (m @ matrix).tocsr(), m @ bias + b
    matrix.eliminate_zeros()
    return matrix.tocsr(), np.asarray(bias, dtype=np.float64)


def replicate_indices(matrix, n_copies: int):
    """Synapse arrays ``(i, j, w)`` of ``n_copies`` block-diagonal copies of ``matrix``.

    Copy ``c`` connects presynaptic neurons ``c*n_in ...`` to postsynaptic ``c*n_out ...``.
    """
    coo = matrix.tocoo()
    n_out, n_in = matrix.shape
    offsets = np.arange(n_copies, dtype=np.int64)[:, None]
    i = (coo.col[None, :].astype(np.int64) + offsets * n_in).ravel()
    j = (coo.row[None, :].astype(np.int64) + offsets * n_out).ravel()
    w = np.tile(coo.data, n_copies)
    return i, j, w
