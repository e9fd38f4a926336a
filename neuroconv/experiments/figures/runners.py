"""The experiments behind the figures: each runs real conversions and returns a JSON-able report dict.

``benchmarks/bench_one_spike.py`` and ``benchmarks/bench_misalignment.py`` run the same code at full
size and keep the JSON; :mod:`neuroconv.experiments.figures.plots` draws the reports. Nothing here
imports matplotlib.
"""

from __future__ import annotations

import warnings

import numpy as np

__all__ = ["deep_digits_mlp", "measure_run", "one_spike_sweep", "misalignment_report", "serial_sweep",
           "ACCURACY_VS_T_CONFIG"]


def deep_digits_mlp(x_train, y_train, depth: int = 6, width: int = 64, seed: int = 0):
    """A deeper plain-ReLU digits MLP (``depth`` hidden layers of ``width``), trained with scikit-learn."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    from neuroconv.ann import from_sklearn

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf = MLPClassifier(hidden_layer_sizes=(width,) * depth, max_iter=400, alpha=1e-3, random_state=seed)
        clf.fit(x_train, y_train)
    return from_sklearn(clf)


# --- One-Spike trade-off ----------------------------------------------------------------
def measure_run(snn, x_test, y_test, ann_out, ann_acc, device="reference"):
    """Run ``snn`` on ``x_test``; returns ``(result, row)`` with accuracy, loss against the ANN, latency
    (:attr:`~neuroconv.conversion.SpikingNetwork.latency_steps`, the length of a run), readout error,
    spikes per hidden neuron and image, synaptic operations and the ANN/SNN energy ratio."""
    from neuroconv.analysis import estimate_energy

    res = snn.run(x_test, device=device, progress=False)
    est = estimate_energy(snn, res)
    n_hidden = sum(c.shape[1] for c in res.spike_counts)
    acc = res.accuracy(y_test)
    return res, {
        "accuracy": acc,
        "loss_pp": 100 * (ann_acc - acc),
        "latency_steps": snn.latency_steps,
        "mean_abs_error": float(np.mean(np.abs(res.output - ann_out))),
        "spikes_per_neuron": float(sum(c.sum() for c in res.spike_counts) / (n_hidden * res.batch_size)),
        "sops": est.sops,
        "energy_ratio": est.ratio,
    }


def one_spike_sweep(net, x_train, x_test, y_test, bases, windows, if_timesteps=(), progress=True) -> dict:
    """One-Spike over a (base, window) grid plus IF rows at the given T (reference simulator)."""
    from tqdm.auto import tqdm

    from neuroconv.conversion.converter import convert
    from neuroconv.equations import IF, OneSpike
    from neuroconv.errors import NeuroconvWarning

    ann_out = net.forward(x_test)
    ann_acc = float(np.mean(ann_out.argmax(1) == y_test))
    rows = []
    for base, window in tqdm([(b, w) for b in bases for w in windows], desc="OneSpike grid", disable=not progress):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", NeuroconvWarning)  # short windows are part of the sweep
            snn = convert(net, neuron=OneSpike(base=base, window=window), calibration_data=x_train)
        rows.append({"neuron": "OneSpike", "base": base, "window": window,
                     **measure_run(snn, x_test, y_test, ann_out, ann_acc)[1]})
    for T in tqdm(list(if_timesteps), desc="IF baseline", disable=not progress):
        snn = convert(net, neuron=IF(), timesteps=T, calibration_data=x_train)
        rows.append({"neuron": "IF", "timesteps": T, **measure_run(snn, x_test, y_test, ann_out, ann_acc)[1]})
    return {"n_test": int(len(y_test)), "ann_accuracy": ann_acc,
            "ann_layers": [type(layer).__name__ for layer in net.layers], "rows": rows}


# --- misalignment ---------------------------------------------------------------------------
def misalignment_report(networks, x_train, x_test, y_test, timesteps, repeats, seed=0, device="reference",
                        shift=True, method="max", tpp=None, progress=True) -> dict:
    """The permutation experiment on each ``{name: ann}`` network (see neuroconv.analysis.permutation_experiment)."""
    from neuroconv.analysis import permutation_experiment
    from neuroconv.conversion.converter import convert
    from neuroconv.equations import IF, TPP

    report = {"dataset": "digits", "n_test": int(len(y_test)), "if_shift": shift, "calibration": method,
              "networks": {}}
    for name, net in networks.items():
        snn = convert(net, neuron=IF(shift=shift), timesteps=timesteps[0], calibration_data=x_train, method=method,
                      per_channel=False, progress=False)
        result = permutation_experiment(snn, x_test, y_test, timesteps=timesteps, repeats=repeats, seed=seed,
                                        device=device, tpp=TPP() if tpp is None else tpp, progress=progress,
                                        calibration_data=x_train)
        result["ann_accuracy"] = float(np.mean(net.forward(x_test).argmax(1) == y_test))
        result["hidden_layers"] = [layer.size for layer in snn.hidden_layers]
        # the families compared at equal latency (timesteps to the readout): IF reads out after T,
        # TPP after one phase of T per spiking layer
        tpp_snn = convert(net, neuron=TPP() if tpp is None else tpp, timesteps=timesteps[0], calibration_data=x_train,
                          method=method)
        for row in result["rows"]:
            row["if_latency_steps"] = snn.neuron.run_steps(row["timesteps"], snn.n_spiking)
            row["tpp_latency_steps"] = tpp_snn.with_timesteps(row["timesteps"]).latency_steps
        report["networks"][name] = result
    return report


# --- a sweep without Dask -------------------------------------------------------------------------
#: The grid of ``examples/accuracy_vs_T.toml`` (the README's sweep figure): the three families on the
#: shipped digits MLP, 3 seeds, the numpy reference.
ACCURACY_VS_T_CONFIG = """
[sweep]
output = "results/accuracy_vs_T.csv"
calibration_images = 1257    # the whole digits training split
retries = 1

[grid]
model = ["builtin:digits_mlp"]
dataset = ["digits"]
neuron = ["if", "tpp", "tpp_unbiased", "one_spike"]
timesteps = [2, 4, 8, 16, 32, 64]   # IF: T, TPP: phase length, One-Spike: window
calibration = ["max"]
device = ["reference"]
seed = [0, 1, 2]

[neurons.tpp_unbiased]
family = "tpp"
unbiased = true
"""


def serial_sweep(config_path, progress=True) -> str:
    """Run every cell of a sweep config one after another in this process (no Dask; for small grids such
    as :data:`ACCURACY_VS_T_CONFIG`); returns the path of the results table it wrote."""
    from tqdm.auto import tqdm

    from neuroconv.experiments.sweep.config import load_config
    from neuroconv.experiments.sweep.runner import run_cell
    from neuroconv.experiments.sweep.table import write_rows

    cfg = load_config(config_path)
    rows = [run_cell(cell, cfg.models[cell["model"]], cfg.neurons[cell["neuron"]])
            for cell in tqdm(cfg.cells, desc="sweep cells", disable=not progress)]
    write_rows(cfg.output, rows, "w")
    return cfg.output
