"""ONNX models into the ANN description (extra ``onnx``; no onnxruntime needed).

The file is parsed as protobuf by the ``onnx`` package, which runs no code from it. Each
node is converted by :data:`ONNX_CONVERTERS` (by ``op_type``); initializers and
``Constant`` nodes provide the weights (tensors in external data files are read from the model's
own folder, with the same checks). BatchNormalization is folded into the Conv/Gemm
before it; Dropout and Identity disappear; ``Add`` of a constant becomes the bias of the
layer before it.
"""

from __future__ import annotations

import dataclasses
import os

import numpy as np

from neuroconv._checks import real_array, require_memory
from neuroconv.errors import NeuroconvError
from neuroconv.ann.layers import (JOIN_TYPES, Add, AvgPool2d, BatchNorm, Concat, Conv2d, Dense, Flatten, Graph,
                                  GraphBuilder, MaxPool2d, ReLU)

__all__ = ["from_onnx", "ONNX_CONVERTERS", "BYPASS"]

BYPASS = "bypass"
#: op_type -> ``converter(node, attrs, tensors, constants, input_shape) -> layer | BYPASS``;
#: ``tensors`` are the names of the node's data inputs, ``constants`` maps names to arrays.
ONNX_CONVERTERS: dict = {}


def _op(*names):
    def wrap(fn):
        for name in names:
            ONNX_CONVERTERS[name] = fn
        return fn
    return wrap


def _fail(node, why, fix="replace the layer or re-export the model"):
    raise NeuroconvError(f"ONNX node '{node.name}' ({node.op_type}): {why}; {fix}.")


def _const(node, constants, name, what):
    if name not in constants:
        _fail(node, f"its {what} ('{name}') is not a constant initializer", "export with constant weights")
    return constants[name]


def _pads(node, attrs):
    pads = list(attrs.get("pads", [0, 0, 0, 0]))
    if attrs.get("auto_pad", b"NOTSET") not in (b"NOTSET", "NOTSET") or pads[:2] != pads[2:]:
        _fail(node, f"asymmetric or automatic padding (pads={pads}, auto_pad={attrs.get('auto_pad')})",
              "use explicit symmetric padding")
    if any(d != 1 for d in attrs.get("dilations", [1, 1])):
        _fail(node, "dilation is not supported")
    return tuple(pads[:2])


@_op("Gemm")
def _gemm(node, attrs, tensors, constants, shape):
    if attrs.get("transA", 0):
        _fail(node, "transA=1 is not supported")
    b = _const(node, constants, node.input[1], "weight")
    weight = (b if attrs.get("transB", 0) else b.T) * attrs.get("alpha", 1.0)
    bias = None
    if len(node.input) > 2 and node.input[2]:
        bias = np.broadcast_to(_const(node, constants, node.input[2], "bias") * attrs.get("beta", 1.0), weight.shape[:1])
    return Dense(weight, bias)


@_op("MatMul")
def _matmul(node, attrs, tensors, constants, shape):
    if node.input[1] not in constants:
        _fail(node, "only a product with a constant matrix converts")
    return Dense(constants[node.input[1]].T)


@_op("Conv")
def _conv(node, attrs, tensors, constants, shape):
    weight = _const(node, constants, node.input[1], "weight")
    bias = constants[node.input[2]] if len(node.input) > 2 and node.input[2] else None
    return Conv2d(weight, bias, stride=tuple(attrs.get("strides", [1, 1])), padding=_pads(node, attrs),
                  groups=int(attrs.get("group", 1)))


@_op("BatchNormalization")
def _batchnorm(node, attrs, tensors, constants, shape):
    scale, bias, mean, var = (_const(node, constants, n, w) for n, w in
                              zip(node.input[1:5], ("scale", "bias", "mean", "variance")))
    return BatchNorm(mean, var, scale, bias, attrs.get("epsilon", 1e-5))


@_op("Relu")
def _relu(node, attrs, tensors, constants, shape):
    return ReLU()


@_op("Clip")
def _clip(node, attrs, tensors, constants, shape):
    """``Clip(x, 0, a)`` (ReLU6, Hardtanh(0, a), clamp): a ReLU whose trained threshold is ``a``; bounds are
    inputs from opset 11 on, attributes before."""
    def bound(position, attr):
        if len(node.input) > position and node.input[position]:
            value = np.asarray(_const(node, constants, node.input[position], attr))
            if value.size != 1:
                _fail(node, f"its {attr} bound has {value.size} values", "clip with scalar bounds")
            return float(value.reshape(()))
        return attrs.get(attr)

    low, high = bound(1, "min"), bound(2, "max")
    if low is None or low != 0:
        _fail(node, f"the lower bound is {low!r}", "only clipping at 0 from below converts (a ReLU)")
    if high is not None and not high > 0:
        _fail(node, f"the upper bound is {high!r}", "clip at a positive number (ReLU6: 6)")
    return ReLU() if high is None else ReLU(threshold=np.array([float(high)]))


@_op("MaxPool")
def _maxpool(node, attrs, tensors, constants, shape):
    if len(node.output) > 1 and node.output[1]:
        _fail(node, "the Indices output is not supported")
    kernel = tuple(attrs["kernel_shape"])
    return MaxPool2d(kernel, tuple(attrs.get("strides", kernel)), _pads(node, attrs),
                     ceil_mode=bool(attrs.get("ceil_mode", 0)))


@_op("AveragePool")
def _avgpool(node, attrs, tensors, constants, shape):
    padding = _pads(node, attrs)
    if any(padding) and not attrs.get("count_include_pad", 0):
        _fail(node, "padding excluded from the average is not supported",
              "use count_include_pad=1 (PyTorch's default) or no padding")
    kernel = tuple(attrs["kernel_shape"])
    return AvgPool2d(kernel, tuple(attrs.get("strides", kernel)), padding, ceil_mode=bool(attrs.get("ceil_mode", 0)))


@_op("GlobalAveragePool")
def _global_avg(node, attrs, tensors, constants, shape):
    return AvgPool2d(tuple(shape[1:]), tuple(shape[1:]))


@_op("GlobalMaxPool")
def _global_max(node, attrs, tensors, constants, shape):
    return MaxPool2d(tuple(shape[1:]), tuple(shape[1:]))


@_op("ReduceMean", "ReduceMax")
def _reduce(node, attrs, tensors, constants, shape):
    """The mean (maximum) over height and width: global average (max) pooling, as torch's dynamo exporter
    writes ``AdaptiveAvgPool2d(1)``, ``x.mean((2, 3))`` (``AdaptiveMaxPool2d(1)``); ``keepdims=0`` also
    flattens. Axes are an attribute before opset 18, an input from then on."""
    axes = attrs.get("axes")
    if axes is None and len(node.input) > 1 and node.input[1]:
        axes = _const(node, constants, node.input[1], "axes").astype(int).tolist()
    if len(shape) != 3 or axes is None or sorted(int(a) % 4 for a in axes) != [2, 3]:
        _fail(node, f"a reduction over axes {axes} of an input of shape {tuple(shape)}",
              "only the mean or maximum over height and width of an image (global pooling) converts")
    pool = (AvgPool2d if node.op_type == "ReduceMean" else MaxPool2d)(tuple(shape[1:]), tuple(shape[1:]))
    return pool if attrs.get("keepdims", 1) else (pool, Flatten())


@_op("Flatten")
def _flatten(node, attrs, tensors, constants, shape):
    if attrs.get("axis", 1) != 1:
        _fail(node, f"axis={attrs['axis']}", "flatten from axis 1 (keep the batch axis)")
    return Flatten()


@_op("Reshape")
def _reshape(node, attrs, tensors, constants, shape):
    target = [int(v) for v in _const(node, constants, node.input[1], "target shape")]
    if len(target) == 2 and target[1] in (-1, int(np.prod(shape))):
        return Flatten()
    _fail(node, f"reshape to {target}", "only a flatten to (batch, -1) converts")


@_op("Add", "Sum")
def _add(node, attrs, tensors, constants, shape):
    if len(tensors) < 2:
        return "bias"  # handled by the importer: added to the layer before
    return Add()


@_op("Concat")
def _concat(node, attrs, tensors, constants, shape):
    if len(tensors) != len([n for n in node.input if n]) or len(tensors) < 2:
        _fail(node, "it concatenates constants, or fewer than two data tensors", "concatenate data tensors only")
    axis = int(attrs.get("axis", 1))
    if axis % (len(shape) + 1) != 1:
        _fail(node, f"axis={axis} of tensors shaped (batch,) + {tuple(shape)}", "concatenate along the channels "
              "(axis 1)")
    return Concat()


@_op("Dropout", "Identity")
def _bypass(node, attrs, tensors, constants, shape):
    return BYPASS


def _attributes(node) -> dict:
    from onnx import helper

    return {a.name: helper.get_attribute_value(a) for a in node.attribute}


def _read_onnx_file(onnx, path):
    """Parse an ``.onnx`` file; tensors kept in external files (what torch's dynamo exporter writes for
    every tensor of 1 KB or more) are read by :func:`_read_external`, from the model's own folder only."""
    require_memory(4 * os.path.getsize(path), f"ONNX file {path!r}", "this model is too large to convert here.")
    try:
        model = onnx.load(path, load_external_data=False)
    except Exception as exc:  # protobuf DecodeError and friends
        raise NeuroconvError(f"cannot parse {path!r} as ONNX ({type(exc).__name__}: {exc}).") from None
    tensors = list(model.graph.initializer) + [a.t for n in model.graph.node for a in n.attribute if a.HasField("t")]
    external = [t for t in tensors if t.data_location == onnx.TensorProto.EXTERNAL]
    total = 0.0
    for t in external:
        total += _read_external(onnx, path, t, total)
    return model


def _read_external(onnx, path, tensor, so_far: float) -> int:
    """Load one external tensor's bytes into it, refusing what could read outside the model's folder (absolute
    paths, ``..``, links) or more than the file declares, and sizes over the memory budget. Returns its size."""
    from onnx import helper

    info = {e.key: e.value for e in tensor.external_data}
    location = info.get("location", "")
    what = f"{path!r}: tensor {tensor.name!r} (external data {location!r})"
    folder = os.path.realpath(os.path.dirname(os.path.abspath(path)))
    target = os.path.normpath(os.path.join(folder, location))
    if (not location or os.path.isabs(location) or ".." in location.replace("\\", "/").split("/")
            or not target.startswith(folder + os.sep)):
        raise NeuroconvError(f"{what}: the data must be a file in the model's own folder; re-export the model "
                             "there, or save it self-contained (torch.onnx.export(..., external_data=False)).")
    if os.path.islink(target) or os.path.realpath(target) != target or not os.path.isfile(target):
        raise NeuroconvError(f"{what}: {target!r} is missing, a link or not a regular file; keep the data file "
                             "next to the model as the exporter wrote it.")
    try:
        itemsize = np.dtype(helper.tensor_dtype_to_np_dtype(tensor.data_type)).itemsize
        offset = int(info.get("offset", 0))
        expected = int(np.prod(tensor.dims, dtype=np.float64)) * itemsize
        length = int(info.get("length", expected))
    except (TypeError, ValueError):
        raise NeuroconvError(f"{what}: malformed external-data entry {info!r}.") from None
    size = os.path.getsize(target)
    if offset < 0 or length != expected or offset + length > size:
        raise NeuroconvError(f"{what}: it declares {length} bytes at offset {offset} for a tensor of {expected} "
                             f"bytes in a file of {size}; the model and its data file do not match.")
    require_memory(2.0 * (so_far + length), f"ONNX external data of {path!r}", "this model is too large to convert "
                   "here.")
    with open(target, "rb") as fh:
        fh.seek(offset)
        tensor.raw_data = fh.read(length)
    del tensor.external_data[:]
    tensor.data_location = onnx.TensorProto.DEFAULT
    return length


def _tensor_array(tensor) -> np.ndarray:
    """An ONNX tensor as float64, after checking its type and declared size (never trusting the file)."""
    from onnx import helper, numpy_helper

    what = f"ONNX tensor {tensor.name!r}"
    try:
        dtype = np.dtype(helper.tensor_dtype_to_np_dtype(tensor.data_type))
    except Exception:  # noqa: BLE001 - unknown or undefined element types
        raise NeuroconvError(f"{what} has an unsupported element type ({tensor.data_type}).") from None
    if dtype.kind not in "biuf":
        raise NeuroconvError(f"{what} holds {dtype} values; networks need real numbers.")
    if any(d < 0 for d in tensor.dims):
        raise NeuroconvError(f"{what} has negative dimensions {list(tensor.dims)}.")
    require_memory(8 * float(np.prod(tensor.dims, dtype=np.float64)), f"{what} of shape {list(tensor.dims)}",
                   "this model is too large to convert here.")
    try:
        return real_array(numpy_helper.to_array(tensor), what)
    except NeuroconvError:
        raise
    except Exception as exc:  # noqa: BLE001 - data that does not match the declared shape
        raise NeuroconvError(f"{what} is malformed ({type(exc).__name__}: {exc}).") from None


def from_onnx(model, input_shape=None) -> Graph:
    """Import an ONNX model (a path or an ``onnx.ModelProto``) as a :class:`~neuroconv.ann.Graph`.

    ``input_shape`` (one sample, no batch axis) defaults to the model's declared input shape.
    """
    try:
        import onnx
    except ImportError:
        raise NeuroconvError("from_onnx needs the onnx package: pip install 'brian2-neuroconv[onnx]'.") from None
    if isinstance(model, (str, os.PathLike)):
        if not os.path.exists(model):
            raise NeuroconvError(f"ONNX file {os.fspath(model)!r} does not exist.")
        model = _read_onnx_file(onnx, os.fspath(model))
    if not isinstance(model, onnx.ModelProto):
        raise NeuroconvError(f"from_onnx expects a file path or onnx.ModelProto, got {type(model).__name__}.")
    graph = model.graph
    constants = {t.name: _tensor_array(t) for t in graph.initializer}
    inputs = [i for i in graph.input if i.name not in constants]
    if len(inputs) != 1 or len(graph.output) != 1:
        raise NeuroconvError(f"the ONNX graph has {len(inputs)} data inputs and {len(graph.output)} outputs; "
                             "neuroconv networks have one of each.")
    if input_shape is None:
        dims = [d.dim_value for d in inputs[0].type.tensor_type.shape.dim][1:]
        if not dims or any(d < 1 for d in dims):
            raise NeuroconvError(f"the ONNX input '{inputs[0].name}' has no fixed sample shape ({dims}); "
                                 "pass input_shape=(...).")
        input_shape = tuple(dims)
    builder = GraphBuilder(input_shape)
    env = {inputs[0].name: -1}
    expanded = {}  # tensor name -> axes an Unsqueeze added (undone by a Squeeze; Dropout1d exports so)

    for node in graph.node:
        if node.op_type == "Constant":
            constants[node.output[0]] = _tensor_array(_attributes(node)["value"])
            continue
        tensors = [name for name in node.input if name in env]
        if node.op_type == "Shape" and tensors:
            constants[node.output[0]] = np.array((1,) + builder.shape(env[tensors[0]]), dtype=np.float64)
            continue
        if not tensors:
            # shape arithmetic on constants (e.g. x.view(x.size(0), -1) exported unfolded)
            constants[node.output[0]] = _fold_constant(node, constants)
            continue
        if node.op_type in ("Unsqueeze", "Squeeze"):
            _squeeze_pair(node, tensors[0], env, expanded, constants)
            continue
        if expanded.get(tensors[0]) and node.op_type not in ("Dropout", "Identity"):
            _fail(node, "it acts on an unsqueezed tensor", "only Unsqueeze -> Dropout -> Squeeze round trips convert")
        converter = ONNX_CONVERTERS.get(node.op_type)
        if converter is None:
            raise NeuroconvError(
                f"ONNX node '{node.name}' has op_type {node.op_type}, which has no converter; supported: "
                f"{', '.join(sorted(ONNX_CONVERTERS))}. Replace the layer, or add a converter to "
                "neuroconv.ann.importers.onnx_importer.ONNX_CONVERTERS.")
        src = env[tensors[0]]
        layer = converter(node, _attributes(node), tensors, constants, builder.shape(src))
        if layer == BYPASS:
            env[node.output[0]] = src
            expanded[node.output[0]] = expanded.get(tensors[0])
            continue
        if layer == "bias":
            builder.layers[src] = _with_bias(node, builder.layers, builder.inputs, src, constants)
            env[node.output[0]] = src
            continue
        ins = tuple(env[t] for t in tensors) if isinstance(layer, JOIN_TYPES) else (src,)
        for part in layer if isinstance(layer, tuple) else (layer,):  # a tuple: layers in a chain
            ins = (builder.add(part, ins, f"ONNX node '{node.name}' ({node.op_type})"),)
        env[node.output[0]] = ins[0]
    return builder.build(env.get(graph.output[0].name), "ONNX")


def _fold_constant(node, constants):
    """Evaluate a node whose inputs are all constants (the few ops shape computations use)."""
    attrs = _attributes(node)
    try:
        args = [constants[name] for name in node.input if name]
    except KeyError:
        _fail(node, "it takes no tensor from the data path")
    if node.op_type in ("Unsqueeze", "Squeeze"):
        axes = attrs.get("axes", args[1].astype(int).tolist() if len(args) > 1 else None)
        fn = np.expand_dims if node.op_type == "Unsqueeze" else np.squeeze
        return fn(args[0], tuple(axes)) if axes is not None else np.squeeze(args[0])
    if node.op_type == "Concat":
        return np.concatenate([np.atleast_1d(a) for a in args], axis=attrs.get("axis", 0))
    if node.op_type == "Gather":
        return np.take(args[0], args[1].astype(int), axis=attrs.get("axis", 0))
    if node.op_type in ("Cast", "Identity"):
        return args[0]
    if node.op_type == "Transpose":
        return np.transpose(args[0], attrs.get("perm"))
    _fail(node, "it computes on constants only, with an op neuroconv does not evaluate",
          "export with constant folding (torch.onnx.export(..., do_constant_folding=True))")


def _squeeze_pair(node, name, env, expanded, constants):
    """Data-path Unsqueeze/Squeeze: allowed only as a pair that restores the shape."""
    attrs = _attributes(node)
    axes = attrs.get("axes")
    if axes is None and len(node.input) > 1 and node.input[1] in constants:
        axes = constants[node.input[1]].astype(int).tolist()
    axes = tuple(axes) if axes is not None else None
    if node.op_type == "Unsqueeze" and not expanded.get(name):
        expanded[node.output[0]] = axes
    elif node.op_type == "Squeeze" and expanded.get(name) == axes:
        expanded[node.output[0]] = None
    else:
        _fail(node, "Unsqueeze/Squeeze on the data path convert only as a pair that restores the shape")
    env[node.output[0]] = env[name]


def _with_bias(node, layers, layer_inputs, src, constants):
    """``Add(x, constant)`` after a Dense/Conv2d (MatMul + Add): the constant joins that layer's bias."""
    const = [constants[n] for n in node.input if n in constants]
    prev = layers[src] if src >= 0 else None
    used_elsewhere = any(src in ins for ins in layer_inputs)
    if len(const) != 1 or not isinstance(prev, (Dense, Conv2d)) or used_elsewhere:
        _fail(node, "an Add of a constant converts only right after a Gemm/MatMul/Conv as its bias")
    n_out = prev.weight.shape[0]
    value = const[0].reshape(-1) if const[0].size in (1, n_out) else None
    if value is None:
        _fail(node, f"the constant of shape {const[0].shape} is not a per-output bias")
    return dataclasses.replace(prev, bias=prev.bias + np.broadcast_to(value, (n_out,)))
