"""Importers into the ANN description: scikit-learn MLPs and ``.npz`` files (PyTorch, ONNX and NIR
have their own modules).

Nothing here executes code from a model file: ``.npz`` archives are read member by member
with every header checked (no pickles, no extraction, sizes within the memory budget) and
the architecture is stored as JSON text.
"""

from __future__ import annotations

import json
import os
import zipfile

import numpy as np

from neuroconv._checks import require_memory
from neuroconv.errors import NeuroconvError
from neuroconv.ann.layers import Add, AvgPool2d, Concat, BatchNorm, Conv2d, Dense, Flatten, Graph, MaxPool2d, ReLU, Sequential

__all__ = ["from_sklearn", "from_npz", "save_npz"]

_FORMAT = "neuroconv-ann-1"


def from_sklearn(model, input_shape=None) -> Sequential:
    """Convert a fitted scikit-learn ``MLPClassifier``/``MLPRegressor`` with ReLU hidden units.

    The output activation (softmax/logistic/identity) is dropped: the SNN reads out the
    pre-activation, whose argmax is the same class.
    """
    coefs = getattr(model, "coefs_", None)
    intercepts = getattr(model, "intercepts_", None)
    if coefs is None or intercepts is None:
        raise NeuroconvError(
            f"from_sklearn expects a fitted MLPClassifier or MLPRegressor, got {type(model).__name__} "
            "(call .fit() first)."
        )
    activation = getattr(model, "activation", "relu")
    if activation != "relu" and len(coefs) > 1:
        raise NeuroconvError(
            f"{type(model).__name__} uses activation={activation!r}; only 'relu' hidden layers convert to IF neurons. "
            "Retrain with activation='relu'."
        )
    layers = []
    for k, (w, b) in enumerate(zip(coefs, intercepts)):
        layers.append(Dense(np.asarray(w).T, np.asarray(b)))
        if k < len(coefs) - 1:
            layers.append(ReLU())
    n_in = np.asarray(coefs[0]).shape[0]
    if input_shape is None:
        input_shape = (n_in,)
    elif int(np.prod(input_shape)) != n_in:
        raise NeuroconvError(f"input_shape {tuple(input_shape)} has {int(np.prod(input_shape))} values, the MLP expects {n_in}.")
    if tuple(input_shape) != (n_in,):
        layers.insert(0, Flatten())
    return Sequential(layers, input_shape=input_shape)


def _layer_record(k, layer, arrays):
    if isinstance(layer, (Dense, Conv2d)):
        arrays[f"layer{k}.weight"] = layer.weight
        arrays[f"layer{k}.bias"] = layer.bias
        rec = {"type": type(layer).__name__}
        if isinstance(layer, Conv2d):
            rec.update(stride=list(layer.stride), padding=list(layer.padding), groups=layer.groups)
        return rec
    if isinstance(layer, (AvgPool2d, MaxPool2d)):
        rec = {"type": type(layer).__name__, "kernel_size": list(layer.kernel_size), "stride": list(layer.stride),
               "padding": list(layer.padding)}
        if layer.ceil_mode:
            rec["ceil_mode"] = True
        return rec
    if isinstance(layer, ReLU) and layer.threshold is not None:
        arrays[f"layer{k}.threshold"] = layer.threshold
        return {"type": "ReLU", "levels": layer.levels, "shift": layer.shift}
    if isinstance(layer, BatchNorm):
        for name in ("mean", "var", "weight", "bias"):
            arrays[f"layer{k}.{name}"] = getattr(layer, name)
        return {"type": "BatchNorm", "eps": layer.eps}
    return {"type": type(layer).__name__}


def npz_arrays(net: Graph) -> dict:
    """``net`` as the arrays of a :func:`save_npz` archive: ``__architecture__`` (JSON) and the layers' arrays."""
    arrays = {}
    records = [_layer_record(k, layer, arrays) for k, layer in enumerate(net.layers)]
    arch = {"format": _FORMAT, "input_shape": list(net.input_shape), "layers": records}
    if not net.is_chain:
        arch["inputs"] = [list(ins) for ins in net.inputs]
    return {"__architecture__": np.array(json.dumps(arch)), **arrays}


def save_npz(net: Graph, path) -> None:
    """Save ``net`` (a Sequential or Graph) as an ``.npz`` archive (arrays plus JSON architecture; no pickle)."""
    np.savez(path, **npz_arrays(net))


def read_npz(path) -> dict:
    """Every array of a plain ``.npz`` archive, read without trusting it.

    Nothing is unpickled (object arrays are refused), nothing is extracted to disk (member
    names, ``../`` included, are only dictionary keys), and every member's declared size is
    checked against the memory budget (see :mod:`neuroconv._checks`) before it is read, so a
    zip bomb or a header claiming a huge array is refused instead of exhausting memory.
    """
    name = os.fspath(path)
    if not os.path.exists(name):
        raise NeuroconvError(f"file {name!r} does not exist.")
    try:
        with zipfile.ZipFile(name) as archive:
            members = archive.infolist()
            require_memory(sum(m.file_size for m in members), f"{name!r} (unpacked)",
                           "this archive is larger than any network neuroconv can convert here.")
            arrays = {}
            for member in members:
                if not member.filename.endswith(".npy"):
                    raise NeuroconvError(f"{name!r}: member {member.filename!r} is not a .npy array; "
                                         "a plain .npz archive holds nothing else.")
                with archive.open(member) as fh:
                    arrays[member.filename[:-4]] = _read_npy(fh, member, name)
            return arrays
    except NeuroconvError:
        raise
    except Exception as exc:  # zipfile.BadZipFile, truncated members, bad headers, CRC errors
        raise NeuroconvError(f"cannot read {name!r} as .npz (corrupted or not an archive): "
                             f"{type(exc).__name__}: {exc}") from None


def _read_npy(fh, member, name) -> np.ndarray:
    """One ``.npy`` member: header checked (no object dtype, size matching the member) before the data."""
    fmt = np.lib.format
    version = fmt.read_magic(fh)
    if version == (1, 0):
        shape, fortran, dtype = fmt.read_array_header_1_0(fh, max_header_size=10000)
    elif version == (2, 0):
        shape, fortran, dtype = fmt.read_array_header_2_0(fh, max_header_size=10000)
    else:
        raise NeuroconvError(f"{name!r}: array {member.filename[:-4]!r} uses .npy format {version}; "
                             "save it with numpy's default format.")
    if dtype.hasobject:
        raise NeuroconvError(f"{name!r}: array {member.filename[:-4]!r} holds Python objects (a pickle); "
                             "neuroconv never loads pickles.")
    nbytes = int(np.prod(shape, dtype=np.float64) * dtype.itemsize)
    if nbytes > member.file_size:
        raise NeuroconvError(f"{name!r}: array {member.filename[:-4]!r} claims shape {shape} ({nbytes:,} bytes) "
                             f"but its member holds {member.file_size:,} bytes; the file is corrupted.")
    data = fh.read(nbytes)
    if len(data) != nbytes:
        raise NeuroconvError(f"{name!r}: array {member.filename[:-4]!r} is truncated.")
    array = np.frombuffer(data, dtype=dtype).copy()
    return array.reshape(shape[::-1]).T if fortran else array.reshape(shape)


def from_npz(path, input_shape=None) -> Graph:
    """Load an ANN from ``.npz``.

    Two layouts are accepted:

    * written by :func:`save_npz` (an ``__architecture__`` JSON entry plus ``layer{k}.weight``
      / ``layer{k}.bias`` arrays);
    * a plain MLP: arrays ``W0, b0, W1, b1, ...`` with ``W`` of shape ``(out, in)``, ReLU between
      layers and none after the last.
    """
    if not os.path.exists(path):
        raise NeuroconvError(f"model file {os.fspath(path)!r} does not exist.")
    contents = read_npz(path)
    if "__architecture__" in contents:
        return from_architecture(contents, path, input_shape)
    return _from_plain_mlp(contents, path, input_shape)


def from_architecture(contents, path, input_shape=None) -> Graph:
    """The ANN in the arrays of a :func:`save_npz` archive (``path`` names it in errors)."""
    try:
        arch = json.loads(str(contents["__architecture__"]))
        records = arch["layers"]
        shape = arch["input_shape"] if input_shape is None else input_shape
    except (ValueError, KeyError, TypeError, RecursionError) as exc:
        raise NeuroconvError(f"{os.fspath(path)!r}: malformed __architecture__ entry ({exc}).") from None
    if not isinstance(records, list):
        raise NeuroconvError(f"{os.fspath(path)!r}: malformed __architecture__ entry (layers is not a list).")
    layers = []
    for k, rec in enumerate(records):
        try:
            layers.append(_layer_from_record(k, rec, contents, path))
        except NeuroconvError:
            raise
        except (KeyError, TypeError, ValueError) as exc:
            raise NeuroconvError(f"{os.fspath(path)!r}: malformed record for layer {k} "
                                 f"({type(exc).__name__}: {exc}).") from None
    try:
        if "inputs" in arch:
            return Graph(layers, input_shape=tuple(shape), inputs=arch["inputs"])
        return Sequential(layers, input_shape=tuple(shape))
    except NeuroconvError:
        raise
    except (TypeError, ValueError) as exc:
        raise NeuroconvError(f"{os.fspath(path)!r}: malformed architecture ({type(exc).__name__}: {exc}).") from None


def _layer_from_record(k, rec, contents, path):
    """Layer ``k`` of a saved architecture from its JSON record and arrays."""
    kind = rec.get("type") if isinstance(rec, dict) else None

    def arrays(*names):
        try:
            return [contents[f"layer{k}.{name}"] for name in names]
        except KeyError as exc:
            raise NeuroconvError(f"{os.fspath(path)!r}: layer {k} ({kind}) is missing array {exc}.") from None

    if kind == "Dense":
        return Dense(*arrays("weight", "bias"))
    if kind == "Conv2d":
        return Conv2d(*arrays("weight", "bias"), stride=tuple(rec.get("stride", (1, 1))),
                      padding=tuple(rec.get("padding", (0, 0))), groups=rec.get("groups", 1))
    if kind in ("AvgPool2d", "MaxPool2d"):
        pool = AvgPool2d if kind == "AvgPool2d" else MaxPool2d
        return pool(tuple(rec["kernel_size"]), tuple(rec["stride"]), tuple(rec.get("padding", (0, 0))),
                    ceil_mode=rec.get("ceil_mode", False))
    if kind == "BatchNorm":
        return BatchNorm(*arrays("mean", "var", "weight", "bias"), eps=float(rec.get("eps", 1e-5)))
    if kind == "Add":
        return Add()
    if kind == "Concat":
        return Concat()
    if kind == "Flatten":
        return Flatten()
    if kind == "ReLU":
        return ReLU(contents.get(f"layer{k}.threshold"), rec.get("levels"), rec.get("shift", 0.5))
    raise NeuroconvError(f"{os.fspath(path)!r}: layer {k} has unknown type {kind!r}.")


def _from_plain_mlp(contents, path, input_shape):
    n = 0
    while f"W{n}" in contents:
        n += 1
    if n == 0:
        raise NeuroconvError(
            f"{os.fspath(path)!r} has neither an __architecture__ entry nor arrays W0, b0, ...; "
            f"found {sorted(contents)}. Save models with neuroconv.ann.save_npz."
        )
    layers = []
    for k in range(n):
        layers.append(Dense(contents[f"W{k}"], contents.get(f"b{k}")))
        if k < n - 1:
            layers.append(ReLU())
    n_in = layers[0].weight.shape[1]
    shape = (n_in,) if input_shape is None else tuple(input_shape)
    if shape != (n_in,):
        layers.insert(0, Flatten())
    return Sequential(layers, input_shape=shape)
