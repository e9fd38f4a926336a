"""PyTorch models into the ANN description (extra ``torch``).

:func:`from_torch` traces the model with ``torch.fx`` (``nn.Sequential`` and general
modules whose ``forward`` has no data-dependent control flow) and converts every node
with a converter from a registry (a converter returns a layer, a tuple of layers in a chain, or
:data:`BYPASS`): :data:`MODULE_CONVERTERS` (by module class),
:data:`FUNCTION_CONVERTERS` (by function, e.g. ``operator.add``) and
:data:`METHOD_CONVERTERS` (by tensor method name). Register your own with
:func:`register_module`. BatchNorm is folded into the Dense/Conv2d before it; Dropout and
Identity disappear (inference mode). The imported network is checked against the model
on random inputs before it is returned.
"""

from __future__ import annotations

import copy
import operator

import numpy as np

from neuroconv.errors import NeuroconvError
from neuroconv.ann.layers import (JOIN_TYPES, Add, AvgPool2d, BatchNorm, Concat, Conv2d, Dense, Flatten, Graph,
                                  GraphBuilder, MaxPool2d, ReLU)

__all__ = ["from_torch", "register_module", "MODULE_CONVERTERS", "FUNCTION_CONVERTERS", "METHOD_CONVERTERS",
           "BYPASS"]

#: Marker a converter returns for layers that vanish at inference (Dropout, Identity).
BYPASS = "bypass"

#: module class -> ``converter(module, input_shape) -> layer | BYPASS``
MODULE_CONVERTERS: dict = {}
#: function -> ``converter(node_args, node_kwargs, input_shape) -> layer | BYPASS``
FUNCTION_CONVERTERS: dict = {}
#: tensor method name -> ``converter(node_args, node_kwargs, input_shape) -> layer | BYPASS``
METHOD_CONVERTERS: dict = {}


def _torch():
    try:
        import torch
    except ImportError:
        raise NeuroconvError("from_torch needs PyTorch: pip install 'brian2-neuroconv[torch]' "
                             "(it pins torch==2.13.0).") from None
    return torch


def register_module(cls):
    """Decorator: ``@register_module(MyLayer)`` on ``def convert(module, input_shape)`` adds a converter."""
    def wrap(fn):
        MODULE_CONVERTERS[cls] = fn
        return fn
    return wrap


def _array(tensor):
    return None if tensor is None else tensor.detach().cpu().double().numpy()


def _unsupported(what: str, why: str, fix: str):
    raise NeuroconvError(f"{what}: {why}; {fix}")


def _register_builtin():
    torch = _torch()
    nn, F = torch.nn, torch.nn.functional
    if MODULE_CONVERTERS.get(nn.Linear):
        return

    @register_module(nn.Linear)
    def _linear(m, shape):
        return Dense(_array(m.weight), _array(m.bias))

    @register_module(nn.Conv2d)
    def _conv(m, shape):
        if tuple(m.dilation) != (1, 1) or m.padding_mode != "zeros" or isinstance(m.padding, str):
            _unsupported(f"nn.Conv2d {m}", "only dilation=1 and numeric zero padding convert",
                         "rewrite the layer with those settings (padding='same' -> the explicit number)")
        return Conv2d(_array(m.weight), _array(m.bias), stride=tuple(m.stride), padding=tuple(m.padding),
                      groups=m.groups)

    def _batchnorm(m, shape):
        if m.running_mean is None or m.running_var is None:
            _unsupported(f"{type(m).__name__} {m}", "it has no running statistics (track_running_stats=False)",
                         "train it with track_running_stats=True so that inference uses fixed statistics")
        return BatchNorm(_array(m.running_mean), _array(m.running_var), _array(m.weight), _array(m.bias), m.eps)

    MODULE_CONVERTERS[nn.BatchNorm1d] = _batchnorm
    MODULE_CONVERTERS[nn.BatchNorm2d] = _batchnorm

    @register_module(nn.ReLU)
    def _relu(m, shape):
        return ReLU()

    from neuroconv.ann.torch_activations import QCFS, ClipReLU

    @register_module(ClipReLU)
    def _clip(m, shape):
        return ReLU(threshold=_array(m.threshold))

    @register_module(QCFS)
    def _qcfs(m, shape):
        return ReLU(threshold=_array(m.threshold), levels=m.levels, shift=m.shift)

    @register_module(nn.Hardtanh)  # nn.ReLU6 too (a Hardtanh(0, 6))
    def _hardtanh(m, shape):
        return _clip_relu(m.min_val, m.max_val, f"nn.{type(m).__name__}")

    for cls in _SMOOTH_ACTIVATIONS:
        if hasattr(nn, cls):
            MODULE_CONVERTERS[getattr(nn, cls)] = _refuse_activation

    @register_module(nn.MaxPool2d)
    def _maxpool(m, shape):
        return _max_pool(m.kernel_size, m.stride, m.padding, m.dilation, m.ceil_mode, m.return_indices)

    @register_module(nn.AvgPool2d)
    def _avgpool(m, shape):
        return _avg_pool(m.kernel_size, m.stride, m.padding, m.ceil_mode, m.count_include_pad, m.divisor_override)

    @register_module(nn.AdaptiveAvgPool2d)
    def _adaptive(m, shape):
        kernel = _adaptive_kernel(m.output_size, shape)
        return AvgPool2d(kernel, kernel)

    @register_module(nn.AdaptiveMaxPool2d)
    def _adaptive_max(m, shape):
        if m.return_indices:
            _unsupported("adaptive max pooling", "return_indices=True", "pool without indices")
        kernel = _adaptive_kernel(m.output_size, shape)
        return MaxPool2d(kernel, kernel)

    @register_module(nn.Flatten)
    def _flatten(m, shape):
        if m.start_dim != 1 or m.end_dim != -1:
            _unsupported(f"nn.Flatten {m}", "only start_dim=1, end_dim=-1 converts", "flatten everything but the batch")
        return Flatten()

    for cls in (nn.Dropout, nn.Dropout1d, nn.Dropout2d, nn.AlphaDropout, nn.Identity):
        MODULE_CONVERTERS[cls] = lambda m, shape: BYPASS

    def _add(args, kwargs, shape):
        if len(args) != 2 or kwargs.get("alpha", 1) != 1 or not all(_is_node(a) for a in args):
            _unsupported("add", "only the sum of two tensors converts (no constants, alpha=1)",
                         "express constant offsets as layer biases")
        return Add()

    for fn in (operator.add, operator.iadd, torch.add):
        FUNCTION_CONVERTERS[fn] = _add
    METHOD_CONVERTERS["add"] = METHOD_CONVERTERS["add_"] = _add

    def _relu_fn(args, kwargs, shape):
        return ReLU()

    for fn in (F.relu, torch.relu, torch.relu_):
        FUNCTION_CONVERTERS[fn] = _relu_fn
    METHOD_CONVERTERS["relu"] = METHOD_CONVERTERS["relu_"] = _relu_fn

    # clipped ReLUs: ReLU6, Hardtanh(0, a) and clamp(0, a) are a ReLU with the trained threshold a
    FUNCTION_CONVERTERS[F.relu6] = lambda args, kwargs, shape: _clip_relu(0.0, 6.0, "relu6")

    def _hardtanh_fn(args, kwargs, shape):
        v = _bind(args, kwargs, ("min_val", "max_val"), {"min_val": -1.0, "max_val": 1.0})
        return _clip_relu(v["min_val"], v["max_val"], "hardtanh")

    FUNCTION_CONVERTERS[F.hardtanh] = _hardtanh_fn

    def _clamp_fn(args, kwargs, shape):
        v = _bind(args, kwargs, ("min", "max"), {"min": None, "max": None})
        return _clip_relu(v["min"], v["max"], "clamp")

    for fn in (torch.clamp, torch.clip):
        FUNCTION_CONVERTERS[fn] = _clamp_fn
    for name in ("clamp", "clamp_", "clip", "clip_"):
        METHOD_CONVERTERS[name] = _clamp_fn
    for name in _SMOOTH_FUNCTIONS:
        for space in (F, torch):
            if hasattr(space, name):
                FUNCTION_CONVERTERS[getattr(space, name)] = _refuse_activation_fn(name)
        METHOD_CONVERTERS[name] = _refuse_activation_fn(name)

    # functional pooling and spatial means
    def _max_pool_fn(args, kwargs, shape):
        v = _bind(args, kwargs, ("kernel_size", "stride", "padding", "dilation", "ceil_mode", "return_indices"),
                  {"stride": None, "padding": 0, "dilation": 1, "ceil_mode": False, "return_indices": False})
        return _max_pool(v["kernel_size"], v["stride"], v["padding"], v["dilation"], v["ceil_mode"],
                         v["return_indices"])

    def _avg_pool_fn(args, kwargs, shape):
        v = _bind(args, kwargs, ("kernel_size", "stride", "padding", "ceil_mode", "count_include_pad",
                                 "divisor_override"),
                  {"stride": None, "padding": 0, "ceil_mode": False, "count_include_pad": True,
                   "divisor_override": None})
        return _avg_pool(v["kernel_size"], v["stride"], v["padding"], v["ceil_mode"], v["count_include_pad"],
                         v["divisor_override"])

    def _adaptive_fn(args, kwargs, shape):
        kernel = _adaptive_kernel(_bind(args, kwargs, ("output_size",), {})["output_size"], shape)
        return AvgPool2d(kernel, kernel)

    FUNCTION_CONVERTERS[F.max_pool2d] = _max_pool_fn
    FUNCTION_CONVERTERS[F.avg_pool2d] = _avg_pool_fn
    FUNCTION_CONVERTERS[F.adaptive_avg_pool2d] = _adaptive_fn

    def _mean_fn(args, kwargs, shape):
        v = _bind(args, kwargs, ("dim", "keepdim"), {"dim": None, "keepdim": False})
        dims = v["dim"] if isinstance(v["dim"], (tuple, list)) else (v["dim"],)
        axes = sorted(int(d) % 4 if isinstance(d, int) else d for d in dims) if v["dim"] is not None else None
        if len(shape) != 3 or axes != [2, 3] or v.get("dtype") is not None:
            _unsupported("mean", f"over dim={v['dim']} of an input of shape {tuple(shape)}",
                         "only the mean over height and width of an image (dim=(2, 3), the global average "
                         "pooling) converts")
        pool = AvgPool2d(tuple(shape[1:]), tuple(shape[1:]))
        return pool if v["keepdim"] else (pool, Flatten())

    FUNCTION_CONVERTERS[torch.mean] = _mean_fn
    METHOD_CONVERTERS["mean"] = _mean_fn

    def _flatten_fn(args, kwargs, shape):
        start = args[1] if len(args) > 1 else kwargs.get("start_dim", 0)
        end = args[2] if len(args) > 2 else kwargs.get("end_dim", -1)
        if start != 1 or end != -1:
            _unsupported("flatten", f"start_dim={start}, end_dim={end}", "flatten with start_dim=1 (keep the batch axis)")
        return Flatten()

    def _cat(args, kwargs, shape):
        tensors = args[0] if args else kwargs.get("tensors")
        dim = _bind(args, kwargs, ("dim",), {"dim": 0})["dim"]
        if not isinstance(tensors, (list, tuple)) or not tensors or not all(_is_node(t) for t in tensors):
            _unsupported("cat", "it concatenates constants", "concatenate tensors of the data path")
        if len(tensors) == 1:  # DenseNet's first layer of a block: cat([x]) is x
            return BYPASS
        if not isinstance(dim, int) or dim % (len(shape) + 1) != 1:
            _unsupported("cat", f"along dim={dim} of tensors shaped (batch,) + {tuple(shape)}",
                         "concatenate along the channels (dim=1), as Inception, DenseNet and SqueezeNet do")
        return Concat()

    for name in ("cat", "concat", "concatenate"):
        if hasattr(torch, name):
            FUNCTION_CONVERTERS[getattr(torch, name)] = _cat

    FUNCTION_CONVERTERS[torch.flatten] = _flatten_fn
    METHOD_CONVERTERS["flatten"] = _flatten_fn

    def _view(args, kwargs, shape):
        target = args[1:] if len(args) > 2 else (args[1] if len(args) == 2 else ())
        target = tuple(target) if isinstance(target, (tuple, list)) else (target,)
        rest = [t for t in target[1:]]
        if len(target) == 2 and (rest == [-1] or rest == [int(np.prod(shape))]):
            return Flatten()
        shuffle = " (channel groups, as in ShuffleNet's channel shuffle: no channel permutation layer yet)" \
            if len(target) > 4 else ""
        _unsupported("view/reshape", f"to {len(target)} dimensions {target}{shuffle}",
                     "only x.view(x.size(0), -1) (a flatten) converts")

    METHOD_CONVERTERS["view"] = METHOD_CONVERTERS["reshape"] = _view
    FUNCTION_CONVERTERS[torch.reshape] = _view


#: smooth activations: an IF neuron's rate follows a (clipped) ReLU, so these are refused with the fix
_SMOOTH_ACTIVATIONS = ("Hardswish", "SiLU", "GELU", "Sigmoid", "Hardsigmoid", "Tanh", "LeakyReLU", "ELU", "SELU",
                       "CELU", "Mish", "Softplus", "PReLU")
_SMOOTH_FUNCTIONS = ("hardswish", "silu", "gelu", "sigmoid", "hardsigmoid", "tanh", "leaky_relu", "elu", "selu",
                     "celu", "mish", "softplus", "prelu")
_NOT_RELU = "an IF neuron's firing rate follows a (clipped) ReLU, not a smooth or negative-valued activation"


def _swap_fix(cls_name: str) -> str:
    return (f"swap it for a ReLU and fine-tune: neuroconv.training.swap_activations(model, torch.nn.ReLU, "
            f"replace=(torch.nn.{cls_name},)), then neuroconv.training.fit (or QCFS for short T)")


def _refuse_activation(m, shape):
    _unsupported(f"nn.{type(m).__name__}", _NOT_RELU, _swap_fix(type(m).__name__))


_CLASS_OF = dict(zip(_SMOOTH_FUNCTIONS, _SMOOTH_ACTIVATIONS))


def _refuse_activation_fn(name):
    def refuse(args, kwargs, shape):
        _unsupported(name, _NOT_RELU, _swap_fix(_CLASS_OF[name]))
    return refuse


def _bind(args, kwargs, names, defaults) -> dict:
    """The arguments of a functional call after its tensor, by name (positional, then keywords)."""
    values = dict(defaults)
    values.update(zip(names, args[1:]))
    values.update(kwargs)
    return values


def _pair(value) -> tuple:
    return tuple(value) if isinstance(value, (tuple, list)) else (value, value)


def _clip_relu(low, high, what):
    """``clamp(x, 0, high)`` as a ReLU whose trained threshold is ``high`` (None: a plain ReLU)."""
    if low is None or isinstance(low, bool) or not isinstance(low, (int, float)) or low != 0:
        _unsupported(what, f"the lower bound is {low!r}", "only clipping at 0 from below converts (a ReLU); "
                     "move a nonzero lower bound into the previous layer's bias")
    if high is None:
        return ReLU()
    if isinstance(high, bool) or not isinstance(high, (int, float)) or not high > 0:
        _unsupported(what, f"the upper bound is {high!r}", "clip at a positive number (ReLU6: 6)")
    return ReLU(threshold=np.array([float(high)]))


def _max_pool(kernel, stride, padding, dilation, ceil_mode, return_indices):
    if return_indices or _pair(dilation) != (1, 1):
        _unsupported("max pooling", f"return_indices={return_indices}, dilation={dilation}",
                     "pool without indices and with dilation=1")
    return MaxPool2d(kernel, kernel if stride is None or stride == [] else stride, padding, ceil_mode=bool(ceil_mode))


def _avg_pool(kernel, stride, padding, ceil_mode, count_include_pad, divisor_override):
    padded = _pair(padding) != (0, 0)
    if divisor_override is not None or (padded and not count_include_pad):
        _unsupported("average pooling", f"divisor_override={divisor_override}, count_include_pad={count_include_pad}",
                     "use no divisor_override and count_include_pad=True with padding")
    return AvgPool2d(kernel, kernel if stride is None or stride == [] else stride, padding, ceil_mode=bool(ceil_mode))


def _adaptive_kernel(output_size, shape) -> tuple:
    """The window (= stride) of adaptive pooling to ``output_size`` over an input ``shape`` it divides."""
    out = _pair(output_size)
    if len(shape) != 3:
        _unsupported("adaptive pooling", f"input {tuple(shape)} is not an image (C, H, W)", "pool image tensors only")
    out = tuple(shape[1 + i] if o is None else int(o) for i, o in enumerate(out))
    if any(s % o for s, o in zip(shape[1:], out)):
        _unsupported("adaptive pooling", f"input {tuple(shape)} does not divide into {out}",
                     "use an output size that divides the input size (e.g. 1 for global pooling)")
    return tuple(s // o for s, o in zip(shape[1:], out))


def _is_node(value) -> bool:
    from torch import fx

    return isinstance(value, fx.Node)


def from_torch(model, input_shape, check: bool = True, tolerance: float = 1e-4) -> Graph:
    """Import a PyTorch ``nn.Module`` (inference semantics) as a :class:`~neuroconv.ann.Graph`.

    Parameters
    ----------
    model : torch.nn.Module
        ``nn.Sequential`` or any module ``torch.fx`` can trace. Parameters are read, the model
        is not modified.
    input_shape : tuple
        Shape of one sample without the batch axis, e.g. ``(1, 28, 28)``.
    check : bool
        Compare the imported network with the model on random inputs and raise if the
        largest difference exceeds ``tolerance`` times the output's scale.
    """
    torch = _torch()
    from torch import fx

    if not isinstance(model, torch.nn.Module):
        raise NeuroconvError(f"from_torch expects a torch.nn.Module, got {type(model).__name__}.")
    _register_builtin()
    shape0 = tuple(int(s) for s in input_shape)
    class _Tracer(fx.Tracer):
        # every module with a converter is one node, even when it has a forward of its own (ClipReLU, QCFS)
        def is_leaf_module(self, m, qualname):
            return _lookup(MODULE_CONVERTERS, type(m)) is not None or super().is_leaf_module(m, qualname)

    try:
        traced = fx.GraphModule(model, _Tracer().trace(model))
    except Exception as exc:  # fx raises many kinds of errors for untraceable code
        raise NeuroconvError(
            f"torch.fx cannot trace {type(model).__name__} ({type(exc).__name__}: {exc}); write it as nn.Sequential "
            "or remove data-dependent control flow from forward().") from None
    modules = dict(traced.named_modules())
    builder = GraphBuilder(shape0)
    env = {}  # fx node -> index in layers (-1: the input); "shape" for size() values
    out_index = None

    for node in traced.graph.nodes:
        if node.op == "placeholder":
            if -1 in env.values():
                raise NeuroconvError(f"{type(model).__name__}.forward takes more than one input; neuroconv networks "
                                     "have one input.")
            env[node] = -1
            continue
        if node.op == "output":
            result = node.args[0]
            if not _is_node(result) or not isinstance(env.get(result), int):
                raise NeuroconvError("the model must return one tensor.")
            out_index = env[result]
            continue
        if node.op == "get_attr":
            _unsupported(f"node {node.name} ({node.target})", "the forward reads a parameter directly",
                         "use modules (nn.Linear, nn.Conv2d, ...) for every weight")
        if node.op == "call_method" and node.target in ("size", "dim"):
            env[node] = "shape"
            continue
        tensor_args = [a for a in node.args if _is_node(a) and isinstance(env.get(a), int)]
        if not tensor_args:  # torch.cat takes its tensors as a list
            tensor_args = [a for arg in node.args if isinstance(arg, (list, tuple)) for a in arg
                           if _is_node(a) and isinstance(env.get(a), int)]
        if not tensor_args and any(env.get(a) == "shape" for a in node.all_input_nodes):
            env[node] = "shape"  # arithmetic on sizes (``b, c, h, w = x.size()``; ``c // groups``)
            continue
        if not tensor_args:
            _unsupported(f"node {node.name} ({node.op} {node.target})", "it takes no tensor input",
                         "only layers applied to the input's data path convert")
        in_shape = builder.shape(env[tensor_args[0]])
        if node.op == "call_module":
            module = modules[node.target]
            converter = _lookup(MODULE_CONVERTERS, type(module))
            what = f"module '{node.target}' ({type(module).__name__})"
            call = (module, in_shape)
        elif node.op == "call_function":
            converter = FUNCTION_CONVERTERS.get(node.target)
            what = f"function {getattr(node.target, '__name__', node.target)} (node {node.name})"
            call = (node.args, node.kwargs, in_shape)
        else:
            converter = METHOD_CONVERTERS.get(node.target)
            what = f"tensor method .{node.target}() (node {node.name})"
            call = (node.args, node.kwargs, in_shape)
        try:
            layer = converter(*call) if converter else None
        except NeuroconvError as exc:  # every refusal names the module path or node
            raise NeuroconvError(f"{what}: {exc}") from None
        if converter is None:
            known = sorted({c.__name__ for c in MODULE_CONVERTERS})
            raise NeuroconvError(
                f"{what} has no converter. Supported modules: {', '.join(known)}; functions: add, cat, relu, relu6, "
                "hardtanh, clamp/clip (at 0), flatten, max_pool2d, avg_pool2d, adaptive_avg_pool2d, mean over H "
                "and W; methods: add, relu, clamp/clip, flatten, mean, view/reshape (flatten). Replace the layer, "
                "or register a converter with neuroconv.ann.torch_importer.register_module.")
        if layer == BYPASS:
            env[node] = env[tensor_args[0]]
            continue
        ins = tuple(env[a] for a in tensor_args) if isinstance(layer, JOIN_TYPES) else (env[tensor_args[0]],)
        for part in layer if isinstance(layer, tuple) else (layer,):  # a tuple: layers in a chain
            ins = (builder.add(part, ins, what),)
        env[node] = ins[0]
    if not builder.layers:
        raise NeuroconvError(f"{type(model).__name__} has no layers to convert.")
    graph = builder.build(out_index, type(model).__name__)
    if check:
        _check_against(model, graph, tolerance)
    return graph


def _lookup(table, cls):
    for klass in cls.__mro__:
        if klass in table:
            return table[klass]
    return None


def _check_against(model, graph, tolerance):
    torch = _torch()
    twin = copy.deepcopy(model).eval().double()
    x = np.random.default_rng(0).uniform(0, 1, (4,) + graph.input_shape)
    with torch.no_grad():
        expected = twin(torch.from_numpy(x)).numpy().reshape(4, -1)
    got = graph.forward(x).reshape(4, -1)
    scale = max(float(np.abs(expected).max()), 1.0)
    error = float(np.abs(got - expected).max()) if got.shape == expected.shape else np.inf
    if error > tolerance * scale:
        raise NeuroconvError(
            f"the imported network differs from {type(model).__name__} by {error:.3g} on random inputs (output "
            f"shapes {got.shape[1:]} vs {expected.shape[1:]}); some layer's semantics were not captured. "
            "Pass check=False to import anyway, and please report the model.")
