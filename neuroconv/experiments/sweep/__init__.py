"""Experiment sweeps: a TOML config's grid of conversions, every cell a Dask task, results in a CSV table.

A config (``neuroconv sweep config.toml``)::

    [sweep]
    output = "results/accuracy_vs_T.csv"   # relative to the config's folder
    images = 540                 # test images per cell (default: the whole test set)
    calibration_images = 1000    # training images for threshold balancing
    retries = 1                  # Dask retries of a failed cell
    workers = 2                  # LocalCluster workers (default: one per CPU)

    [grid]                       # every combination is one cell
    model = ["builtin:digits_mlp"]       # builtin:NAME, zoo:NAME[:qcfs], or a .npz/.onnx/.nir file
    dataset = ["digits"]                 # digits, mnist5k, fashion_mnist
    neuron = ["if", "tpp", "one_spike"]  # families, or names defined under [neurons]
    timesteps = [4, 8, 16, 32]           # IF: T; TPP: the phase; One-Spike: the window
    calibration = ["max"]                # "max", a percentile such as 99.9, or "trained"
    device = ["reference"]               # reference, runtime, runtime/cython, cpp_standalone, cuda_standalone
    seed = [0, 1]

    [neurons.tpp_unbiased]               # a named neuron: family plus parameters
    family = "tpp"
    unbiased = true

Everything is checked before any task starts (unknown keys, neurons, datasets, devices,
``T < 1``, model files, input shapes), with the config key named in the error. Each cell
is an independent task: it loads the model (prepared once by the driver as ``.npz``), the
dataset, converts, runs (standalone devices build in their own temporary folders) and
returns one row. Rows are appended to the table as cells finish; a failed cell is retried
``retries`` times and then recorded with ``status = "failed"`` and its error, without
stopping the others. Re-running the same config skips every cell already in the table
with ``status = "ok"`` (a cell's id is a hash of its parameters and of the model file).
"""

from __future__ import annotations

import csv
import functools
import hashlib
import itertools
import json
import os
import platform
import time
import tomllib
from dataclasses import dataclass, field

import numpy as np

from neuroconv._checks import MAX_TIMESTEPS
from neuroconv.errors import NeuroconvError
from neuroconv.conversion.saved import NEURON_FAMILIES, neuron_from_spec

__all__ = ["SweepConfig", "load_config", "run_sweep", "run_cell", "read_table", "plot_accuracy_vs_timesteps",
           "COLUMNS"]

#: Most cells one config may hold (each is a task and a table row).
MAX_CELLS = 100_000

_SWEEP_KEYS = {"output": str, "images": int, "calibration_images": int, "batch_size": int, "retries": int,
               "workers": int, "figure": bool}
_GRID_REQUIRED = ("model", "dataset", "neuron", "timesteps")
_GRID_DEFAULTS = {"calibration": ["max"], "device": ["reference"], "seed": [0]}
_DEVICES = ("reference", "runtime", "runtime/numpy", "runtime/cython", "cpp_standalone", "cuda_standalone")

#: The parameters that make a cell (in the table's first columns).
CELL_COLUMNS = ["cell_id", "model", "dataset", "neuron", "timesteps", "calibration", "device", "seed", "images",
                "calibration_images", "batch_size"]
#: What a cell measured, and where and with what it ran.
RESULT_COLUMNS = ["status", "error", "accuracy", "ann_accuracy", "agreement_with_ann", "spikes_per_image",
                  "latency_steps", "synapses_per_image", "load_s", "convert_s", "run_s", "build_s", "cell_s",
                  "worker", "host", "neuroconv", "brian2", "numpy", "python", "finished"]
COLUMNS = CELL_COLUMNS + RESULT_COLUMNS


@dataclass
class SweepConfig:
    """A validated sweep: its cells and where results go."""

    path: str
    output: str
    cells: list
    models: dict                         # model reference -> prepared .npz path
    neurons: dict                        # neuron name -> spec dict
    retries: int = 1
    workers: int | None = None
    figure: bool = True
    grid: dict = field(default_factory=dict)


def _fail(key, message):
    raise NeuroconvError(f"config key {key!r}: {message}")


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


def _calibration(value, key):
    if value in ("max", "trained"):
        return value
    text = value[:-1] if isinstance(value, str) and value.endswith("%") else value
    try:
        q = float(text)
    except (TypeError, ValueError):
        _fail(key, f"unknown calibration {value!r}; use 'max', 'trained' or a percentile such as 99.9.")
    if isinstance(value, bool) or not 0 < q <= 100:
        _fail(key, f"a percentile must be in (0, 100], got {value!r}.")
    return q


@functools.lru_cache(maxsize=8)
def _dataset(name, image):
    from neuroconv.experiments import datasets

    return datasets.load(name, image=image)


def _load_model(ref: str, base: str, key: str):
    """The ANN a model reference names (driver side; zoo models are trained and cached here)."""
    from neuroconv import ann

    if ref.startswith("builtin:"):
        from neuroconv.experiments.demo import shipped_digits_mlp

        if ref != "builtin:digits_mlp":
            _fail(key, f"unknown builtin model {ref!r}; the builtin model is 'builtin:digits_mlp'.")
        return shipped_digits_mlp()
    if ref.startswith("zoo:"):
        parts = ref.split(":")
        try:
            from neuroconv.experiments import zoo
        except ImportError:
            _fail(key, f"{ref!r} needs PyTorch: pip install 'brian2-neuroconv[torch]'.")
        if len(parts) not in (2, 3) or parts[1] not in zoo.MODELS or (len(parts) == 3 and parts[2] not in ("relu", "qcfs")):
            _fail(key, f"unknown zoo model {ref!r}; use zoo:NAME or zoo:NAME:qcfs with NAME in {sorted(zoo.MODELS)}.")
        return zoo.load(parts[1], variant=parts[2] if len(parts) == 3 else "relu").to_ann()
    path = ref if os.path.isabs(ref) else os.path.join(base, ref)
    if not os.path.exists(path):
        _fail(key, f"model file {path!r} does not exist.")
    if path.endswith(".npz"):
        return ann.from_npz(path)
    if path.endswith(".onnx"):
        from neuroconv.ann import from_onnx

        return from_onnx(path)
    if path.endswith(".nir"):
        from neuroconv.ann import from_nir

        return from_nir(path)
    _fail(key, f"cannot read {ref!r}: model files are .npz, .onnx or .nir (export PyTorch models to ONNX, "
               "or save neuroconv.ann.from_torch(model) with neuroconv.ann.save_npz).")


def _model_digest(net) -> str:
    """SHA-256 of an ANN's architecture and arrays (stable across saves, unlike the archive's bytes)."""
    from neuroconv.ann.importers.sklearn_npz import npz_arrays

    h = hashlib.sha256()
    for key, value in sorted(npz_arrays(net).items()):
        value = np.ascontiguousarray(value)
        h.update(f"{key}|{value.dtype.str}|{value.shape}|".encode())
        h.update(value.tobytes())
    return h.hexdigest()


def _cell_id(cell: dict, model_digest: str) -> str:
    spec = {k: cell[k] for k in CELL_COLUMNS if k != "cell_id"}
    spec["model_digest"] = model_digest
    return hashlib.sha256(json.dumps(spec, sort_keys=True, default=str).encode()).hexdigest()[:16]


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

    neurons = {name: {"family": name} for name in NEURON_FAMILIES}
    for name, spec in raw.get("neurons", {}).items():
        if not isinstance(spec, dict):
            _fail(f"neurons.{name}", "must be a table with 'family' and parameters.")
        spec = dict(spec)
        if "timesteps" in spec or "window" in spec:
            _fail(f"neurons.{name}", "T comes from grid.timesteps (IF: T, TPP: phase, One-Spike: window); "
                                      "leave timesteps/window out.")
        neuron_from_spec({**spec, **({"window": 8} if spec.get("family") == "one_spike" else {})},
                         where=f"config key 'neurons.{name}'")
        neurons[name] = spec

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
        if n not in neurons:
            _fail("grid.neuron", f"unknown neuron {n!r}; use one of {sorted(neurons)} or define it under [neurons.{n}].")
    grid["calibration"] = [_calibration(c, "grid.calibration") for c in grid["calibration"]]
    for d in grid["device"]:
        if d not in _DEVICES:
            _fail("grid.device", f"unknown device {d!r}; use one of {list(_DEVICES)}.")
        if d == "cuda_standalone":
            from neuroconv.simulation.devices import check_cuda_runnable

            try:
                check_cuda_runnable()
            except NeuroconvError as exc:
                _fail("grid.device", str(exc))
    from neuroconv.experiments.datasets import DATASETS

    shapes = {}
    for name in grid["dataset"]:
        if name not in DATASETS:
            _fail("grid.dataset", f"unknown dataset {name!r}; use one of {sorted(DATASETS)}.")
        try:
            shapes[name] = _dataset(name, False).input_shape
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
        net = _load_model(ref, base, "grid.model")
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
        digests[ref] = _model_digest(net)

    cells = []
    order = ["model", "dataset", "neuron", "timesteps", "calibration", "device", "seed"]
    for values in itertools.product(*(grid[k] for k in order)):
        cell = dict(zip(order, values))
        cell.update(images=images, calibration_images=calibration_images, batch_size=batch_size)
        cell["cell_id"] = _cell_id(cell, digests[cell["model"]])
        cells.append(cell)
    return SweepConfig(path=path, output=output, cells=cells, models=models, neurons=neurons,
                       retries=sweep.get("retries", 1), workers=sweep.get("workers"),
                       figure=sweep.get("figure", True), grid=grid)


def _neuron(spec: dict, timesteps: int):
    """The neuron model of a cell and the ``timesteps`` argument for ``convert``."""
    spec = dict(spec)
    if spec["family"] == "one_spike":
        return neuron_from_spec({**spec, "window": timesteps}), None
    return neuron_from_spec(spec), timesteps


def run_cell(cell: dict, model_file: str, neuron_spec: dict) -> dict:
    """Run one cell (in a Dask worker or anywhere): load, convert, simulate; returns its table row."""
    import warnings

    import brian2

    from neuroconv import __version__, ann
    from neuroconv.conversion.converter import convert
    from neuroconv.errors import NeuroconvWarning

    t0 = time.perf_counter()
    net = ann.from_npz(model_file)
    data = _dataset(cell["dataset"], len(net.input_shape) == 3)
    x_train = data.x_train.reshape((-1,) + tuple(net.input_shape))
    x = data.x_test.reshape((-1,) + tuple(net.input_shape))
    y = data.y_test
    if cell["images"] is not None:
        x, y = x[: cell["images"]], y[: cell["images"]]
    t1 = time.perf_counter()
    neuron, timesteps = _neuron(neuron_spec, int(cell["timesteps"]))
    calibration = cell["calibration"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NeuroconvWarning)  # short One-Spike windows are part of a sweep
        if calibration == "trained":
            snn = convert(net, neuron=neuron, timesteps=timesteps)
        else:
            snn = convert(net, neuron=neuron, timesteps=timesteps, calibration_data=x_train[: cell["calibration_images"]],
                          method=calibration)
    t2 = time.perf_counter()
    device, _, target = cell["device"].partition("/")
    options = {"codegen_target": target} if target else {}
    res = snn.run(x, device=device, batch_size=cell["batch_size"], seed=int(cell["seed"]), progress=False,
                  record_spikes=False, **options)
    t3 = time.perf_counter()
    ann_pred = net.predict(x)
    try:
        from distributed import get_worker

        worker = get_worker().address
    except (ImportError, ValueError):
        worker = "local"
    row = dict(cell, status="ok", error="", accuracy=res.accuracy(y), ann_accuracy=float(np.mean(ann_pred == y)),
               agreement_with_ann=float(np.mean(res.predictions == ann_pred)),
               spikes_per_image=float(sum(c.sum() for c in res.spike_counts) / len(x)),
               latency_steps=snn.timesteps, synapses_per_image=snn.n_synapses, load_s=round(t1 - t0, 4),
               convert_s=round(t2 - t1, 4), run_s=round(t3 - t2, 4), build_s=round(res.build_time, 4),
               cell_s=round(time.perf_counter() - t0, 4), worker=worker, host=platform.node(),
               neuroconv=__version__, brian2=brian2.__version__, numpy=np.__version__,
               python=platform.python_version(), finished=time.strftime("%Y-%m-%dT%H:%M:%S"))
    return row


def read_table(path) -> list:
    """The rows of a results table (empty if it does not exist); refuses a file that is not one."""
    if not os.path.exists(path):
        return []
    try:
        with open(path, newline="") as fh:
            reader = csv.DictReader(fh)
            header = reader.fieldnames or []
            rows = list(reader)
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise NeuroconvError(f"cannot read the results table {path!r}: {exc}") from None
    if header and not {"cell_id", "status"} <= set(header):
        raise NeuroconvError(f"{path!r} exists and is not a neuroconv sweep table (no cell_id/status columns); "
                             "refusing to overwrite it. Choose another output.")
    return rows


def _write_rows(path, rows, mode):
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    new = mode == "w" or not os.path.exists(path) or os.path.getsize(path) == 0
    with open(path, mode, newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=COLUMNS, extrasaction="ignore")
        if new:
            writer.writeheader()
        for row in rows:
            writer.writerow({k: ("" if row.get(k) is None else row.get(k)) for k in COLUMNS})
        fh.flush()
        os.fsync(fh.fileno())


@dataclass
class SweepReport:
    """What :func:`run_sweep` did."""

    table: str
    cells: int
    skipped: int
    ok: int
    failed: list            # rows of the cells that failed this time
    wall_s: float
    figure: str | None = None

    def summary(self) -> str:
        text = (f"{self.cells} cells: {self.skipped} already done, {self.ok} ran ok, {len(self.failed)} failed "
                f"({self.wall_s:.1f} s); table {self.table}")
        for row in self.failed:
            text += f"\n  failed {row['cell_id']} ({row['model']}, {row['neuron']}, T={row['timesteps']}, " \
                    f"{row['device']}, seed {row['seed']}): {row['error']}"
        return text


def _failed_row(cell, exc) -> dict:
    message = f"{type(exc).__name__}: {exc}".replace("\n", " ")
    return dict(cell, status="failed", error=message[:500], finished=time.strftime("%Y-%m-%dT%H:%M:%S"))


def run_sweep(config, scheduler: str | None = None, workers: int | None = None, client=None, progress: bool = True,
              figure: bool | None = None) -> SweepReport:
    """Run every cell of ``config`` (a path or a :class:`SweepConfig`) not yet in its table.

    ``client`` (a ``distributed.Client``) or ``scheduler`` (its address) use an existing
    cluster; otherwise a ``LocalCluster`` with ``workers`` processes (config ``sweep.workers``,
    default one per CPU) is started and closed. Returns a :class:`SweepReport`.
    """
    try:
        from distributed import Client, LocalCluster, as_completed
    except ImportError:
        raise NeuroconvError("sweeps run on Dask: pip install 'brian2-neuroconv[sweep]'.") from None
    from tqdm.auto import tqdm

    cfg = config if isinstance(config, SweepConfig) else load_config(config)
    t0 = time.perf_counter()
    rows = read_table(cfg.output)
    done = {r["cell_id"] for r in rows if r.get("status") == "ok"}
    # failed rows are dropped: those cells run again
    _write_rows(cfg.output, [r for r in rows if r.get("status") == "ok"], "w")
    todo = [c for c in cfg.cells if c["cell_id"] not in done]
    skipped = len(cfg.cells) - len(todo)
    ok, failed = 0, []
    own_cluster = None
    if todo:
        if client is None:
            if scheduler:
                client = Client(scheduler)
            else:
                import logging

                import dask

                n = workers or cfg.workers or os.cpu_count() or 1
                # one cell per worker at a time (a dying worker takes only its own cell with it), and a
                # cell whose worker dies is retried as often as a cell that raises
                settings = {"distributed.scheduler.worker-saturation": 1.0,
                            "distributed.scheduler.allowed-failures": cfg.retries}
                with dask.config.set(settings):
                    own_cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True,
                                               dashboard_address=None, silence_logs=logging.ERROR)
                client = Client(own_cluster)
        try:
            run_token = os.urandom(4).hex()
            futures = {client.submit(run_cell, cell, cfg.models[cell["model"]], cfg.neurons[cell["neuron"]],
                                     key=f"neuroconv-cell-{cell['cell_id']}-{run_token}", retries=cfg.retries,
                                     pure=False): cell for cell in todo}
            with tqdm(total=len(todo), desc="sweep", unit="cell", disable=not progress) as bar:
                for future in as_completed(futures):
                    cell = futures[future]
                    try:
                        row = future.result()
                        ok += 1
                    except Exception as exc:  # a cell's failure is recorded, the others go on
                        row = _failed_row(cell, exc)
                        failed.append(row)
                    _write_rows(cfg.output, [row], "a")
                    bar.update(1)
                    bar.set_postfix(ok=ok, failed=len(failed))
        finally:
            if own_cluster is not None:
                client.close()
                own_cluster.close()
            elif scheduler and client is not None:
                client.close()
    report = SweepReport(table=cfg.output, cells=len(cfg.cells), skipped=skipped, ok=ok, failed=failed,
                         wall_s=time.perf_counter() - t0)
    if (cfg.figure if figure is None else figure) and len(cfg.grid.get("timesteps", [])) > 1:
        report.figure = plot_accuracy_vs_timesteps(cfg.output, os.path.splitext(cfg.output)[0] + ".png")
    return report


def plot_accuracy_vs_timesteps(table, path) -> str | None:
    """Accuracy against T, one line per (model, dataset, neuron, device, calibration), mean and range over
    seeds; the ANN's accuracy dashed. Returns the figure's path (None if the table has no ok rows)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [r for r in read_table(table) if r.get("status") == "ok"]
    if not rows:
        return None
    groups = {}
    for r in rows:
        key = (r["model"], r["dataset"], r["neuron"], r["device"], r["calibration"])
        groups.setdefault(key, {}).setdefault(int(r["timesteps"]), []).append(100 * float(r["accuracy"]))
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for key, by_t in sorted(groups.items()):
        ts = sorted(by_t)
        mean = [np.mean(by_t[t]) for t in ts]
        lo = [max(0.0, np.mean(by_t[t]) - np.min(by_t[t])) for t in ts]
        hi = [max(0.0, np.max(by_t[t]) - np.mean(by_t[t])) for t in ts]
        varying = [k for k, values in zip(("model", "dataset", "neuron", "device", "calibration"), zip(*groups))
                   if len(set(values)) > 1]
        label = ", ".join(str(dict(zip(("model", "dataset", "neuron", "device", "calibration"), key))[k])
                          for k in varying) or key[2]
        ax.errorbar(ts, mean, yerr=[lo, hi], marker="o", capsize=3, label=label)
    anns = {(r["model"], r["dataset"]): 100 * float(r["ann_accuracy"]) for r in rows}
    for (model, dataset), acc in anns.items():
        ax.axhline(acc, ls="--", lw=1, color="grey")
    ax.set_xscale("log", base=2)
    ax.set_xlabel("T (IF: timesteps, TPP: phase length, One-Spike: window)")
    ax.set_ylabel("test accuracy (%)")
    ax.set_title("accuracy vs T (dashed: ANN)")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
