"""brian2-neuroconv: trained ANNs to spiking networks built from real Brian2 objects.

>>> import neuroconv as nc
>>> snn = nc.convert(net, neuron=nc.equations.IF(), timesteps=32, calibration_data=x_cal)
>>> res = snn.run(x, device="runtime")
"""

import importlib.abc as _abc
import importlib.util as _util
import os as _os
import sys as _sys


class _SourceTreeFinder(_abc.MetaPathFinder):
    """Finds ``neuroconv.equations`` and ``neuroconv.analysis`` in a source checkout that was not installed.

    pyproject.toml installs the top-level folders ``equations/`` and ``analysis/`` as these subpackages. When
    the checkout itself comes first on ``sys.path`` (``python -c`` or ``python -m`` in the repository root, a
    notebook started there) Python imports ``neuroconv/`` from the checkout, which holds neither; this finder,
    consulted after the normal ones, maps them the way the installed package does.
    """

    def __init__(self, root: str):
        self.folders = {f"{__name__}.{name}": _os.path.join(root, name) for name in ("equations", "analysis")}

    def find_spec(self, fullname, path=None, target=None):
        folder = self.folders.get(fullname)
        if folder is None or not _os.path.isfile(_os.path.join(folder, "__init__.py")):
            return None
        return _util.spec_from_file_location(fullname, _os.path.join(folder, "__init__.py"),
                                             submodule_search_locations=[folder])


_here = _os.path.dirname(_os.path.abspath(__file__))
if not _os.path.isdir(_os.path.join(_here, "equations")) and not any(
        isinstance(f, _SourceTreeFinder) for f in _sys.meta_path):
    _sys.meta_path.append(_SourceTreeFinder(_os.path.dirname(_here)))

#: Where the modules of 0.1.0 live now: ``import neuroconv.demo`` and the like keep working.
MOVED = {
    "neuroconv.calibration": "neuroconv.conversion.calibration",
    "neuroconv.connectivity": "neuroconv.conversion.connectivity",
    "neuroconv.saved": "neuroconv.conversion.saved",
    "neuroconv.devices": "neuroconv.simulation.devices",
    "neuroconv.reference": "neuroconv.simulation.reference",
    "neuroconv.result": "neuroconv.simulation.result",
    "neuroconv.build_cache": "neuroconv.simulation.brian2.build_cache",
    "neuroconv.cuda": "neuroconv.simulation.brian2.cuda",
    "neuroconv.sweep": "neuroconv.experiments.sweep",
    "neuroconv.bench": "neuroconv.experiments.bench",
    "neuroconv.figures": "neuroconv.experiments.figures",
    "neuroconv.demo": "neuroconv.experiments.demo",
    "neuroconv.zoo": "neuroconv.experiments.zoo",
    "neuroconv.training": "neuroconv.experiments.training",
    "neuroconv.lowlatency": "neuroconv.experiments.lowlatency",
    "neuroconv.datasets": "neuroconv.experiments.datasets",
    "neuroconv.ann.torch_importer": "neuroconv.ann.importers.torch_importer",
    "neuroconv.ann.onnx_importer": "neuroconv.ann.importers.onnx_importer",
    "neuroconv.ann.nir_importer": "neuroconv.ann.importers.nir_importer",
}


class _MovedModules(_abc.MetaPathFinder, _abc.Loader):
    """Imports a 0.1.0 module path (``neuroconv.demo``) as the module that holds its code now."""

    def find_spec(self, fullname, path=None, target=None):
        return _util.spec_from_loader(fullname, self) if fullname in MOVED else None

    def create_module(self, spec):
        import importlib

        return importlib.import_module(MOVED[spec.name])

    def exec_module(self, module):
        pass


if not any(isinstance(f, _MovedModules) for f in _sys.meta_path):
    _sys.meta_path.append(_MovedModules())

import warnings as _warnings

# Brian2 2.9/2.10 builds its grammars with pyparsing's camelCase API, deprecated in pyparsing 3.3: when
# importing neuroconv imports Brian2, those notices (about Brian2's code, nothing a user can act on) stay out
# of the user's output, even under ``-W default``.
_warnings.filterwarnings("ignore", message=r"'\w+' (argument is )?deprecated", category=DeprecationWarning,
                         module=r"brian2(\.|$)")
_warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"pyparsing(\.|$)")

from neuroconv import ann, equations
from neuroconv.conversion import SpikingLayer, SpikingNetwork, calibrate, convert
from neuroconv.conversion.converter import load_network
from neuroconv.conversion.delays import Delays
from neuroconv.conversion.nir_export import portable_input, to_nir
from neuroconv.equations import NeuronModel
from neuroconv.errors import NeuroconvError, NeuroconvWarning
from neuroconv.experiments import datasets
from neuroconv.simulation import DEVICES, Device, LayerSpikes, SimulationResult, register_device

ann.to_nir = to_nir  # the 0.1.0 name (the export needs the converted network, so it lives in conversion/)

from neuroconv._version import __version__
from neuroconv._hooks import install_excepthook as _install_excepthook

_install_excepthook()  # a NeuroconvError shows as Python's plain error, not Brian2's 'bug in Brian 2' banner

__all__ = ["ann", "datasets", "equations", "NeuronModel", "calibrate", "convert", "SpikingNetwork", "SpikingLayer",
           "Device", "DEVICES", "register_device", "NeuroconvError", "NeuroconvWarning", "SimulationResult",
           "LayerSpikes", "load_network", "to_nir", "portable_input", "Delays", "__version__"]
