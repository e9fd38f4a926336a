"""Saved spiking networks: one ``.npz`` archive, arrays plus JSON, loadable without executing code.

The archive holds the (normalised) ANN exactly as :func:`neuroconv.ann.save_npz` writes it,
one array ``theta{k}`` per converted threshold (per neuron, on the ANN activation scale), one array
``v_init{k}`` per calibrated initial membrane (``IF(shift="calibrated")``, ``n_initial_v`` of them) and
a JSON entry ``__network__``: format, the neuron model (its registry name as ``family`` and
its parameters, see :mod:`neuroconv.equations.registry`), T (``timesteps``), ``dt``,
``readout``, and the versions that wrote it. Loading converts the ANN again with those
thresholds, so a loaded network runs exactly like the saved one. Networks saved by 0.1.0
load unchanged. ``np.load(..., allow_pickle=False)`` reads it: a file holding pickled objects is
refused, never unpickled.
"""

from __future__ import annotations

import json
import os

import numpy as np

from neuroconv.errors import NeuroconvError

__all__ = ["save_network", "read_network", "FORMAT"]

FORMAT = "neuroconv-network-1"


def save_network(snn, path) -> str:
    """Write ``snn`` to ``path`` (``.npz`` is appended when missing, as numpy does); returns the path.

    Models from Brian2 strings are saved as their strings; a ``reference_step`` function is not
    saved (give it again to ``NeuronModel.from_brian2`` to run the loaded network on the reference)."""
    import brian2

    from neuroconv._version import __version__
    from neuroconv.ann.importers import npz_arrays
    from neuroconv.equations import model_spec

    path = os.fspath(path)
    if not path.endswith(".npz"):
        path += ".npz"
    spec = model_spec(snn.neuron)
    arrays = npz_arrays(snn.ann)
    thresholds = [layer.theta for layer in snn.layers if layer.kind == "neuron" and layer.spiking]
    for k, theta in enumerate(thresholds):
        arrays[f"theta{k}"] = np.asarray(theta, dtype=np.float64)
    meta = {"format": FORMAT, "neuron": spec, "timesteps": snn.timesteps,
            "dt_seconds": float(snn.dt), "readout": snn.readout, "n_thresholds": len(thresholds),
            "neuroconv": __version__, "brian2": brian2.__version__, "numpy": np.__version__}
    if snn.delays is not None:
        meta["delays"] = snn.delays.spec()
    if snn.input_range is not None:
        meta["input_range"] = [float(v) for v in snn.input_range]
    starts = [layer.v_init for layer in snn.layers if layer.v_init is not None]
    if starts:
        meta["n_initial_v"] = len(starts)
        for k, v in enumerate(starts):
            arrays[f"v_init{k}"] = np.asarray(v, dtype=np.float64)
    arrays["__network__"] = np.array(json.dumps(meta))
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    tmp = f"{path}.{os.getpid()}.tmp.npz"
    np.savez(tmp, **arrays)
    os.replace(tmp, path)  # readers see the old file or the complete new one
    return path


def read_network(path):
    """The ANN and the ``convert`` options of a saved network: ``(net, {"neuron", "timesteps", "thresholds",
    "readout", "dt"})`` (``neuroconv.load_network`` converts them)."""
    from brian2 import second

    from neuroconv.ann.importers import from_architecture, read_npz
    from neuroconv.equations import model_from_spec

    path = os.fspath(path)
    contents = read_npz(path)
    if "__network__" not in contents:
        hint = " It holds an ANN: convert it first (neuroconv convert)." if "__architecture__" in contents else ""
        raise NeuroconvError(f"{path!r} is not a saved spiking network (no __network__ entry).{hint}")
    try:
        meta = json.loads(str(contents["__network__"]))
        fmt = meta["format"]
        n = int(meta["n_thresholds"])
        thresholds = [contents[f"theta{k}"] for k in range(n)]
        starts = [contents[f"v_init{k}"] for k in range(int(meta.get("n_initial_v", 0)))]
        neuron_meta, timesteps, dt, readout = meta["neuron"], meta["timesteps"], meta["dt_seconds"], meta["readout"]
    except (ValueError, KeyError, TypeError, RecursionError) as exc:
        raise NeuroconvError(f"{path!r}: malformed saved network ({type(exc).__name__}: {exc}).") from None
    if fmt != FORMAT:
        raise NeuroconvError(f"{path!r} has format {fmt!r}; this version of neuroconv reads {FORMAT!r}.")
    net = from_architecture(contents, path)
    neuron = model_from_spec(neuron_meta, where=f"{path!r}: neuron")
    if isinstance(dt, bool) or not isinstance(dt, (int, float)):
        raise NeuroconvError(f"{path!r}: malformed saved network (dt_seconds={dt!r} is not a number).")
    options = {"neuron": neuron, "timesteps": timesteps, "thresholds": thresholds, "readout": readout,
               "dt": float(dt) * second}
    if starts:
        options["initial_v"] = starts
    if meta.get("delays") is not None:
        from neuroconv.conversion.delays import Delays

        options["delays"] = Delays.from_spec(meta["delays"])
    input_range = meta.get("input_range")
    if input_range is not None:
        if (not isinstance(input_range, list) or len(input_range) != 2
                or not all(isinstance(v, (int, float)) and not isinstance(v, bool) and np.isfinite(v)
                           for v in input_range)):
            raise NeuroconvError(f"{path!r}: malformed saved network (input_range={input_range!r}).")
        options["input_range"] = (float(input_range[0]), float(input_range[1]))
    return net, options
