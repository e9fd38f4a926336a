"""The ``neuroconv`` command line."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading

import numpy as np

from neuroconv.errors import NeuroconvError

EPILOG_DEMO = """examples:
  neuroconv demo                          # table for T = 4..64 on Brian2 runtime (numpy)
  neuroconv demo --out demo.json          # also write the numbers as JSON and demo.png
  neuroconv demo --device reference -T 8 32
"""


def _parser():
    from neuroconv._version import __version__

    parser = argparse.ArgumentParser(prog="neuroconv", description="Convert trained ANNs into Brian2 spiking networks.")
    parser.add_argument("--version", action="version", version=f"brian2-neuroconv {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    demo = sub.add_parser("demo", help="convert the shipped digits MLP and run it in Brian2 for several T",
                          description="Convert a small MLP trained on scikit-learn's digits into IF neurons, run "
                                      "it in Brian2 for each T and print accuracy, loss and wall time.",
                          epilog=EPILOG_DEMO, formatter_class=argparse.RawDescriptionHelpFormatter)
    demo.add_argument("-T", "--timesteps", type=int, nargs="+", default=None, metavar="T",
                      help="numbers of timesteps (default: 4 8 16 32 64)")
    demo.add_argument("--device", default="runtime", choices=["runtime", "cpp_standalone", "reference"],
                      help="where to simulate (default: runtime)")
    demo.add_argument("--out", default=None, metavar="JSON", help="write the results as JSON here")
    demo.add_argument("--figure", default=None, metavar="PNG",
                      help="write the figure here (default: next to --out, with .png)")
    demo.add_argument("--retrain", action="store_true", help="train the MLP again instead of loading the shipped one")
    demo.add_argument("--no-progress", action="store_true", help="hide progress bars")
    import textwrap

    from neuroconv.experiments.figures import ALIASES, BENCHMARK_FIGURES, FIGURES

    replotted = ", ".join(f"{name} (docs/bench/{json})" for name, (json, _) in BENCHMARK_FIGURES.items())
    about = ("Write every figure the README shows, in the package's figure style: " + ", ".join(FIGURES) + ". "
             "By default the experiments that take seconds run here, at the benchmarks' size (digits data shipped "
             "with scikit-learn, numpy reference; the demo in Brian2; about 30 s in all on 2 cores), and the "
             "benchmark figures whose experiments take far longer re-plot the JSON shipped in the source checkout: "
             + replotted + ". --full runs the benchmark-sized experiments instead (the benchmark scripts of the "
             "source checkout; minutes to an hour each).")
    figures = sub.add_parser("figures", help="regenerate every README figure into a folder (PNG, PDF, SVG)",
                             description=textwrap.fill(about, 90),
                             epilog="examples:\n  neuroconv figures --out figs\n"
                                    "  neuroconv figures --out figs --format png pdf\n"
                                    "  neuroconv figures --out figs --only one_spike_digits misalignment_digits\n"
                                    "  neuroconv figures --out figs --only dynamics --full\n",
                             formatter_class=argparse.RawDescriptionHelpFormatter)
    figures.add_argument("--out", required=True, metavar="DIR", help="folder for the figures (created if missing)")
    figures.add_argument("--format", nargs="+", default=["png"], choices=["png", "pdf", "svg"], metavar="FMT",
                         help="file formats, each figure in every one (png at 300 dpi; pdf, svg vector; default png)")
    figures.add_argument("--only", nargs="+", choices=list(FIGURES) + list(ALIASES), metavar="NAME",
                         help=f"only these figures ({', '.join(FIGURES)})")
    figures.add_argument("--full", action="store_true",
                         help="the benchmark-sized experiments (runs benchmarks/*.py for the re-plotted figures)")
    figures.add_argument("--bench-dir", default=None, metavar="DIR",
                         help="folder of the benchmark JSON to re-plot (default: docs/bench of the source checkout)")
    figures.add_argument("--no-progress", action="store_true", help="hide progress bars")
    _add_convert(sub)
    _add_run(sub)
    _add_sweep(sub)
    _add_bench(sub)
    return parser


def _sub(sub, name, help, description, epilog):
    return sub.add_parser(name, help=help, description=description, epilog=epilog,
                          formatter_class=argparse.RawDescriptionHelpFormatter)


def _base_families(families) -> list:
    """The families among ``families`` with a ``base`` parameter (what ``--base`` sets)."""
    import dataclasses

    from neuroconv.equations import MODELS

    return [name for name in families if "base" in {f.name for f in dataclasses.fields(MODELS[name])}]


#: ``--shift`` -> IF(shift=...)
_SHIFTS = {"half": True, "none": False, "calibrated": "calibrated"}


def _add_convert(sub):
    from neuroconv.experiments.sweep.config import neuron_families

    families = neuron_families()
    p = _sub(sub, "convert", "convert a model file into a saved spiking network (.npz)",
             "Read an ANN (.npz from neuroconv.ann.save_npz or plain W0/b0 arrays, .onnx, .nir; or "
             "builtin:digits_mlp, zoo:NAME[:qcfs]), balance its thresholds on training images of --dataset "
             "(or use its trained thresholds) and save the spiking network: arrays plus JSON, no pickle.",
             "examples:\n  neuroconv convert builtin:digits_mlp --out mlp_if32.npz -T 32\n"
             "  neuroconv convert model.onnx --dataset fashion_mnist --neuron tpp -T 8 --out net.npz\n"
             "  neuroconv convert zoo:fashion_cnn:qcfs --calibration trained --out qcfs.npz -T 16\n")
    p.add_argument("model", help="model file (.npz, .onnx, .nir), builtin:digits_mlp or zoo:NAME[:qcfs]")
    p.add_argument("--out", required=True, metavar="NPZ", help="where to write the spiking network")
    p.add_argument("--neuron", default="if", choices=families,
                   help=f"a registered neuron family: {', '.join(families)} (default: if)")
    p.add_argument("-T", "--timesteps", type=int, default=32,
                   help="T, the timesteps a population has to express its value: IF's run length, TPP's phase "
                        "length, One-Spike's window (default 32)")
    p.add_argument("--base", type=float, default=None,
                   help=f"growth base, for --neuron {' / '.join(_base_families(families))} (default: the model's, "
                        "One-Spike 1.1)")
    p.add_argument("--shift", default="half", choices=list(_SHIFTS),
                   help="--neuron if: initial membrane theta/2 (half, Deng & Gu's shift), 0 (none), or one per "
                        "neuron from the calibration data at this T (calibrated: most accurate at short T)")
    p.add_argument("--dataset", default="digits", help="calibration data: digits, mnist5k, fashion_mnist")
    p.add_argument("--calibration", default=None,
                   help="'max', a percentile such as 99.9, or 'trained' (default: max; 99.9 with --shift calibrated)")
    p.add_argument("--calibration-images", type=int, default=1000, metavar="N")
    p.add_argument("--per-channel", action="store_true", default=None,
                   help="one threshold per channel (default: per layer; per channel with --shift calibrated)")
    p.add_argument("--readout", default="membrane", choices=["membrane", "spikes"])


def _add_run(sub):
    p = _sub(sub, "run", "run a saved spiking network on a dataset's test images",
             "Simulate a network saved by 'neuroconv convert' (or SpikingNetwork.save) on the test split of "
             "a dataset and print accuracy, spikes and timings (JSON with --out).",
             "examples:\n  neuroconv run mlp_if32.npz --dataset digits\n"
             "  neuroconv run net.npz --dataset fashion_mnist --device cpp_standalone --images 2000 --out run.json\n")
    p.add_argument("network", help="a saved spiking network (.npz)")
    p.add_argument("--dataset", default="digits", help="digits, mnist5k, fashion_mnist (default: digits)")
    p.add_argument("--device", default="runtime",
                   choices=["reference", "runtime", "runtime/cython", "cpp_standalone", "cuda_standalone"])
    p.add_argument("-T", "--timesteps", type=int, default=None,
                   help="simulate with another T (IF: run length, TPP: phase, One-Spike: window)")
    p.add_argument("--images", type=int, default=None, metavar="N", help="first N test images (default: all)")
    p.add_argument("--batch-size", type=int, default=None)
    p.add_argument("--seed", type=int, default=None, help="random numbers of stochastic neurons (TPP)")
    p.add_argument("--out", default=None, metavar="JSON", help="also write the numbers here")
    p.add_argument("--no-progress", action="store_true", help="hide progress bars")


def _add_sweep(sub):
    from neuroconv.experiments.sweep import __doc__ as sweep_doc

    example = sweep_doc[sweep_doc.index("    [sweep]"):sweep_doc.index("Everything is checked")].rstrip()
    p = _sub(sub, "sweep", "run an experiment config (TOML grid) on Dask, results in a CSV table",
             "Run every cell of a TOML experiment config as an independent Dask task (a LocalCluster, or "
             "--scheduler for an existing cluster). Rows land in the CSV table as cells finish; failed cells "
             "are retried, then recorded without stopping the others; a re-run skips finished cells.",
             "examples:\n  neuroconv sweep examples/accuracy_vs_T.toml\n"
             "  neuroconv sweep grid.toml --workers 8\n  neuroconv sweep grid.toml --scheduler tcp://10.0.0.5:8786\n"
             "  neuroconv sweep grid.toml --check     # validate and count the cells, run nothing\n\n"
             "a config:\n" + example + "\n")
    p.add_argument("config", help="the experiment config (.toml)")
    p.add_argument("--scheduler", default=None, metavar="ADDRESS", help="an existing Dask scheduler")
    p.add_argument("--workers", type=int, default=None, help="LocalCluster worker processes (default: config, or CPUs)")
    p.add_argument("--check", action="store_true", help="only validate the config and list how many cells would run")
    p.add_argument("--output", default=None, metavar="TABLE.csv",
                   help="the results table (default: the config's sweep.output, which must lie in its folder)")
    p.add_argument("--no-progress", action="store_true", help="hide progress bars")


def _add_bench(sub):
    p = _sub(sub, "bench", "measure images/s of every device on the shipped digits MLP",
             "Simulate the shipped digits MLP on each device and print images/s (with and without build "
             "time) and agreement with the reference, as JSON. benchmarks/bench_speed.py is the full version.",
             "examples:\n  neuroconv bench\n  neuroconv bench --devices reference cpp_standalone --images 8192\n")
    p.add_argument("--devices", nargs="+", default=["reference", "runtime", "cpp_standalone"],
                   choices=["reference", "runtime", "runtime/cython", "cpp_standalone", "cuda_standalone"])
    p.add_argument("--images", type=int, default=4096)
    p.add_argument("-T", "--timesteps", type=int, default=32)
    p.add_argument("--out", default=None, metavar="JSON")


def _figures(args) -> int:
    from neuroconv.experiments.figures import make_figures

    def report(name, paths, seconds):
        for path in paths:
            print(f"wrote {path}", flush=True)
        print(f"# {name}: {seconds:.1f} s", file=sys.stderr, flush=True)

    make_figures(args.out, full=args.full, only=args.only, progress=not args.no_progress, formats=tuple(args.format),
                 bench=args.bench_dir, report=report)
    return 0


def _demo(args) -> int:
    from neuroconv.experiments.demo import DEMO_TIMESTEPS, format_table, run_demo, save_figure, write_json

    timesteps = tuple(args.timesteps) if args.timesteps else DEMO_TIMESTEPS
    report, raster = run_demo(timesteps=timesteps, device=args.device, retrain=args.retrain,
                              progress=not args.no_progress)
    print(format_table(report))
    if args.out:
        write_json(report, args.out)
        print(f"wrote {args.out}")
    figure = args.figure or (args.out.rsplit(".", 1)[0] + ".png" if args.out else None)
    if figure:
        save_figure(report, raster, figure)
        print(f"wrote {figure}")
    return 0


def _positive(name, value):
    if value is not None and value < 1:
        raise NeuroconvError(f"{name} must be >= 1, got {value}.")


def _convert(args) -> int:
    from neuroconv.conversion.converter import convert
    from neuroconv.equations import model_from_spec
    from neuroconv.experiments.datasets import load
    from neuroconv.experiments.sweep.config import load_model, neuron_families, parse_calibration

    _positive("--timesteps", args.timesteps)
    _positive("--calibration-images", args.calibration_images)
    calibration = None if args.calibration is None else parse_calibration(args.calibration, "--calibration")
    spec = {"family": args.neuron}
    if args.base is not None:
        with_base = _base_families(neuron_families())
        if args.neuron not in with_base:
            raise NeuroconvError(f"--base applies to --neuron {' / '.join(with_base)} only.")
        spec["base"] = args.base
    if args.shift != "half":
        if args.neuron != "if":
            raise NeuroconvError(f"--shift applies to --neuron if only (got --neuron {args.neuron}).")
        spec["shift"] = _SHIFTS[args.shift]
    neuron = model_from_spec(spec, where="--neuron")
    net = load_model(args.model, os.getcwd())
    kwargs = dict(neuron=neuron, timesteps=args.timesteps, readout=args.readout, per_channel=args.per_channel)
    if calibration != "trained" or neuron.calibrated_start:  # trained thresholds stay; the data set the starts
        data = load(args.dataset)
        x_cal = data.x_train[: args.calibration_images].reshape((-1,) + tuple(net.input_shape))
        kwargs.update(calibration_data=x_cal, method=None if calibration == "trained" else calibration)
    snn = convert(net, **kwargs)
    path = snn.save(args.out)
    print(f"wrote {path}: {type(snn.neuron).__name__} network, {len(snn.hidden_layers)} spiking layer(s), "
          f"{snn.n_synapses:,} synapses per image, T = {snn.timesteps} ({snn.run_steps} timesteps per run)")
    return 0


def _run(args) -> int:
    import json

    from neuroconv.conversion.converter import load_network
    from neuroconv.experiments.datasets import load

    _positive("--images", args.images)
    _positive("--timesteps", args.timesteps)
    snn = load_network(args.network)
    if args.timesteps is not None:
        snn = snn.with_timesteps(args.timesteps)
    data = load(args.dataset)
    n_in = int(np.prod(snn.ann.input_shape))
    if int(np.prod(data.input_shape)) != n_in:
        raise NeuroconvError(f"the network takes inputs of shape {tuple(snn.ann.input_shape)} but dataset "
                             f"{args.dataset!r} has {tuple(data.input_shape)}.")
    x = data.x_test.reshape((-1,) + tuple(snn.ann.input_shape))
    y = data.y_test
    if args.images is not None:
        x, y = x[: args.images], y[: args.images]
    device, _, target = args.device.partition("/")
    res = snn.run(x, device=device, codegen_target=target or "numpy", batch_size=args.batch_size, seed=args.seed,
                  progress=not args.no_progress, record_spikes=False)
    ann_pred = snn.ann.predict(x)
    report = {"network": args.network, "dataset": args.dataset, "device": res.device, "images": len(x),
              "timesteps": snn.timesteps, "run_steps": snn.run_steps, "accuracy": res.accuracy(y),
              "ann_accuracy": float(np.mean(ann_pred == y)),
              "agreement_with_ann": float(np.mean(res.predictions == ann_pred)),
              "spikes_per_image": float(sum(c.sum() for c in res.spike_counts) / len(x)),
              "wall_s": round(res.wall_time, 3), "build_s": round(res.build_time, 3),
              "simulation_s": round(res.simulation_time, 3), "images_per_s": round(res.images_per_second, 1)}
    build = f" (+ {report['build_s']:.2f} s building)" if res.build_time > 0 else ""
    print(f"{args.network} on {args.dataset} ({len(x)} test images, {res.device}, T={snn.timesteps}): "
          f"accuracy {100 * report['accuracy']:.2f}% (ANN {100 * report['ann_accuracy']:.2f}%), "
          f"{report['spikes_per_image']:.0f} spikes/image, simulated in {report['simulation_s']:.2f} s "
          f"({report['images_per_s']:.0f} images/s){build}")
    if args.out:
        with open(args.out, "w") as fh:
            json.dump(report, fh, indent=2)
        print(f"wrote {args.out}")
    return 0


def _sweep(args) -> int:
    from neuroconv.experiments.sweep import load_config, run_sweep

    _positive("--workers", args.workers)
    cfg = load_config(args.config, output=args.output, prepare_models=not args.check)  # --check writes nothing
    if args.check:
        from neuroconv.experiments.sweep import read_table

        from neuroconv.experiments.sweep.table import DONE

        done = {r["cell_id"] for r in read_table(cfg.output) if r.get("status") in DONE}
        todo = sum(c["cell_id"] not in done for c in cfg.cells)
        print(f"{args.config}: valid; {len(cfg.cells)} cells, {len(cfg.cells) - todo} already in {cfg.output}, "
              f"{todo} to run")
        return 0
    report = run_sweep(cfg, scheduler=args.scheduler, workers=args.workers, progress=not args.no_progress)
    print(report.summary())
    if report.figure:
        print(f"wrote {report.figure}")
    return 1 if report.failed else 0


def _bench(args) -> int:
    import json

    from neuroconv.experiments.bench import device_throughput

    _positive("--images", args.images)
    _positive("--timesteps", args.timesteps)
    report = device_throughput(args.devices, images=args.images, timesteps=args.timesteps)
    text = json.dumps(report, indent=2)
    print(text)
    if args.out:
        with open(args.out, "w") as fh:
            fh.write(text)
    return 0


_COMMANDS = {"demo": "_demo", "figures": "_figures", "convert": "_convert", "run": "_run", "sweep": "_sweep",
             "bench": "_bench"}


def main(argv=None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    previous = signal.signal(signal.SIGTERM, _terminated) if threading.current_thread() is threading.main_thread() \
        else None
    from neuroconv._hooks import plain_warnings

    try:
        with plain_warnings():
            return globals()[_COMMANDS[args.command]](args)
    except _Terminated:
        print("neuroconv: terminated", file=sys.stderr)
        return 143
    except NeuroconvError as exc:
        print(f"neuroconv: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"neuroconv: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("neuroconv: interrupted", file=sys.stderr)
        return 130
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


class _Terminated(BaseException):
    """SIGTERM (a job scheduler stopping the job) as an exception, so that builds and temporary folders
    are cleaned up on the way out, as with Ctrl-C."""


def _terminated(signum, frame):
    raise _Terminated()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
