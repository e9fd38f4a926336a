"""NIR (Neuromorphic Intermediate Representation) graphs into the ANN description (extra ``nir``).

The export of converted networks is :mod:`neuroconv.conversion.nir_export`; both follow one mapping.

NIR describes spiking networks in continuous time; neuroconv's IF networks run in discrete
steps. The mapping, with one step of ``dt`` per NIR time unit (``R*I`` integrated over one
step is ``r * I``):

* a population of IF neurons with thresholds ``theta`` <-> ``nir.IF(r=1, v_threshold=theta,
  v_reset=0)``; a max-pool relay has no NIR node and is refused;
* the pathway from population ``s`` into ``k`` <-> ``nir.Affine(W * theta_s, b)``: NIR spikes
  are unit events, neuroconv's carry ``theta_s``, so the weights take the presynaptic
  threshold; the analog input enters through ``W`` unscaled, every step (a constant current);
  several pathways into one population are several edges into its node (NIR sums them);
* the non-spiking output layer <-> ``nir.I(r=1)`` named ``readout`` (an integrator; the
  readout is ``v / T``), then NIR's ``Output`` node ``output``.

What NIR cannot say goes into node ``metadata`` under ``"neuroconv"``: NIR's IF has a reset
*to* ``v_reset`` only, neuroconv's default is the soft reset ``v -= theta`` (``"reset":
"subtract"``), and the initial membrane ``theta/2`` (``"shift": true``) has no field at
all. NIR's IF fires when ``v > v_threshold``, neuroconv when ``v >= theta``: they differ only
on exact ties. :func:`from_nir` reads both neuroconv's files and foreign ones (``Affine``,
``Linear``, ``Conv2d``, ``Flatten``, ``AvgPool2d``, ``IF``, ``I``/``LI`` readouts).

Importing gives the ANN whose ReLUs carry the NIR thresholds (``ReLU(threshold=theta)``,
``clip(x, 0, theta)``: the rate-coded IF neuron's activation), with ``W_ann = r_k * W_nir /
theta_source`` so that :func:`neuroconv.convert` without calibration data rebuilds the NIR
network. :func:`neuroconv.conversion.nir_export.if_model` gives the matching ``IF(reset=..., shift=...)``.
"""

from __future__ import annotations

import os

import numpy as np

from neuroconv._checks import real_array, require_memory
from neuroconv.errors import NeuroconvError
from neuroconv.ann.layers import Add, AvgPool2d, Conv2d, Dense, Flatten, Graph, GraphBuilder, ReLU

__all__ = ["from_nir", "read_graph", "to_nir", "if_model", "MAX_DENSE_ENTRIES"]

#: to_nir writes each pathway as a dense Affine matrix; larger ones are refused.
MAX_DENSE_ENTRIES = 50_000_000


def _nir():
    try:
        import nir
    except ImportError:
        raise NeuroconvError("NIR support needs the nir package: pip install 'brian2-neuroconv[nir]'.") from None
    return nir


def _topological(graph):
    incoming = {name: [] for name in graph.nodes}
    for a, b in graph.edges:
        if a not in graph.nodes or b not in graph.nodes:
            raise NeuroconvError(f"NIR edge ({a!r}, {b!r}) names a node that does not exist.")
        incoming[b].append(a)
    order, done = [], set()

    def visit(name, stack):
        if name in done:
            return
        if name in stack:
            raise NeuroconvError(f"the NIR graph has a cycle through {name!r}; neuroconv converts feed-forward networks.")
        for a in incoming[name]:
            visit(a, stack | {name})
        done.add(name)
        order.append(name)

    for name in graph.nodes:
        visit(name, frozenset())
    return order, incoming


def _array(value, what="a NIR parameter"):
    return real_array(value, what)


def _check_hdf5(path):
    """Look at a ``.nir`` (HDF5) file before NIR reads it: no links or storage outside the file (HDF5
    can make a dataset read any file on the machine), real numbers only, and a total size within
    the memory budget."""
    import h5py

    total = 0.0

    def walk(group, depth):
        nonlocal total
        if depth > 64:
            raise NeuroconvError(f"{path!r}: groups nested more than 64 deep; not a NIR graph.")
        for name in group:
            link = group.get(name, getlink=True)
            if isinstance(link, h5py.ExternalLink):
                raise NeuroconvError(f"{path!r}: {group.name}/{name} links to another file ({link.filename!r}); "
                                     "neuroconv reads self-contained NIR files only.")
            if isinstance(link, h5py.SoftLink):
                continue
            item = group[name]
            if isinstance(item, h5py.Group):
                walk(item, depth + 1)
                continue
            if item.is_virtual or item.external:
                raise NeuroconvError(f"{path!r}: dataset {item.name} keeps its data outside the file; "
                                     "neuroconv reads self-contained NIR files only.")
            if item.dtype.kind == "c":
                raise NeuroconvError(f"{path!r}: dataset {item.name} holds complex numbers.")
            total += float(item.size) * item.dtype.itemsize

    try:
        with h5py.File(path, "r") as f:
            walk(f, 0)
    except NeuroconvError:
        raise
    except Exception as exc:  # noqa: BLE001 - not HDF5, truncated, ...
        raise NeuroconvError(f"cannot read {path!r} as NIR ({type(exc).__name__}: {exc}).") from None
    require_memory(total, f"NIR file {path!r}", "this model is too large to convert here.")


def _is(node, kind):
    return type(node).__name__ == kind


def from_nir(graph) -> Graph:
    """Import a NIR graph (``nir.NIRGraph`` or a path to a ``.nir`` file) as a :class:`~neuroconv.ann.Graph`.

    Spiking ``IF`` nodes become ``ReLU(threshold=v_threshold)``; their outgoing weights are
    divided by the threshold and incoming ones multiplied by ``r`` (see the module docstring).
    A ``LIF`` node without leak (``tau = inf``, as snnTorch writes ``Leaky(beta=1)``) is an IF node
    (with ``r = inf`` too, its gain ``r * dt / tau`` is taken as 1). Networks of leaky neurons run
    as spiking networks: :meth:`neuroconv.SpikingNetwork.from_nir`.
    """
    return read_graph(graph)[0]


def _load(graph):
    nir = _nir()
    if isinstance(graph, (str, os.PathLike)):
        if not os.path.exists(graph):
            raise NeuroconvError(f"NIR file {os.fspath(graph)!r} does not exist.")
        _check_hdf5(os.fspath(graph))
        try:
            graph = nir.read(os.fspath(graph))
        except Exception as exc:  # h5py/format errors
            raise NeuroconvError(f"cannot read {os.fspath(graph)!r} as NIR ({type(exc).__name__}: {exc}).") from None
    if not isinstance(graph, nir.NIRGraph):
        raise NeuroconvError(f"from_nir expects a nir.NIRGraph or a file path, got {type(graph).__name__}.")
    return graph


def _lif_terms(node, name, dt):
    """``(a, c)`` of a NIR LIF node for a step of ``dt`` seconds (forward Euler; see equations/nir_neurons.py)."""
    tau, r = _array(node.tau).reshape(-1), _array(node.r).reshape(-1)
    if np.any(tau <= 0) or np.any(np.isnan(tau)):
        raise NeuroconvError(f"NIR LIF {name!r}: tau must be positive (got {tau.min():g}).")
    inf = np.isinf(tau)
    with np.errstate(divide="ignore", invalid="ignore"):
        a = np.where(inf, 1.0, 1.0 - dt / tau)
        c = np.where(inf & np.isinf(r), 1.0, np.where(inf, 0.0, r * dt / tau))
    if np.any(inf & np.isfinite(r) & (r != 0)):
        raise NeuroconvError(f"NIR LIF {name!r}: tau = inf with a finite r has no input (r dt / tau = 0); write "
                             "IF nodes for integrate-and-fire neurons.")
    if np.any(a < 0):
        raise NeuroconvError(f"NIR LIF {name!r}: dt = {dt:g} s is longer than tau = {tau.min():g} s, so forward Euler "
                             "overshoots (1 - dt/tau < 0). Pass a smaller dt (snnTorch exports assume dt = 0.1 ms).")
    return a, c


def read_graph(graph, dt=None, spiking_output=False):
    """The ANN of a NIR graph and its neuron parameters: ``(Graph, params, output_theta)``.

    ``dt`` (seconds) reads leaky ``LIF`` nodes as in :class:`neuroconv.equations.NIRNeurons` (``params[ANN
    node] = {"a", "v_leak", "v_reset"}``); without it only non-leaky neurons are read. ``spiking_output``: a
    spiking node before ``Output`` is the output population (its threshold is ``output_theta``).
    """
    graph = _load(graph)
    order, incoming = _topological(graph)
    inputs = [n for n in order if _is(graph.nodes[n], "Input")]
    if len(inputs) != 1:
        raise NeuroconvError(f"the NIR graph has {len(inputs)} Input nodes; neuroconv networks have one input.")
    input_shape = tuple(int(s) for s in np.atleast_1d(graph.nodes[inputs[0]].input_type["input"]))
    builder = GraphBuilder(input_shape)
    params, output_theta = {}, None
    # per NIR node: (layer index or -1, scale) where scale divides outgoing weights (a spiking node's threshold)
    env = {inputs[0]: (-1, None)}
    output_node = None

    def append(layer, ins):
        return builder.add(layer, ins, f"NIR node {name!r}")

    pending = {}  # weight node name -> (NIR node, source layer index, source threshold); built when consumed
    for name in order:
        node = graph.nodes[name]
        kind = type(node).__name__
        if kind == "Input":
            continue
        srcs = incoming[name]
        if kind == "Output":
            if len(srcs) != 1:
                raise NeuroconvError(f"NIR Output {name!r} must have exactly one incoming edge.")
            output_node = srcs[0]
            continue
        if kind in ("Affine", "Linear", "Conv2d"):
            if len(srcs) != 1:
                raise NeuroconvError(f"NIR {kind} {name!r} has {len(srcs)} inputs; expected one.")
            src_index, src_scale = env[srcs[0]]
            pending[name] = (node, src_index, src_scale)
            env[name] = ("pending", name)
            continue
        if kind == "LIF" and dt is None:
            leaky = np.any(np.isfinite(_array(node.tau)))
            if leaky:
                raise NeuroconvError(
                    f"NIR node {name!r} is a leaky LIF (finite tau): neuroconv.ann.from_nir reads non-leaky networks "
                    "as ANNs; run spiking graphs with neuroconv.SpikingNetwork.from_nir(path, dt=..., timesteps=...).")
        if kind not in ("IF", "LIF", "I", "LI", "Flatten", "AvgPool2d", "SumPool2d"):
            raise NeuroconvError(
                f"NIR node {name!r} is a {kind}, which from_nir does not convert (supported: Input, Output, Affine, "
                "Linear, Conv2d, Flatten, AvgPool2d, SumPool2d, IF, LIF, and I/LI as the readout).")
        if kind in ("Flatten", "AvgPool2d", "SumPool2d"):
            (src,) = srcs
            src_index, src_scale = _materialise(env[src], pending, append, r=None)
            if src_scale is not None and np.size(src_scale) > 1:
                flat = np.asarray(src_scale).reshape(-1)
                if np.all(flat == flat[0]):
                    src_scale = flat[0]
                elif kind != "Flatten":
                    raise NeuroconvError(f"NIR {kind} {name!r} pools neurons with different thresholds; give the "
                                         "spiking layer before it one threshold (per layer).")
            if kind == "Flatten":
                layer = Flatten()
            else:
                kernel = tuple(np.atleast_1d(node.kernel_size).astype(int))
                kernel = kernel * 2 if len(kernel) == 1 else kernel
                layer = AvgPool2d(kernel, tuple(np.atleast_1d(node.stride).astype(int)),
                                  tuple(np.atleast_1d(node.padding).astype(int)))
                if kind == "SumPool2d":  # the window's sum = its mean times its area: the next weights take it
                    src_scale = (1.0 if src_scale is None else np.asarray(src_scale)) / float(np.prod(kernel))
            env[name] = (append(layer, [src_index]), src_scale)
            continue
        # a neuron node: sum of its incoming (weighted) pathways, then ReLU with its threshold
        a = None
        if kind == "LIF":
            a, r = _lif_terms(node, name, 1.0 if dt is None else dt)
        elif kind == "LI":
            a, r = _lif_terms(node, name, dt) if dt is not None else (None, _array(node.r).reshape(-1))
        else:
            r = _array(node.r).reshape(-1)
        parts = [_materialise(env[s], pending, append, r=r)[0] for s in srcs]
        top = parts[0] if len(parts) == 1 else append(Add(), parts)
        if kind in ("IF", "LIF"):
            v_reset = _array(node.v_reset).reshape(-1) if getattr(node, "v_reset", None) is not None else np.zeros(1)
            v_leak = _array(node.v_leak).reshape(-1) if kind == "LIF" else np.zeros(1)
            if dt is None and (np.any(v_reset != 0) or np.any(v_leak != 0)):
                raise NeuroconvError(f"NIR {kind} {name!r} has v_reset or v_leak != 0; neuroconv.ann.from_nir's "
                                     "neurons reset to 0 or subtract the threshold: run it with "
                                     "neuroconv.SpikingNetwork.from_nir.")
            theta = _array(node.v_threshold).reshape(-1)
            if np.any(theta <= 0):
                raise NeuroconvError(f"NIR {kind} {name!r}: v_threshold must be positive.")
            if spiking_output and name == _last_spiking(graph, incoming):
                output_theta = theta
                params["output"] = {"a": 1.0 if a is None else a, "v_leak": v_leak, "v_reset": v_reset}
                env[name] = (top, None)
                continue
            relu = append(ReLU(threshold=theta[0] if np.all(theta == theta[0]) else theta), [top])
            params[relu] = {"a": 1.0 if a is None else a, "v_leak": v_leak, "v_reset": v_reset}
            env[name] = (relu, theta)
        else:
            if kind == "LI" and dt is not None:
                if np.any(_array(node.v_leak) != 0):
                    raise NeuroconvError(f"NIR LI {name!r}: v_leak != 0 is not supported for the readout.")
                params["output"] = {"a": a}
            env[name] = (top, None)
    if output_node is None:
        raise NeuroconvError("the NIR graph has no Output node.")
    index, _ = _materialise(env[output_node], pending, append, r=None)
    if isinstance(builder.layers[index], ReLU):
        raise NeuroconvError("the NIR graph's output must be a non-spiking readout (I, LI or an Affine) after the "
                             "last spiking layer.")
    params.setdefault("output", {"a": 1.0})
    return builder.build(index, "NIR"), params, output_theta


def _last_spiking(graph, incoming):
    """The node feeding ``Output`` (the output population when it spikes)."""
    for name, node in graph.nodes.items():
        if type(node).__name__ == "Output":
            return incoming[name][0] if incoming[name] else None
    return None


def _materialise(entry, pending, append, r):
    """Turn a pending weight node into a Dense/Conv2d layer scaled by 1/theta_source and r_target."""
    if entry[0] != "pending":
        return entry
    node, src_index, src_scale = pending[entry[1]]
    kind = type(node).__name__
    weight = _array(node.weight)
    bias = _array(node.bias) if hasattr(node, "bias") and node.bias is not None else None
    if kind == "Conv2d":
        if int(node.groups) != 1 or np.any(np.atleast_1d(node.dilation) != 1):
            raise NeuroconvError("NIR Conv2d with groups or dilation is not supported.")
        if isinstance(node.padding, str):
            raise NeuroconvError(f"NIR Conv2d padding {node.padding!r}: give explicit numbers.")
    n_out = weight.shape[0]
    r_out = np.ones(n_out) if r is None else (np.full(n_out, r[0]) if np.all(r == r[0]) else None)
    if r_out is None:
        if kind == "Conv2d" or r.size != n_out:
            raise NeuroconvError("per-neuron r behind a convolution is not supported; use one r per layer.")
        r_out = r
    if src_scale is not None:
        scale = np.asarray(src_scale).reshape(-1)
        if kind == "Conv2d":
            if not np.all(scale == scale[0]):
                raise NeuroconvError("per-neuron thresholds before a NIR Conv2d are not supported.")
            weight = weight / scale[0]
        else:
            weight = weight / (scale[None, :] if scale.size > 1 else scale[0])
    shape = (-1,) + (1,) * (weight.ndim - 1)
    weight = weight * r_out.reshape(shape)
    bias = None if bias is None else bias * r_out
    if kind == "Conv2d":
        layer = Conv2d(weight, bias, stride=tuple(np.atleast_1d(node.stride).astype(int)),
                       padding=tuple(np.atleast_1d(node.padding).astype(int)))
    else:
        layer = Dense(weight, bias)
    return append(layer, [src_index]), None
