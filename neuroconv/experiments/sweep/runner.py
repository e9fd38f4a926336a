"""Running a sweep: every cell an independent Dask task whose row lands in the table as it finishes."""

from __future__ import annotations

import os
import platform
import time
from dataclasses import dataclass

import numpy as np

from neuroconv.equations import model_from_spec
from neuroconv.errors import NeuroconvError
from neuroconv.experiments.sweep.config import SweepConfig, cached_dataset, load_config
from neuroconv.experiments.sweep.plot import plot_accuracy_vs_timesteps
from neuroconv.experiments.sweep.table import DONE, SILENT_SPIKES, read_table, write_rows

__all__ = ["run_cell", "run_sweep", "SweepReport"]


def run_cell(cell: dict, model_file: str, neuron_spec: dict) -> dict:
    """Run one cell (in a Dask worker or anywhere): load, convert with T = ``cell["timesteps"]``, simulate;
    returns its table row."""
    import warnings

    import brian2

    from neuroconv import ann
    from neuroconv._version import __version__
    from neuroconv.conversion.converter import convert
    from neuroconv.errors import NeuroconvWarning

    t0 = time.perf_counter()
    net = ann.from_npz(model_file)
    data = cached_dataset(cell["dataset"], len(net.input_shape) == 3)
    x_train = data.x_train.reshape((-1,) + tuple(net.input_shape))
    x = data.x_test.reshape((-1,) + tuple(net.input_shape))
    y = data.y_test
    if cell["images"] is not None:
        x, y = x[: cell["images"]], y[: cell["images"]]
    t1 = time.perf_counter()
    neuron = model_from_spec(neuron_spec, where=f"neuron {cell['neuron']!r}")
    timesteps = int(cell["timesteps"])
    calibration = cell["calibration"]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", NeuroconvWarning)  # kept in the row's warning column
        if calibration == "trained":
            snn = convert(net, neuron=neuron, timesteps=timesteps)
        else:
            snn = convert(net, neuron=neuron, timesteps=timesteps,
                          calibration_data=x_train[: cell["calibration_images"]], method=calibration)
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
    notes = [str(w.message) for w in caught if issubclass(w.category, NeuroconvWarning)]
    spikes = float(sum(c.sum() for c in res.spike_counts) / len(x))
    status = "ok"
    if snn.hidden_layers and spikes < SILENT_SPIKES:
        status = "silent"
        notes.insert(0, f"near-silent: {spikes:.3g} spikes per image in all hidden populations "
                        f"(under {SILENT_SPIKES:g})")
    row = dict(cell, status=status, error="", warning=" | ".join(notes).replace("\n", " ")[:1000],
               accuracy=res.accuracy(y), ann_accuracy=float(np.mean(ann_pred == y)),
               agreement_with_ann=float(np.mean(res.predictions == ann_pred)), spikes_per_image=spikes,
               latency_steps=snn.latency_steps, synapses_per_image=snn.n_synapses, load_s=round(t1 - t0, 4),
               convert_s=round(t2 - t1, 4), run_s=round(t3 - t2, 4), build_s=round(res.build_time, 4),
               cell_s=round(time.perf_counter() - t0, 4), worker=worker, host=platform.node(),
               neuroconv=__version__, brian2=brian2.__version__, numpy=np.__version__,
               python=platform.python_version(), finished=time.strftime("%Y-%m-%dT%H:%M:%S"))
    return row


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
    silent: list = None     # rows of the cells that ran near-silent this time (counted in ok)

    def summary(self) -> str:
        silent = self.silent or []
        text = (f"{self.cells} cells: {self.skipped} already done, {self.ok} ran ok"
                + (f" ({len(silent)} of them near-silent, see the warning column)" if silent else "")
                + f", {len(self.failed)} failed ({self.wall_s:.1f} s); table {self.table}")
        for row in silent:
            text += f"\n  silent {row['cell_id']} ({row['model']}, {row['neuron']}, T={row['timesteps']}): " \
                    f"{row['spikes_per_image']:.3g} spikes/image, accuracy {row['accuracy']:.3f}"
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
    done = {r["cell_id"] for r in rows if r.get("status") in DONE}
    # failed rows are dropped: those cells run again
    write_rows(cfg.output, [r for r in rows if r.get("status") in DONE], "w")
    todo = [c for c in cfg.cells if c["cell_id"] not in done]
    skipped = len(cfg.cells) - len(todo)
    ok, failed, silent = 0, [], []
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
                        if row["status"] == "silent":
                            silent.append(row)
                    except Exception as exc:  # a cell's failure is recorded, the others go on
                        row = _failed_row(cell, exc)
                        failed.append(row)
                    write_rows(cfg.output, [row], "a")
                    bar.update(1)
                    bar.set_postfix(ok=ok, failed=len(failed))
        finally:
            if own_cluster is not None:
                client.close()
                own_cluster.close()
            elif scheduler and client is not None:
                client.close()
    report = SweepReport(table=cfg.output, cells=len(cfg.cells), skipped=skipped, ok=ok, failed=failed,
                         wall_s=time.perf_counter() - t0, silent=silent)
    if (cfg.figure if figure is None else figure) and len(cfg.grid.get("timesteps", [])) > 1:
        report.figure = plot_accuracy_vs_timesteps(cfg.output, os.path.splitext(cfg.output)[0] + ".png")
    return report
