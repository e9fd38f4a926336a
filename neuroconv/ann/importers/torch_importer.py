"""PyTorch models into the ANN description (extra ``torch``).

:func:`from_torch` traces the model with ``torch.fx`` (``nn.Sequential`` and general
modules whose ``forward`` has no data-dependent control flow) and converts every node
with a converter from a registry: :data:`MODULE_CONVERTERS` (by module class),
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
from neuroconv.ann.layers import Add, AvgPool2d, BatchNorm, Conv2d, Dense, Flatten, Graph, GraphBuilder, MaxPool2d, ReLU

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
        if m.groups != 1 or tuple(m.dilation) != (1, 1) or m.padding_mode != "zeros" or isinstance(m.padding, str):
            _unsupported(f"nn.Conv2d {m}", "only groups=1, dilation=1 and numeric zero padding convert",
                         "rewrite the layer with those settings (padding='same' -> the explicit number)")
        return Conv2d(_array(m.weight), _array(m.bias), stride=tuple(m.stride), padding=tuple(m.padding))

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

    @register_module(nn.MaxPool2d)
    def _maxpool(m, shape):
        dilation = m.dilation if isinstance(m.dilation, tuple) else (m.dilation, m.dilation)
        if m.ceil_mode or m.return_indices or tuple(dilation) != (1, 1):
            _unsupported(f"nn.MaxPool2d {m}", "ceil_mode, return_indices and dilation are not supported",
                         "use the defaults (ceil_mode=False, dilation=1)")
        return MaxPool2d(m.kernel_size, m.stride, m.padding)

    @register_module(nn.AvgPool2d)
    def _avgpool(m, shape):
        padded = m.padding not in (0, (0, 0))
        if m.ceil_mode or m.divisor_override is not None or (padded and not m.count_include_pad):
            _unsupported(f"nn.AvgPool2d {m}", "ceil_mode, divisor_override and count_include_pad=False with "
                         "padding are not supported", "use the defaults")
        return AvgPool2d(m.kernel_size, m.stride, m.padding)

    @register_module(nn.AdaptiveAvgPool2d)
    def _adaptive(m, shape):
        out = m.output_size if isinstance(m.output_size, tuple) else (m.output_size, m.output_size)
        out = tuple(shape[1 + i] if o is None else o for i, o in enumerate(out))
        if len(shape) != 3 or any(s % o for s, o in zip(shape[1:], out)):
            _unsupported(f"nn.AdaptiveAvgPool2d {m}", f"input {tuple(shape)} does not divide into {out}",
                         "use an output size that divides the input size (e.g. 1 for global pooling)")
        kernel = tuple(s // o for s, o in zip(shape[1:], out))
        return AvgPool2d(kernel, kernel)

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

    def _flatten_fn(args, kwargs, shape):
        start = args[1] if len(args) > 1 else kwargs.get("start_dim", 0)
        end = args[2] if len(args) > 2 else kwargs.get("end_dim", -1)
        if start != 1 or end != -1:
            _unsupported("flatten", f"start_dim={start}, end_dim={end}", "flatten with start_dim=1 (keep the batch axis)")
        return Flatten()

    FUNCTION_CONVERTERS[torch.flatten] = _flatten_fn
    METHOD_CONVERTERS["flatten"] = _flatten_fn

    def _view(args, kwargs, shape):
        target = args[1:] if len(args) > 2 else (args[1] if len(args) == 2 else ())
        target = tuple(target) if isinstance(target, (tuple, list)) else (target,)
        rest = [t for t in target[1:]]
        if len(target) == 2 and (rest == [-1] or rest == [int(np.prod(shape))]):
            return Flatten()
        _unsupported("view/reshape", f"to {target}", "only x.view(x.size(0), -1) (a flatten) converts")

    METHOD_CONVERTERS["view"] = METHOD_CONVERTERS["reshape"] = _view
    FUNCTION_CONVERTERS[torch.reshape] = _view


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
        if not tensor_args:
            _unsupported(f"node {node.name} ({node.op} {node.target})", "it takes no tensor input",
                         "only layers applied to the input's data path convert")
        in_shape = builder.shape(env[tensor_args[0]])
        if node.op == "call_module":
            module = modules[node.target]
            converter = _lookup(MODULE_CONVERTERS, type(module))
            what = f"module '{node.target}' ({type(module).__name__})"
            layer = converter(module, in_shape) if converter else None
        elif node.op == "call_function":
            converter = FUNCTION_CONVERTERS.get(node.target)
            what = f"function {getattr(node.target, '__name__', node.target)} (node {node.name})"
            layer = converter(node.args, node.kwargs, in_shape) if converter else None
        else:
            converter = METHOD_CONVERTERS.get(node.target)
            what = f"tensor method .{node.target}() (node {node.name})"
            layer = converter(node.args, node.kwargs, in_shape) if converter else None
        if converter is None:
            known = sorted({c.__name__ for c in MODULE_CONVERTERS})
            raise NeuroconvError(
                f"{what} has no converter. Supported modules: {', '.join(known)}; functions: add, relu, flatten; "
                "methods: add, relu, flatten, view/reshape (flatten). Replace the layer, or register a converter "
                "with neuroconv.ann.torch_importer.register_module.")
        if layer == BYPASS:
            env[node] = env[tensor_args[0]]
            continue
        ins = tuple(env[a] for a in tensor_args) if isinstance(layer, Add) else (env[tensor_args[0]],)
        env[node] = builder.add(layer, ins, what)
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
