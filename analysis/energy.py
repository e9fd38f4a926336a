"""Energy estimate of a converted network's run versus its ANN (operation counts x energy per operation).

The usual accounting of the conversion literature (and of the One-Spike paper): an ANN
performs every multiply-accumulate (MAC) of its Dense/Conv2d layers; a spiking network
performs one accumulate (AC) per synaptic event, i.e. per spike and outgoing synapse
(a synaptic operation, SOP). The first layer receives the analog image, so its synapses
do MACs in both. Energies per operation default to 4.6 pJ (32-bit float MAC) and 0.9 pJ
(32-bit float add) in 45 nm CMOS (Horowitz, ISSCC 2014), the figures most papers use.
Biases, membrane updates, pooling adds and memory traffic are not counted, in either.

SOPs are counted on the network that ran: spikes from ``result`` times each neuron's
fan-out in the converted synapses (an AvgPool2d folded into the next layer's synapses
multiplies that fan-out by the pool size, as it does in the Brian2 network).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from brian2 import Quantity, joule, pjoule

from neuroconv.ann.layers import Conv2d, Dense
from neuroconv.conversion.connectivity import _window_indices
from neuroconv.errors import NeuroconvError

__all__ = ["EnergyEstimate", "estimate_energy", "ann_macs", "E_AC", "E_MAC"]

#: Energy of one accumulate (32-bit float add, 45 nm).
E_AC = 0.9 * pjoule
#: Energy of one multiply-accumulate (32-bit float, 45 nm).
E_MAC = 4.6 * pjoule


def _layer_macs(layer, in_shape, out_shape) -> int:
    if isinstance(layer, Dense):
        return int(layer.weight.size)
    if isinstance(layer, Conv2d):
        c_out, c_in, kh, kw = layer.weight.shape
        _, _, valid = _window_indices(in_shape, out_shape[1:], (kh, kw), layer.stride, layer.padding)
        return int(c_out * c_in * valid.sum())  # padded positions are not computed
    return 0


def ann_macs(net) -> list[int]:
    """MACs per image of each layer of the ANN (0 for ReLU, pooling and Flatten)."""
    return [_layer_macs(layer, net.shape_of(net.inputs[k][0]), net.shapes[k]) for k, layer in enumerate(net.layers)]


def _input_cone(snn) -> set:
    """ANN layers on the linear paths from the analog input to the populations it feeds."""
    graph, cone = snn.ann, set()
    for layer in snn.layers:
        if -1 not in layer.sources:
            continue
        stack = [layer.drive_node]
        while stack:
            n = stack.pop()
            if n < 0 or n in cone or (n != layer.drive_node and n in layer.source_nodes):
                continue
            cone.add(n)
            stack.extend(graph.inputs[n])
    return cone


@dataclass(frozen=True)
class EnergyEstimate:
    """Operations and energy per image (means over the run's images).

    ``sops_per_layer[k]``: synaptic events caused by spiking layer ``k``'s spikes.
    ``ratio`` is ``ann_energy / snn_energy`` (> 1: the SNN uses less).
    """

    sops: float
    sops_per_layer: list
    first_layer_macs: int
    ann_macs: int
    snn_energy: Quantity
    ann_energy: Quantity
    e_ac: Quantity
    e_mac: Quantity

    @property
    def ratio(self) -> float:
        return float(self.ann_energy / self.snn_energy)

    def to_dict(self) -> dict:
        """Plain numbers for JSON (energies in pJ)."""
        out = asdict(self)
        for key in ("snn_energy", "ann_energy", "e_ac", "e_mac"):
            out[key + "_pJ"] = float(out.pop(key) / pjoule)
        out["ratio"] = self.ratio
        return out


def _check_energy(value, name):
    if not isinstance(value, Quantity) or not value.has_same_dimensions(joule) or np.shape(value) != () \
            or not float(value) > 0:
        raise NeuroconvError(f"{name} must be a positive Brian2 energy such as 0.9*pjoule, got {value!r}.")
    return value


def estimate_energy(snn, result, e_ac=E_AC, e_mac=E_MAC) -> EnergyEstimate:
    """Energy per image of the run in ``result`` of the converted network ``snn``, and of its ANN.

    ``SNN = first-layer MACs * e_mac + SOPs * e_ac``; ``ANN = all MACs * e_mac``.
    """
    e_ac, e_mac = _check_energy(e_ac, "e_ac"), _check_energy(e_mac, "e_mac")
    hidden = snn.hidden_layers
    if len(result.spike_counts) != len(hidden) or any(
            c.shape[1] != layer.size for c, layer in zip(result.spike_counts, hidden)):
        raise NeuroconvError("result does not come from this network (its spike counts do not match the layers); "
                             "pass the SimulationResult of snn.run(...).")
    sops = []
    for k, counts in enumerate(result.spike_counts):
        sops.append(float(np.mean(counts @ snn.fan_out(k))))  # each spike reaches every outgoing synapse
    macs = ann_macs(snn.ann)
    # the analog input is multiplied, not spiked: MACs of the layers between the input and the
    # populations it feeds (in a chain, the first layer)
    first = sum(macs[n] for n in _input_cone(snn))
    total_sops = float(sum(sops))
    return EnergyEstimate(sops=total_sops, sops_per_layer=sops, first_layer_macs=int(first), ann_macs=int(sum(macs)),
                          snn_energy=first * e_mac + total_sops * e_ac, ann_energy=sum(macs) * e_mac,
                          e_ac=e_ac, e_mac=e_mac)
