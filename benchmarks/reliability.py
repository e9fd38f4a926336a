"""The reliability report: every hardening check of the package, counted, in one JSON object and one figure.

    python benchmarks/reliability.py --out docs/bench/reliability_2core.json --figure docs/figures/reliability.png
    python benchmarks/reliability.py --quick      # a few minutes: fewer examples and kills

Sections (the kits live in tests/, which the test suite runs too):

* ``fuzz_invalid``: hypothesis draws invalid calls in 8 categories (tests/fuzz.py); each must
  be refused with a NeuroconvError naming the parameter. Outcomes per category:
  refused / wrong_message / crash / accepted.
* ``fuzz_valid``: random valid networks (Dense, Conv, residual with max-pooling) converted
  with random settings and run on Brian2 runtime (numpy) against the reference, for IF,
  One-Spike and TPP (TPP spike for spike, same seed): matched / mismatched / crashed.
* ``interrupted_builds``: a cpp_standalone build SIGKILLed at a random moment (fresh cache),
  then the next run in that cache must give the reference's results; plus SIGINT to the
  process group (terminal Ctrl-C) and to Python alone (notebook interrupt) during the compile,
  which must stop within 10 s leaving no process, temp folder or half cache entry.
* ``concurrent_builds``: two processes building the same network into one empty cache.
* ``malicious_files``: every hostile file of tests/untrusted.py against its loader.
* ``determinism``: TPP (stochastic) with one seed across repeated runs, batch sizes, a second
  process, runtime numpy and cpp_standalone with and without rounds: identical spikes.

``crashes`` in the summary counts every outcome that is not the required one; it must be 0.
"""

from __future__ import annotations

import argparse
import collections
import os
import random
import sys
import tempfile
import time
import warnings

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "tests"))

from _report import command, emit, machine  # noqa: E402


def fuzz_invalid(examples: int) -> dict:
    from hypothesis import HealthCheck, given, settings

    import fuzz

    out = {}
    for category in fuzz.CATEGORIES:
        counts = collections.Counter()
        failures = []

        @settings(max_examples=examples, deadline=None, database=None,
                  suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
        @given(case=fuzz.invalid_calls([category]))
        def run(case):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                result, message = fuzz.outcome(case)
            counts[result] += 1
            if result != "refused" and len(failures) < 5:
                failures.append(f"{case.description}: {result}: {message[:200]}")

        run()
        out[category] = {"cases": sum(counts.values()), **{o: counts[o] for o in fuzz.OUTCOMES},
                         "failures": failures}
    return out


def fuzz_valid(examples: int) -> dict:
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from nets import conv_nets, dense_nets, graph_nets
    from test_equivalence import SLOW_SETTINGS, check_device, convert_random

    out = {}
    for kind in ("if", "one_spike", "tpp"):
        counts = collections.Counter()
        failures = []
        nets = st.one_of(dense_nets(), conv_nets(), graph_nets()) if kind == "if" else st.one_of(dense_nets(),
                                                                                                 conv_nets())

        @settings(max_examples=examples, database=None, **SLOW_SETTINGS)
        @given(net_rng=nets, data=st.data())
        def run(net_rng, data):
            snn, x = convert_random(*net_rng, data, kind)
            try:
                check_device(snn, x, "runtime")
                counts["matched"] += 1
            except AssertionError as exc:
                counts["mismatched"] += 1
                failures.append(str(exc)[:300])
            except Exception as exc:  # noqa: BLE001
                counts["crashed"] += 1
                failures.append(f"{type(exc).__name__}: {exc}"[:300])

        run()
        out[kind] = {"networks": sum(counts.values()), "matched": counts["matched"],
                     "mismatched": counts["mismatched"], "crashed": counts["crashed"], "failures": failures[:5]}
    return out


def interrupted_builds(kills: int, rng: random.Random) -> dict:
    import interrupts

    expected = interrupts.reference()
    rows = []
    for _ in range(kills):
        delay = round(rng.uniform(0.0, 14.0), 2)  # a build here takes ~10-15 s (convert, codegen, compile)
        with tempfile.TemporaryDirectory() as scratch:
            left = interrupts.kill(scratch, delay)
            after = interrupts.concurrent(scratch, n=1)[0]
            rows.append({"signal": "SIGKILL", "after_s": delay, "next_run_correct": interrupts.same(after, expected),
                         "half_cache_entries": len(left["half_cache_entries"])})
    for how in ("group", "process"):
        with tempfile.TemporaryDirectory() as scratch:
            result = interrupts.interrupt(scratch, 3.0, how)
            after = interrupts.concurrent(scratch, n=1)[0]
        rows.append({"signal": f"SIGINT ({how})", "after_s": 3.0, "stopped": not result["finished"],
                     "exit_s": result["exit_s"], "processes_left": len(result["processes"]),
                     "temp_dirs_left": len(result["temp_dirs"]),
                     "half_cache_entries": len(result["half_cache_entries"]),
                     "next_run_correct": interrupts.same(after, expected)})
    survived = sum(r["next_run_correct"] and r.get("stopped", True) and not r.get("processes_left")
                   and not r.get("temp_dirs_left") for r in rows)
    return {"runs": len(rows), "survived": survived, "details": rows}


def concurrent_builds(rounds: int) -> dict:
    import interrupts

    expected = interrupts.reference()
    rows = []
    for _ in range(rounds):
        with tempfile.TemporaryDirectory() as scratch:
            results = interrupts.concurrent(scratch, n=2)
            left = interrupts.leftovers(scratch)
        rows.append({"correct": [interrupts.same(r, expected) for r in results],
                     "build_s": [round(r["build_time"], 1) for r in results],
                     "half_cache_entries": len(left["half_cache_entries"])})
    survived = sum(all(r["correct"]) and not r["half_cache_entries"] for r in rows)
    return {"races": len(rows), "processes_per_race": 2, "survived": survived, "details": rows}


def malicious_files() -> dict:
    import untrusted

    rows = []
    for group, makers in untrusted.MAKERS.items():
        for maker in makers:
            with tempfile.TemporaryDirectory() as scratch:
                folder = os.path.join(scratch, "target")
                os.mkdir(folder)
                try:
                    outcome, detail = untrusted.attack(maker, folder)
                except ImportError as exc:  # onnx / nir / torch not installed
                    outcome, detail = "skipped", str(exc)
            rows.append({"loader": group, "file": maker.__name__, "outcome": outcome, "detail": detail[:200]})
    counts = collections.Counter(r["outcome"] for r in rows)
    return {"files": len(rows), "refused": counts["refused"], "loaded_safely": counts["loaded safely"],
            "executed": counts["executed"], "wrote_outside": counts["wrote outside"],
            "accepted": counts["accepted"], "crash": counts["crash"], "skipped": counts["skipped"], "details": rows}


def determinism() -> dict:
    import neuroconv as nc
    from neuroconv.experiments.demo import load_digits_split, shipped_digits_mlp
    from neuroconv.equations import TPP
    from test_determinism import spikes_in_other_process, spikes_of as spikes

    x_train, x_test, _, _ = load_digits_split()
    x = x_test[:45]
    checks, refs = {}, {}

    def same(a, b):
        return all(np.array_equal(p, q) for p, q in zip(spikes(a), spikes(b)))

    for unbiased in (False, True):
        snn = nc.convert(shipped_digits_mlp(), neuron=TPP(unbiased=unbiased), timesteps=6, calibration_data=x_train)
        name = "tpp_unbiased" if unbiased else "tpp"
        ref = refs[name] = snn.run(x, device="reference", seed=11, progress=False)
        checks[f"{name}: repeated reference run"] = same(ref, snn.run(x, device="reference", seed=11, progress=False))
        for b in (1, 7, 45):
            checks[f"{name}: reference batch_size={b}"] = same(ref, snn.run(x, device="reference", seed=11,
                                                                            batch_size=b, progress=False))
        checks[f"{name}: runtime numpy batch_size=16"] = same(ref, snn.run(x, device="runtime", seed=11,
                                                                            batch_size=16, progress=False))
        checks[f"{name}: cpp_standalone batch 4 x 3 rounds"] = same(ref, snn.run(
            x, device="cpp_standalone", seed=11, batch_size=4, rounds=3, progress=False))
        checks[f"{name}: cpp_standalone batch 45, 1 round"] = same(ref, snn.run(
            x, device="cpp_standalone", seed=11, batch_size=45, rounds=1, progress=False))
        checks[f"{name}: another seed differs"] = not same(ref, snn.run(x, device="reference", seed=12,
                                                                         progress=False))
    other = spikes_in_other_process("runtime", unbiased=False)
    checks["tpp: another process (runtime, batch 9)"] = all(np.array_equal(p, q)
                                                           for p, q in zip(spikes(refs["tpp"]), other))
    return {"checks": len(checks), "passed": sum(checks.values()), "details": checks}


def figure(report: dict, path: str, formats=("png", "pdf")) -> list:
    """The summary figure (neuroconv.experiments.figures.plots.plot_reliability_report, the package's figure
    style): ``path`` and the other ``formats`` beside it. Returns the paths written."""
    from neuroconv.experiments.figures import style
    from neuroconv.experiments.figures.plots import plot_reliability_report

    ext = os.path.splitext(path)[1].lstrip(".").lower() or "png"
    return style.save(plot_reliability_report(report), path, formats=[ext] + [f for f in formats if f != ext])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer examples and kills (a few minutes)")
    parser.add_argument("--seed", type=int, default=0, help="the random kill moments")
    parser.add_argument("--out", default=None, help="also write the JSON here")
    parser.add_argument("--figure", default=None, help="write the summary figure (.png) here")
    parser.add_argument("--figure-from", default=None, metavar="JSON", help="only redraw the figure from a report")
    args = parser.parse_args(argv)
    if args.figure_from:
        import json

        with open(args.figure_from) as fh:
            figure(json.load(fh), args.figure or os.path.splitext(args.figure_from)[0] + ".png")
        return 0
    rng = random.Random(args.seed)
    n_invalid, n_valid, kills, races = (60, 8, 2, 1) if args.quick else (500, 40, 8, 3)
    t0 = time.perf_counter()
    report = {"benchmark": "reliability", "command": command(argv), "machine": machine(), "quick": args.quick}
    sections = [("fuzz_invalid", lambda: fuzz_invalid(n_invalid)), ("fuzz_valid", lambda: fuzz_valid(n_valid)),
                ("malicious_files", malicious_files), ("determinism", determinism),
                ("concurrent_builds", lambda: concurrent_builds(races)),
                ("interrupted_builds", lambda: interrupted_builds(kills, rng))]
    report["section_seconds"] = {}
    for name, section in sections:
        t = time.perf_counter()
        report[name] = section()
        report["section_seconds"][name] = round(time.perf_counter() - t, 1)
        print(f"# {name} done in {report['section_seconds'][name]} s", file=sys.stderr, flush=True)
    inv, val, mal = report["fuzz_invalid"], report["fuzz_valid"], report["malicious_files"]
    crashes = (sum(r["cases"] - r["refused"] for r in inv.values())
               + sum(r["mismatched"] + r["crashed"] for r in val.values())
               + mal["executed"] + mal["wrote_outside"] + mal["accepted"] + mal["crash"]
               + report["interrupted_builds"]["runs"] - report["interrupted_builds"]["survived"]
               + report["concurrent_builds"]["races"] - report["concurrent_builds"]["survived"]
               + report["determinism"]["checks"] - report["determinism"]["passed"])
    report["summary"] = {
        "fuzz_cases_per_category": {c: r["cases"] for c, r in inv.items()},
        "random_networks_per_model": {k: r["networks"] for k, r in val.items()},
        "crashes": crashes,
        "interrupted_builds_survived": f"{report['interrupted_builds']['survived']}/{report['interrupted_builds']['runs']}",
        "concurrent_builds_survived": f"{report['concurrent_builds']['survived']}/{report['concurrent_builds']['races']}",
        "malicious_files_refused": f"{mal['refused'] + mal['loaded_safely']}/{mal['files'] - mal['skipped']}",
        "determinism_checks_passed": f"{report['determinism']['passed']}/{report['determinism']['checks']}",
        "seconds": round(time.perf_counter() - t0, 1),
    }
    emit(report, args.out)
    if args.figure:
        figure(report, args.figure)
    return 0 if crashes == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
