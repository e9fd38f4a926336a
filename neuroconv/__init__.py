"""brian2-neuroconv: trained ANNs to spiking networks built from real Brian2 objects.

>>> import neuroconv as nc
>>> snn = nc.convert(net, neuron=nc.equations.IF(), timesteps=32, calibration_data=x_cal)
>>> res = snn.run(x, device="runtime")
"""

from importlib.metadata import PackageNotFoundError, version as _version

from . import ann, datasets, equations
from .calibration import calibrate
from .conversion import SpikingLayer, SpikingNetwork, convert
from .devices import Device
from .errors import NeuroconvError, NeuroconvWarning
from .result import LayerSpikes, SimulationResult
from .saved import load_network

try:
    __version__ = _version("brian2-neuroconv")
except PackageNotFoundError:  # pragma: no cover - running from a source tree without install
    __version__ = "0+unknown"

__all__ = ["ann", "datasets", "equations", "calibrate", "convert", "SpikingNetwork", "SpikingLayer", "Device",
           "NeuroconvError", "NeuroconvWarning", "SimulationResult", "LayerSpikes", "load_network", "__version__"]
