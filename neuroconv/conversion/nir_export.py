"""Converted IF networks as NIR graphs (``to_nir``), and the IF model a NIR graph asks for (``if_model``).

IF populations become ``nir.IF(r=1, v_threshold=theta, v_reset=0)`` nodes (the membrane
readout a ``nir.I`` node), each pathway a ``nir.Affine`` whose weights carry the source's
``theta``; the soft/hard reset, the theta/2 start, dt, T and the readout go into node
metadata under ``"neuroconv"``, which :func:`if_model` reads back. The ANN side of NIR
(``from_nir``) is in :mod:`neuroconv.ann.importers.nir_importer`.
"""

from __future__ import annotations

import numpy as np

from neuroconv.ann.importers.nir_importer import MAX_DENSE_ENTRIES, _nir
from neuroconv.errors import NeuroconvError

__all__ = ["to_nir", "if_model"]


def to_nir(snn):
    """The converted IF network ``snn`` as a ``nir.NIRGraph`` (see the module docstring for the mapping)."""
    from neuroconv.equations import IF

    nir = _nir()
    if not isinstance(snn.neuron, IF):
        raise NeuroconvError(f"to_nir exports IF networks; this one has {type(snn.neuron).__name__} neurons, whose "
                             "gated/stochastic dynamics NIR cannot express.")
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
        matrices, bias = layer.pathways
        for p, (source, matrix) in enumerate(zip(layer.sources, matrices)):
            if matrix.shape[0] * matrix.shape[1] > MAX_DENSE_ENTRIES:
                raise NeuroconvError(f"the pathway into {layer.name} would be a dense {matrix.shape} Affine "
                                     f"(over {MAX_DENSE_ENTRIES:.0e} entries); NIR export suits smaller networks.")
            weight = matrix.toarray()
            if source >= 0:
                weight = weight * snn.layers[source].theta[None, :]
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


def if_model(graph):
    """The ``IF`` model a NIR graph written by :func:`to_nir` asks for (default ``IF()`` otherwise)."""
    from neuroconv.equations import IF

    for node in graph.nodes.values():
        meta = getattr(node, "metadata", {}) or {}
        if "neuroconv" in meta:
            info = meta["neuroconv"]
            return IF(reset=str(info.get("reset", "subtract")), shift=bool(info.get("shift", True)))
    return IF(reset="zero", shift=False)
