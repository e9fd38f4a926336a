"""Throughput of the devices side by side (``neuroconv bench``; ``benchmarks/bench_speed.py`` builds on it)."""

from __future__ import annotations

import os
import tempfile
import time

import numpy as np

__all__ = ["device_throughput", "device_options"]


def device_options(dev: str, batch_size=None, rounds=None):
    """``"runtime/cython"`` -> ("runtime", options with the codegen target); ``"cpp_standalone/rounds=1"`` ->
    ("cpp_standalone", options with rounds 1 and, unless given, batch size 256: one batch per binary run)."""
    device, _, extra = dev.partition("/")
    options = {"batch_size": batch_size}
    if device == "cpp_standalone" and rounds is not None:
        options["rounds"] = rounds
    if extra.startswith("rounds="):
        options["rounds"] = int(extra.split("=", 1)[1])
        if options["rounds"] == 1 and batch_size is None:
            options["batch_size"] = 256
    elif extra:
        options["codegen_target"] = extra
    return device, options


def _equal(res, ref, n):
    """Identical predictions and spike counts to the reference's first ``n`` images."""
    return bool(np.array_equal(res.predictions, ref.predictions[:n])
                and all(np.array_equal(a, b[:n]) for a, b in zip(res.spike_counts, ref.spike_counts)))


def device_throughput(devices, images=4096, timesteps=32, snn=None, x=None, batch_size=None, rounds=None,
                      slow_images=None, max_synapses=1e9, log=None) -> dict:
    """Images/s of each device on ``snn`` (default: the shipped digits MLP) and inputs ``x`` (default: its
    test digits repeated to ``images``). The slow lines (runtime targets, ``cpp_standalone/rounds=1``)
    simulate only the first ``slow_images`` when given.

    Standalone devices run twice, ``cold`` (empty build cache) and ``warm``; every row has
    ``wall_s``, ``build_s``, ``images_per_s`` (with build), ``run_images_per_s`` (without)
    and ``agree`` (predictions and spike counts identical to the reference).
    """
    from neuroconv.conversion.converter import convert
    from neuroconv.experiments.demo import load_digits_split, shipped_digits_mlp

    if snn is None:
        x_train, x_test, _, _ = load_digits_split()
        snn = convert(shipped_digits_mlp(), timesteps=timesteps, calibration_data=x_train)
        x = x_test if x is None else x
    x = np.concatenate([x] * int(np.ceil(images / len(x))))[:images]
    ref = snn.run(x, device="reference", progress=False, record_spikes=False)
    rows = {}
    previous_cache = os.environ.get("NEUROCONV_CACHE")
    os.environ["NEUROCONV_CACHE"] = tempfile.mkdtemp(prefix="neuroconv_bench_cache_")
    try:
        for dev in devices:
            device, options = device_options(dev, batch_size, rounds)
            slow = device == "runtime" or options.get("rounds") == 1
            xs = x[:slow_images] if slow and slow_images else x
            for label in (["cold", "warm"] if device.endswith("standalone") else ["run"]):
                t0 = time.perf_counter()
                res = snn.run(xs, device=device, progress=False, record_spikes=False, max_synapses=max_synapses,
                              **options)
                wall = time.perf_counter() - t0
                key = dev if label == "run" else f"{dev} ({label})"
                rows[key] = {"images": len(xs), "options": {k: v for k, v in options.items() if v is not None},
                             "wall_s": round(wall, 3), "build_s": round(res.build_time, 3),
                             "images_per_s": round(len(xs) / wall, 1),
                             "run_images_per_s": round(len(xs) / max(wall - res.build_time, 1e-9), 1),
                             "agree": _equal(res, ref, len(xs)) if device != "reference" else True}
                if log:
                    log(f"{key}: {rows[key]}")
    finally:
        if previous_cache is None:
            os.environ.pop("NEUROCONV_CACHE", None)
        else:
            os.environ["NEUROCONV_CACHE"] = previous_cache
    ratio = {}
    if "reference" in rows:
        for key, row in rows.items():
            if "standalone" in key:
                ratio[key] = round(row["run_images_per_s"] / rows["reference"]["run_images_per_s"], 3)
    return {"synapses_per_image": snn.n_synapses, "neurons_per_image": int(sum(l.size for l in snn.layers)),
            "timesteps": snn.timesteps, "devices": rows, "standalone_over_reference (excluding build)": ratio}
