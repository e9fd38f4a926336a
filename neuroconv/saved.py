"""Saved spiking networks: one ``.npz`` archive, arrays plus JSON, loadable without executing code.

The archive holds the (normalised) ANN exactly as :func:`neuroconv.ann.save_npz` writes it,
one array ``theta{k}`` per converted threshold (per neuron, on the ANN activation scale) and
a JSON entry ``__network__``: format, the neuron model (family and parameters), the
conversion's ``timesteps``, ``dt``, ``readout``, and the versions that wrote it. Loading
converts the ANN again with those thresholds, so a loaded network runs exactly like the
saved one. ``np.load(..., allow_pickle=False)`` reads it: a file holding pickled objects is
refused, never unpickled.
"""

from __future__ import annotations

import dataclasses
import json
import os

import numpy as np

from .errors import NeuroconvError

__all__ = ["save_network", "load_network", "neuron_from_spec", "neuron_spec", "FORMAT", "NEURON_FAMILIES"]

FORMAT = "neuroconv-network-1"


def _families():
    from .equations import IF, TPP, OneSpike

    return {"if": IF, "one_spike": OneSpike, "tpp": TPP}


#: Neuron families by name, as in configs and on the command line.
NEURON_FAMILIES = ("if", "one_spike", "tpp")


def neuron_spec(neuron) -> dict:
    """``{"family": ..., **parameters}`` of a neuron model (JSON-ready)."""
    for family, cls in _families().items():
        if type(neuron) is cls:
            params = {f.name: getattr(neuron, f.name) for f in dataclasses.fields(neuron)}
            return {"family": family, **{k: (v.item() if isinstance(v, np.generic) else v) for k, v in params.items()}}
    raise NeuroconvError(f"cannot describe neuron model {neuron!r}; use IF(), OneSpike() or TPP().")


def neuron_from_spec(spec: dict, where: str = "neuron"):
    """The neuron model a :func:`neuron_spec` dict describes; clear errors name ``where``."""
    if not isinstance(spec, dict) or "family" not in spec:
        raise NeuroconvError(f"{where}: expected a table with a 'family' key ({', '.join(NEURON_FAMILIES)}), got {spec!r}.")
    params = dict(spec)
    family = params.pop("family")
    classes = _families()
    if family not in classes:
        raise NeuroconvError(f"{where}: unknown neuron family {family!r}; choose one of {list(NEURON_FAMILIES)}.")
    cls = classes[family]
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(params) - known)
    if unknown:
        raise NeuroconvError(f"{where}: {family} has no parameter(s) {unknown}; its parameters are {sorted(known)}.")
    try:
        return cls(**params)
    except (TypeError, ValueError) as exc:  # NeuroconvError included
        raise NeuroconvError(f"{where}: {exc}") from None


def _convert_timesteps(snn):
    """The ``timesteps`` argument ``convert`` was given (IF: T; TPP: the phase; OneSpike: none)."""
    from .equations import TPP, OneSpike

    if isinstance(snn.neuron, OneSpike):
        return None
    if isinstance(snn.neuron, TPP):
        return snn.neuron.timesteps
    return snn.timesteps


def save_network(snn, path) -> str:
    """Write ``snn`` to ``path`` (``.npz`` is appended when missing, as numpy does); returns the path."""
    import brian2

    from . import __version__
    from .ann.importers import npz_arrays

    path = os.fspath(path)
    if not path.endswith(".npz"):
        path += ".npz"
    arrays = npz_arrays(snn.ann)
    thresholds = [layer.theta for layer in snn.layers if layer.kind == "neuron" and layer.spiking]
    for k, theta in enumerate(thresholds):
        arrays[f"theta{k}"] = np.asarray(theta, dtype=np.float64)
    meta = {"format": FORMAT, "neuron": neuron_spec(snn.neuron), "timesteps": _convert_timesteps(snn),
            "dt_seconds": float(snn.dt), "readout": snn.readout, "n_thresholds": len(thresholds),
            "neuroconv": __version__, "brian2": brian2.__version__, "numpy": np.__version__}
    arrays["__network__"] = np.array(json.dumps(meta))
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    tmp = f"{path}.{os.getpid()}.tmp.npz"
    np.savez(tmp, **arrays)
    os.replace(tmp, path)  # readers see the old file or the complete new one
    return path


def load_network(path):
    """Read a network written by :func:`save_network` (or ``SpikingNetwork.save``)."""
    from brian2 import second

    from .ann.importers import from_architecture, read_npz
    from .conversion import convert

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
        neuron_meta, timesteps, dt, readout = meta["neuron"], meta["timesteps"], meta["dt_seconds"], meta["readout"]
    except (ValueError, KeyError, TypeError, RecursionError) as exc:
        raise NeuroconvError(f"{path!r}: malformed saved network ({type(exc).__name__}: {exc}).") from None
    if fmt != FORMAT:
        raise NeuroconvError(f"{path!r} has format {fmt!r}; this version of neuroconv reads {FORMAT!r}.")
    net = from_architecture(contents, path)
    neuron = neuron_from_spec(neuron_meta, where=f"{path!r}: neuron")
    if isinstance(dt, bool) or not isinstance(dt, (int, float)):
        raise NeuroconvError(f"{path!r}: malformed saved network (dt_seconds={dt!r} is not a number).")
    return convert(net, neuron=neuron, timesteps=timesteps, thresholds=thresholds, readout=readout,
                   dt=float(dt) * second)
