"""Converted IF networks as NIR graphs (``to_nir``), and the IF model a NIR graph asks for (``if_model``).

IF populations become ``nir.IF(r=1, v_threshold=theta, v_reset=0)`` nodes (the membrane
readout a ``nir.I`` node), each pathway a ``nir.Affine`` whose weights carry the source's
``theta``; the soft/hard reset, the theta/2 start, dt, T and the readout go into node
metadata under ``"neuroconv"``, which :func:`if_model` reads back. The ANN side of NIR
(``from_nir``) is in :mod:`neuroconv.ann.importers.nir_importer`.

``to_nir(snn, portable=True)`` writes a graph that needs no metadata: a reader that simulates
NIR's own semantics (``v += r I``, spike when ``v > v_threshold``, ``v = v_reset``; layers driven
by the same step's spikes) reproduces the network's spikes from the file alone:

* every threshold is 1 (written as float32's largest value below 1, ``PORTABLE_THRESHOLD``, so that
  NIR's strict ``>`` fires where our ``>=`` does): each population's incoming weights and bias are
  divided by its ``theta`` (snnTorch reads one threshold per node);
* the initial membrane (``theta/2``, or the calibrated start) is a one-step pre-charge: the input
  has one more channel, 1 at the first step and 0 after (:func:`portable_input` builds it), whose
  weights into each population are its start (in threshold units);
* the readout is an ``Affine`` into ``Output``: the current of each step, whose sum over the run
  divided by T is the network's readout;
* ``spiking_node="LIF"`` writes ``LIF(tau=1e30 s, r=tau/0.1 ms, v_leak=0)`` instead of ``IF``: no
  leak, one unit of input per step at snnTorch's fixed ``dt = 0.1 ms`` (read it with
  ``SpikingNetwork.from_nir(path, dt=0.1*ms)``). snnTorch 1.0's ``import_from_nir`` reads ``nir.IF``
  as ``Leaky(beta=0.9)`` and its own ``Leaky(beta=1)`` export (tau = r = inf) with a NaN threshold;
  this node it reads as ``Leaky(beta=1, reset_mechanism="zero")``.

NIR's neurons reset *to* ``v_reset``, so only ``IF(reset="zero")`` networks are exact in such a
file; the subtract reset is refused (Sinabs writes ``v_reset = 0`` and subtracts, but its
``from_nir`` also clamps the membrane at ``-theta`` and emits several spikes per step: no reader
honours both the file and our model). Spikes can differ only where a membrane lands within 6e-8
of its threshold (float32 rounding in a reader does the same).
"""

from __future__ import annotations

import numpy as np

from neuroconv.ann.importers.nir_importer import MAX_DENSE_ENTRIES, _nir
from neuroconv.errors import NeuroconvError

__all__ = ["to_nir", "if_model", "portable_input"]

#: snnTorch writes (and reads) every LIF with this dt (seconds), not stored in the file.
SNNTORCH_DT = 1e-4
#: ``spiking_node="LIF"``'s tau: snnTorch's own ``Leaky(beta=1)`` export (tau = r = inf) reads back with a NaN
#: threshold in snnTorch 1.0, so a finite tau this large stands for "no leak".
SNNTORCH_TAU = 1e30
#: A portable file's threshold: float32's largest value below 1, so that NIR's ``v > v_threshold`` fires where
#: our ``v >= theta`` does (a neuron driven at exactly its threshold, common where calibration set theta to the
#: largest activation), in float32 and float64 readers, also where dividing by theta rounded 1 down.
PORTABLE_THRESHOLD = float(np.nextafter(np.float32(1), np.float32(0)))


def to_nir(snn, portable: bool = False, spiking_node: str = "IF"):
    """The converted IF network ``snn`` as a ``nir.NIRGraph`` (see the module docstring for the mapping).
    ``portable=True``: a graph that needs no metadata (module docstring); ``spiking_node`` (``"IF"`` or
    ``"LIF"``) chooses its neuron node."""
    from neuroconv.equations import IF

    nir = _nir()
    if not isinstance(snn.neuron, IF):
        raise NeuroconvError(f"to_nir exports IF networks; this one has {type(snn.neuron).__name__} neurons, whose "
                             "gated/stochastic dynamics NIR cannot express.")
    if spiking_node not in ("IF", "LIF"):
        raise NeuroconvError(f"spiking_node must be 'IF' or 'LIF', got {spiking_node!r}.")
    if portable:
        return _portable(snn, nir, spiking_node)
    meta = {"neuroconv": {"reset": snn.neuron.reset, "shift": bool(snn.neuron.shift), "dt_seconds": float(snn.dt),
                          "timesteps": int(snn.timesteps), "readout": snn.readout}}
    n_in = int(np.prod(snn.ann.input_shape))
    nodes = {"input": nir.Input(input_type={"input": np.array([n_in])})}
    edges = []
    # the output population is the node "readout": NIR's Output node is called "output"
    names = [("readout" if layer is snn.output_layer else layer.name) for layer in snn.layers]
    for k, layer in enumerate(snn.layers):
        if layer.kind != "neuron":
            raise NeuroconvError(f"{layer.name} is a max-pool relay, which NIR has no node for; use AvgPool2d "
                                 "in the ANN to export it.")
        bias = layer.pathways[1]
        for p, source, weight in _pathway_weights(snn, layer):
            src = "input" if source < 0 else names[source]
            name = f"{src}_to_{names[k]}"
            nodes[name] = nir.Affine(weight, bias if p == 0 else np.zeros_like(bias))
            edges += [(src, name), (name, names[k])]
        ones = np.ones(layer.size)
        if layer.spiking:
            nodes[names[k]] = nir.IF(r=ones, v_threshold=layer.theta.copy(), v_reset=np.zeros(layer.size),
                                     metadata=meta)
        else:
            nodes[names[k]] = nir.I(r=ones, metadata=meta)
    nodes["output"] = nir.Output(output_type={"output": np.array([snn.output_layer.size])})
    edges.append((names[-1], "output"))
    return nir.NIRGraph(nodes=nodes, edges=edges)


def _pathway_weights(snn, layer, scale=None):
    """``(index, source, dense weight)`` of each pathway into ``layer``: the synapse matrix (its rows times
    ``scale``, if given) times the source's thresholds (the amplitude of its spikes); refused above
    :data:`MAX_DENSE_ENTRIES` entries."""
    for p, (source, matrix) in enumerate(zip(layer.sources, layer.pathways[0])):
        if matrix.shape[0] * matrix.shape[1] > MAX_DENSE_ENTRIES:
            raise NeuroconvError(f"the pathway into {layer.name} would be a dense {matrix.shape} Affine "
                                 f"(over {MAX_DENSE_ENTRIES:.0e} entries); NIR export suits smaller networks.")
        weight = matrix.toarray() if scale is None else matrix.toarray() * scale[:, None]
        yield p, source, weight * snn.layers[source].theta[None, :] if source >= 0 else weight


def if_model(graph):
    """The ``IF`` model a NIR graph written by :func:`to_nir` asks for (default ``IF()`` otherwise)."""
    from neuroconv.equations import IF

    for node in graph.nodes.values():
        meta = getattr(node, "metadata", {}) or {}
        if "neuroconv" in meta:
            info = meta["neuroconv"]
            return IF(reset=str(info.get("reset", "subtract")), shift=bool(info.get("shift", True)))
    return IF(reset="zero", shift=False)


def _check_portable(snn):
    if snn.neuron.reset != "zero":
        raise NeuroconvError("a portable NIR file (no metadata) cannot say 'subtract the threshold at a spike': NIR "
                             "resets to v_reset. Convert with neuron=IF(reset='zero') for a portable file, or call "
                             "to_nir(snn) without portable=True (our readers honour the metadata).")
    if snn.delays is not None:
        raise NeuroconvError("a portable NIR file has no synaptic delays; export the network without delays.")
    if not snn.output_layer.spiking and len(snn.output_layer.sources) != 1:
        raise NeuroconvError(f"the readout {snn.output_layer.name} has {len(snn.output_layer.sources)} pathways; a "
                             "portable file writes it as one Affine into Output (a residual join into the readout "
                             "needs to_nir(snn) without portable=True).")
    for layer in snn.layers:
        if layer.kind != "neuron":
            raise NeuroconvError(f"{layer.name} is a max-pool relay, which NIR has no node for; use AvgPool2d "
                                 "in the ANN to export it.")


def _portable(snn, nir, spiking_node):
    """``to_nir(snn, portable=True)``: thresholds 1, the start as a pre-charge channel, no metadata."""
    _check_portable(snn)
    n_in = int(np.prod(snn.ann.input_shape))
    starts = [snn.neuron.start_v(layer) / layer.theta if layer.spiking else None for layer in snn.layers]
    precharge = any(s is not None and np.any(s != 0) for s in starts)
    width = n_in + int(precharge)
    nodes = {"input": nir.Input(input_type={"input": np.array([width])})}
    edges = []
    names = [layer.name for layer in snn.layers]
    for k, layer in enumerate(snn.layers):
        scale = 1.0 / layer.theta if layer.spiking else np.ones(layer.size)
        bias = layer.pathways[1]
        target = names[k] if layer.spiking else "output"
        for p, source, weight in _pathway_weights(snn, layer, scale):
            if source < 0 and precharge:
                weight = np.hstack([weight, np.zeros((layer.size, 1))])
            src = "input" if source < 0 else names[source]
            name = f"{src}_to_{names[k]}" if layer.spiking else "readout"
            nodes[name] = nir.Affine(weight, bias * scale if p == 0 else np.zeros_like(bias))
            edges += [(src, name), (name, target)]
        if not layer.spiking:
            continue
        if precharge:
            weight = np.zeros((layer.size, width))
            weight[:, -1] = starts[k]
            nodes[f"precharge_{names[k]}"] = nir.Affine(weight, np.zeros(layer.size))
            edges += [("input", f"precharge_{names[k]}"), (f"precharge_{names[k]}", names[k])]
        ones, zeros = np.full(layer.size, PORTABLE_THRESHOLD), np.zeros(layer.size)
        if spiking_node == "IF":
            nodes[names[k]] = nir.IF(r=np.ones(layer.size), v_threshold=ones, v_reset=zeros)
        else:
            tau = np.full(layer.size, SNNTORCH_TAU)  # leak dt/tau = 1e-34 per step: none in float64
            nodes[names[k]] = nir.LIF(tau=tau, r=tau / SNNTORCH_DT, v_leak=zeros, v_threshold=ones, v_reset=zeros)
    out = snn.output_layer
    if out.spiking:
        edges.append((names[-1], "output"))
    nodes["output"] = nir.Output(output_type={"output": np.array([out.size])})
    return nir.NIRGraph(nodes=nodes, edges=edges)


def portable_input(snn, x) -> np.ndarray:
    """The input a reader feeds a ``to_nir(snn, portable=True)`` graph: ``(batch, T, features)``, each image
    flattened and repeated every step, plus (when the network starts above zero) the pre-charge channel,
    1 at the first step and 0 after. Step loops want ``np.moveaxis(frames, 1, 0)``."""
    x = np.asarray(x, dtype=float)
    n_in = int(np.prod(snn.ann.input_shape))
    if x.ndim < 1 or x.size % n_in or x.shape[-len(snn.ann.input_shape):] != tuple(snn.ann.input_shape):
        raise NeuroconvError(f"x must be images of shape (batch, {', '.join(map(str, snn.ann.input_shape))}), "
                             f"got {x.shape}.")
    flat = x.reshape(-1, n_in)
    T = snn.timesteps
    frames = np.repeat(flat[:, None, :], T, axis=1)
    if any(layer.spiking and np.any(snn.neuron.start_v(layer) != 0) for layer in snn.layers):
        pulse = np.zeros((flat.shape[0], T, 1))
        pulse[:, 0] = 1.0
        frames = np.concatenate([frames, pulse], axis=2)
    return frames
