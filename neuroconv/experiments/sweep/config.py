"""A sweep's TOML config, checked before any task starts; and the model and calibration arguments that the
config and the command line (``neuroconv convert``) share."""

from __future__ import annotations

import functools
import hashlib
import itertools
import json
import os
import tomllib
import warnings
from dataclasses import dataclass, field

import numpy as np

from neuroconv._checks import MAX_TIMESTEPS
from neuroconv.equations import MODELS, model_from_spec, registered
from neuroconv.errors import NeuroconvError, NeuroconvWarning
from neuroconv.experiments.sweep.table import CELL_COLUMNS, read_table

__all__ = ["SweepConfig", "load_config", "load_model", "parse_calibration", "neuron_families", "cached_dataset",
           "model_digest", "MAX_CELLS", "DEVICES"]

#: Most cells one config may hold (each is a task and a table row).
MAX_CELLS = 100_000
#: The values of ``grid.device``.
DEVICES = ("reference", "runtime", "runtime/numpy", "runtime/cython", "cpp_standalone", "cuda_standalone")

_SWEEP_KEYS = {"output": str, "images": int, "calibration_images": int, "batch_size": int, "retries": int,
               "workers": int, "figure": bool}
_GRID_REQUIRED = ("model", "dataset", "neuron", "timesteps")
_GRID_DEFAULTS = {"calibration": ["max"], "device": ["reference"], "seed": [0]}
_T_MEANING = "IF: the run length, TPP: the phase, One-Spike: the window"


@dataclass
class SweepConfig:
    """A validated sweep: its cells and where results go."""

    path: str
    output: str
    cells: list
    models: dict                         # model reference -> prepared .npz path
    neurons: dict                        # neuron name -> spec dict ({"family": name, **parameters})
    retries: int = 1
    workers: int | None = None
    figure: bool = True
    grid: dict = field(default_factory=dict)


def _at(key: str) -> str:
    return f"config key {key!r}"


def _fail(key, message):
    raise NeuroconvError(f"{_at(key)}: {message}")


def _as_list(value, key):
    values = value if isinstance(value, list) else [value]
    if not values:
        _fail(key, "is empty; give at least one value.")
    return values


def _int(value, key, minimum, maximum=None):
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        _fail(key, f"must be an int >= {minimum}, got {value!r}.")
    if maximum is not None and value > maximum:
        _fail(key, f"must be at most {maximum:,}, got {value!r}.")
    return value


def neuron_families() -> tuple:
    """The registered neuron families that can be built from their name alone (``{"family": name}``), in
    registration order: a sweep's neurons without a ``[neurons]`` table and the CLI's ``--neuron`` choices.
    Families that need parameters (``"brian2"``: the model's strings) are left out; a config defines them
    under ``[neurons.NAME]``."""
    names = []
    for name in registered():
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", NeuroconvWarning)
                model_from_spec({"family": name})
        except NeuroconvError:
            continue
        names.append(name)
    return tuple(names)


def parse_calibration(value, where: str = "calibration"):
    """``"max"``, ``"trained"`` or a percentile in (0, 100] (a number, or text such as ``"99.9"`` or
    ``"99.9%"``, returned as a float); errors start with ``where``."""
    if value in ("max", "trained"):
        return value
    text = value[:-1] if isinstance(value, str) and value.endswith("%") else value
    try:
        q = float(text)
    except (TypeError, ValueError):
        raise NeuroconvError(f"{where}: unknown calibration {value!r}; use 'max', 'trained' or a percentile such "
                             "as 99.9.") from None
    if isinstance(value, bool) or not 0 < q <= 100:
        raise NeuroconvError(f"{where}: a percentile must be in (0, 100], got {value!r}.")
    return q


@functools.lru_cache(maxsize=8)
def cached_dataset(name: str, image: bool):
    """``neuroconv.experiments.datasets.load(name, image=image)``, kept for the next cell of the same process."""
    from neuroconv.experiments import datasets

    return datasets.load(name, image=image)


def load_model(ref: str, base: str | None = None, where: str | None = None):
    """The ANN a model reference names: ``builtin:digits_mlp``, ``zoo:NAME[:qcfs]`` (trained and cached on
    first use; needs PyTorch) or a ``.npz``/``.onnx``/``.nir`` file (relative to ``base``, default the
    working directory). Errors start with ``where`` when given."""
    from neuroconv import ann

    def fail(message):
        raise NeuroconvError(f"{where}: {message}" if where else message)

    if ref.startswith("builtin:"):
        from neuroconv.experiments.demo import shipped_digits_mlp

        if ref != "builtin:digits_mlp":
            fail(f"unknown builtin model {ref!r}; the builtin model is 'builtin:digits_mlp'.")
        return shipped_digits_mlp()
    if ref.startswith("zoo:"):
        parts = ref.split(":")
        try:
            from neuroconv.experiments import zoo
        except ImportError:
            fail(f"{ref!r} needs PyTorch: pip install 'brian2-neuroconv[torch]'.")
        if len(parts) not in (2, 3) or parts[1] not in zoo.MODELS or (len(parts) == 3 and parts[2] not in ("relu", "qcfs")):
            fail(f"unknown zoo model {ref!r}; use zoo:NAME or zoo:NAME:qcfs with NAME in {sorted(zoo.MODELS)}.")
        return zoo.load(parts[1], variant=parts[2] if len(parts) == 3 else "relu").to_ann()
    base = os.getcwd() if base is None else base
    path = ref if os.path.isabs(ref) else os.path.join(base, ref)
    if not os.path.exists(path):
        fail(f"model file {path!r} does not exist.")
    if path.endswith(".npz"):
        return ann.from_npz(path)
    if path.endswith(".onnx"):
        from neuroconv.ann import from_onnx

        return from_onnx(path)
    if path.endswith(".nir"):
        from neuroconv.ann import from_nir

        return from_nir(path)
    fail(f"cannot read {ref!r}: model files are .npz, .onnx or .nir (export PyTorch models to ONNX, "
         "or save neuroconv.ann.from_torch(model) with neuroconv.ann.save_npz).")


def model_digest(net) -> str:
    """SHA-256 of an ANN's architecture and arrays (stable across saves, unlike the archive's bytes)."""
    from neuroconv.ann.importers import npz_arrays

    h = hashlib.sha256()
    for key, value in sorted(npz_arrays(net).items()):
        value = np.ascontiguousarray(value)
        h.update(f"{key}|{value.dtype.str}|{value.shape}|".encode())
        h.update(value.tobytes())
    return h.hexdigest()


def _cell_id(cell: dict, digest: str, neuron_spec: dict) -> str:
    spec = {k: cell[k] for k in CELL_COLUMNS if k != "cell_id"}
    spec["model_digest"] = digest
    if neuron_spec != {"family": cell["neuron"]}:  # a named neuron: its parameters are part of the cell
        spec["neuron_spec"] = neuron_spec
    return hashlib.sha256(json.dumps(spec, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _neurons(tables) -> dict:
    """Neuron name -> spec: the families buildable from their name, then the config's ``[neurons]``."""
    neurons = {name: {"family": name} for name in neuron_families()}
    if not isinstance(tables, dict):
        _fail("neurons", "must be tables [neurons.NAME] with 'family' and parameters.")
    for name, spec in tables.items():
        key = f"neurons.{name}"
        if not isinstance(spec, dict):
            _fail(key, "must be a table with 'family' and parameters.")
        spec = dict(spec)
        t_field = getattr(MODELS.get(spec.get("family")), "timesteps_field", None)
        for given in dict.fromkeys(("timesteps", t_field)):
            if given and given in spec:
                _fail(key, f"T comes from grid.timesteps ({_T_MEANING}); leave {given!r} out.")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", NeuroconvWarning)
            model_from_spec(spec, where=_at(key))
        neurons[name] = spec
    return neurons


def load_config(path, prepare_models: bool = True, output: str | None = None) -> SweepConfig:
    """Read and check a sweep config; prepare each model as ``.npz`` next to the output table.

    Every error is raised here, before any task starts, and names the config key. A config
    writes only inside its own folder (a shared config cannot aim ``sweep.output`` at another
    file); ``output`` (the command line's ``--output``) chooses the table anywhere.
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise NeuroconvError(f"config file {path!r} does not exist.")
    try:
        with open(path, "rb") as fh:
            raw = tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise NeuroconvError(f"{path!r} is not valid TOML: {exc}") from None
    base = os.path.dirname(os.path.abspath(path))
    for key in raw:
        if key not in ("sweep", "grid", "neurons"):
            _fail(key, "unknown section; a config has [sweep], [grid] and optionally [neurons].")
    sweep = raw.get("sweep", {})
    if not isinstance(sweep, dict):
        _fail("sweep", "must be a table [sweep].")
    for key, value in sweep.items():
        if key not in _SWEEP_KEYS:
            _fail(f"sweep.{key}", f"unknown key; [sweep] takes {sorted(_SWEEP_KEYS)}.")
        kind = _SWEEP_KEYS[key]
        if kind is int:
            _int(value, f"sweep.{key}", 0 if key == "retries" else 1)
        elif not isinstance(value, kind) or isinstance(value, bool) != (kind is bool):
            _fail(f"sweep.{key}", f"must be a {kind.__name__}, got {value!r}.")
    if "output" not in sweep:
        _fail("sweep.output", "missing; give the path of the results table (.csv).")
    if output is not None:
        output = os.path.abspath(os.fspath(output))
        if not output.endswith(".csv"):
            raise NeuroconvError(f"--output: the results table is a .csv file, got {output!r}.")
    else:
        output = os.path.join(base, sweep["output"])
        if not output.endswith(".csv"):
            _fail("sweep.output", f"the results table is a .csv file, got {sweep['output']!r}.")
        real_base = os.path.realpath(base)
        if os.path.commonpath([os.path.realpath(output), real_base]) != real_base:
            _fail("sweep.output", f"{sweep['output']!r} is outside the config's folder ({base}); a config writes "
                                  "only next to itself. Pass --output PATH to put the table elsewhere.")
    read_table(output)  # an existing file must be a sweep table: refuse before anything overwrites it

    neurons = _neurons(raw.get("neurons", {}))

    grid_raw = raw.get("grid")
    if not isinstance(grid_raw, dict):
        _fail("grid", "missing; the [grid] section lists the values to sweep.")
    for key in grid_raw:
        if key not in _GRID_REQUIRED and key not in _GRID_DEFAULTS:
            _fail(f"grid.{key}", f"unknown key; [grid] takes {list(_GRID_REQUIRED) + list(_GRID_DEFAULTS)}.")
    grid = {}
    for key in _GRID_REQUIRED:
        if key not in grid_raw:
            _fail(f"grid.{key}", "missing.")
        grid[key] = _as_list(grid_raw[key], f"grid.{key}")
    for key, default in _GRID_DEFAULTS.items():
        grid[key] = _as_list(grid_raw.get(key, default), f"grid.{key}")
    n_cells = int(np.prod([len(v) for v in grid.values()], dtype=np.float64))
    if n_cells > MAX_CELLS:
        _fail("grid", f"{n_cells:,} cells (the product of the lists' lengths) is over the limit of {MAX_CELLS:,}; "
                      "split the sweep into several configs.")
    for t in grid["timesteps"]:
        _int(t, "grid.timesteps", 1, MAX_TIMESTEPS)
    for s in grid["seed"]:
        _int(s, "grid.seed", 0)
    for n in grid["neuron"]:
        if not isinstance(n, str) or n not in neurons:
            _fail("grid.neuron", f"unknown neuron {n!r}; use one of {sorted(neurons)} or define it under [neurons.{n}].")
    for n in dict.fromkeys(grid["neuron"]):  # every neuron takes every T (as convert will set it)
        model = model_from_spec(neurons[n], where=_at("grid.neuron"))
        for t in grid["timesteps"]:
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", NeuroconvWarning)
                    model.bind(t)
            except NeuroconvError as exc:
                _fail("grid.timesteps", f"neuron {n!r} with T = {t}: {exc}")
    grid["calibration"] = [parse_calibration(c, _at("grid.calibration")) for c in grid["calibration"]]
    for d in grid["device"]:
        if d not in DEVICES:
            _fail("grid.device", f"unknown device {d!r}; use one of {list(DEVICES)}.")
        if d == "cuda_standalone":
            from neuroconv.simulation.devices import check_cuda_runnable

            try:
                check_cuda_runnable()
            except NeuroconvError as exc:
                _fail("grid.device", str(exc))
    from neuroconv.experiments.datasets import DATASETS

    shapes = {}
    for name in grid["dataset"]:
        if not isinstance(name, str) or name not in DATASETS:
            _fail("grid.dataset", f"unknown dataset {name!r}; use one of {sorted(DATASETS)}.")
        try:
            shapes[name] = cached_dataset(name, False).input_shape
        except (NeuroconvError, OSError, ImportError) as exc:
            _fail("grid.dataset", f"dataset {name!r} is not available here: {exc}")
    images = sweep.get("images")
    calibration_images = sweep.get("calibration_images", 1000)
    batch_size = sweep.get("batch_size")

    models, digests = {}, {}
    model_dir = os.path.splitext(output)[0] + "_models"
    for ref in grid["model"]:
        if not isinstance(ref, str):
            _fail("grid.model", f"a model is a string (builtin:NAME, zoo:NAME or a file), got {ref!r}.")
        net = load_model(ref, base, _at("grid.model"))
        for name, shape in shapes.items():
            if int(np.prod(net.input_shape)) != int(np.prod(shape)):
                _fail("grid.model", f"{ref!r} takes inputs of shape {tuple(net.input_shape)} but dataset {name!r} "
                                    f"has {tuple(shape)}; sweep them in separate configs.")
        if "trained" in grid["calibration"]:
            from neuroconv.conversion.calibration import trained_threshold

            if not all(trained_threshold(layer) is not None for layer in net.layers
                       if type(layer).__name__ == "ReLU"):
                _fail("grid.calibration", f"'trained' needs trained ReLU thresholds (QCFS/ClipReLU), which "
                                          f"{ref!r} does not have everywhere.")
        if prepare_models:
            from neuroconv.ann import save_npz

            os.makedirs(model_dir, exist_ok=True)
            safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in ref)
            target = os.path.join(model_dir, safe + ".npz")
            tmp = f"{target}.{os.getpid()}.tmp.npz"
            save_npz(net, tmp)
            os.replace(tmp, target)
            models[ref] = target
        else:
            models[ref] = None
        digests[ref] = model_digest(net)

    cells = []
    order = ["model", "dataset", "neuron", "timesteps", "calibration", "device", "seed"]
    for values in itertools.product(*(grid[k] for k in order)):
        cell = dict(zip(order, values))
        cell.update(images=images, calibration_images=calibration_images, batch_size=batch_size)
        cell["cell_id"] = _cell_id(cell, digests[cell["model"]], neurons[cell["neuron"]])
        cells.append(cell)
    return SweepConfig(path=path, output=output, cells=cells, models=models, neurons=neurons,
                       retries=sweep.get("retries", 1), workers=sweep.get("workers"),
                       figure=sweep.get("figure", True), grid=grid)
