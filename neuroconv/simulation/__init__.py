"""Running a spiking network: the device registry, the numpy reference, results, and the Brian2 devices."""

from neuroconv.simulation.devices import DEVICES, Device, estimate_resources, register_device, run_on_device
from neuroconv.simulation.result import LayerSpikes, SimulationResult

__all__ = ["DEVICES", "Device", "register_device", "run_on_device", "estimate_resources", "SimulationResult",
           "LayerSpikes"]
