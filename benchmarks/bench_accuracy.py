"""Conversion accuracy vs T: neuroconv's IF starts beside SpikingJelly's ann2snn, same torch model, same images.

For each zoo model (trained on first use and cached) the plain-ReLU torch module is converted
twice, from the same calibration images (the first ``--n-cal`` training images):

* by neuroconv (``from_torch`` + ``convert``), simulated by the numpy reference: the IF starts
  ``shift`` (theta/2, Deng & Gu; the default) and ``none`` (0) with thresholds ``max``, ``99.9%`` (one
  per layer) and ``99.9%/channel``, each T read from one run (``readouts_over_time``); and
  ``calibrated`` (``IF(shift="calibrated")``: one start per neuron measured on the calibration images
  at each T, :mod:`neuroconv.conversion.membrane`), converted and run per T, with its default thresholds
  (99.9% per channel) and with ``max`` per layer.
* by SpikingJelly 2.0 (``benchmarks/_spikingjelly.py``: rate coding ``max``, ``99.9%``, per-channel
  ``99.9%`` with half-threshold start, local threshold balancing), simulated by SpikingJelly on the
  CPU; skipped with a line saying why where it is not installed.

``--tpp`` runs the same study for the two-phase probabilistic neurons of the seeds (instead of the
above): ``TPP()`` and ``TPP(calibrated=True)`` (each neuron's accumulated potential offset by its
mean error measured on the calibration images), each also with ``unbiased=True``, at ``--tpp-timesteps``
(phase lengths; the latency is one phase per spiking layer), mean and standard deviation over ``--seeds``
runs; thresholds ``max`` per layer. TPP converts chains without max-pooling (digits MLPs, the
average-pooling CNN).

Accuracy on the first ``--n-test`` test images. ``claim`` compares ``IF(shift="calibrated")`` with
convert's defaults for it (one argument) with the best SpikingJelly mode at each T; ``se`` is the
binomial standard error of one accuracy on n_test images.
Prints JSON (``--out`` writes it too).

    python benchmarks/bench_accuracy.py --out docs/bench/accuracy.json
    python benchmarks/bench_accuracy.py --tpp --models digits_mlp digits_mlp6 fashion_cnn_avg --out docs/bench/accuracy_tpp.json
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

import neuroconv as nc
from neuroconv.equations import IF, TPP
from neuroconv.experiments import zoo
from neuroconv.simulation.reference import readouts_over_time

from _report import command, emit, machine
import _spikingjelly

TIMESTEPS = (4, 8, 16, 32, 64)
MODELS = ("digits_mlp", "fashion_cnn_avg", "fashion_cnn", "fashion_resnet")
#: name -> convert's threshold options
THRESHOLDS = {"max": dict(method="max", per_channel=False), "99.9%": dict(method="99.9%", per_channel=False),
              "99.9%/channel": dict(method="99.9%", per_channel=True)}
STARTS = {"shift": True, "none": False}
#: calibrated starts: name -> threshold options (None: IF(shift="calibrated")'s defaults)
CALIBRATED = {"calibrated": {}, "calibrated/max": THRESHOLDS["max"]}


def _accuracy(out, y) -> float:
    return float(np.mean(np.argmax(out, axis=1) == y))


def measure(name, timesteps, n_test, n_cal, sj_modes, progress) -> dict:
    model = zoo.load(name, progress=progress)
    net, data = model.to_ann(), model.dataset
    x, y, x_cal = data.x_test[:n_test], data.y_test[:n_test], data.x_train[:n_cal]
    ann_acc = float(np.mean(net.predict(x) == y))
    ours, seconds = {}, {}
    for thresholds, options in THRESHOLDS.items():
        for start, shift in STARTS.items():
            t0 = time.perf_counter()
            snn = nc.convert(net, IF(shift=shift), timesteps=max(timesteps), calibration_data=x_cal, **options)
            outs = readouts_over_time(snn, x, timesteps, progress=progress)
            ours[f"{start}/{thresholds}"] = {t: _accuracy(outs[t], y) for t in timesteps}
            seconds[f"{start}/{thresholds}"] = round(time.perf_counter() - t0, 1)
    for key, options in CALIBRATED.items():
        ours[key], calibrate_s, t0 = {}, {}, time.perf_counter()
        for t in timesteps:
            t1 = time.perf_counter()
            snn = nc.convert(net, IF(shift="calibrated"), timesteps=t, calibration_data=x_cal, progress=progress,
                             **options)
            calibrate_s[t] = round(time.perf_counter() - t1, 1)
            ours[key][t] = _accuracy(snn.run(x, device="reference", record_spikes=False, progress=progress).output, y)
        seconds[key] = round(time.perf_counter() - t0, 1)
        seconds[f"{key}: conversion per T"] = calibrate_s
    row = {"model": name, "train_info": model.info, "n_test": int(len(x)), "n_cal": int(len(x_cal)),
           "ann_accuracy": ann_acc, "neuroconv": ours, "seconds": seconds}
    ok, why = _spikingjelly.available()
    if not ok:
        print(f"bench_accuracy: skipping SpikingJelly: {why}", flush=True)
        row["spikingjelly"] = None
        row["spikingjelly_skipped"] = why
        return row
    row["spikingjelly_version"], row["spikingjelly"] = why, {}
    for mode in sj_modes:
        t0 = time.perf_counter()
        row["spikingjelly"][mode] = _spikingjelly.accuracy_over_time(model.module, x_cal, x, y, timesteps, mode)
        seconds[f"spikingjelly {mode}"] = round(time.perf_counter() - t0, 1)
    se = float(np.sqrt(max(ann_acc * (1 - ann_acc), 0.01 * 0.99) / len(x)))
    claim = {}
    for t in timesteps:
        best_mode = max(sj_modes, key=lambda m: row["spikingjelly"][m][t])
        best = row["spikingjelly"][best_mode][t]
        mine = ours["calibrated"][t]
        claim[t] = {"ours": mine, "spikingjelly_best": best, "spikingjelly_mode": best_mode,
                    "difference_pp": round(100 * (mine - best), 2), "at_least_as_good": mine >= best}
    row["claim"], row["se"] = claim, se
    return row


def measure_tpp(name, timesteps, n_test, n_cal, seeds, progress) -> dict:
    """TPP with and without calibrated starts (biased and unbiased rounding): accuracy mean/std over seeds."""
    model = zoo.load(name, progress=progress)
    net, data = model.to_ann(), model.dataset
    x, y, x_cal = data.x_test[:n_test], data.y_test[:n_test], data.x_train[:n_cal]
    results, seconds = {}, {}
    for unbiased in (False, True):
        for calibrated in (False, True):
            key = f"TPP(unbiased={unbiased}, calibrated={calibrated})"
            results[key], t0 = {}, time.perf_counter()
            for t in timesteps:
                snn = nc.convert(net, TPP(unbiased=unbiased, calibrated=calibrated), timesteps=t,
                                 calibration_data=x_cal, method="max", per_channel=False, progress=progress)
                accs = [_accuracy(snn.run(x, device="reference", seed=s, record_spikes=False, progress=False).output, y)
                        for s in range(seeds)]
                results[key][t] = {"mean": float(np.mean(accs)), "std": float(np.std(accs)), "runs": accs,
                                   "latency_steps": snn.latency_steps}
            seconds[key] = round(time.perf_counter() - t0, 1)
    return {"model": name, "train_info": model.info, "n_test": int(len(x)), "n_cal": int(len(x_cal)),
            "ann_accuracy": float(np.mean(net.predict(x) == y)), "seeds": seeds, "tpp": results, "seconds": seconds}


#: the table's neuroconv rows: JSON key -> label
TABLE_ROWS = {"calibrated": '**IF(shift="calibrated")**', "shift/max": "IF() (θ/2 start, max: the default)",
              "none/99.9%": "IF(shift=False), 99.9%", "shift/99.9%/channel": "IF(), 99.9% per channel"}
SJ_NAMES = {"max": "max", "99.9%": "99.9%", "99.9%-ch-half": "ch+half", "ltb": "LTB"}


def markdown_table(report) -> str:
    """The README table of a bench_accuracy JSON: per network, neuroconv's main settings, SpikingJelly's best
    mode at each T and the difference (percentage points)."""
    from neuroconv.experiments.figures.plots import NAMES

    steps = report["timesteps"]
    lines = ["| network (ANN) | converter | " + " | ".join(f"T = {t}" for t in steps) + " |",
             "|---|---|" + "---:|" * len(steps)]
    for row in report["rows"]:
        name = f"{NAMES.get(row['model'], row['model'])} ({100 * row['ann_accuracy']:.2f}%)"
        first = True
        for key, label in TABLE_ROWS.items():
            values = row["neuroconv"][key]
            lines.append(f"| {name if first else ''} | {label} | "
                         + " | ".join(f"{100 * values[str(t)]:.2f}" for t in steps) + " |")
            first = False
        if row.get("spikingjelly"):
            claim = row["claim"]
            lines.append("| | SpikingJelly, best mode at each T | " + " | ".join(
                f"{100 * claim[str(t)]['spikingjelly_best']:.2f} ({SJ_NAMES[claim[str(t)]['spikingjelly_mode']]})"
                for t in steps) + " |")
            lines.append("| | calibrated − SpikingJelly best (points) | " + " | ".join(
                f"{claim[str(t)]['difference_pp']:+.2f}" for t in steps) + " |")
        else:
            lines.append(f"| | SpikingJelly | skipped: {row.get('spikingjelly_skipped', 'not run')} |")
    return "\n".join(lines)


def markdown_tpp_table(report) -> str:
    """The README table of a ``--tpp`` JSON: mean ± s.d. accuracy per network, rule and start, each phase length."""
    from neuroconv.experiments.figures.plots import NAMES

    steps = report["timesteps"]
    lines = ["| network (ANN) | TPP | " + " | ".join(f"T = {t} (latency)" for t in steps) + " |",
             "|---|---|" + "---:|" * len(steps)]
    for row in report["rows"]:
        name = f"{NAMES.get(row['model'], row['model'])} ({100 * row['ann_accuracy']:.2f}%)"
        for n, (key, values) in enumerate(row["tpp"].items()):
            label = key.replace("TPP(", "").rstrip(")").replace("unbiased=", "unbiased ").replace(
                "calibrated=", "calibrated ")
            lines.append(f"| {name if n == 0 else ''} | {label} | " + " | ".join(
                f"{100 * values[str(t)]['mean']:.2f} ± {100 * values[str(t)]['std']:.2f} "
                f"({values[str(t)]['latency_steps']})" for t in steps) + " |")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=sorted(zoo.MODELS))
    parser.add_argument("--timesteps", type=int, nargs="+", default=list(TIMESTEPS))
    parser.add_argument("--n-test", type=int, default=1000)
    parser.add_argument("--n-cal", type=int, default=1000, help="calibration images (thresholds, starts, peer)")
    parser.add_argument("--sj-modes", nargs="+", default=list(_spikingjelly.MODES), choices=_spikingjelly.MODES)
    parser.add_argument("--tpp", action="store_true", help="the TPP study instead (see the module docstring)")
    parser.add_argument("--tpp-timesteps", type=int, nargs="+", default=[2, 4, 8])
    parser.add_argument("--seeds", type=int, default=3, help="TPP runs per setting")
    parser.add_argument("--no-progress", action="store_true")
    parser.add_argument("--table", metavar="JSON", help="print the README table of a saved report and exit")
    parser.add_argument("--out", help="also write the JSON here (rewritten after every model)")
    args = parser.parse_args(argv)
    if args.table:
        with open(args.table) as fh:
            saved = json.load(fh)
        print(markdown_tpp_table(saved) if saved.get("benchmark") == "conversion_accuracy_tpp" else markdown_table(saved))
        return
    timesteps = sorted(set(args.timesteps))
    report = {"command": command(argv), "benchmark": "conversion_accuracy", "machine": machine(),
              "timesteps": timesteps, "rows": []}
    if args.tpp:
        timesteps = sorted(set(args.tpp_timesteps))
        report.update(benchmark="conversion_accuracy_tpp", timesteps=timesteps)
    for name in args.models:
        if args.tpp:
            row = measure_tpp(name, timesteps, args.n_test, args.n_cal, args.seeds, not args.no_progress)
        else:
            row = measure(name, timesteps, args.n_test, args.n_cal, args.sj_modes, not args.no_progress)
        report["rows"].append(row)
        if args.out:  # partial results survive a later failure
            with open(args.out, "w") as fh:
                fh.write(json.dumps(report, indent=1) + "\n")
    emit(report, args.out)


if __name__ == "__main__":
    main()
