"""ANN -> spiking network: calibration, connectivity, the converter, the network it makes, saved networks."""

from neuroconv.conversion.calibration import calibrate
from neuroconv.conversion.converter import convert
from neuroconv.conversion.network import READOUTS, SpikingLayer, SpikingNetwork

__all__ = ["convert", "calibrate", "SpikingNetwork", "SpikingLayer", "READOUTS"]

from neuroconv.conversion.nir_spiking import from_nir as _from_nir

#: ``SpikingNetwork.from_nir(graph_or_path, dt=1*ms, timesteps=32, reset="value")``: a spiking NIR graph as Brian2 objects
#: (:mod:`neuroconv.conversion.nir_spiking`).
SpikingNetwork.from_nir = staticmethod(_from_nir)
