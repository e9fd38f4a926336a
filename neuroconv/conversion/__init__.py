"""ANN -> spiking network: calibration, connectivity, the converter, the network it makes, saved networks."""

from neuroconv.conversion.calibration import calibrate
from neuroconv.conversion.converter import convert
from neuroconv.conversion.network import READOUTS, SpikingLayer, SpikingNetwork

__all__ = ["convert", "calibrate", "SpikingNetwork", "SpikingLayer", "READOUTS"]
