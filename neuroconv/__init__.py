"""brian2-neuroconv: trained ANNs to spiking networks built from real Brian2 objects.

>>> import neuroconv as nc
>>> snn = nc.convert(net, neuron=nc.equations.IF(), timesteps=32, calibration_data=x_cal)
>>> res = snn.run(x, device="runtime")
"""

import importlib.abc as _abc
import importlib.util as _util
import os as _os
import sys as _sys
from importlib.metadata import PackageNotFoundError, version as _version


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
