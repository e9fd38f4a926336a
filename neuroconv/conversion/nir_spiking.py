"""Spiking NIR graphs (IF, LIF; LI or I readouts) as networks of Brian2 objects: ``SpikingNetwork.from_nir``.

The graph's weights become the converted network's synapses and its neurons
:class:`neuroconv.equations.NIRNeurons` populations, discretised with forward Euler over one
step ``dt`` (``v <- (1 - dt/tau) v + (r dt / tau) I + (dt/tau) v_leak``), spike when
``v > v_threshold``, reset to ``v_reset`` (NIR's semantics). The result runs on every device and
in the reference like a converted network: ``run(x)`` with ``x`` of shape ``(batch, *input)``
drives the first layer with the same input every step; ``(batch, steps, *input)`` is a time
series, one frame per step (``steps = timesteps``; runtime and reference devices).

snnTorch (1.0) exports with ``dt = 1e-4 s`` without writing it: read its files with
``dt=0.1*ms`` and they simulate as snnTorch does for ``reset_mechanism="zero"`` (spike for spike,
tested). snnTorch's default ``"subtract"`` reset is not in the file (NIR resets to ``v_reset``) and
subtracts the threshold one step late, undecayed; such networks read as reset-to-zero differ by
design (README, "Spiking networks from NIR").
"""

from __future__ import annotations

from brian2 import Quantity, ms, second

from neuroconv.errors import NeuroconvError

__all__ = ["from_nir"]


def from_nir(graph, dt=1 * ms, timesteps: int = 32, reset: str = "value"):
    """A :class:`~neuroconv.conversion.network.SpikingNetwork` of the NIR graph (``nir.NIRGraph`` or a ``.nir``
    path) with ``timesteps`` steps of ``dt`` per run (see the module docstring). ``reset``: ``"value"`` (NIR's
    ``v = v_reset``) or ``"subtract"`` (``v -= v_threshold``), where the file and the library that wrote it
    disagree: Sinabs writes ``v_reset = 0`` and simulates a subtract reset."""
    from neuroconv.ann.importers.nir_importer import _load, _topological, read_graph
    from neuroconv.conversion.converter import convert
    from neuroconv.equations.nir_neurons import NIRNeurons

    if not isinstance(dt, Quantity) or not dt.has_same_dimensions(second) or not float(dt) > 0:
        raise NeuroconvError(f"dt must be a positive Brian2 time, e.g. 1*ms, got {dt!r}.")
    neuron = NIRNeurons({}, reset=reset)  # checks reset before the file is read
    graph = _load(graph)
    order, incoming = _topological(graph)
    output_feed = next((incoming[n][0] for n in order if type(graph.nodes[n]).__name__ == "Output" and incoming[n]),
                       None)
    spiking_output = output_feed is not None and type(graph.nodes[output_feed]).__name__ in ("IF", "LIF")
    net, params, output_theta = read_graph(graph, dt=float(dt / second), spiking_output=spiking_output)
    thresholds = [layer.threshold for layer in net.layers if type(layer).__name__ == "ReLU"]
    if spiking_output:
        thresholds.append(output_theta)
    if not thresholds:
        raise NeuroconvError("the NIR graph has no spiking node (IF or LIF).")
    return convert(net, neuron=NIRNeurons(params, reset=neuron.reset), timesteps=timesteps, thresholds=thresholds,
                   readout="spikes" if spiking_output else "membrane", dt=dt)
