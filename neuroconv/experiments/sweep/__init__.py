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
    neuron = ["if", "tpp", "one_spike"]  # registered families, or names defined under [neurons]
    timesteps = [4, 8, 16, 32]           # T: IF's run length, TPP's phase, One-Spike's window
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
with ``status = "ok"``, or ``"silent"`` (under one hidden spike per image; its conversion
warnings are in the ``warning`` column) (a cell's id is a hash of its parameters, a named neuron's
included, and of the model's arrays).

The parts: :mod:`~neuroconv.experiments.sweep.config` (the config, and the model and
calibration arguments the CLI shares), :mod:`~neuroconv.experiments.sweep.runner` (cells
and Dask), :mod:`~neuroconv.experiments.sweep.table` (the CSV table) and
:mod:`~neuroconv.experiments.sweep.plot` (accuracy against T).
"""

from neuroconv.experiments.sweep.config import (MAX_CELLS, SweepConfig, load_config, load_model, neuron_families,
                                                parse_calibration)
from neuroconv.experiments.sweep.plot import plot_accuracy_vs_timesteps
from neuroconv.experiments.sweep.runner import SweepReport, run_cell, run_sweep
from neuroconv.experiments.sweep.table import CELL_COLUMNS, COLUMNS, RESULT_COLUMNS, _write_rows, read_table, write_rows

__all__ = ["SweepConfig", "load_config", "run_sweep", "run_cell", "read_table", "plot_accuracy_vs_timesteps",
           "COLUMNS", "CELL_COLUMNS", "RESULT_COLUMNS", "SweepReport", "load_model", "parse_calibration",
           "neuron_families", "write_rows", "MAX_CELLS"]
