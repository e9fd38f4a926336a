"""Neuron dynamics and accuracy: leak, refractoriness, noise, threshold and delay heterogeneity, one at a time.

    python benchmarks/bench_dynamics.py --out docs/bench/dynamics.json --figure docs/figures/dynamics.png

Networks (each converted with ``neuron=LIF(...)``, ``dt = 1 ms``, membrane readout):

* the shipped digits MLP (64-64-32-10, ReLU; ``neuroconv.experiments.demo.shipped_digits_mlp``),
  thresholds = max activation over the whole training split (1257 digits), all 540 test digits;
* the Fashion-MNIST CNN of the zoo (``zoo.load("fashion_cnn")``: 2 x (conv3-BN-ReLU-maxpool2),
  dense 128, dense 10; its max poolings become spiking max-pool relays), thresholds = the
  per-channel 99.9th percentile over the first 1000 training images (as
  ``bench_fashion.py``), the first ``--fashion-images`` test images (``--no-fashion`` skips it).

Each network is calibrated once; every setting reuses the same thresholds. At each T in
``--timesteps`` every factor is varied alone from the IF baseline ``LIF(tau=inf*second)``
(no leak, refractory 0, no noise, no threshold jitter, no delays; it is IF step for step):

* ``tau``: membrane time constant (ms; ``inf`` is the baseline); the membrane keeps
  ``exp(-dt/tau)`` of itself every step.
* ``refractory``: Brian2's refractory period (ms). Spikes of a neuron are at least
  ``refractory / dt`` steps apart, so with dt = 1 ms, 1 ms would change nothing; 2, 3 and
  4 ms leave 1, 2 and 3 silent steps after each spike (at most ceil(T / 2..4) spikes).
* ``noise``: std of a Gaussian membrane kick per step, in units of the layer threshold,
  seeded by ``run(seed=...)``. Accuracy and spikes are the mean over seeds 0, 1, 2
  (``--noise-seeds``); each seed's accuracy is kept; Brian2 is checked with seed 0.
* ``threshold_jitter``: relative std of each neuron's firing threshold (``jitter_seed=0``,
  fixed per network; clipped at 5 % of the threshold).
* ``delay_jitter``: per-synapse delays ``round((mean + jitter * N(0, 1)) / dt)`` steps
  (at least 0), ``convert(..., delays=neuroconv.Delays(mean, jitter, seed=0))`` with ``mean =
  --delay-mean`` ms (default 8), for each jitter (ms) in ``--delay-jitters``; the first point
  is the baseline without delays, the second (jitter 0) a uniform delay, which only shifts
  each layer and changes no count. Each
  population integrates its own drive for T steps from the step its first input can arrive,
  and the run is longer by the output's latency (``run_steps`` in the rows). Delays are not
  supported with max-pool relays, so the CNN reports this factor as skipped.

Per setting: accuracy and hidden spikes per image (spikes of the hidden neuron populations,
not of the max-pool relays, which are reported apart) from the numpy reference
(``device="reference"``, which tests hold equal to Brian2), its wall time, and a spot check:
Brian2 runtime (numpy target, same seed) on the first ``--brian2-images`` images
(``--fashion-brian2-images`` for the CNN) must give the same spike counts in every layer and
the same predictions (``brian2_equal``).

Trial-to-trial variability: the digits MLP at T = ``--fano-timesteps`` with
``LIF(tau=inf*second, noise=sigma)`` (no leak, so noise is the only change from IF) for each
sigma in ``--fano-noise``: ``run_trials`` with ``--fano-trials`` seeds (0, 1, ...) on the first
``--fano-images`` test digits. Reported per hidden layer: the Fano factor across trials
(variance / mean of each neuron's count over the trials of one image) averaged over the
(image, neuron) pairs where it is defined (mean count > 0), with that fraction; beside it the
Fano factor across images of the noise-free network on the same digits (per neuron over the
images, averaged over the neurons that fire), which is stimulus variability, not noise.

Prints one JSON object (``--out`` writes it too); ``--figure`` writes a PNG and a PDF (rows:
accuracy, then hidden spikes per image, of each network; columns: the factors; one line per
T). ``--from-json REPORT --figure PNG`` only redraws the figure from a saved report.
"""

from __future__ import annotations

import argparse
import inspect
import json
import math
import time

import numpy as np
from _report import command, emit, machine
from brian2 import ms, second

import neuroconv as nc
from neuroconv.analysis.stats import fanofactor, run_trials
from neuroconv.equations import LIF
from neuroconv.experiments.demo import load_digits_split, shipped_digits_mlp

INF = float("inf")
HAS_DELAYS = "delays" in inspect.signature(nc.convert).parameters

#: factor -> (axis label, default values); values are in the unit of the label.
FACTORS = {
    "tau": ("membrane time constant tau (ms)", [INF, 200, 50, 20, 10, 5]),
    "refractory": ("refractory period (ms), dt = 1 ms", [0, 2, 3, 4]),
    "noise": ("membrane noise (std per step, x threshold)", [0, 0.05, 0.1, 0.2, 0.5]),
    "threshold_jitter": ("threshold jitter (relative std)", [0, 0.05, 0.1, 0.2, 0.3]),
    "delay_jitter": ("synaptic delay jitter (std, ms)", [None, 0, 1, 2, 4, 8]),
}


# --- networks -------------------------------------------------------------------------------
def digits_mlp():
    x_train, x_test, y_train, y_test = load_digits_split()
    net = shipped_digits_mlp()
    return {"name": "digits_mlp", "description": "shipped digits MLP 64-64-32-10",
            "net": net, "calibration": {"data": x_train, "method": "max", "per_channel": False},
            "calibration_text": f"max over {len(x_train)} training digits", "x": x_test, "y": y_test}


def fashion_cnn(n_images):
    from neuroconv.experiments import zoo

    model = zoo.load("fashion_cnn", progress=False)
    data = model.dataset
    return {"name": "fashion_cnn", "description": "zoo fashion_cnn: 2 x (conv3-BN-ReLU-maxpool2), dense 128, dense 10",
            "net": model.to_ann(), "train_info": model.info,
            "calibration": {"data": data.x_train[:1000], "method": "99.9%", "per_channel": True},
            "calibration_text": "per-channel 99.9th percentile over 1000 training images",
            "x": data.x_test[:n_images], "y": data.y_test[:n_images]}


def calibrated_thresholds(spec, T):
    """Convert once with the calibration data; return the per-neuron thresholds of the spiking layers."""
    c = spec["calibration"]
    base = nc.convert(spec["net"], neuron=LIF(INF * second), timesteps=T, calibration_data=c["data"],
                      method=c["method"], per_channel=c["per_channel"], dt=1 * ms)
    return [layer.theta for layer in base.layers if layer.kind == "neuron" and layer.spiking]


# --- settings -------------------------------------------------------------------------------
def setting(factor, value, delay_mean):
    """``(LIF model, convert's extra keyword arguments)`` of one factor value (the rest at the IF baseline)."""
    if factor == "tau":
        return LIF(INF * second if math.isinf(value) else value * ms), {}
    if factor == "refractory":
        return LIF(INF * second, refractory=value * ms), {}
    if factor == "noise":
        return LIF(INF * second, noise=value), {}
    if factor == "threshold_jitter":
        return LIF(INF * second, threshold_jitter=value, jitter_seed=0), {}
    if factor == "delay_jitter":
        if value is None:
            return LIF(INF * second), {}
        return LIF(INF * second), {"delays": nc.Delays(mean=delay_mean * ms, jitter=value * ms, seed=0)}
    raise ValueError(factor)


def is_baseline(factor, value) -> bool:
    """The IF point of a factor: tau = inf, 0 refractory/noise/jitter, no delays (``None``)."""
    if factor == "delay_jitter":
        return value is None
    return value == 0 or (factor == "tau" and math.isinf(value))


def json_value(value):
    """inf (tau without leak) as the string "inf": JSON has no infinity."""
    return "inf" if isinstance(value, float) and math.isinf(value) else value


def hidden_spikes(result, snn):
    """Mean spikes per image of the hidden neuron populations, and of the max-pool relays."""
    kinds = [layer.kind for layer in snn.layers[:-1] if layer.spiking]
    neurons = sum(c.sum() for c, k in zip(result.spike_counts, kinds) if k == "neuron")
    relays = sum(c.sum() for c, k in zip(result.spike_counts, kinds) if k != "neuron")
    n = result.batch_size
    return float(neurons / n), float(relays / n)


def measure(spec, thresholds, T, factor, value, seeds, n_brian2, delay_mean):
    """One setting: reference run(s) on every image, Brian2 runtime on the first ``n_brian2``."""
    model, extra = setting(factor, value, delay_mean)
    snn = nc.convert(spec["net"], neuron=model, timesteps=T, thresholds=thresholds, dt=1 * ms, **extra)
    x, y = spec["x"], spec["y"]
    seeds = seeds if model.stochastic else [0]
    t0 = time.perf_counter()
    runs = [snn.run(x, device="reference", seed=s, record_spikes=False, progress=False) for s in seeds]
    seconds = time.perf_counter() - t0
    accuracies = [r.accuracy(y) for r in runs]
    spikes = [hidden_spikes(r, snn) for r in runs]
    row = {"factor": factor, "value": json_value(value), "timesteps": T, "run_steps": int(snn.run_steps),
           "model": repr(model), "accuracy": float(np.mean(accuracies)),
           "hidden_spikes_per_image": float(np.mean([s[0] for s in spikes]))}
    if any(s[1] for s in spikes):
        row["relay_spikes_per_image"] = float(np.mean([s[1] for s in spikes]))
    if extra:
        row["delays"] = repr(extra["delays"])
    if len(seeds) > 1:
        row["seeds"] = list(seeds)
        row["accuracy_per_seed"] = accuracies
    row["reference_seconds"] = round(seconds, 3)
    if n_brian2:
        t0 = time.perf_counter()
        b2 = snn.run(x[:n_brian2], device="runtime", seed=seeds[0], record_spikes=False, progress=False)
        row["brian2_images"] = int(n_brian2)
        row["brian2_equal"] = bool(all(np.array_equal(a[:n_brian2], b)
                                       for a, b in zip(runs[0].spike_counts, b2.spike_counts))
                                   and np.array_equal(runs[0].predictions[:n_brian2], b2.predictions))
        row["brian2_seconds"] = round(time.perf_counter() - t0, 3)
    return row


def sweep(spec, timesteps, factors, seeds, n_brian2, delay_mean, skip=None):
    """Every factor value at every T; the IF baseline is run once per T and shared by all factors."""
    skip = skip or {}
    rows, skipped, cache = [], {}, {}
    for factor, (_, values) in factors.items():
        if factor in skip:
            skipped[factor] = skip[factor]
            continue
        for T in timesteps:
            thresholds = spec["thresholds"][T]
            for value in values:
                baseline = is_baseline(factor, value)
                key = (T, "baseline") if baseline else (T, factor, value)
                if key not in cache:
                    cache[key] = measure(spec, thresholds, T, factor, value, seeds, n_brian2, delay_mean)
                    print(spec["name"], {k: cache[key][k] for k in ("factor", "value", "timesteps", "accuracy",
                                                                   "hidden_spikes_per_image", "reference_seconds")},
                          "brian2_equal", cache[key].get("brian2_equal"), flush=True)
                row = dict(cache[key], factor=factor, value=json_value(value))
                if baseline and cache[key]["factor"] != factor:
                    row["shared_baseline"] = True  # the same run as the other factors' baseline point
                rows.append(row)
    return rows, skipped


# --- trial-to-trial variability -------------------------------------------------------------
def _masked_mean(a):
    a = np.ma.asarray(a)
    n = int(a.count())
    return (float(a.mean()) if n else None), n / a.size


def trial_fano(spec, T, noises, n_trials, n_images):
    """Fano factors across trials (noisy LIF, tau = inf) beside across images (noise-free) per hidden layer."""
    x = spec["x"][:n_images]
    y = spec["y"][:n_images]
    thresholds = spec["thresholds"][T]
    clean = nc.convert(spec["net"], neuron=LIF(INF * second), timesteps=T, thresholds=thresholds, dt=1 * ms)
    res = clean.run(x, device="reference", record_spikes=False, progress=False)
    names = list(res.layer_names)
    across_images = {}
    for k, name in enumerate(names):
        mean, frac = _masked_mean(fanofactor(res.spike_counts[k], across="images"))
        across_images[name] = {"fano_across_images": mean, "fraction_of_neurons_defined": round(frac, 4)}
    rows = []
    for sigma in noises:
        snn = nc.convert(spec["net"], neuron=LIF(INF * second, noise=sigma), timesteps=T, thresholds=thresholds,
                         dt=1 * ms)
        t0 = time.perf_counter()
        trials = run_trials(snn, x, n_trials, device="reference", progress=False)
        seconds = time.perf_counter() - t0
        layers = {}
        for name in names:
            ff = fanofactor(trials, across="trials", layer=name)
            mean, frac = _masked_mean(ff)
            counts = trials.counts(name)
            layers[name] = {"fano_across_trials": mean, "fraction_of_pairs_defined": round(frac, 4),
                            "mean_count": float(counts.mean())}
        acc = (trials.predictions == y[None, :]).mean(axis=1)
        rows.append({"noise": sigma, "model": repr(snn.neuron), "layers": layers,
                     "accuracy_mean": float(acc.mean()), "accuracy_std": float(acc.std()),
                     "seconds": round(seconds, 3)})
        print("fano", sigma, {n: layers[n]["fano_across_trials"] for n in names}, flush=True)
    return {"network": spec["name"], "timesteps": T, "n_trials": n_trials, "n_images": int(len(x)),
            "seeds": list(range(n_trials)), "noise_free": {"model": repr(clean.neuron),
                                                           "accuracy": res.accuracy(y), "layers": across_images},
            "rows": rows}


# --- figure ---------------------------------------------------------------------------------
def figure(report, path, formats=("png", "pdf")):
    """Rows: accuracy and hidden spikes per image of each network; columns: the factors; lines: T
    (neuroconv.experiments.figures.plots.plot_dynamics_report, the package's figure style). Writes ``path``
    and the other ``formats`` beside it; returns the paths."""
    import os

    from neuroconv.experiments.figures import style
    from neuroconv.experiments.figures.plots import plot_dynamics_report

    ext = os.path.splitext(path)[1].lstrip(".").lower() or "png"
    return style.save(plot_dynamics_report(report), path, formats=[ext] + [f for f in formats if f != ext])


# --- main -----------------------------------------------------------------------------------
def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--timesteps", type=int, nargs="+", default=[32, 64])
    parser.add_argument("--taus", type=float, nargs="+", default=FACTORS["tau"][1], help="ms; inf = no leak")
    parser.add_argument("--refractory", type=float, nargs="+", default=FACTORS["refractory"][1], help="ms")
    parser.add_argument("--noise", type=float, nargs="+", default=FACTORS["noise"][1])
    parser.add_argument("--noise-seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--threshold-jitter", type=float, nargs="+", default=FACTORS["threshold_jitter"][1])
    parser.add_argument("--delay-mean", type=float, default=8.0, help="ms, mean synaptic delay of the jittered points")
    parser.add_argument("--delay-jitters", type=float, nargs="+", default=FACTORS["delay_jitter"][1][1:], help="ms")
    parser.add_argument("--brian2-images", type=int, default=20, help="digits MLP images run in Brian2 per setting")
    parser.add_argument("--fashion-images", type=int, default=150,
                        help="Fashion-MNIST test images (150: the whole run about 20 min on 2 shared cores)")
    parser.add_argument("--fashion-brian2-images", type=int, default=2)
    parser.add_argument("--no-fashion", action="store_true")
    parser.add_argument("--fano-timesteps", type=int, default=32)
    parser.add_argument("--fano-noise", type=float, nargs="+", default=[0.05, 0.1, 0.2, 0.5])
    parser.add_argument("--fano-trials", type=int, default=20)
    parser.add_argument("--fano-images", type=int, default=50)
    parser.add_argument("--out")
    parser.add_argument("--figure", help="PNG path; a PDF with the same basename is written too")
    parser.add_argument("--from-json", help="only redraw --figure from a report this script wrote")
    args = parser.parse_args(argv)
    if args.from_json:
        with open(args.from_json) as fh:
            figure(json.load(fh), args.figure)
        return
    start = time.perf_counter()

    factors = {"tau": (FACTORS["tau"][0], list(args.taus)),
               "refractory": (FACTORS["refractory"][0], list(args.refractory)),
               "noise": (FACTORS["noise"][0], list(args.noise)),
               "threshold_jitter": (FACTORS["threshold_jitter"][0], list(args.threshold_jitter)),
               "delay_jitter": (f"delay jitter (std, ms), mean {args.delay_mean:g} ms",
                                [None] + list(args.delay_jitters))}
    skip_all = {}
    if not HAS_DELAYS:
        skip_all["delay_jitter"] = "neuroconv.convert has no delays argument in this version"

    specs = [(digits_mlp(), args.brian2_images, {})]
    if not args.no_fashion:
        specs.append((fashion_cnn(args.fashion_images), args.fashion_brian2_images,
                      {"delay_jitter": "delays are not supported with max-pool relays (convert refuses them); this "
                                       "CNN pools with MaxPool2d"}))
    networks = []
    for spec, n_brian2, skip in specs:
        t0 = time.perf_counter()
        spec["thresholds"] = {T: calibrated_thresholds(spec, T) for T in args.timesteps}
        ann_accuracy = float(np.mean(spec["net"].predict(spec["x"]) == spec["y"]))
        rows, skipped = sweep(spec, args.timesteps, factors, args.noise_seeds, n_brian2, args.delay_mean,
                              skip={**skip_all, **skip})
        entry = {"name": spec["name"], "description": spec["description"], "n_images": int(len(spec["x"])),
                 "calibration": spec["calibration_text"], "ann_accuracy": ann_accuracy, "brian2_images": n_brian2,
                 "rows": rows, "seconds": round(time.perf_counter() - t0, 1)}
        if "train_info" in spec:
            entry["train_info"] = spec["train_info"]
        if skipped:
            entry["skipped"] = skipped
        networks.append(entry)
        if spec["name"] == "digits_mlp":
            mlp = spec

    t0 = time.perf_counter()
    fano = trial_fano(mlp, args.fano_timesteps, args.fano_noise, args.fano_trials, args.fano_images)
    fano["seconds"] = round(time.perf_counter() - t0, 1)

    report = {"command": command(argv), "benchmark": "dynamics", "machine": machine(), "dt_ms": 1.0,
              "timesteps": list(args.timesteps), "baseline": "LIF(tau=inf*second): IF with the shift, step for step",
              "factors": {f: {"label": lab, "values": [json_value(v) for v in vals]} for f, (lab, vals) in factors.items()},
              "noise_seeds": list(args.noise_seeds), "delay_mean_ms": args.delay_mean,
              "networks": networks, "trial_fano": fano,
              "all_brian2_equal": all(r.get("brian2_equal", True) for n in networks for r in n["rows"])}
    report["wall_seconds"] = round(time.perf_counter() - start, 1)
    emit(report, args.out)  # before the figure: a plotting error must not lose the measurements
    if args.figure:
        figure(report, args.figure)


if __name__ == "__main__":
    main()
