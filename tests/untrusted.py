"""Malicious model files for every loader, shared by tests/test_untrusted.py and benchmarks/reliability.py.

Each maker writes one hostile file into a fresh folder and returns ``(loader call, what it
tries)``. A pickle payload, if it ever ran, would create the file ``PWNED`` in that folder;
the check is that the loader raises NeuroconvError (or, for files that are valid apart from
hostile names, loads them harmlessly), that ``PWNED`` does not exist and that nothing was
written outside the folder (path-traversal names aim at its parent).
"""

from __future__ import annotations

import io
import json
import os
import pickle
import zipfile

import numpy as np

import neuroconv as nc
from neuroconv import ann


class _Payload:
    """Unpickling this runs ``open(marker, "w")``: proof that code from a file executed."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def _npy_bytes(array, header_shape=None, descr=None):
    """A .npy member; ``header_shape``/``descr`` lie in the header when given."""
    buf = io.BytesIO()
    header = {"descr": descr or np.lib.format.dtype_to_descr(array.dtype), "fortran_order": False,
              "shape": tuple(header_shape if header_shape is not None else array.shape)}
    np.lib.format.write_array_header_1_0(buf, header)
    buf.write(array.tobytes())
    return buf.getvalue()


def _zip(path, members):
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in members.items():
            z.writestr(name, data)


def _mlp_arrays():
    net = ann.Sequential([ann.Dense(np.ones((3, 4))), ann.ReLU(), ann.Dense(np.ones((2, 3)))], input_shape=(4,))
    return ann.importers.npz_arrays(net)


def _pickled_object_array(marker):
    buf = io.BytesIO()
    np.save(buf, np.array([_Payload(marker)], dtype=object), allow_pickle=True)
    return buf.getvalue()


def npz_pickle(d):
    path = os.path.join(d, "model.npz")
    _zip(path, {"W0.npy": _pickled_object_array(os.path.join(d, "PWNED")), "b0.npy": _npy_bytes(np.ones(3))})
    return lambda: ann.from_npz(path), "npz: object array holding a pickle"


def npz_raw_pickle(d):
    path = os.path.join(d, "model.npz")
    _zip(path, {"W0.npy": pickle.dumps(_Payload(os.path.join(d, "PWNED")))})
    return lambda: ann.from_npz(path), "npz: member that is a bare pickle"


def npz_traversal(d):
    path = os.path.join(d, "model.npz")
    members = {f"{k}.npy": _npy_bytes(np.asarray(v)) for k, v in _mlp_arrays().items()}
    members["../../escaped.npy"] = _npy_bytes(np.ones(3))
    members["/tmp/neuroconv_escaped.npy"] = _npy_bytes(np.ones(3))
    _zip(path, members)
    return lambda: ann.from_npz(path), "npz: member names with ../ and absolute paths"


def npz_oversized_header(d):
    path = os.path.join(d, "model.npz")
    _zip(path, {"W0.npy": _npy_bytes(np.ones(4), header_shape=(10**7, 10**6)), "b0.npy": _npy_bytes(np.ones(3))})
    return lambda: ann.from_npz(path), "npz: header claims a 80 TB array"


def npz_zip_bomb(d):
    path = os.path.join(d, "model.npz")
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        with z.open("W0.npy", "w") as fh:  # 256 MiB of zeros, 250 kB compressed
            fh.write(np.lib.format.magic(1, 0))
            chunk = bytes(1 << 24)
            for _ in range(16):
                fh.write(chunk)

    def call():  # against a 64 MiB budget (the default, half the RAM, would need a bigger bomb)
        previous = os.environ.get("NEUROCONV_MAX_MEMORY")
        os.environ["NEUROCONV_MAX_MEMORY"] = "64M"
        try:
            ann.from_npz(path)
        finally:
            if previous is None:
                del os.environ["NEUROCONV_MAX_MEMORY"]
            else:
                os.environ["NEUROCONV_MAX_MEMORY"] = previous

    return call, "npz: zip bomb (256 MiB unpacked, 64 MiB budget)"


def npz_wrong_dtype(d):
    path = os.path.join(d, "model.npz")
    arrays = {k: np.asarray(v) for k, v in _mlp_arrays().items()}
    arrays["layer0.weight"] = arrays["layer0.weight"] * (1 + 1j)
    np.savez(path, **arrays)
    return lambda: ann.from_npz(path), "npz: complex weights"


def npz_text_weights(d):
    path = os.path.join(d, "model.npz")
    np.savez(path, W0=np.full((3, 4), "1.0"), b0=np.zeros(3))
    return lambda: ann.from_npz(path), "npz: weights stored as text"


def npz_truncated(d):
    path = os.path.join(d, "model.npz")
    np.savez(path, **_mlp_arrays())
    with open(path, "r+b") as fh:
        fh.truncate(os.path.getsize(path) // 2)
    return lambda: ann.from_npz(path), "npz: truncated archive"


def npz_deep_json(d):
    path = os.path.join(d, "model.npz")
    arrays = dict(_mlp_arrays())
    arrays["__architecture__"] = np.array("[" * 100000 + "]" * 100000)
    np.savez(path, **arrays)
    return lambda: ann.from_npz(path), "npz: architecture JSON nested 100,000 deep"


def npz_bad_records(d):
    path = os.path.join(d, "model.npz")
    arrays = dict(_mlp_arrays())
    arch = json.loads(str(arrays["__architecture__"]))
    arch["layers"][0] = {"type": "AvgPool2d", "kernel_size": 7, "stride": "x"}
    arrays["__architecture__"] = np.array(json.dumps(arch))
    np.savez(path, **arrays)
    return lambda: ann.from_npz(path), "npz: layer record with wrong types"


def _saved(d):
    net = ann.Sequential([ann.Dense(np.ones((3, 4))), ann.ReLU(), ann.Dense(np.ones((2, 3)))], input_shape=(4,))
    path = nc.convert(net, timesteps=4, thresholds=[1.0]).save(os.path.join(d, "snn.npz"))
    with np.load(path, allow_pickle=False) as z:
        return path, {k: z[k] for k in z.files}


def saved_pickle(d):
    path, arrays = _saved(d)
    members = {f"{k}.npy": _npy_bytes(np.asarray(v)) for k, v in arrays.items()}
    members["theta0.npy"] = _pickled_object_array(os.path.join(d, "PWNED"))
    _zip(path, members)
    return lambda: nc.load_network(path), "saved network: pickled thresholds"


def saved_bad_metadata(d):
    path, arrays = _saved(d)
    meta = json.loads(str(arrays["__network__"]))
    meta.update(timesteps=10**12, dt_seconds="1 ms", neuron={"family": "if", "reset": ["__import__('os')"]})
    arrays["__network__"] = np.array(json.dumps(meta))
    np.savez(path, **arrays)
    return lambda: nc.load_network(path), "saved network: hostile metadata"


def saved_unknown_family(d):
    path, arrays = _saved(d)
    meta = json.loads(str(arrays["__network__"]))
    meta["neuron"] = {"family": "os.system", "command": "touch PWNED"}
    arrays["__network__"] = np.array(json.dumps(meta))
    np.savez(path, **arrays)
    return lambda: nc.load_network(path), "saved network: unknown neuron family"


def _onnx_matmul(d, weight, n_in, n_out):
    """An .onnx file computing ``y = x @ W`` with the given (hostile) initializer ``W``."""
    from onnx import TensorProto, helper

    node = helper.make_node("MatMul", ["x", "W"], ["y"])
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, n_in])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, n_out])], [weight])
    path = os.path.join(d, "model.onnx")
    with open(path, "wb") as fh:
        fh.write(helper.make_model(graph).SerializeToString())
    return path


def _pickle_file(d, name):
    """A file holding a bare pickle of the payload, named like a model."""
    path = os.path.join(d, name)
    with open(path, "wb") as fh:
        fh.write(pickle.dumps(_Payload(os.path.join(d, "PWNED"))))
    return path


def onnx_external_data(d):
    from onnx import TensorProto

    with open(os.path.join(os.path.dirname(d), "secret.bin"), "wb") as fh:
        fh.write(np.arange(12, dtype=np.float32).tobytes())
    w = TensorProto(name="W", data_type=TensorProto.FLOAT, dims=[4, 3], data_location=TensorProto.EXTERNAL)
    w.external_data.add(key="location", value="../secret.bin")
    path = _onnx_matmul(d, w, 4, 3)
    return lambda: ann.from_onnx(path), "onnx: external data pointing outside the folder"


def onnx_lying_dims(d):
    from onnx import TensorProto

    w = TensorProto(name="W", data_type=TensorProto.FLOAT, dims=[10**6, 10**6],
                    raw_data=np.ones(4, np.float32).tobytes())  # helper.make_tensor would refuse the lie
    path = _onnx_matmul(d, w, 10**6, 10**6)
    return lambda: ann.from_onnx(path), "onnx: tensor declaring 1e12 values"


def onnx_string_tensor(d):
    from onnx import TensorProto, helper

    path = _onnx_matmul(d, helper.make_tensor("W", TensorProto.STRING, [1], [b"__import__('os')"]), 1, 1)
    return lambda: ann.from_onnx(path), "onnx: string tensor as weights"


def onnx_garbage(d):
    path = _pickle_file(d, "model.onnx")
    return lambda: ann.from_onnx(path), "onnx: a pickle renamed .onnx"


def _nir_file(d):
    import nir

    graph = nir.NIRGraph.from_list(nir.Affine(np.ones((3, 4)), np.zeros(3)),
                                   nir.IF(r=np.ones(3), v_threshold=np.ones(3)),
                                   nir.Affine(np.ones((2, 3)), np.zeros(2)))
    path = os.path.join(d, "model.nir")
    nir.write(path, graph)
    return path


def nir_external_link(d):
    import h5py

    path = _nir_file(d)
    outside = os.path.join(os.path.dirname(d), "outside.h5")
    with h5py.File(outside, "w") as f:
        f["weight"] = np.ones((3, 4))
    with h5py.File(path, "a") as f:
        f["node/nodes/stolen"] = h5py.ExternalLink(outside, "/weight")
    return lambda: ann.from_nir(path), "nir: external link to another file"


def nir_external_storage(d):
    import h5py

    path = _nir_file(d)
    raw = os.path.join(os.path.dirname(d), "outside.raw")
    with open(raw, "wb") as fh:
        fh.write(np.ones(12).tobytes())
    with h5py.File(path, "a") as f:
        f.create_dataset("node/extra", shape=(12,), dtype="f8", external=[(raw, 0, 96)])
    return lambda: ann.from_nir(path), "nir: dataset stored in an external raw file"


def nir_pickle(d):
    path = _pickle_file(d, "model.nir")
    return lambda: ann.from_nir(path), "nir: a pickle renamed .nir"


def nir_complex_weights(d):
    import h5py

    path = _nir_file(d)
    with h5py.File(path, "a") as f:
        for name in list(f["node/nodes"]):
            group = f[f"node/nodes/{name}"]
            if "weight" in group:
                shape = group["weight"].shape
                del group["weight"]
                group["weight"] = np.ones(shape) * 1j
    return lambda: ann.from_nir(path), "nir: complex weights"


def torch_pickle(d):
    import torch

    from neuroconv.experiments import zoo

    path = os.path.join(d, "model.pt")
    with open(path, "wb") as fh:
        pickle.dump({"weight": _Payload(os.path.join(d, "PWNED"))}, fh)
    assert torch
    return lambda: zoo.load_state(path), "torch: state_dict with a pickled payload"


def _config(d, output, timesteps="[4]", seeds="[0]"):
    """A sweep config in ``d`` writing to ``output``; returns the call that loads it."""
    from neuroconv.experiments.sweep import load_config

    path = os.path.join(d, "sweep.toml")
    with open(path, "w") as fh:
        fh.write(f'[sweep]\noutput = "{output}"\n[grid]\nmodel = ["builtin:digits_mlp"]\ndataset = ["digits"]\n'
                 f'neuron = ["if"]\ntimesteps = {timesteps}\nseed = {seeds}\n')
    return lambda: load_config(path)


def config_escape(d):
    return _config(d, "../escaped.csv"), "config: output outside its folder"


def config_overwrite(d):
    with open(os.path.join(d, "notes.csv"), "w") as fh:
        fh.write("name,value\nprecious,1\n")
    return _config(d, "notes.csv"), "config: output is someone else's CSV"


def config_huge_grid(d):
    return _config(d, "t.csv", list(range(1, 1001)), list(range(1000))), "config: a million cells"


MAKERS = {
    "npz": [npz_pickle, npz_raw_pickle, npz_traversal, npz_oversized_header, npz_zip_bomb, npz_wrong_dtype,
            npz_text_weights, npz_truncated, npz_deep_json, npz_bad_records],
    "saved network": [saved_pickle, saved_bad_metadata, saved_unknown_family],
    "onnx": [onnx_external_data, onnx_lying_dims, onnx_string_tensor, onnx_garbage],
    "nir": [nir_external_link, nir_external_storage, nir_pickle, nir_complex_weights],
    "torch": [torch_pickle],
    "config": [config_escape, config_overwrite, config_huge_grid],
}


#: Files whose loading is fine as long as nothing is written or executed (the extra members of
#: an archive are only dictionary keys; the model itself is valid).
HARMLESS_WHEN_LOADED = {npz_traversal}
SAFE = ("refused", "loaded safely")


def attack(maker, folder) -> tuple[str, str]:
    """Run one maker in ``folder`` (a fresh, empty subfolder of a scratch folder).

    Returns (outcome, detail); the outcome is one of :data:`SAFE` or "executed", "wrote outside",
    "accepted" (a hostile file loaded as if valid) or "crash" (an exception other than NeuroconvError).
    """
    parent = os.path.dirname(folder)
    call, what = maker(folder)
    before = set(os.listdir(parent))
    try:
        call()
        result, detail = ("loaded safely" if maker in HARMLESS_WHEN_LOADED else "accepted"), what
    except nc.NeuroconvError as exc:
        result, detail = "refused", str(exc)
    except Exception as exc:  # noqa: BLE001
        result, detail = "crash", f"{type(exc).__name__}: {exc}"
    if os.path.exists(os.path.join(folder, "PWNED")):
        return "executed", what
    if set(os.listdir(parent)) - before or os.path.exists("/tmp/neuroconv_escaped.npy"):
        return "wrote outside", what
    return result, detail
