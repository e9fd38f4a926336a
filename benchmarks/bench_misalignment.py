"""Temporal misalignment on the digits MLPs: IF, IF with permuted spike times, and TPP, for each T.

    python benchmarks/bench_misalignment.py --out docs/bench/misalignment_digits.json

Networks: the shipped digits MLP (2 hidden layers, 64-64-32-10) and a deeper one trained
here with scikit-learn (6 hidden layers of 64, seed 0; neuroconv.figures.deep_digits_mlp),
both plain ReLU, max calibration on the training split, 540 test digits. For each T in
--timesteps: the IF network's accuracy, the accuracy with every hidden layer's spike
trains permuted in time (mean and std over --repeats permutations), TPP's accuracy (mean
and std over as many seeds), and the misalignment measures of each hidden layer
(neuroconv.analysis.misalignment_measures) for IF and TPP. Layer-by-layer runs on the numpy
reference by default (--device runtime for Brian2: identical results, slower). --no-shift
drops IF's theta/2 initial membrane (TPP has none); --calibrated-start measures each IF neuron's start
on the training split at each T (IF(shift="calibrated"), same thresholds); --tpp-unbiased uses TPP(unbiased=True);
--method 99 calibrates with the 99th percentile. Prints one JSON object.

Zoo networks (extra ``torch``; trained on the same digits split and cached) are named
``MODEL/VARIANT``, e.g. ``digits_mlp6/qcfs digits_cnn/qcfs digits_cnn/relu``; QCFS networks
(``--levels`` L, default 4) use their trained thresholds, so --method does not apply to them:

    python benchmarks/bench_misalignment.py --networks mlp2 mlp6 digits_mlp/qcfs digits_mlp6/qcfs digits_cnn/qcfs
"""

from __future__ import annotations

import argparse
import time

from _report import command, emit, machine

from neuroconv.experiments.demo import load_digits_split, shipped_digits_mlp
from neuroconv.equations import TPP
from neuroconv.experiments.figures import deep_digits_mlp, misalignment_report


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--timesteps", type=int, nargs="+", default=[2, 4, 8, 16, 32])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="reference", choices=["reference", "runtime"])
    parser.add_argument("--networks", nargs="+", default=["mlp2", "mlp6"],
                        help="mlp2, mlp6 (scikit-learn) or zoo MODEL/VARIANT such as digits_cnn/qcfs")
    parser.add_argument("--levels", type=int, default=4, help="QCFS levels of the zoo networks")
    parser.add_argument("--no-shift", action="store_true", help="IF without the theta/2 initial membrane")
    parser.add_argument("--calibrated-start", action="store_true",
                        help="IF(shift='calibrated'): each neuron's start measured on the training split at each T")
    parser.add_argument("--method", default="max", help="calibration statistic: max or a percentile such as 99")
    parser.add_argument("--tpp-unbiased", action="store_true", help="TPP with the unbiased rounding rule")
    parser.add_argument("--out", help="also write the JSON here")
    args = parser.parse_args(argv)

    t0 = time.perf_counter()
    x_train, x_test, y_train, y_test = load_digits_split()
    builders = {"mlp2": shipped_digits_mlp, "mlp6": lambda: deep_digits_mlp(x_train, y_train)}
    networks = {}
    for name in args.networks:
        if name in builders:
            networks[name] = builders[name]()
            continue
        from neuroconv.experiments import zoo

        model, _, variant = name.partition("/")
        if model not in zoo.MODELS or variant not in ("relu", "qcfs") or zoo.MODELS[model][1] != "digits":
            parser.error(f"unknown network {name!r}: use mlp2, mlp6 or a digits zoo model/variant "
                         f"({', '.join(m for m in zoo.MODELS if zoo.MODELS[m][1] == 'digits')} / relu or qcfs)")
        loaded = zoo.load(model, variant=variant, levels=args.levels, progress=False)
        networks[name + (str(args.levels) if variant == "qcfs" else "")] = loaded.to_ann()
    report = {"command": command(argv)}
    report.update(misalignment_report(networks, x_train, x_test, y_test, args.timesteps, args.repeats, seed=args.seed,
                                      device=args.device, method=args.method,
                                      shift="calibrated" if args.calibrated_start else not args.no_shift,
                                      tpp=TPP(unbiased=args.tpp_unbiased)))
    report["machine"] = machine()
    report["total_s"] = time.perf_counter() - t0
    emit(report, args.out)


if __name__ == "__main__":
    main()
